"""What of a faulty plan can still be checked: `paymaster check` reports every problem in
one run, so a measure with a bad `type`, a misspelt key or an unknown source does not hide
the expressions of every other measure.

A plan that does not validate is repaired for checking only (never for a run): a faulty
measure, budget, version or phase is left out, with the measures that read it (`of`,
`claim.screening`, `refers`), so that nothing is reported twice or in consequence; a
faulty column option or a misspelt key is dropped; a faulty top-level value is replaced
by a placeholder. Positions keep pointing into the file as written."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from paymaster.errors import Problem
from paymaster.plan.model import Plan
from paymaster.plan.yamlsource import Source

LISTS = ("measures", "budgets", "versions", "phases")
# Top-level values a plan must have, as placeholders while checking the rest.
PLACEHOLDERS: dict[str, Any] = {
    "program": "plan", "currency": "XXX", "country": "",
    "scope": {"start": dt.date(1900, 1, 1), "end": dt.date(9999, 12, 31)},
}
OPTIONAL_TOP = ("title", "description", "annual_budget", "effect", "parameters")


def salvage(source: Source, paths: list[tuple]) -> Source | None:
    """`source` with the parts at `paths` (pydantic errors, as data paths) repaired, or
    None when one cannot be (the caller then reports what it has)."""
    data = copy.deepcopy(source.data)
    if not isinstance(data, dict):
        return None
    drop: dict[str, set[int]] = {name: set() for name in LISTS}
    for path in paths:
        try:
            repaired = _repair(data, path, drop)
        except (KeyError, IndexError, TypeError, AttributeError):
            # A shape the repairs do not expect (a list where a mapping belongs, ...):
            # the caller reports the problems found so far, as a run would.
            repaired = False
        if not repaired:
            return None
    return without(Source(source.file, data, dict(source.positions), dict(source.styles)),
                   _with_dependents(data, drop))


def _repair(data: dict, path: tuple, drop: dict[str, set[int]]) -> bool:
    if len(path) >= 2 and path[0] in LISTS and isinstance(path[1], int):
        drop[path[0]].add(path[1])
        return True
    if len(path) >= 4 and path[0] == "inputs" and path[2] == "columns":
        columns = data["inputs"][path[1]]["columns"]
        spec = columns.get(path[3]) if isinstance(columns, dict) else None
        if isinstance(spec, dict) and len(path) >= 5 and path[4] != "type":
            spec.pop(path[4], None)
        elif isinstance(columns, dict):
            columns[path[3]] = "string"
        return True
    if len(path) == 3 and path[0] == "inputs" and isinstance(data["inputs"].get(path[1]), dict):
        data["inputs"][path[1]].pop(path[2], None)  # a misspelt key of a table
        return True
    if len(path) <= 1:
        key = path[0] if path else None
        if key in PLACEHOLDERS:
            data[key] = copy.deepcopy(PLACEHOLDERS[key])
        elif key in OPTIONAL_TOP or (key is not None and key not in _top_keys()):
            data.pop(key, None)  # (a misspelt top-level key)
        elif key is None:
            for name, value in PLACEHOLDERS.items():
                data.setdefault(name, copy.deepcopy(value))
        else:
            return False
        return True
    if len(path) == 2 and path[0] == "parameters":
        data["parameters"].pop(path[1], None)
        return True
    return False


def _top_keys() -> set[str]:
    return set(Plan.model_fields)


def _with_dependents(data: dict, drop: dict[str, set[int]]) -> dict[str, set[int]]:
    """The measures to leave out: those dropped, and every measure reading one of them."""
    measures = data.get("measures") if isinstance(data.get("measures"), list) else []
    gone = {m.get("id") for i, m in enumerate(measures)
            if i in drop["measures"] and isinstance(m, dict)}
    changed = True
    while changed:
        changed = False
        for i, measure in enumerate(measures):
            if i in drop["measures"] or not isinstance(measure, dict):
                continue
            if _reads(measure) & gone:
                drop["measures"].add(i)
                gone.add(measure.get("id"))
                changed = True
    return drop


def _reads(measure: dict) -> set:
    names = {measure.get("of")}
    claim = measure.get("claim")
    if isinstance(claim, dict):
        names.add(claim.get("screening"))
    for refer in measure.get("refers") or []:
        if isinstance(refer, dict):
            names.add(refer.get("measure"))
    return names - {None}


def without(source: Source, drop: dict[str, set[int]]) -> Source:
    """`source` without the items `drop` names ({list: indices}); the positions of the
    items kept are renumbered, so problems found later are still placed as written."""
    data = dict(source.data)
    renumber: dict[str, dict[int, int]] = {}
    for name, gone in drop.items():
        items = data.get(name)
        if not gone or not isinstance(items, list):
            continue
        kept = [i for i in range(len(items)) if i not in gone]
        data[name] = [items[i] for i in kept]
        renumber[name] = {old: new for new, old in enumerate(kept)}

    def moved(mapping: dict) -> dict:
        out = {}
        for key, value in mapping.items():
            if len(key) >= 2 and key[0] in renumber and isinstance(key[1], int):
                if key[1] not in renumber[key[0]]:
                    continue
                key = (key[0], renumber[key[0]][key[1]], *key[2:])
            out[key] = value
        return out

    return Source(source.file, data, moved(source.positions), moved(source.styles))


def measures_with(source: Source, problems: list[Problem]) -> set[int]:
    """The measures (by index in `source`) whose lines hold one of `problems`."""
    starts = sorted((source.positions[("measures", i)][0], i)
                    for i in range(len(source.data.get("measures") or []))
                    if ("measures", i) in source.positions)
    if not starts:
        return set()
    after = [line for key, (line, _) in source.positions.items()
             if len(key) == 2 and key[1] == "<key>" and line > starts[-1][0]]
    end = min(after) if after else float("inf")
    found = set()
    for problem in problems:
        if problem.line is None or problem.file != source.file or problem.line >= end:
            continue
        owner = [i for line, i in starts if line <= problem.line]
        if owner:
            found.add(owner[-1])
    return found


def leave_out(source: Source, indices: set[int]) -> Source:
    data = source.data
    drop = {name: set() for name in LISTS}
    drop["measures"] = set(indices)
    return without(source, _with_dependents(data, drop))
