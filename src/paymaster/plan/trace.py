"""The trace a payout line carries: its template key and the names of the plan-dependent
trace columns (a base's named inputs, each cap's value and maximum).

Shared by the engine (which fills the columns) and the renderer at the edge
(`paymaster.explanations`, which reads them): both name the columns through here. The
design is written down in docs/traces.md.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlglot import exp

from paymaster.plan.expressions import parse
from paymaster.plan.model import PerRecord, Plan, Tier, Tiers

# Template keys: which explanation a row's trace renders as.
RECORD_RATE = "record.rate"          # base x rate (a band) per source record
RECORD_AMOUNT = "record.amount"      # a per-record amount expression
ONE_OFF = "one_off"                  # a fixed bonus on the payee's first paid (or closed) line
AGGREGATE_AMOUNT = "aggregate.amount"
AGGREGATE_GRADUATED = "aggregate.graduated"
AGGREGATE_RETROACTIVE = "aggregate.retroactive"
RANKING_PLACE = "ranking.place"
RANKING_GROWTH = "ranking.growth"
STREAK = "streak"
REBATE_PASSED = "rebate.passed"
REBATE_FAILED = "rebate.failed"
BALANCE = "balance"                  # a balance carried between periods (a draw)
EMPTY = "empty"                      # a roster's line for a payee and period with nothing
SCREENING = "screening"              # evaluations: a screened record's verdict
GATE = "gate"                        # evaluations: a gated rebate's evaluation date
TEMPLATES = (RECORD_RATE, RECORD_AMOUNT, ONE_OFF, AGGREGATE_AMOUNT, AGGREGATE_GRADUATED,
             AGGREGATE_RETROACTIVE, RANKING_PLACE, RANKING_GROWTH, STREAK, REBATE_PASSED,
             REBATE_FAILED, BALANCE, EMPTY, SCREENING, GATE)

# What a claimed measure's line says about the registration in `claim`.
CLAIM_CLOSED, CLAIM_USED, CLAIM_PENDING, CLAIM_REJECTED = "closed", "used", "pending", "rejected"

_OPERATORS = (exp.Mul, exp.Add, exp.Sub, exp.Div)


def input_column(qualifier: str, name: str) -> str:
    """The trace column holding one named input of a base: `in_unit_price`, `in_param_x`."""
    return f"in_{qualifier}_{name}" if qualifier else f"in_{name}"


def base_inputs(text: Any) -> list[tuple[str, str]]:
    """The (qualifier, name) of each column the explanation writes out with its figure:
    those reached through + - x / and parentheses (what `expressions.explain` shows)."""
    found: list[tuple[str, str]] = []

    def walk(node: exp.Expression) -> None:
        if isinstance(node, (exp.Paren, exp.Neg)):
            walk(node.this)
        elif isinstance(node, _OPERATORS):
            walk(node.this)
            walk(node.expression)
        elif isinstance(node, exp.Column) and (node.table, node.name) not in found:
            found.append((node.table, node.name))

    walk(parse(text))
    return found


def cap_columns(index: int) -> tuple[str, str]:
    """The trace columns of a measure's cap number `index` (from 1): its value and maximum."""
    return f"cap{index}_value", f"cap{index}_max"


def trace_columns(plan: Plan) -> list[str]:
    """The plan-dependent trace columns of every line (all measures' lines share them)."""
    columns: list[str] = []
    for measure in plan.measures:
        if isinstance(measure, PerRecord):
            formula = measure.base if measure.base is not None else measure.amount
            if formula is not None:
                columns += [input_column(q, n) for q, n in base_inputs(formula)]
            for i in range(1, len(measure.caps) + 1):
                columns += cap_columns(i)
    return list(dict.fromkeys(columns))


def band_label(tiers: Tiers, tier: Tier, index: int) -> str:
    """A tier's label when the plan gives none."""
    edge = f"{tier.upto}" if tier.upto is not None else "above"
    unit = " of target" if tiers.relative_to == "target" else ""
    return f"band {index + 1} up to {edge}{unit}" if tier.upto is not None else f"band {index + 1} above"


def plan_number(plan: Plan, value: Any, version: str | None) -> Decimal | None:
    """A plan number as the line's version had it: a literal or `param.x`; None for an
    expression (its figures are the engine's alone)."""
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return Decimal(value)
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        pass
    text = str(value).strip()
    if not text.startswith("param."):
        return None
    found = version_parameters(plan, version).get(text[len("param."):])
    try:
        return None if found is None or isinstance(found, bool) else Decimal(str(found))
    except (InvalidOperation, ValueError):
        return None


def version_parameters(plan: Plan, version: str | None) -> dict[str, Any]:
    """The parameters in force under a version label (as the engine names versions)."""
    current = dict(plan.parameters)
    for i, v in enumerate(plan.versions):
        current = {**current, **v.parameters}
        if (v.label or f"v{i + 2}") == version:
            return current
    return dict(plan.parameters) if version in (None, "v1") else current


def plain(value: Any) -> Any:
    """A trace value as JSON keeps it: Decimals and dates as text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value
