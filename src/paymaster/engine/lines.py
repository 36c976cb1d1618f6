"""The shapes of the engine's output tables, and small helpers shared by every block."""

from __future__ import annotations

from typing import Any

import ibis
import pyarrow as pa
import ibis.expr.types as ir

from paymaster.money import MONEY_TYPE, money_type
from paymaster.plan.expressions import WIDE
from paymaster.plan.natural import Once, natural_sort_key

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
    # A closed record's cancelling rule (see Rule.cancels): read by a one_off, not an output.
    "cancelled": "string",
    **{name: dtype for name, dtype in (
        ("template", "string"),
        ("claim", "string"), ("claim_status", "string"), ("claim_reason", "string"),
        ("claim_note", "string"), ("claim_sale", "string"),
        ("slot", "int64"), ("slot_limit", WIDE),
        ("budget_left", MONEY_TYPE),
        ("place", "int64"), ("tied", "int64"), ("run", "int64"), ("growth", WIDE),
        ("group_value", WIDE), ("group_target", WIDE),
        ("evaluation", "string"), ("threshold", WIDE), ("ratio", "decimal(18, 4)"),
        ("required_ratio", "decimal(18, 4)"),
        ("topped_up", WIDE), ("advanced", WIDE), ("recovered", WIDE), ("owed", WIDE),
    )},
}
# The trace columns (docs/traces.md) beside the figures every line has: set only where a
# block says so, never picked up from a source column of the same name.
TRACE_COLUMNS = ("template", "claim", "claim_status", "claim_reason", "claim_note",
                 "claim_sale", "slot", "slot_limit", "budget_left", "place", "tied", "run",
                 "growth", "group_value", "group_target", "evaluation", "threshold", "ratio",
                 "required_ratio", "topped_up", "advanced", "recovered", "owed")

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
    "template": "string",
    "missing": "string",
    "note": "string",
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


def line_schema(trace: list[str]) -> dict[str, Any]:
    """LINE_SCHEMA with a plan's own trace columns (`plan.trace.trace_columns`)."""
    return {**LINE_SCHEMA, **{name: WIDE for name in trace}}


def shape(table: ir.Table, schema: dict[str, Any], **values: Any) -> ir.Table:
    """Select exactly `schema`'s columns: from `values`, else the table, else typed NULL.
    Trace columns come from `values` only."""
    columns = {}
    for name, dtype in schema.items():
        if name in values:
            value = values[name]
            value = value if isinstance(value, ir.Value) else ibis.literal(value)
        elif name in table.columns and not _trace_only(name, schema):
            value = table[name]
        else:
            value = ibis.null()
        columns[name] = value.cast(dtype)
    return table.select(**columns)


def _trace_only(name: str, schema: dict[str, Any]) -> bool:
    """A line schema's trace column (LINE_SCHEMA's, or the plan's own beyond it)."""
    return "earned" in schema and (name in TRACE_COLUMNS or name not in LINE_SCHEMA)


def money(value: ir.Value, places: int) -> ir.Value:
    """Round half-up (ties away from zero) to the currency's minor unit (`places`, from
    `Context.places`), once per line. DuckDB and Spark both round a DECIMAL half away
    from zero; the result is a DECIMAL of exactly those places (so its text is "50" in
    yen, "0.125" in dinars)."""
    return value.cast(WIDE).round(places).cast(money_type(places))


def join_text(parts: list[ir.Value], sep: str = "; ") -> ir.Value:
    """Join the non-null parts with `sep` (CONCAT_WS skips NULLs); NULL when all are."""
    if not parts:
        return ibis.null().cast("string")
    joined = ibis.literal(sep).join([p.cast("string") for p in parts])
    return joined.nullif("")


def natural_order(table: ir.Table, columns: list[str], once: Once | None = None) -> list[ir.Value]:
    """Sort keys where an id's trailing number sorts as a number: 9 before 10, S9 before
    S10 (`plan.expressions.natural_key`, as `id_before` compares ids).

    "Ties by sale id" must not depend on whether the ids happen to be written as numbers,
    nor on how many digits they were given. Ids of one shape sort as they are
    (`plan.natural.natural_sort_key`): the same order without a regular expression per row;
    `once` stores that check where several windows read it (`Context.once`)."""
    return [natural_sort_key(table, name, once) if table[name].type().is_string() else table[name]
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
