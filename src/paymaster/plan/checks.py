"""Load-time checks of the names a plan gives as plain lists (not expressions): each column
a measure names must be a column of the table it reads, said where it is named, with the
plan's own columns as suggestions (never the engine's internal ones); a source column
must not take a name the engine gives every record; a tax id kind must be one the
engine checks; a whole number must be whole."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from paymaster.errors import Problem, suggest
from paymaster.sqlnames import NAME
from paymaster.plan.model import Plan
from paymaster.plan.yamlsource import Source

# What the engine adds to every record of a measure: a source column of the same name
# would be replaced by it without a word.
ENGINE_COLUMNS = ("payee_id", "period", "version", "source_id")
# A per-record line's figures, which a limit's `order_by` may read besides the columns.
LINE_FIGURES = ("date", "base", "rate", "raw", "earned", "band")
# The tax id kinds a screening's `tax_ids` checks (engine.rules.TAX_ID_PARTS).
SCREENING_TAX_IDS = ("pl.nip",)


def check_names(plan: Plan, source: Source) -> list[Problem]:
    problems: list[Problem] = []
    for index in range(len(plan.measures)):
        problems += _measure_names(plan, source, index)
        problems += _whole_numbers(plan, source, index)
        problems += _answer_within(plan, source, index)
    return problems


def record_columns(plan: Plan, measure) -> list[str] | None:
    """The columns of a measure's records, by name, as the plan declares them: its source's,
    its lookups', its fields and what the engine adds. None when the source is unknown
    (reported on its own)."""
    table = plan.inputs.get(getattr(measure, "source", None) or "")
    if table is None:
        return None
    columns = list(table.columns)
    for lookup in measure.lookups:
        columns += [lookup.prefix + c for c in lookup.columns]
    return columns + list(measure.fields) + list(ENGINE_COLUMNS)


def unknown_columns(source: Source, path: tuple, names: Iterable[tuple[object, str]], table: str,
             columns: list[str]) -> list[Problem]:
    """A problem for each (key, name) whose name is not one of `columns`, at path + key."""
    problems = []
    for key, name in names:
        if name not in columns:
            problems.append(source.problem(path + ((key,) if key is not None else ()),
                                           f"'{name}' is not a column of {table}",
                                           suggest(name, columns)))
    return problems


def _measure_names(plan: Plan, source: Source, index: int) -> list[Problem]:
    measure = plan.measures[index]
    path = ("measures", index)
    columns = record_columns(plan, measure)
    if columns is None:
        return []
    problems = _reserved(plan, source, index)
    problems += _lookups(plan, source, index)
    own = measure.source

    def named(where: tuple, names: Iterable[str]) -> None:
        problems.extend(unknown_columns(source, path + where, enumerate(names), own, columns))

    def one(where: tuple, name: str | None) -> None:
        if name is not None:
            problems.extend(unknown_columns(source, path + where, [(None, name)], own, columns))

    kind = measure.period
    if kind.startswith("column:"):
        one(("period",), kind.split(":", 1)[1])
    if measure.type == "screening":
        named(("order_by",), measure.order_by)
        named(("required",), measure.required)
        for column in measure.tax_ids:
            one(("tax_ids", column), column)
        problems += _tax_id_kinds(source, path, measure.tax_ids)
        if measure.decision is not None:
            one(("decision", "column"), measure.decision.column)
            one(("decision", "reason_column"), measure.decision.reason_column)
    if measure.type in ("screening", "per_record", "gated_rebate"):
        for i, rule in enumerate(measure.rules):
            if rule.first_wins is not None:
                named(("rules", i, "first_wins", "key"), rule.first_wins.key)
                one(("rules", i, "first_wins", "other"), rule.first_wins.other)
    if measure.type == "per_record" and measure.claim is not None:
        named(("claim", "on"), measure.claim.on)
        named(("claim", "order_by"), measure.claim.order_by)
        screening = next((m for m in plan.measures[:index] if m.id == measure.claim.screening
                          and m.type == "screening"), None)
        theirs = record_columns(plan, screening) if screening is not None else None
        if theirs is not None:
            problems += unknown_columns(source, path + ("claim", "on"), enumerate(measure.claim.on),
                                 screening.source, theirs)
    if measure.type == "per_record" and measure.limit is not None:
        # (the line's own figures are there by then too)
        counted = [*columns, *(cap.name for cap in measure.caps), *LINE_FIGURES]
        problems += unknown_columns(source, path + ("limit", "order_by"),
                             enumerate(measure.limit.order_by), own, counted)
    if measure.type == "aggregate":
        named(("keys",), measure.keys)
        line = ["payee_id", "period", *measure.keys]
        if measure.group is not None:
            problems += unknown_columns(source, path + ("group", "by"), [(None, measure.group.by)],
                                 f"the lines of {measure.id} (payee_id, period or a key)", line)
        for where, target in (("target",), measure.target), (("group", "target"),
                                                              getattr(measure.group, "target", None)):
            if target is not None:
                problems += _target(plan, source, path + where, target, line, measure.id)
    others = [(("count_table",), getattr(measure, "count_table", None)),
              (("payees_from", "table"), getattr(getattr(measure, "payees_from", None), "table", None))]
    for where, table in others:
        if table is not None and table not in plan.inputs:
            problems.append(source.problem(path + where, f"unknown input table '{table}'",
                                           suggest(table, list(plan.inputs))))
    if measure.type == "gated_rebate" and measure.cover is not None:
        cover = measure.cover
        table = plan.inputs.get(cover.table)
        if table is None:
            problems.append(source.problem(path + ("cover", "table"),
                                           f"unknown input table '{cover.table}'",
                                           suggest(cover.table, list(plan.inputs))))
        else:
            problems += unknown_columns(source, path + ("cover",),
                                 [("start", cover.start), ("end", cover.end)],
                                 cover.table, list(table.columns))
    return problems


def _reserved(plan: Plan, source: Source, index: int) -> list[Problem]:
    """A source column, lookup column or field named as a column the engine adds."""
    measure = plan.measures[index]
    path = ("measures", index)
    said = ", ".join(ENGINE_COLUMNS)
    hint = "rename it, in the plan and in the data (say '{}'); the engine's own is read as `{}`"
    problems = []
    for name in plan.inputs[measure.source].columns:
        if name in ENGINE_COLUMNS:
            line, col = source.where(("inputs", measure.source, "columns", name, "<key>"))
            problems.append(Problem(
                f"column '{name}' of {measure.source}, the source of measure '{measure.id}', "
                f"has a name the engine gives every record ({said}): it would be replaced",
                source.file, line, col, hint=hint.format(f"{measure.source}_{name}", name)))
    for i, lookup in enumerate(measure.lookups):
        for j, column in enumerate(lookup.columns):
            if lookup.prefix + column in ENGINE_COLUMNS:
                problems.append(source.problem(
                    path + ("lookups", i, "columns", j),
                    f"the lookup brings in '{lookup.prefix + column}', a name the engine gives "
                    f"every record ({said}): it would be replaced",
                    f"give the lookup a `prefix` (say '{lookup.table}_')"))
    for name in measure.fields:
        if name in ENGINE_COLUMNS:
            line, col = source.where(path + ("fields", name, "<key>"))
            problems.append(Problem(
                f"field '{name}' has a name the engine gives every record ({said}): "
                "it would be replaced", source.file, line, col,
                hint=f"rename it; the engine's own is read as `{name}`"))
    return problems


def _lookups(plan: Plan, source: Source, index: int) -> list[Problem]:
    measure = plan.measures[index]
    path = ("measures", index, "lookups")
    problems = []
    ours = list(plan.inputs[measure.source].columns)
    for i, lookup in enumerate(measure.lookups):
        table = plan.inputs.get(lookup.table)
        if table is None:
            problems.append(source.problem(path + (i, "table"),
                                           f"unknown input table '{lookup.table}'",
                                           suggest(lookup.table, list(plan.inputs))))
            continue
        theirs = list(table.columns)
        for their, our in lookup.on.items():
            if their not in theirs:
                line, col = source.where(path + (i, "on", their, "<key>"))
                problems.append(Problem(f"'{their}' is not a column of {lookup.table}",
                                        source.file, line, col, hint=suggest(their, theirs)))
            # a computed key (period_of(closed_on, 'month')) is compiled as an expression
            if our not in ours and _plain_name(our):
                problems += unknown_columns(source, path + (i, "on", their), [(None, our)],
                                     measure.source, ours)
        problems += unknown_columns(source, path + (i, "columns"), enumerate(lookup.columns),
                             lookup.table, theirs)
        ours += [lookup.prefix + c for c in lookup.columns]
    return problems


def _target(plan: Plan, source: Source, path: tuple, target, line: list[str],
            measure: str) -> list[Problem]:
    table = plan.inputs.get(target.table)
    if table is None:
        return [source.problem(path + ("table",), f"unknown input table '{target.table}'",
                               suggest(target.table, list(plan.inputs)))]
    theirs = list(table.columns) + [lk.prefix + c for lk in target.lookups for c in lk.columns]
    # a quota formula is compiled as an expression; a plain name must be a column
    problems = (unknown_columns(source, path, [("column", target.column)], target.table, theirs)
                if _plain_name(target.column) else [])
    theirs = list(table.columns)
    for their, our in target.on.items():
        if their not in theirs:
            line_no, col = source.where(path + ("on", their, "<key>"))
            problems.append(Problem(f"'{their}' is not a column of {target.table}",
                                    source.file, line_no, col, hint=suggest(their, theirs)))
        problems += unknown_columns(source, path + ("on", their), [(None, our)],
                             f"the lines of {measure} (payee_id, period or a key)", line)
    return problems


def _plain_name(text: str) -> bool:
    return NAME.fullmatch(text) is not None


def _tax_id_kinds(source: Source, path: tuple, tax_ids: dict[str, str]) -> list[Problem]:
    problems = []
    for column, kind in tax_ids.items():
        if kind not in SCREENING_TAX_IDS:
            problems.append(source.problem(
                path + ("tax_ids", column), f"'{kind}' is not a tax id kind a screening checks",
                suggest(kind, SCREENING_TAX_IDS)
                or f"use {', '.join(SCREENING_TAX_IDS)} (other kinds: a column's `tax_id`)"))
    return problems


def _answer_within(plan: Plan, source: Source, index: int) -> list[Problem]:
    """A screening's `answer_within` counts business days from each record's `date`, in a
    country whose public holidays are known."""
    decision = getattr(plan.measures[index], "decision", None)
    within = decision.answer_within if decision is not None else None
    if within is None:
        return []
    import holidays  # (~90 ms to import: only for a plan that counts business days)

    path = ("measures", index, "decision", "answer_within")
    problems = []
    if plan.measures[index].date is None:
        problems.append(source.problem(
            path, "`answer_within` counts from each record's day, but the screening has no "
            "`date`", "give the screening a `date` (say CAST(submitted_at AS DATE))"))
    country = within.country or plan.country
    if not country:
        problems.append(source.problem(
            path, "`answer_within` needs a country (whose public holidays are not business "
            "days)", "give it a `country` (say PL), or the plan one"))
    elif country not in holidays.list_supported_countries():
        problems.append(source.problem(
            path + (("country",) if within.country else ()),
            f"'{country}' is not a country whose public holidays are known",
            suggest(country, list(holidays.list_supported_countries()))
            or "use a two-letter ISO country code (say PL)"))
    return problems


def _whole_numbers(plan: Plan, source: Source, index: int) -> list[Problem]:
    """Counts written as numbers must be whole (a parameter's value is checked where it is
    read: `param.x` may change with a version)."""
    measure = plan.measures[index]
    path = ("measures", index)
    places: list[tuple[tuple, object]] = []
    if measure.type == "streak":
        places += [(("top",), measure.top), (("length",), measure.length)]
    if measure.type == "ranking" and measure.ranked_from is not None:
        places.append((("ranked_from",), measure.ranked_from))
    if measure.type == "per_record" and measure.duration is not None:
        places.append((("duration", "max_days"), measure.duration.max_days))
    if measure.type == "per_record" and measure.limit is not None:
        places.append((("limit", "count"), measure.limit.count))
    problems = []
    for where, written in places:
        try:
            value = Decimal(str(written))  # (a number, or `param.x`: checked where read)
        except ArithmeticError:
            continue
        if not value.is_finite() or value != value.to_integral_value() or value < 0:
            problems.append(source.problem(path + where,
                                           f"{where[-1]} must be a whole number, not {value}"))
    return problems
