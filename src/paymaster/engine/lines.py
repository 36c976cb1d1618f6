"""The shapes of the engine's output tables, and small helpers shared by every block."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import ibis
import ibis.expr.operations as ops
import pyarrow as pa
import ibis.expr.types as ir

from paymaster.money import MONEY_TYPE
from paymaster.plan.expressions import WIDE
from paymaster.plan.natural import natural_sort_key

LINE_SCHEMA: dict[str, Any] = {
    "program": "string",
    "payee_id": "string",
    "period": "string",
    "measure": "string",
    "source_id": "string",
    "date": "date",
    "seq": "int64",
    "raw": WIDE,
    "earned": MONEY_TYPE,
    "eligible": "boolean",
    "reason": "string",
    "budget": "string",
    "base": WIDE,
    "rate": WIDE,
    "band": "string",
    "value": WIDE,
    "target": WIDE,
    "cut_by_cap": WIDE,
    "cut_by_limit": MONEY_TYPE,
    "version": "string",
    "explanation": "string",
    # A closed record's cancelling rule (see Rule.cancels): read by a one_off, not an output.
    "cancelled": "string",
}

EVALUATION_SCHEMA: dict[str, Any] = {
    "program": "string",
    "payee_id": "string",
    "period": "string",
    "subject": "string",
    "evaluation": "string",
    "as_of": "date",
    "passed": "boolean",
    "value": MONEY_TYPE,
    "threshold": MONEY_TYPE,
    "ratio": "decimal(18, 4)",
    "required_ratio": "decimal(18, 4)",
    "reason": "string",
    "explanation": "string",
}

CREDIT_SCHEMA: dict[str, Any] = {
    "program": "string",
    "payee_id": "string",
    "period": "string",
    "measure": "string",
    "source_id": "string",
    "value": MONEY_TYPE,
    "counts": "boolean",
    "reason": "string",
}

EFFECT_SCHEMA: dict[str, Any] = {
    "program": "string",
    "period": "string",
    "sales": MONEY_TYPE,
    "previous_sales": MONEY_TYPE,
    "growth": "decimal(18, 4)",
    "prior_sales": MONEY_TYPE,
    "prior_growth": "decimal(18, 4)",
    "incentive_cost": MONEY_TYPE,
    "cost_share": "decimal(18, 4)",
    "cost_per_extra_sale": "decimal(18, 4)",
    "budget": MONEY_TYPE,
    "budget_used": "decimal(18, 4)",
}

TITLE_SCHEMA: dict[str, Any] = {
    "program": "string",
    "payee_id": "string",
    "period": "string",
    "title": "string",
    "rank": "int64",
    "value": MONEY_TYPE,
}


def memtable(columns: dict[str, list], schema: dict[str, Any]) -> ir.Table:
    """An in-memory table built through Arrow (exact decimals, typed even when empty)."""
    arrow_schema = ibis.schema(schema).to_pyarrow()
    data = pa.table({name: pa.array(columns.get(name, []), type=arrow_schema.field(name).type)
                     for name in schema}, schema=arrow_schema)
    return ibis.memtable(data)


def shape(table: ir.Table, schema: dict[str, Any], **values: Any) -> ir.Table:
    """Select exactly `schema`'s columns: from `values`, else the table, else typed NULL."""
    columns = {}
    for name, dtype in schema.items():
        if name in values:
            value = values[name]
            value = value if isinstance(value, ir.Value) else ibis.literal(value)
        elif name in table.columns:
            value = table[name]
        else:
            value = ibis.null()
        columns[name] = value.cast(dtype)
    return table.select(**columns)


def money(value: ir.Value) -> ir.Value:
    """Round half-up (ties away from zero) to the minor unit, once per line."""
    return value.cast(WIDE).round(2).cast(MONEY_TYPE)


def text(value: ir.Value) -> ir.Value:
    """A number as short text: trailing zeros after the point dropped."""
    raw = value.cast("string")
    # One pass: the trailing zeros, and the point if nothing is left after it.
    return ibis.ifelse(raw.contains("."), raw.re_replace(r"\.?0+$", ""), raw)


def amount_text(value: ir.Value) -> ir.Value:
    return money(value).cast("string")


def percent(rate: ir.Value, known: Iterable[Decimal] = ()) -> ir.Value:
    """A rate as a percentage. `known`: values the rate mostly takes (a rate table's
    literal rates), whose text is written here once rather than computed on every row."""
    shown = text((rate.cast(WIDE) * 100).cast(WIDE).round(4)).concat("%")
    cases = [(rate == ibis.literal(v, type=WIDE), ibis.literal(percent_text(v)))
             for v in dict.fromkeys(known) if _fits_wide(v)]
    return ibis.cases(*cases, else_=shown) if cases else shown


def percent_text(rate: Decimal) -> str:
    """`percent`'s text in Python: x 100, rounded half away from zero to 4 places, trailing
    zeros (and a bare point) dropped."""
    shown = (rate * 100).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    digits = format(shown if shown else abs(shown), "f")
    return (re.sub(r"\.?0+$", "", digits) if "." in digits else digits) + "%"


def _fits_wide(value: Decimal) -> bool:
    """Exact in WIDE (else the cast would round it first)."""
    whole = Decimal(10) ** (WIDE.precision - WIDE.scale - 2)  # room for the x 100
    return value.is_finite() and value.as_tuple().exponent >= -WIDE.scale and abs(value) < whole


def literal_decimal(value: ir.Value) -> Decimal | None:
    """The number a value is when it is a literal (possibly cast), else None."""
    node = value.op()
    while isinstance(node, ops.Cast):
        node = node.arg
    if isinstance(node, ops.Literal) and isinstance(node.value, (Decimal, int)) \
            and not isinstance(node.value, bool):
        return Decimal(node.value)
    return None


def join_text(parts: list[ir.Value], sep: str = "; ") -> ir.Value:
    """Join the non-null parts with `sep` (CONCAT_WS skips NULLs); NULL when all are."""
    if not parts:
        return ibis.null().cast("string")
    joined = ibis.literal(sep).join([p.cast("string") for p in parts])
    return joined.nullif("")


def natural_order(table: ir.Table, columns: list[str]) -> list[ir.Value]:
    """Sort keys where an id's trailing number sorts as a number: 9 before 10, S9 before
    S10 (`plan.expressions.natural_key`, as `id_before` compares ids).

    "Ties by sale id" must not depend on whether the ids happen to be written as numbers,
    nor on how many digits they were given. Ids of one shape sort as they are
    (`plan.natural.natural_sort_key`): the same order without a regular expression per row."""
    return [natural_sort_key(table, name) if table[name].type().is_string() else table[name]
            for name in columns]


def first_reason(checks: list[tuple[str, ir.Value]]) -> ir.Value:
    """The name of the first check that failed (each value is True when it FAILED)."""
    if not checks:
        return ibis.null().cast("string")
    return ibis.cases(*[(failed.fill_null(False), name) for name, failed in checks],
                      else_=ibis.null().cast("string"))


def all_reasons(checks: list[tuple[str, ir.Value]]) -> ir.Value:
    parts = [ibis.ifelse(failed.fill_null(False), ibis.literal(name), ibis.null().cast("string"))
             for name, failed in checks]
    return join_text(parts)
