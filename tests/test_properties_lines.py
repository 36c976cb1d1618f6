"""Property tests of limits, budgets, eligibility, NIP and prizes, numbered on from
test_properties.py (money and tiers): the engine on real DuckDB over generated input.

4. count limit: never more than `count` paid lines, and they are the first by the order
5. budget pools: never overspent, charged in (date, source id) order, one crossing line
6. an ineligible record changes no other line (it compares two inputs, so runs twice)
7. NIP check in SQL agrees with python-stdnum
8. rankings: tied payees share the prizes of the places they cover"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal, localcontext

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from stdnum.pl import nip as stdnum_nip

from paymaster.engine.rules import nip_valid
from paymaster.money import minor_units
from property_support import (
    connection, memtable,
    CENT, DAY0, REPS, SETTINGS, cents, half_up, header, payouts,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# ------------------------------------------------------------------ 4, 5, 6. records
# few distinct days (so ties by day are common and broken by id), over three months
DAYS = st.sampled_from([0, 1, 2, 30, 31, 45, 59, 60])


@st.composite
def sale_rows(draw, min_size=1, max_size=14, cancelled=True) -> list[dict]:
    """Distinct numeric ids of 1-3 digits: natural order is numeric (9 before 10)."""
    n = draw(st.integers(min_size, max_size))
    ids = draw(st.lists(st.integers(1, 300), min_size=n, max_size=n, unique=True))
    rows = []
    for sale_id in ids:
        rows.append({
            "sale_id": sale_id,
            "rep": draw(st.sampled_from(REPS)),
            "amount": draw(cents(100, 500_000)),
            "day": DAY0 + dt.timedelta(days=draw(DAYS)),
            "cancelled": draw(st.booleans()) if cancelled else False,
        })
    return rows


def order_key(row: dict) -> tuple:
    return row["day"], int(row["sale_id"])


def limit_plan(count: int, per: str) -> str:
    return header() + f"""
measures:
  - id: deal
    type: per_record
    source: sales
    payee: rep
    source_id: sale_id
    date: day
    period: month
    rules: [{{name: cancelled, fail_when: cancelled}}]
    amount: amount
    limit: {{name: deal_cap, count: {count}, per: {per}, order_by: [day, sale_id]}}
"""


@SETTINGS
@given(sale_rows(), st.integers(1, 4), st.sampled_from(["period", "payee"]))
def test_count_limit_pays_only_the_first_n_lines_by_the_order(rows, count, per) -> None:
    lines = {line["source_id"]: line for line in payouts(limit_plan(count, per), rows)}
    groups: dict[tuple, list[dict]] = {}
    for row in sorted(rows, key=order_key):
        line = lines[str(row["sale_id"])]
        if row["cancelled"]:
            assert (line["paid"], line["reason"], line["amount"]) == (False, "cancelled", 0)
            continue
        period = row["day"].strftime("%Y-%m") if per == "period" else ""
        groups.setdefault((row["rep"], period), []).append(row)
    for members in groups.values():
        paid = [r for r in members if lines[str(r["sale_id"])]["paid"]]
        assert len(paid) <= count
        assert paid == members[:count]  # the first by (day, sale id)
        for row in members[count:]:
            line = lines[str(row["sale_id"])]
            assert (line["reason"], line["amount"]) == ("deal_cap", 0)
            assert line["cut_by_limit"] == line["earned"] == row["amount"]
        for row in paid:
            assert lines[str(row["sale_id"])]["amount"] == row["amount"]


def budget_plan(pool: Decimal) -> str:
    return header() + f"""
measures:
  - id: deal
    type: per_record
    source: sales
    payee: rep
    source_id: sale_id
    date: day
    rules: [{{name: cancelled, fail_when: cancelled}}]
    base: amount
    rate: 0.1
    budget: pool
budgets:
  - {{id: pool, amount: {pool:f}}}
"""


@st.composite
def rows_and_pool(draw):
    rows = draw(sale_rows())
    charged = [half_up(r["amount"] * Decimal("0.1")) for r in sorted(rows, key=order_key)
               if not r["cancelled"]]
    prefix = [sum(charged[:k], Decimal(0)) for k in range(len(charged) + 1)]
    pool = draw(st.one_of(
        cents(1, int(max(prefix[-1], CENT) * 100) + 100),    # anywhere, even above the total
        st.sampled_from(prefix[1:] or [CENT]),                # exactly used up by a line
    ))
    return rows, pool


@SETTINGS
@given(rows_and_pool())
def test_budget_is_charged_in_order_and_never_overspent(case) -> None:
    rows, pool = case
    lines = {line["source_id"]: line for line in payouts(budget_plan(pool), rows)}
    charged = [r for r in sorted(rows, key=order_key) if not r["cancelled"]]
    assert sum((line["amount"] for line in lines.values()), Decimal(0)) <= pool
    spent, crossed, partial = Decimal(0), False, 0
    for row in charged:
        line = lines[str(row["sale_id"])]
        earned = half_up(row["amount"] * Decimal("0.1"))
        assert line["earned"] == earned
        if crossed:  # everything after the crossing line
            assert (line["paid"], line["reason"], line["amount"]) == (False, "budget_exhausted", 0)
            assert line["cut_by_budget"] == earned
            continue
        pay = min(earned, pool - spent)
        assert (line["paid"], line["reason"], line["amount"]) == (True, None, pay), row
        assert line["cut_by_budget"] == earned - pay
        partial += pay < earned
        spent += pay
        crossed = spent == pool
    assert partial <= 1  # exactly the crossing line is partially paid
    for row in rows:
        if row["cancelled"]:
            line = lines[str(row["sale_id"])]
            assert (line["reason"], line["amount"], line["cut_by_budget"]) == ("cancelled", 0, 0)


def split_pool_plan(currency: str, pool: str) -> str:
    return budget_plan(Decimal(1)).replace("currency: PLN", f"currency: {currency}").replace(
        "{id: pool, amount: 1}", f"{{id: pool, amount: '{pool}'}}")


@st.composite
def split_pools(draw):
    """A pool in PLN, JPY or BHD that is a fraction of its minor unit: a parameter-like
    whole amount divided by 3, 7, 9 or 11 (its exact quotient cut at the 8th place)."""
    currency = draw(st.sampled_from(["PLN", "JPY", "BHD"]))
    rows = draw(sale_rows(cancelled=False))
    total = sum((r["amount"] for r in rows), Decimal(0)) * Decimal("0.1")
    units = draw(st.integers(1, max(2, int(total * 1000))))
    return currency, rows, Decimal(units).scaleb(-3), draw(st.sampled_from([3, 7, 9, 11]))


@settings(max_examples=12, deadline=None)  # each example is one engine run; 3 explicit ones
@given(split_pools())
@example(("PLN", [{"sale_id": 1, "rep": "R1", "amount": Decimal("100.00"), "day": DAY0,
                   "cancelled": False}], Decimal("0.050"), 3))   # 0.01666... is not 0.02
@example(("JPY", [{"sale_id": 1, "rep": "R1", "amount": Decimal("100.00"), "day": DAY0,
                   "cancelled": False}], Decimal("5"), 3))       # 1.666... yen is 1, not 2
@example(("BHD", [{"sale_id": 1, "rep": "R1", "amount": Decimal("1.00"), "day": DAY0,
                   "cancelled": False}], Decimal("0.002"), 3))   # 0.000666... is 0.000
def test_a_pool_split_into_fractions_of_a_minor_unit_is_never_overspent(case) -> None:
    """The crossing line is paid what remains cut down to whole minor units: rounding it
    half-up could pay up to half a minor unit more than the pool holds."""
    currency, rows, units, divisor = case
    unit = Decimal(1).scaleb(-minor_units(currency))
    with localcontext() as exact:
        exact.prec = 60
        pool = (units / divisor).quantize(Decimal("1E-8"), rounding=ROUND_DOWN)
    lines = payouts(split_pool_plan(currency, f"{units:f} / {divisor}"), rows)
    paid = [line["amount"] for line in lines]
    assert sum(paid, Decimal(0)) <= pool
    spent = Decimal(0)
    for row in sorted(rows, key=order_key):
        line = next(x for x in lines if x["source_id"] == str(row["sale_id"]))
        earned = half_up(row["amount"] * Decimal("0.1"), unit)
        assert line["earned"] == earned
        whole = ((pool - spent) / unit).to_integral_value(ROUND_FLOOR) * unit
        assert line["amount"] == max(min(earned, whole), Decimal(0)), (row, pool, spent)
        spent += earned


def two_measure_plan(pool: Decimal) -> str:
    """`deal` is charged to the pool; `spiff` (no budget) is not, whatever the pool does."""
    return budget_plan(pool).replace("budgets:", """  - id: spiff
    type: per_record
    source: sales
    payee: rep
    source_id: sale_id
    date: day
    rules: [{name: cancelled, fail_when: cancelled}]
    base: amount
    rate: 0.2
budgets:""")


@SETTINGS
@given(rows_and_pool())
@example(([{"sale_id": 1, "rep": REPS[0], "amount": Decimal("1000.00"), "day": DAY0,
            "cancelled": False},
           {"sale_id": 2, "rep": REPS[0], "amount": Decimal("1000.00"), "day": DAY0,
            "cancelled": False}], Decimal("100.00")))
def test_lines_in_no_pool_are_paid_what_they_earned(case) -> None:
    rows, pool = case
    lines = payouts(two_measure_plan(pool), rows)
    by_measure: dict[str, list[dict]] = {"deal": [], "spiff": []}
    for line in lines:
        by_measure[line["measure"]].append(line)
    assert sum((line["amount"] for line in by_measure["deal"]), Decimal(0)) <= pool
    spiffs = {line["source_id"]: line for line in by_measure["spiff"]}
    for row in rows:
        line = spiffs[str(row["sale_id"])]
        earned = half_up(row["amount"] * Decimal("0.2"))
        if row["cancelled"]:
            assert (line["paid"], line["reason"], line["amount"]) == (False, "cancelled", 0)
        else:
            assert (line["paid"], line["reason"], line["amount"]) == (True, None, earned), line
            assert line["cut_by_budget"] == 0


def full_plan(pool: Decimal) -> str:
    """Caps, a count limit, a budget and a one-off bonus on the first paid deal."""
    return header() + f"""
measures:
  - id: deal
    type: per_record
    source: sales
    payee: rep
    source_id: sale_id
    date: day
    period: month
    rules:
      - {{name: cancelled, fail_when: cancelled}}
    caps: [{{name: capped, value: amount, max: 2000}}]
    base: capped
    rate: 0.15
    limit: {{name: deal_cap, count: 2, per: period, order_by: [day, sale_id]}}
    budget: pool
  - id: welcome
    type: one_off
    of: deal
    amount: 50
    budget: pool
budgets:
  - {{id: pool, amount: {pool:f}}}
"""


@SETTINGS
@given(sale_rows(cancelled=True), cents(100, 300_000), st.sampled_from([*REPS, "R9"]),
       cents(1, 900_000), DAYS)
def test_an_ineligible_record_changes_no_other_line(rows, pool, rep, amount, day) -> None:
    extra_id = max(int(r["sale_id"]) for r in rows) + 1
    extra = {"sale_id": extra_id, "rep": rep, "amount": amount,
             "day": DAY0 + dt.timedelta(days=day), "cancelled": True}
    plan = full_plan(pool)
    fields = ("payee_id", "period", "earned", "amount", "paid", "reason", "cut_by_limit",
              "cut_by_budget")

    def keyed(sales):
        return {(line["measure"], line["source_id"]): tuple(line[f] for f in fields)
                for line in payouts(plan, sales)}

    before, after = keyed(rows), keyed([*rows, extra])
    added = after.pop(("deal", str(extra_id)))
    assert added[fields.index("reason")] == "cancelled" and added[fields.index("amount")] == 0
    assert after == before


# ------------------------------------------------------------------ 7. NIP
NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)
DIGITS = "0123456789"


def with_check_digit(prefix: str) -> str | None:
    check = sum(int(d) * w for d, w in zip(prefix, NIP_WEIGHTS, strict=True)) % 11
    return None if check == 10 else prefix + str(check)


def formatted(nip: str, style: int) -> str:
    if style == 1:
        return f"{nip[:3]}-{nip[3:6]}-{nip[6:8]}-{nip[8:]}"
    if style == 2:
        return f"{nip[:3]} {nip[3:6]} {nip[6:8]} {nip[8:]}"
    return nip


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(DIGITS, min_size=9, max_size=9), min_size=1, max_size=30),
       st.lists(st.text(DIGITS, min_size=10, max_size=10), min_size=1, max_size=30),
       st.lists(st.integers(0, 2), min_size=60, max_size=60))
def test_sql_nip_check_agrees_with_stdnum(prefixes, randoms, styles) -> None:
    valid = [nip for nip in map(with_check_digit, prefixes) if nip is not None]
    candidates = valid + randoms
    candidates += [formatted(nip, style) for nip, style in zip(candidates, styles, strict=False)]
    candidates += ["", "12345", "abcdefghij", "52602502741"]
    table = memtable({"nip": candidates}, {"nip": "string"})
    rows = connection().to_pyarrow(table.mutate(ok=nip_valid(table.nip))).to_pylist()
    assert len(rows) == len(candidates)
    for row in rows:
        assert row["ok"] == stdnum_nip.is_valid(row["nip"]), row["nip"]
    by_value = {row["nip"]: row["ok"] for row in rows}
    assert all(by_value[nip] for nip in valid)  # generated with their check digit


# ------------------------------------------------------------------ 8. prizes
@st.composite
def contests(draw):
    prizes = draw(st.lists(cents(1, 10_000_000), min_size=1, max_size=4))
    levels = st.one_of(st.sampled_from([Decimal(1000), Decimal(2000), Decimal(3000)]),
                       cents(1, 400_000))
    entries = draw(st.lists(st.tuples(st.sampled_from(["P1", "P2", "P3", "P4", "P5", "P6", "P7",
                                                       "P8"]),
                                      st.sampled_from([DAY0, dt.date(2025, 4, 1)]), levels),
                            min_size=1, max_size=10))
    return prizes, entries


@SETTINGS
@given(contests())
@example(([Decimal("0.03")], [("P1", DAY0, Decimal(5)), ("P2", DAY0, Decimal(5))]))  # 0.015 each
def test_tied_payees_share_the_prizes_of_the_places_they_cover(contest) -> None:
    prizes, entries = contest
    prize_list = ", ".join(f"{p:f}" for p in prizes)
    plan = header() + f"""
measures:
  - id: contest
    type: ranking
    source: sales
    payee: rep
    date: day
    period: quarter
    value: amount
    prizes: [{prize_list}]
"""
    sales = [{"sale_id": i, "rep": rep, "amount": amount, "day": day}
             for i, (rep, day, amount) in enumerate(entries)]
    got = {(line["payee_id"], line["period"]): line["amount"] for line in payouts(plan, sales)}
    totals: dict[str, dict[str, Decimal]] = {}
    for rep, day, amount in entries:
        quarter = f"2025-Q{(day.month - 1) // 3 + 1}"
        totals.setdefault(quarter, {}).setdefault(rep, Decimal(0))
        totals[quarter][rep] += amount
    expected_keys = set()
    for quarter, by_rep in totals.items():
        shared = 0
        for rep, value in by_rep.items():
            place = 1 + sum(other > value for other in by_rep.values())
            tied = sum(other == value for other in by_rep.values())
            covered = prizes[place - 1:place - 1 + tied]
            if covered:
                expected_keys.add((rep, quarter))
                assert got[(rep, quarter)] == half_up(sum(covered, Decimal(0)) / tied), (rep, place, tied)
                shared += tied > 1
        paid = sum((a for (_, q), a in got.items() if q == quarter), Decimal(0))
        filled = prizes[:min(len(by_rep), len(prizes))]
        assert abs(paid - sum(filled, Decimal(0))) <= CENT * shared
    assert set(got) == expected_keys
