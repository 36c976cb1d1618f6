"""Warnings, not errors: a number written in a rule that is a parameter's value, or a date
that is the scope's start or end. The plan then says the same thing twice, and changing
the parameter (or the scope) would silently leave the rule behind."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel
from sqlglot import exp

from paymaster.errors import Problem
from paymaster.plan.expressions import parse
from paymaster.plan.exprpositions import ExprError, offset_of, plan_position
from paymaster.plan.loader import LoadedPlan
from paymaster.plan.model import Written

# Where a plan's rules are: measures, budgets, the effect. (Not the inputs, whose `min`
# and `max` describe data, nor the parameters, versions and phases, which are the values.)
RULE_PARTS = ("measures", "budgets", "effect")
# Counting and identity numbers (`SELECT 1`, `value: "1"`, `x * 1`, `ELSE 0`), not a
# program's figures: never compared.
PLAIN = (Decimal(0), Decimal(1))


def literal_warnings(loaded: LoadedPlan) -> list[Problem]:
    plan, source = loaded.plan, loaded.source
    values: dict[Decimal, list[str]] = {}
    for parameters in [plan.parameters, *(v.parameters for v in plan.versions)]:
        for name, value in parameters.items():
            number = _number(value)
            if number is not None and number not in PLAIN and name not in values.get(number, []):
                values.setdefault(number, []).append(name)
    dates = {plan.scope.start: "start", plan.scope.end: "end"}
    warnings: list[Problem] = []
    for part in RULE_PARTS:
        for path, kind, value in _written(getattr(plan, part), (part,)):
            if kind == "number" and isinstance(value, Decimal):
                if _number(value) in values:
                    warnings.append(source.problem(path, *_said(value, values[_number(value)])))
                continue
            try:
                tree = parse(value)
            except ExprError:
                continue  # an error `paymaster check` reports
            for node, said in _literals(tree, values, dates):
                line, col = source.where(path)
                offset = offset_of(node)
                if offset is not None and line is not None:
                    line, col = plan_position(str(value), offset, line, col, source.styles.get(path))
                warnings.append(Problem(said[0], source.file, line, col, hint=said[1]))
    return warnings


def _said(value: object, names: list[str]) -> tuple[str, str]:
    if len(names) == 1:
        return (f"the number {value} is the value of parameter '{names[0]}'",
                f"write param.{names[0]}: a change of the parameter then reaches this rule too")
    which = ", ".join(f"'{n}'" for n in names[:-1]) + f" and '{names[-1]}'"
    return (f"the number {value} is the value of parameters {which}",
            "write the one it stands for (" + " or ".join(f"param.{n}" for n in names)
            + "): a change of the parameter then reaches this rule too")


def _literals(tree: exp.Expression, values: dict[Decimal, list[str]],
              dates: dict[dt.date, str]) -> Iterator[tuple[exp.Expression, tuple[str, str]]]:
    for node in tree.find_all(exp.Literal):
        if isinstance(node.parent, exp.Select):
            continue  # EXISTS (SELECT 1 ...)
        if not node.is_string:
            number = _number(node.this)
            if number in values:
                yield node, _said(node.this, values[number])
            continue
        cast = node.parent
        if isinstance(cast, exp.Cast) and cast.to.is_type("date"):
            try:
                day = dt.date.fromisoformat(node.this)
            except ValueError:
                continue
            if day in dates:
                yield node, (f"the date {day} is the scope's {dates[day]}",
                             f"write scope.{dates[day]}: a change of the scope then reaches "
                             "this rule too")


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value)).normalize()
    except (InvalidOperation, ValueError):
        return None


def _written(node: Any, path: tuple, kind: str | None = None
             ) -> Iterator[tuple[tuple, str, Any]]:
    """Every expression and number of the plan below `node`: (path, kind, value)."""
    if isinstance(node, BaseModel):
        for name, field in type(node).model_fields.items():
            # (pydantic keeps a field's own Annotated marks apart, in its metadata)
            marks = [m.kind for m in field.metadata if isinstance(m, Written)]
            kind = marks[0] if marks else _kind(field.annotation)
            yield from _written(getattr(node, name), path + (name,), kind)
    elif isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            yield from _written(item, path + (i,), kind)
    elif isinstance(node, dict):
        for key, item in node.items():
            yield from _written(item, path + (key,), kind)
    elif (kind == "number" and isinstance(node, Decimal)) or (kind and isinstance(node, str)):
        yield path, kind, node


def _kind(annotation: Any) -> str | None:
    """'expression' or 'number' when the annotation (or what it holds: a list's items, a
    mapping's values, a union's members) is marked so."""
    if get_origin(annotation) is Annotated:
        marks = [m for m in annotation.__metadata__ if isinstance(m, Written)]
        if marks:
            return marks[0].kind
    for arg in get_args(annotation):
        kind = _kind(arg)
        if kind is not None:
            return kind
    return None
