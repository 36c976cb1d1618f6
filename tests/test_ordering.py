"""Ties broken by id use natural order: an id's trailing number sorts as a number."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis

from paymaster.engine.lines import memtable
from paymaster.plan.expressions import _id_before
from property_support import DAY0, header, payouts


CAPPED = header() + """
measures:
  - id: deal
    type: per_record
    source: sales
    payee: rep
    source_id: sale_id
    date: day
    period: month
    amount: amount
    limit: {name: monthly_cap, count: 2, per: period, order_by: [day, sale_id]}
    budget: pool
budgets:
  - {id: pool, amount: 100}
"""


def test_budget_and_cap_break_ties_by_numeric_id_as_numbers() -> None:
    same_day = DAY0 + dt.timedelta(days=3)
    rows = [{"sale_id": sale_id, "rep": "R1", "amount": Decimal("60.00"), "day": same_day}
            for sale_id in ("10", "9", "100")]
    # a pool of 100.00: "9" is charged first (60.00), "10" gets the remaining 40.00
    lines = {r["source_id"]: r for r in payouts(CAPPED, rows)}
    assert lines["9"]["amount"] == Decimal("60.00")
    assert lines["10"]["amount"] == Decimal("40.00")
    assert lines["100"]["reason"] == "monthly_cap"  # the third of the month with a cap of 2


def test_id_before_in_expressions() -> None:
    pairs = [("9", "10", True), ("10", "9", False), ("S09", "S10", True), ("7", "A1", True),
             ("A1", "7", False), ("B", "A", False),
             # the trailing number as a number, whatever its digits
             ("S9", "S10", True), ("S10", "S9", False), ("S007", "S7", True),
             ("S7", "S8", True), ("S-2018-9", "S-2018-10", True), ("S1", "S", True),
             ("S", "S1", False), ("S", "T", True), ("R99999999999999999999", "R100000000000000000000", True)]
    table = memtable({"a": [p[0] for p in pairs], "b": [p[1] for p in pairs]},
                     {"a": "string", "b": "string"})
    out = ibis.duckdb.connect().to_pyarrow(table.mutate(before=_id_before(table.a, table.b)))
    assert [r["before"] for r in out.to_pylist()] == [p[2] for p in pairs]
