"""Screening: records (lead registrations) checked in order; first failing rule is the reason.

A `first_wins` rule blocks a record when an earlier *accepted* record with the same key
by another payee exists. Accepted means passing every other rule and not rejected by the
owner; so the first such record of a key (the winner) decides: later records of the key
by other payees are blocked, later ones by the winner's payee are not.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from paymaster import asof
from paymaster.engine.context import BlockResult, Context
from paymaster.engine.lines import (
    EVALUATION_SCHEMA,
    first_reason,
    join_text,
    natural_order,
    shape,
)
from paymaster.engine.rules import TAX_ID_PARTS, rule_checks
from paymaster.plan.model import Plan, Rule, Screening
from paymaster.plan.natural import value_order
from paymaster.plan.trace import SCREENING


def build_screening(ctx: Context, measure: Screening, path: tuple, seq: int) -> BlockResult:
    table = ctx.source(measure, path)
    table = ctx.with_version(table, "__date" if measure.date else None)
    table = ctx.payee_period(table, measure, path)
    names = (measure.source,)
    ns = ctx.namespace(table, names)
    table = table.mutate(
        source_id=ctx.expr(measure.source_id, ns, path + ("source_id",)).cast("string"),
        __order=screening_order(ctx, measure, table),
    )
    # Tax ids: the cleaned text and its number as columns first, so that the checksum's
    # ten digits do not each clean the text again. A valid one is then compared in that
    # cleaned form: '526-025-09-95' is the customer 5260250995 to every rule, the
    # first-wins key and the claim.
    helpers = [f"__tax{i}" for i in range(len(measure.tax_ids))]
    if measure.tax_ids:
        pairs = list(zip(helpers, measure.tax_ids.items(), strict=True))
        table = table.mutate(**{h: TAX_ID_PARTS[kind][0](table[column]) for h, (column, kind) in pairs})
        table = table.mutate(**{f"{h}n": table[h].try_cast("int64") for h in helpers})
        table = table.mutate(**{f"{h}ok": TAX_ID_PARTS[kind][1](table[h], table[f"{h}n"]).fill_null(False)
                                for h, (_column, kind) in pairs})
        table = table.mutate(**{column: ibis.ifelse(table[f"{h}ok"], table[h], table[column])
                                for h, (column, _kind) in pairs})
    ns = ctx.namespace(table, names)
    checks: list[tuple[str, ir.Value]] = []
    missing = _missing(table, measure.required)
    if measure.required:
        checks.append(("missing_field", missing.notnull()))
    if measure.tax_ids:
        checks.append(("invalid_nip", _any([~table[f"{h}ok"] for h in helpers])))
    rule_flags = rule_checks(ctx, measure.rules, ns, path + ("rules",))
    decision = _decision(table, measure, measure.decision.rejected_value if measure.decision else None)
    pending = _decision(table, measure, measure.decision.pending_value if measure.decision else None)
    # Materialise every flag as a column first, so the first-wins step can see them.
    flag_columns = {f"__fail_{name}": failed for name, failed in checks + rule_flags}
    if decision is not None:
        flag_columns["__fail_decision"] = decision
    if pending is not None:
        flag_columns["__fail_pending"] = pending
    table = table.mutate(__missing=missing, **flag_columns)
    overdue = _overdue(ctx, measure, table)
    if overdue is not None:
        table = overdue
    if helpers:
        table = table.drop(*helpers, *[f"{h}{suffix}" for h in helpers for suffix in ("n", "ok")])
    table = table.mutate(__candidate=~_any([table[c] for c in flag_columns]))
    # Stored once checked: the first-wins step reads the table twice (its candidates, and
    # every record), and would otherwise compute every check twice.
    later = {"payee_id", "period", "source_id", "__date", "__order", "__missing",
             "__candidate", *flag_columns, *_claim_keys(ctx, measure)}
    if overdue is not None:
        later.add("__fail_overdue")
    stated = measure.decision.reason_column if measure.decision else None
    if stated:
        later.add(stated)
    for rule in measure.rules:
        if rule.first_wins is not None:
            later.update([*rule.first_wins.key, rule.first_wins.other])
    table = ctx.stage_narrow(f"{measure.id}__checked", table, later)
    ordered: list[tuple[str, ir.Value]] = [(name, table[f"__fail_{name}"]) for name, _ in checks]
    for rule in measure.rules:
        if rule.first_wins is not None:
            table = _first_wins(table, rule)
            ordered.append((rule.name, table[f"__blocked_{rule.name}"]))
        else:
            ordered.append((rule.name, table[f"__fail_{rule.name}"]))
    if decision is not None:
        ordered.append((measure.decision.reason, table["__fail_decision"]))
    if overdue is not None:  # (a waiting record past its due date: overdue, not pending)
        ordered.append((measure.decision.overdue_reason, table["__fail_overdue"]))
    if pending is not None:
        ordered.append((measure.decision.pending_reason, table["__fail_pending"]))
    reason = first_reason(ordered)
    claimed = _claimed(ctx, measure)
    # The owner's stated reason for a rejection (their words, data): shown with it.
    note = ibis.null().cast("string")
    if stated:
        said = table[stated].cast("string").strip()
        note = ibis.ifelse((reason == measure.decision.reason) & (said.length() > 0),
                           said, ibis.null().cast("string"))
    # Overdue is still waiting for the owner: its sale stays pending, not rejected.
    # (`decision` is optional: read only where the screening waits for one)
    is_pending = (reason.isin(
        [measure.decision.pending_reason]
        + ([measure.decision.overdue_reason] if overdue is not None else []))
        if pending is not None else ibis.literal(False))
    # Stored with what the evaluations and the claims read: not the flags the reason was
    # chosen from (nor a column the evaluations' shape would not take from the table).
    # The note and the pending flag are computed here, with the reason, so that the
    # verdicts the claims read are columns of this stage, not a copy of it.
    claim_keys = _claim_keys(ctx, measure)
    read = {"payee_id", "period", "source_id", "__date", "__order", "__missing", "__reason",
            "__accepted", "__note", *claim_keys, *EVALUATION_SCHEMA,
            *(["__pending"] if claimed else [])}
    table = ctx.stage_narrow(f"{measure.id}__screened",
                             table.mutate(__reason=reason, __accepted=reason.isnull(), __note=note,
                                          __pending=is_pending.fill_null(False)), read)
    evaluations = shape(
        table, EVALUATION_SCHEMA, program=ctx.plan.program, subject=table["source_id"],
        evaluation=measure.id, as_of=table["__date"], passed=table["__accepted"],
        reason=table["__reason"], template=SCREENING, missing=table["__missing"],
        note=table["__note"],
    )
    if not claimed:  # nothing reads the verdicts: none are stored
        return BlockResult(evaluations=evaluations)
    # Every record, not only the accepted ones (the claimants): a record left unclaimed
    # is told which registration of its keys was rejected, or already used. Only the
    # columns the claims read (`records._claim`, `_why_unclaimed`), and the record's
    # payee, period, id and date (a partial recalculation splices the verdicts by them).
    # Columns of the stored screened stage, renamed: not stored again (`build._store`).
    screened = table.select(*dict.fromkeys(["payee_id", "period", "source_id", "__date",
                                            *claim_keys]),
                            "__order", "__accepted", "__reason", "__note",
                            __claim_date=table["__date"], __claimant=table["source_id"],
                            __pending=table["__pending"])
    return BlockResult(evaluations=evaluations, verdicts=screened)


def screening_order(ctx: Context, measure: Screening, table: ir.Table) -> ir.Value:
    """Each record's place in the screening order, compared only within a first-wins key
    and within a claim's keys: a value, so that no sort of every record is needed.

    When each record is one row of its source's key (`unique_key`), its natural order's
    sort keys and that key are a struct ordering the records as a row number over them
    would, and unique (`natural.value_order`). Otherwise a row number over the natural
    order (a sort of every record): ties among equal sort keys broken as the sort meets
    them."""
    value = value_order(table, measure.order_by, unique_key(ctx.plan, measure),
                        _never_null(ctx.plan, measure))
    if value is not None:
        return value
    return ibis.row_number().over(order_by=natural_order(table, measure.order_by))


def unique_key(plan: Plan, measure: Screening) -> list[str] | None:
    """Columns unique per record of the screening: its source's key, when the input's check
    proves it unique (a duplicate key stops the run), no field of the measure recomputes
    it, and every lookup meets its table's key (one row each, so no record repeats; the
    versions' date ranges do not overlap). None when that cannot be shown."""
    key = plan.inputs[measure.source].key if measure.source in plan.inputs else []
    if not key or any(k in measure.fields for k in key):
        return None
    for lookup in measure.lookups:
        theirs = plan.inputs[lookup.table].key if lookup.table in plan.inputs else []
        if (not theirs or not set(theirs) <= set(lookup.on)
                or any(lookup.prefix + c in key for c in lookup.columns)):
            return None
    return list(key)


def _never_null(plan: Plan, measure: Screening) -> set[str]:
    """Source columns the input's check proves present in every row (not optional), and
    that no field of the measure recomputes."""
    spec = plan.inputs.get(measure.source)
    return {name for name, column in (spec.columns.items() if spec else ())
            if not column.optional and name not in measure.fields}


def _claimed(ctx: Context, measure: Screening) -> bool:
    """Does a measure claim this screening's records?"""
    return any(getattr(other, "claim", None) is not None and other.claim.screening == measure.id
               for other in ctx.plan.measures)


def _claim_keys(ctx: Context, measure: Screening) -> list[str]:
    """The columns measures claiming this screening's records match on."""
    return [key for other in ctx.plan.measures
            if getattr(other, "claim", None) is not None and other.claim.screening == measure.id
            for key in other.claim.on]


# Only whitespace, as `strip()` sees it (Python's string.whitespace: space, tab, LF, CR,
# VT, FF): a regular expression is ~6x faster than TRIM with a set of characters in DuckDB.
# (\z, not $: Spark's Java regular expressions let $ match before a final line break.)
BLANK = r"^[ \t\n\r\x0b\x0c]*\z"
# Every character BLANK matches sorts before "!" (0x09-0x0d, 0x20): a blank text is empty
# or starts with one of them, so it is less than "!" (text compares byte by byte), and
# the regular expression runs only on the few texts that are.
BEFORE_ANY_MARK = "!"


def _missing(table: ir.Table, required: list[str]) -> ir.Value:
    parts = [
        ibis.ifelse(_blank(table[c]), ibis.literal(c), ibis.null().cast("string"))
        for c in required
    ]
    return join_text(parts, ", ")


def _blank(value: ir.Value) -> ir.Value:
    """NULL, or text of whitespace only. A number, date, time or truth value written as
    text is never blank: for those only NULL is."""
    kind = value.type()
    if kind.is_numeric() or kind.is_temporal() or kind.is_boolean():
        return value.isnull()
    text = value.cast("string")
    return value.isnull() | ibis.ifelse(text < BEFORE_ANY_MARK, text.re_search(BLANK), False)


def _decision(table: ir.Table, measure: Screening, value: str | None) -> ir.Value | None:
    """Does the owner's decision column hold `value` (any letter case)?"""
    if measure.decision is None or value is None:
        return None
    column = table[measure.decision.column]
    return (column.strip().lower() == value.lower()).fill_null(False)


def _overdue(ctx: Context, measure: Screening, table: ir.Table) -> ir.Table | None:
    """With `answer_within`: the table with `__fail_overdue`, a waiting record of the run's
    last overdue record day or earlier. That day is the run table's one row (a value of
    the run, not of the SQL: asof.py), joined to every record."""
    if "__fail_pending" not in table.columns or measure.decision.answer_within is None:
        return None
    run = ctx.tables.get(asof.RUN_TABLE)
    if run is None:
        raise ValueError(f"screening '{measure.id}' has `answer_within`, but the run was given "
                         "no as-of day (asof.register)")
    table = table.cross_join(run.select(__overdue_through=run[asof.column(measure.id)]))
    late = table["__fail_pending"] & (table["__date"] <= table["__overdue_through"]).fill_null(False)
    return table.mutate(__fail_overdue=late).drop("__overdue_through")


def _any(values: list[ir.Value]) -> ir.Value:
    out = ibis.literal(False)
    for value in values:
        out = out | value
    return out


def _first_wins(table: ir.Table, rule: Rule) -> ir.Table:
    """Per key, the first candidate (least `__order`, unique) wins; later records of the key
    by another payee are blocked. One group-by over the narrow candidate rows, the least
    of (order, payee) per key (the payee goes with its order, NULL or not), joined back
    (NULL keys match each other, as in one group): no window over every record, no second
    join to find the winner's payee."""
    spec = rule.first_wins
    keys = [f"__wk{i}" for i in range(len(spec.key))]
    candidates = table.filter(table["__candidate"]).select(
        *[table[k].name(w) for k, w in zip(spec.key, keys, strict=True)],
        __w=ibis.struct({"order": table["__order"], "payee": table[spec.other].cast("string")}))
    winners = candidates.group_by(keys).aggregate(__win=candidates["__w"].min())
    winners = winners.select(*keys, __win_order=winners["__win"]["order"],
                             __win_payee=winners["__win"]["payee"])
    joined = table.left_join(
        winners, [table[k].identical_to(winners[w]) for k, w in zip(spec.key, keys, strict=True)])
    joined = joined.drop(*[w for w in keys if w in joined.columns])
    blocked = (
        joined["__win_order"].notnull()
        & (joined["__win_order"] < joined["__order"])
        & (joined[spec.other].cast("string") != joined["__win_payee"])
    )
    return joined.mutate(**{f"__blocked_{rule.name}": blocked.fill_null(False)}).drop(
        "__win_order", "__win_payee")
