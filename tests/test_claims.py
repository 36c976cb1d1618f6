"""Claims: registrations take, in order, the earliest unclaimed sale on or after their day.
The engine does it without a loop (closed form); a plain greedy loop is the reference."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis
from hypothesis import given, settings
from hypothesis import strategies as st

from paymaster.engine import build
from paymaster.engine.lines import memtable
from paymaster.plan import parse_plan

PLAN = parse_plan("""
program: claims
currency: PLN
scope: {start: 2018-01-01, end: 2018-12-31}
inputs:
  regs:
    columns: {reg_id: string, who: string, key: string, day: date}
  sales:
    columns: {sale_id: string, who: string, key: string, day: date, amount: decimal}
measures:
  - id: reg
    type: screening
    source: regs
    payee: who
    source_id: reg_id
    date: day
    order_by: [day, reg_id]
  - id: deal
    type: per_record
    source: sales
    payee: who
    source_id: sale_id
    date: day
    claim: {screening: reg, on: [who, key], order_by: [day, sale_id], reason: unclaimed}
    amount: amount
""", "claims.yaml")

START = dt.date(2018, 1, 1)
days = st.integers(min_value=0, max_value=20)
keys = st.sampled_from(["k1", "k2"])


def greedy(regs, sales):
    claimed = {}
    for reg_id, who, key, day in sorted(regs, key=lambda r: (r[3], r[0])):
        options = sorted((s for s in sales if s[1] == who and s[2] == key and s[3] >= day
                          and s[0] not in claimed), key=lambda s: (s[3], s[0]))
        if options:
            claimed[options[0][0]] = reg_id
    return claimed


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B"]), keys, days), max_size=6),
       st.lists(st.tuples(st.sampled_from(["A", "B"]), keys, days), max_size=8))
def test_closed_form_equals_greedy(reg_rows, sale_rows) -> None:
    regs = [(f"R{i:02d}", w, k, START + dt.timedelta(d)) for i, (w, k, d) in enumerate(reg_rows)]
    sales = [(f"S{i:02d}", w, k, START + dt.timedelta(d)) for i, (w, k, d) in enumerate(sale_rows)]
    tables = {
        "regs": memtable({"reg_id": [r[0] for r in regs], "who": [r[1] for r in regs],
                          "key": [r[2] for r in regs], "day": [r[3] for r in regs]},
                         {"reg_id": "string", "who": "string", "key": "string", "day": "date"}),
        "sales": memtable({"sale_id": [s[0] for s in sales], "who": [s[1] for s in sales],
                           "key": [s[2] for s in sales], "day": [s[3] for s in sales],
                           "amount": [Decimal(1)] * len(sales)},
                          {"sale_id": "string", "who": "string", "key": "string",
                           "day": "date", "amount": "decimal(18,4)"}),
    }
    out = build(PLAN, tables)
    rows = ibis.duckdb.connect().to_pyarrow(out.payouts).to_pylist()
    paid = {r["source_id"] for r in rows if r["paid"]}
    assert paid == set(greedy(regs, sales))
    assert all(r["reason"] == "unclaimed" for r in rows if not r["paid"])
