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


# The same claims with the explanations of an unclaimed sale, twice: once with the sales'
# key declared (the claims then number narrow rows and join the sales' other columns back
# by that key, `records._claim_narrow`), once without (every column through the windows).
EXPLAINED = """
program: claims
currency: PLN
scope: {start: 2018-01-01, end: 2018-12-31}
inputs:
  regs:
    columns: {reg_id: string, who: string, key: string, day: date, ok: boolean}
  sales:
    KEY
    columns: {sale_id: string, who: string, key: string, day: date, amount: decimal}
measures:
  - id: reg
    type: screening
    source: regs
    payee: who
    source_id: reg_id
    date: day
    order_by: [day, reg_id]
    rules:
      - {name: refused, fail_when: NOT ok}
  - id: deal
    type: per_record
    source: sales
    payee: who
    source_id: sale_id
    date: day
    claim: {screening: reg, on: [who, key], order_by: [day, sale_id], reason: unclaimed,
            rejected_reason: reg_rejected, used_reason: reg_used}
    amount: amount
"""
KEYED = parse_plan(EXPLAINED.replace("KEY", "key: [sale_id]"), "keyed.yaml")
UNKEYED = parse_plan(EXPLAINED.replace("KEY", ""), "unkeyed.yaml")


def _tables(regs, sales) -> dict:
    return {
        "regs": memtable({"reg_id": [r[0] for r in regs], "who": [r[1] for r in regs],
                          "key": [r[2] for r in regs], "day": [r[3] for r in regs],
                          "ok": [r[4] for r in regs]},
                         {"reg_id": "string", "who": "string", "key": "string", "day": "date",
                          "ok": "boolean"}),
        "sales": memtable({"sale_id": [s[0] for s in sales], "who": [s[1] for s in sales],
                           "key": [s[2] for s in sales], "day": [s[3] for s in sales],
                           "amount": [Decimal(1)] * len(sales)},
                          {"sale_id": "string", "who": "string", "key": "string",
                           "day": "date", "amount": "decimal(18,4)"}),
    }


def _payouts(plan, regs, sales) -> list[dict]:
    rows = ibis.duckdb.connect().to_pyarrow(build(plan, _tables(regs, sales)).payouts).to_pylist()
    return sorted(rows, key=lambda r: (r["measure"], r["source_id"]))


def _sql(plan, regs, sales) -> str:
    return str(ibis.to_sql(build(plan, _tables(regs, sales)).payouts, dialect="duckdb"))


def _rejected_then_accepted(regs, sales) -> list[tuple]:
    """What the reference says of each sale: claimed by, or the latest registration of
    its payee and key on or before its day (day, then id) and why it did not claim it."""
    claimed = greedy([r[:4] for r in regs if r[4]], sales)
    expected = []
    for sale_id, who, key, day in sales:
        if sale_id in claimed:
            expected.append((sale_id, "closed", claimed[sale_id]))
            continue
        before = sorted((r for r in regs if r[1] == who and r[2] == key and r[3] <= day),
                        key=lambda r: (r[3], r[0]))
        if not before:
            expected.append((sale_id, None, None))
        else:
            expected.append((sale_id, "used" if before[-1][4] else "rejected", before[-1][0]))
    return sorted(expected)


def test_narrow_claims_on_a_sale_with_a_rejected_and_an_accepted_registration() -> None:
    """By hand: A's two registrations for k1 on the same day, R1 refused and R2 accepted;
    three sales of A/k1, two of them on one day (a tie in day, broken by the sale id)."""
    d = START
    regs = [("R1", "A", "k1", d, False), ("R2", "A", "k1", d, True),
            ("R3", "A", "k1", d + dt.timedelta(3), True)]
    sales = [("S2", "A", "k1", d + dt.timedelta(1)), ("S1", "A", "k1", d + dt.timedelta(1)),
             ("S3", "A", "k1", d + dt.timedelta(2)), ("S4", "A", "k2", d)]
    rows = {r["source_id"]: r for r in _payouts(KEYED, regs, sales)}
    # (the keyed plan takes the narrow claims, joined back by the sale id; the other not)
    assert "__id_sale_id" in _sql(KEYED, regs, sales)
    assert "__id_sale_id" not in _sql(UNKEYED, regs, sales)
    # R2 takes the first of day 1 by sale id (S1); R3 (day 3) finds nothing on or after
    # its day; S2 and S3 are left, their latest registration R2 (same day as R1, later id)
    assert (rows["S1"]["paid"], rows["S1"]["claim"], rows["S1"]["claim_status"]) == (True, "R2", "closed")
    for sale in ("S2", "S3"):
        assert (rows[sale]["reason"], rows[sale]["claim"], rows[sale]["claim_sale"]) == \
            ("reg_used", "R2", "S1")
    assert (rows["S4"]["reason"], rows["S4"]["claim"]) == ("unclaimed", None)
    assert _payouts(UNKEYED, regs, sales) == list(_payouts(KEYED, regs, sales))


@settings(max_examples=12, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B"]), keys, days, st.booleans()), max_size=6),
       st.lists(st.tuples(st.sampled_from(["A", "B"]), keys, days), max_size=8))
def test_narrow_claims_equal_the_wide_ones_and_the_reference(reg_rows, sale_rows) -> None:
    regs = [(f"R{i:02d}", w, k, START + dt.timedelta(d), ok)
            for i, (w, k, d, ok) in enumerate(reg_rows)]
    sales = [(f"S{i:02d}", w, k, START + dt.timedelta(d)) for i, (w, k, d) in enumerate(sale_rows)]
    keyed = _payouts(KEYED, regs, sales)
    assert keyed == _payouts(UNKEYED, regs, sales)
    got = sorted((r["source_id"], r["claim_status"], r["claim"]) for r in keyed)
    assert got == _rejected_then_accepted(regs, sales)
