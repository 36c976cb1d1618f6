"""Running the engine on DuckDB over small generated tables, for the property tests
(tests/test_properties*.py) and the ordering tests."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import ROUND_HALF_UP, Decimal

import ibis
import pyarrow as pa
from hypothesis import settings
from hypothesis import strategies as st

from paymaster.engine import build
from paymaster.plan import parse_plan

SETTINGS = settings(max_examples=25, deadline=None)
CENT = Decimal("0.01")
DAY0 = dt.date(2025, 1, 1)
REPS = ["R1", "R2", "R3"]


def half_up(value: Decimal, quantum: Decimal = CENT) -> Decimal:
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


def cents(low: int = 1, high: int = 5_000_000):
    return st.integers(min_value=low, max_value=high).map(lambda c: Decimal(c).scaleb(-2))


# ------------------------------------------------------------------ running the engine
@functools.cache
def connection():
    return ibis.duckdb.connect()


SALES_SCHEMA = {"sale_id": "string", "rep": "string", "amount": "decimal(18,4)",
                "day": "date", "cancelled": "boolean"}
TARGETS_SCHEMA = {"rep": "string", "target": "decimal(18,4)"}


def header(currency: str = "PLN") -> str:
    return f"""
program: prop
currency: {currency}
scope: {{start: 2025-01-01, end: 2025-12-31}}
inputs:
  sales:
    columns: {{sale_id: string, rep: string, amount: decimal, day: date, cancelled: boolean}}
  targets:
    columns: {{rep: string, target: decimal}}
"""


def memtable(columns: dict[str, list], schema: dict[str, str]):
    """ibis.memtable over an Arrow table with the given schema (exact decimals, no pandas)."""
    arrow = pa.table(columns, schema=ibis.schema(schema).to_pyarrow())
    return ibis.memtable(arrow)


def sales_table(rows: list[dict]):
    """rows: dicts with sale_id, rep, amount and optional day, cancelled."""
    columns = {
        "sale_id": [str(r["sale_id"]) for r in rows],
        "rep": [r["rep"] for r in rows],
        "amount": [r["amount"] for r in rows],
        "day": [r.get("day", DAY0) for r in rows],
        "cancelled": [r.get("cancelled", False) for r in rows],
    }
    return memtable(columns, SALES_SCHEMA)


def targets_table(targets: dict[str, Decimal]):
    return memtable({"rep": list(targets), "target": list(targets.values())}, TARGETS_SCHEMA)


def run(plan_text: str, sales: list[dict], targets: dict[str, Decimal] | None = None,
        outputs: tuple[str, ...] = ("payouts",)) -> dict[str, list[dict]]:
    loaded = parse_plan(plan_text, "property.yaml")
    tables = {"sales": sales_table(sales), "targets": targets_table(targets or {})}
    out = build(loaded, tables).tables()
    con = connection()
    return {name: con.to_pyarrow(out[name]).to_pylist() for name in outputs}


def payouts(plan_text: str, sales: list[dict], targets=None) -> list[dict]:
    return run(plan_text, sales, targets)["payouts"]
