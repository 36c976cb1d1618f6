"""Loading a plan file: YAML -> strict model, every problem located in the file."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from pydantic import ValidationError

from paymaster.errors import PlanError, Problem, suggest
from paymaster.plan.checks import check_names, unknown_columns
from paymaster.plan.loaded import LoadedPlan
from paymaster.plan.partial import leave_out, measures_with, salvage
from paymaster.plan.model import (
    NAME_PATTERN,
    PREFIX_PATTERN,
    REASON_PATTERN,
    REFERENCE_PATTERN,
    Plan,
)
from paymaster.plan.yamlsource import Source, load_yaml, parse_yaml
from paymaster.sqlnames import NAME_RULE, is_name


def load_plan(path: str | Path, partial: bool = False) -> LoadedPlan:
    """The plan at `path`; a faulty one raises PlanError with every problem found, or with
    `partial` (for checking only) is returned with its problems and what of it can still
    be checked (see paymaster.plan.partial)."""
    path = Path(path)
    if not path.is_file():
        raise PlanError(Problem(f"plan file not found: {path}", hint="give the path to a .yaml plan"))
    return _validate(load_yaml(path), partial)


def parse_plan(text: str, file: str = "<plan>", partial: bool = False) -> LoadedPlan:
    return _validate(parse_yaml(text, file), partial)


def _validate(source: Source, partial: bool = False) -> LoadedPlan:
    if not isinstance(source.data, dict):
        raise PlanError(source.problem((), "a plan file must be a mapping (program:, inputs:, ...)"))
    problems: list[Problem] = []
    try:
        plan = Plan.model_validate(source.data)
    except ValidationError as err:
        problems = _problems(err, source)
        repaired = salvage(source, [_data_path(i["loc"], source.data) for i in err.errors()]) \
            if partial else None
        if repaired is None:
            raise PlanError(problems) from err
        source = repaired
        try:
            plan = Plan.model_validate(source.data)
        except ValidationError:
            raise PlanError(problems) from err
    found = _cross_references(plan, source) + check_names(plan, source)
    if (problems or found) and not partial:
        raise PlanError(problems + found)
    if found:
        # Measures with a problem of their own are not compiled (nor those reading them):
        # their expressions would only repeat it.
        source = leave_out(source, measures_with(source, found))
        plan = Plan.model_validate(source.data)
    return LoadedPlan(plan=plan, source=source, problems=tuple(problems + found))


# Errors about a scalar value: reported for the short form of a union ("licences: integer")
# when the user wrote the long form (a mapping), whose own errors say what is wrong.
SCALAR_ERRORS = {"literal_error", "string_type", "enum", "decimal_parsing", "int_parsing",
                 "bool_parsing", "decimal_type", "int_type", "bool_type"}


def _problems(err: ValidationError, source: Source) -> list[Problem]:
    problems = []
    items = err.errors()
    paths = [_data_path(item["loc"], source.data) for item in items]
    # A required key that is missing may be the unknown key beside it, misspelt.
    missing: dict[tuple, list[str]] = {}
    for item, path in zip(items, paths, strict=True):
        if item["type"] == "missing":
            missing.setdefault(path, []).append(str(item["loc"][-1]))
    for item, path in zip(items, paths, strict=True):
        kind = item["type"]
        if kind in SCALAR_ERRORS and isinstance(_at(source.data, path), dict) and any(
                other != path and other[:len(path)] == path for other in paths):
            continue
        if kind == "missing":
            where = ".".join(str(p) for p in path) or "plan"
            problems.append(source.problem(
                path, f"{where}: the required key '{item['loc'][-1]}' is missing"))
            continue
        if kind == "extra_forbidden":
            name = str(path[-1])
            siblings = _model_keys(path[:-1], _at(source.data, path[:-1])) or missing.get(path[:-1], [])
            line, col = source.where(path + ("<key>",))
            problems.append(
                Problem(f"unknown key '{name}'", source.file, line, col,
                        hint=suggest(name, siblings))
            )
            continue
        if kind == "string_pattern_mismatch" and item.get("ctx", {}).get("pattern") in NAME_RULES:
            problems.append(_bad_name(item, path, source))
            continue
        if kind == "union_tag_invalid":
            tag = item.get("ctx", {}).get("tag", "")
            expected = item.get("ctx", {}).get("expected_tags", "")
            options = [t.strip(" '") for t in expected.split(",")]
            hint = suggest(tag, options) or f"use one of {expected}"
            problems.append(source.problem(path + ("type",), f"unknown block type '{tag}'", hint))
            continue
        where = ".".join(str(p) for p in path) or "plan"
        hint = None
        if kind == "literal_error":  # a misspelt choice: the one it meant
            options = re.findall(r"'([^']*)'", str(item.get("ctx", {}).get("expected", "")))
            hint = suggest(str(item.get("input", "")), options)
        problems.append(source.problem(path, f"{where}: {item['msg']}", hint))
    return problems


# What a name of each kind must look like, said in words (the pattern is in the models).
NAME_RULES = {
    NAME_PATTERN: NAME_RULE,
    REFERENCE_PATTERN: f"table.column, each {NAME_RULE}",
    REASON_PATTERN: "a letter, then letters, digits, underscores, dots or hyphens "
                    "(at most 63 characters)",
    PREFIX_PATTERN: "empty, or a letter then letters, digits or underscores (at most 31)",
}


def _bad_name(item: dict, path: tuple, source: Source) -> Problem:
    """A name that would reach SQL but is not a plain name: said with the rule, at the key
    (a mapping's key) or the value that holds it."""
    text = str(item.get("input", ""))
    is_key = item["loc"][-1] == "[key]"
    where = ".".join(str(p) for p in (path[:-1] if is_key else path)) or "plan"
    line, col = source.where(path + ("<key>",) if is_key else path)
    fixed = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")[:63]
    # (a name with a few wrong characters, not a statement smuggled in one)
    slight = len(re.findall(r"[^A-Za-z0-9_]", text)) <= 3
    hint = f"rename it, e.g. '{fixed}'" if slight and is_name(fixed) else "rename it"
    return Problem(f"{where}: '{shown(text)}' is not a valid name: "
                   f"{NAME_RULES[item['ctx']['pattern']]}", source.file, line, col, hint=hint)


def shown(text: str, longest: int = 40) -> str:
    """A name as a message shows it: cut short, control characters escaped."""
    short = text if len(text) <= longest else text[:longest] + "..."
    return short if short.isprintable() else short.encode("unicode_escape").decode("ascii")


def _at(data: object, path: tuple) -> object:
    for part in path:
        data = data[part]
    return data


def _data_path(loc: tuple, data: object) -> tuple:
    """Pydantic's loc also names union members ('per_record'); keep only real data keys."""
    path: list = []
    node = data
    for part in loc:
        inside_dict = isinstance(node, dict) and part in node
        inside_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if inside_dict or inside_list:
            path.append(part)
            node = node[part]
    return tuple(path)


def _model_keys(path: tuple, owner: object) -> list[str]:
    """The keys the plan's models allow at `path` (the mapping `owner` in the plan file),
    found by following the models' annotations (dict values, list items, unions,
    optionals); of a tagged union, the member its `type:` names."""
    from typing import get_args, get_origin

    from pydantic import BaseModel

    def members(annotation) -> list:
        args = get_args(annotation)
        if get_origin(annotation) in (dict, list) or not args:
            return [annotation]
        return [m for arg in args for m in members(arg)]  # a union, Optional, Annotated

    candidates = members(Plan)
    for part in path:
        following = []
        for annotation in candidates:
            origin, args = get_origin(annotation), get_args(annotation)
            if origin is dict and len(args) == 2:
                following += members(args[1])
            elif origin is list and args:
                following += members(args[0])
            elif isinstance(annotation, type) and issubclass(annotation, BaseModel) \
                    and part in annotation.model_fields:
                following += members(annotation.model_fields[part].annotation)
        candidates = following
    models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
    tag = owner.get("type") if isinstance(owner, dict) else None
    tagged = [m for m in models if "type" in m.model_fields
              and get_args(m.model_fields["type"].annotation) == (tag,)]
    return sorted({name for model in tagged or models for name in model.model_fields})


def _cross_references(plan: Plan, source: Source) -> list[Problem]:
    """Names that must refer to something declared elsewhere in the plan."""
    problems: list[Problem] = []
    tables = list(plan.inputs)
    measure_ids = [m.id for m in plan.measures]
    budget_ids = [b.id for b in plan.budgets]
    seen: set[str] = set()
    for index, measure in enumerate(plan.measures):
        path = ("measures", index)
        if measure.id in seen:
            problems.append(source.problem(path + ("id",), f"measure id '{measure.id}' is used twice"))
        seen.add(measure.id)
        source_table = getattr(measure, "source", None)
        if source_table is not None and source_table not in plan.inputs:
            problems.append(
                source.problem(path + ("source",), f"unknown input table '{source_table}'",
                               suggest(source_table, tables))
            )
        budget = getattr(measure, "budget", None)
        if budget is not None and budget not in budget_ids:
            problems.append(
                source.problem(path + ("budget",), f"unknown budget '{budget}'", suggest(budget, budget_ids))
            )
        of = getattr(measure, "of", None)
        for at, ref in ([((), of)] if isinstance(of, str) else enumerate(of or [])):
            if ref not in measure_ids[:index]:
                problems.append(
                    source.problem(path + ("of", *((at,) if at != () else ())),
                                   f"'{ref}' is not a measure defined above",
                                   suggest(ref, measure_ids[:index]))
                )
        problems += _earlier_measures(plan, source, index)
        problems += _period_kind(plan, source, index)
        problems += _roster(plan, source, index)
    problems += _versions_in_order(plan, source)
    problems += _phases(plan, source)
    for name, table in plan.inputs.items():
        for col_name, col in table.columns.items():
            if col.references:
                ref_table, _, ref_col = col.references.partition(".")
                target = plan.inputs.get(ref_table)
                if target is None or ref_col not in target.columns:
                    problems.append(
                        source.problem(("inputs", name, "columns", col_name, "references"),
                                       f"references unknown column '{col.references}'")
                    )
        for col_name, col in table.columns.items():
            if col.tax_id and col.type != "string":
                problems.append(source.problem(
                    ("inputs", name, "columns", col_name, "tax_id"),
                    f"a tax id column must be a string, not {col.type}",
                    hint="tax ids keep their leading zeros and letters: use type: string"))
        problems += _group_checks(name, table, source)
        for key in table.key:
            if key not in table.columns:
                problems.append(
                    source.problem(("inputs", name, "key"), f"key column '{key}' is not declared",
                                   suggest(key, table.columns))
                )
    return problems


def _group_checks(name: str, table, source: Source) -> list[Problem]:
    """A group check names declared columns, and totals a number."""
    problems = []
    columns = list(table.columns)
    for i, check in enumerate(table.checks):
        at = ("inputs", name, "checks", i)
        problems += unknown_columns(source, at + ("by",), enumerate(check.by), name, columns)
        problems += unknown_columns(source, at, [("sum", check.sum)], name, columns)
        spec = table.columns.get(check.sum)
        if spec is not None and spec.type not in ("integer", "decimal"):
            problems.append(source.problem(at + ("sum",), f"'{check.sum}' is a {spec.type} column: "
                                           "a group check totals numbers",
                                           hint="sum an integer or decimal column"))
    return problems


def _earlier_measures(plan: Plan, source: Source, index: int) -> list[Problem]:
    """A claim names the screening that accepts its claimants, `refers` the measures whose
    lines it reads: both must come earlier (the engine builds measures in order)."""
    measure = plan.measures[index]
    path = ("measures", index)
    earlier = {m.id: m for m in plan.measures[:index]}
    problems = []
    claim = getattr(measure, "claim", None)
    if claim is not None:
        screenings = [m for m, block in earlier.items() if block.type == "screening"]
        if claim.screening not in screenings:
            problems.append(source.problem(
                path + ("claim", "screening"),
                f"'{claim.screening}' is not a screening measure defined above",
                suggest(claim.screening, screenings) or (
                    "define the screening measure before this one" if screenings
                    else "a claim needs a `type: screening` measure before it")))
    for i, refer in enumerate(getattr(measure, "refers", [])):
        if refer.measure not in earlier:
            problems.append(source.problem(
                path + ("refers", i, "measure"), f"'{refer.measure}' is not a measure defined above",
                suggest(refer.measure, list(earlier))))
    return problems


PERIOD_KINDS = ("month", "quarter", "year", "phases")


def _period_kind(plan: Plan, source: Source, index: int) -> list[Problem]:
    measure = plan.measures[index]
    kind = getattr(measure, "period", None)
    path = ("measures", index, "period")
    if kind is None or kind in ("month", "quarter", "year"):
        return []
    if kind == "phases":
        if not plan.phases:
            return [source.problem(path, "period 'phases' but the plan declares no phases",
                                   "add `phases:` (id, start, end) or use month/quarter/year")]
        return []
    if kind.startswith("column:") and is_name(kind.split(":", 1)[1]):
        return []
    if kind.startswith("column:") and kind.split(":", 1)[1]:
        return [source.problem(path, f"period '{shown(kind)}': the column is not a valid name: "
                                     f"{NAME_RULE}")]
    return [source.problem(path, f"unknown period '{kind}'",
                           suggest(kind, list(PERIOD_KINDS))
                           or "use month, quarter, year, phases or column:<name>")]


def _roster(plan: Plan, source: Source, index: int) -> list[Problem]:
    """A roster names a column of an input table; its periods are those of the measure,
    which a `column:` period does not say."""
    roster = getattr(plan.measures[index], "roster", None)
    if roster is None:
        return []
    path = ("measures", index, "roster")
    table = plan.inputs.get(roster.table)
    if table is None:
        return [source.problem(path + ("table",), f"unknown input table '{roster.table}'",
                               suggest(roster.table, list(plan.inputs)))]
    problems = []
    if roster.column not in table.columns:
        problems.append(source.problem(
            path + ("column",), f"'{roster.column}' is not a column of {roster.table}",
            suggest(roster.column, list(table.columns))))
    kind = getattr(roster, "period", None) or plan.measures[index].period
    if kind.startswith("column:"):
        problems.append(source.problem(
            path, f"the measure's period is '{shown(kind)}': the roster cannot tell which "
            "periods to fill", "add `period: month`, `quarter`, `year` or `phases` to the roster"))
    elif kind == "phases" and not plan.phases:
        problems.append(source.problem(path + ("period",), "period 'phases' but the plan "
                                       "declares no phases", "add `phases:` or use month/quarter/year"))
    return problems


def _versions_in_order(plan: Plan, source: Source) -> list[Problem]:
    """Each version is in force from its date to the next one's: out of order, the ranges
    would overlap or be empty."""
    problems = []
    for i, (before, after) in enumerate(itertools.pairwise(plan.versions), start=1):
        if after.effective_from <= before.effective_from:
            problems.append(source.problem(
                ("versions", i, "effective_from"),
                f"version effective from {after.effective_from} must come after the one "
                f"before it ({before.effective_from})",
                "list versions in order of effective_from, each on a later date"))
    return problems


def _phases(plan: Plan, source: Source) -> list[Problem]:
    problems = []
    if any(m.type == "gated_rebate" for m in plan.measures) and not plan.phases:
        index = next(i for i, m in enumerate(plan.measures) if m.type == "gated_rebate")
        problems.append(source.problem(
            ("measures", index, "type"), "a gated_rebate is paid per phase, but the plan "
            "declares no phases", "add `phases:` with id, start, end and evaluations"))
    extras = [set(phase.model_extra or {}) for phase in plan.phases]
    for i, extra in enumerate(extras):
        # Each becomes a column (`phase.<attribute>` in expressions).
        for name in sorted(n for n in extra if not is_name(n)):
            line, col = source.where(("phases", i, name, "<key>"))
            problems.append(Problem(f"phases.{i}: '{shown(name)}' is not a valid name: {NAME_RULE}",
                                    source.file, line, col, hint="rename it"))
    every = set().union(*extras) if extras else set()
    seen: set[str] = set()
    for i, phase in enumerate(plan.phases):
        path = ("phases", i)
        if phase.id in seen:
            problems.append(source.problem(path + ("id",), f"phase id '{phase.id}' is used twice"))
        seen.add(phase.id)
        if phase.end < phase.start:
            problems.append(source.problem(path + ("end",),
                                           f"phase '{phase.id}' ends before it starts"))
        # Expressions read `phase.<attribute>` for every record: each phase must have it.
        for missing in sorted(every - extras[i]):
            problems.append(source.problem(
                path, f"phase '{phase.id}' has no '{missing}' (other phases have it)",
                f"give every phase a value for '{missing}'"))
    return problems
