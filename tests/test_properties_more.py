"""Property tests: the engine on real DuckDB over generated input, against references
computed in Python with exact Decimal (or plain integer) arithmetic.

1. money: half-up rounding, per line, totals are sums of rounded lines
2. graduated tiers: sum over bands, continuous at the edges, monotone
3. retroactive tiers: the whole value at the rate of the band it reaches
4. count limit: never more than `count` paid lines, and they are the first by the order
5. budget pools: never overspent, charged in (date, source id) order, one crossing line
6. an ineligible record changes no other line
7. NIP check in SQL agrees with python-stdnum
8. rankings: tied payees share the prizes of the places they cover

Each example builds the engine's expressions once on small tables and runs them once
(property 6 compares two inputs, so it runs twice)."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import ROUND_HALF_UP, Decimal
from math import gcd

import ibis
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from stdnum.pl import nip as stdnum_nip

from paymaster.engine import build
from paymaster.engine.rules import nip_valid
from paymaster.money import minor_units, round_money
from paymaster.plan import parse_plan

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

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


# ------------------------------------------------------------------ 1. money
@given(st.integers(min_value=-10**13, max_value=10**13), st.integers(min_value=0, max_value=6),
       st.sampled_from(["PLN", "EUR", "USD", "JPY", "KRW", "BHD", "KWD"]))
@example(5, 3, "PLN")     # 0.005 -> 0.01
@example(-5, 3, "PLN")    # -0.005 -> -0.01 (away from zero)
@example(-25, 3, "PLN")   # -0.025 -> -0.03 (half-even would give -0.02)
@example(15, 1, "JPY")    # 1.5 -> 2
@example(-25, 1, "JPY")   # -2.5 -> -3
@example(12345, 4, "BHD")  # 1.2345 -> 1.235
def test_round_money_is_half_up_away_from_zero(units: int, places: int, currency: str) -> None:
    """Reference in integers: |units| x 10^m / 10^places, plus one when the remainder is at
    least half, then the sign put back."""
    m = minor_units(currency)
    quotient, remainder = divmod(abs(units) * 10**m, 10**places)
    rounded = quotient + (1 if 2 * remainder >= 10**places else 0)
    expected = Decimal(rounded if units >= 0 else -rounded).scaleb(-m)
    got = round_money(Decimal(units).scaleb(-places), currency)
    assert got == expected
    assert got.as_tuple().exponent == -m


# A base with 4 places times a rate with 6: exact products have 10 places. Near-tie bases
# are solved so that base x rate lands within 60e-10 of a half cent (or exactly on it).
def near_tie_base(rate_units: int, offset: int) -> int:
    residue = 5 * 10**7 + offset  # in units of 1e-10; a cent is 10^8
    if gcd(rate_units, 10) == 1:
        return residue * pow(rate_units, -1, 10**8) % 10**8
    return residue % 10**8


RATE_UNITS = st.one_of(
    st.tuples(st.integers(0, 99_999), st.sampled_from([1, 3, 7, 9])).map(lambda t: 10 * t[0] + t[1]),
    st.integers(1, 999_999),
)
BASE_PICKS = st.lists(
    st.tuples(
        st.sampled_from(REPS),
        st.booleans(),  # negative (a refund)
        st.one_of(st.integers(0, 10**8 - 1).map(lambda b: ("any", b)),
                  st.integers(-60, 60).map(lambda d: ("near_tie", d))),
    ),
    min_size=1, max_size=10,
)


def money_plan(rate: Decimal, currency: str = "PLN") -> str:
    return header(currency) + f"""
measures:
  - id: commission
    type: per_record
    source: sales
    payee: rep
    source_id: sale_id
    date: day
    base: amount
    rate: {rate:f}
"""


def money_rows(rate_units: int, picks) -> list[tuple[dict, Decimal]]:
    """(sale row, exact product) per pick."""
    rate = Decimal(rate_units).scaleb(-6)
    out = []
    for i, (rep, negative, (kind, n)) in enumerate(picks):
        units = n if kind == "any" else near_tie_base(rate_units, n)
        base = Decimal(-units if negative else units).scaleb(-4)
        out.append(({"sale_id": i, "rep": rep, "amount": base}, base * rate))
    return out


@SETTINGS
@given(RATE_UNITS, BASE_PICKS)
@example(5000, [("R1", False, ("any", 10000)), ("R1", True, ("any", 10000))])  # +-0.005
@example(41841, [("R1", False, ("any", 1195)), ("R2", False, ("any", 100001195))])
def test_each_line_is_rounded_half_up_once_and_totals_are_sums_of_lines(rate_units, picks) -> None:
    rate = Decimal(rate_units).scaleb(-6)
    rows = money_rows(rate_units, picks)
    result = run(money_plan(rate), [r for r, _ in rows], outputs=("payouts", "summary"))
    lines = {r["source_id"]: r for r in result["payouts"]}
    for row, exact in rows:
        line = lines[str(row["sale_id"])]
        assert line["rate"] == rate
        assert line["earned"] == half_up(exact), (row["amount"], exact)
        assert line["amount"] == line["earned"]
    for summary in result["summary"]:
        mine = [line for line in lines.values() if line["payee_id"] == summary["payee_id"]]
        assert summary["amount"] == sum((line["amount"] for line in mine), Decimal(0))
        assert summary["earned"] == sum((line["earned"] for line in mine), Decimal(0))
        assert summary["lines"] == len(mine)
    assert {s["payee_id"] for s in result["summary"]} == {row["rep"] for row, _ in rows}


@pytest.mark.xfail(strict=True, reason=(
    "engine rounds every line to 2 places (lines.money: round(2), MONEY_TYPE decimal(18,2)) "
    "whatever the plan's currency; docs/plan-language.md says lines are rounded half-up to "
    "the currency's minor unit (JPY/KRW 0, BHD/KWD 3 places)"))
@SETTINGS
@given(st.sampled_from(["JPY", "KRW", "BHD", "KWD"]), RATE_UNITS, BASE_PICKS)
@example("JPY", 50000, [("R1", False, ("any", 10010000))])  # 1001 x 0.05 = 50.05 -> 50 yen
def test_lines_are_rounded_to_the_currencys_minor_unit(currency, rate_units, picks) -> None:
    rate = Decimal(rate_units).scaleb(-6)
    rows = money_rows(rate_units, picks)
    lines = {r["source_id"]: r for r in payouts(money_plan(rate, currency), [r for r, _ in rows])}
    for row, exact in rows:
        assert lines[str(row["sale_id"])]["amount"] == round_money(exact, currency)


# ------------------------------------------------------------------ 2, 3. tiers
@st.composite
def ladders(draw) -> list[tuple[Decimal | None, Decimal]]:
    """[(upto as a fraction of target, rate)], increasing edges, the last band open."""
    n = draw(st.integers(1, 4))
    edges = sorted(draw(st.sets(st.integers(10, 300), min_size=n - 1, max_size=n - 1)))
    rates = draw(st.lists(st.integers(0, 3000), min_size=n, max_size=n))
    uptos = [Decimal(e).scaleb(-2) for e in edges] + [None]
    return [(u, Decimal(r).scaleb(-4)) for u, r in zip(uptos, rates, strict=True)]


def tier_plan(mode: str, ladder) -> str:
    tiers = ", ".join(
        f"{{rate: {rate:f}}}" if upto is None else f"{{upto: {upto:f}, rate: {rate:f}}}"
        for upto, rate in ladder
    )
    return header() + f"""
measures:
  - id: ladder
    type: aggregate
    source: sales
    payee: rep
    date: day
    period: year
    value: amount
    target: {{table: targets, on: {{rep: payee_id}}, column: target}}
    tiers:
      mode: {mode}
      relative_to: target
      tiers: [{tiers}]
"""


def graduated(value: Decimal, target: Decimal, ladder) -> Decimal:
    """Exact: each rate times the width of the part of the value inside its band."""
    total, lower = Decimal(0), Decimal(0)
    for upto, rate in ladder:
        upper = value if upto is None else min(value, upto * target)
        total += max(Decimal(0), upper - lower) * rate
        if upto is not None:
            lower = upto * target
    return total


def retroactive(value: Decimal, target: Decimal, ladder) -> Decimal:
    """Exact: the whole value at the rate of the band (lower, upto] that holds it."""
    for upto, rate in ladder:
        if upto is None or value <= upto * target:
            return value * rate
    raise AssertionError("the last band is open")


def amounts_by_payee(mode, ladder, values: dict[str, Decimal], targets) -> dict[str, Decimal]:
    sales = [{"sale_id": i, "rep": rep, "amount": v} for i, (rep, v) in enumerate(values.items())]
    lines = payouts(tier_plan(mode, ladder), sales, targets)
    assert len(lines) == len(values)
    return {line["payee_id"]: line["amount"] for line in lines}


@SETTINGS
@given(ladders(), st.lists(st.tuples(cents(1, 5_000_000), cents(100, 2_000_000)),
                           min_size=1, max_size=8))
def test_graduated_tiers_are_the_sum_over_bands(ladder, cases) -> None:
    # several records per payee: the value is their sum
    sales, targets, values = [], {}, {}
    for i, (value, target) in enumerate(cases):
        rep = f"P{i}"
        part = half_up(value / 3)
        sales += [{"sale_id": f"{i}a", "rep": rep, "amount": part},
                  {"sale_id": f"{i}b", "rep": rep, "amount": value - part}]
        targets[rep], values[rep] = target, value
    lines = payouts(tier_plan("graduated", ladder), sales, targets)
    assert len(lines) == len(cases)
    for line in lines:
        rep = line["payee_id"]
        assert line["value"] == values[rep]
        assert line["target"] == targets[rep]
        assert line["amount"] == half_up(graduated(values[rep], targets[rep], ladder)), rep


def edge_values(ladder, target: Decimal) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(just below, at, one cent above) each edge."""
    out = []
    for upto, _ in ladder:
        if upto is not None:
            edge = upto * target  # at most 4 places: exact in decimal(18,4)
            out.append((edge - CENT, edge, edge + CENT))
    return out


@SETTINGS
@given(ladders(), cents(100, 2_000_000), st.lists(cents(1, 8_000_000), max_size=8))
def test_graduated_tiers_are_continuous_at_the_edges_and_monotone(ladder, target, randoms) -> None:
    values: dict[str, Decimal] = {}
    edges = edge_values(ladder, target)
    for j, triple in enumerate(edges):
        for name, v in zip(("below", "at", "above"), triple, strict=True):
            values[f"E{j}{name}"] = v
    for i, v in enumerate(randoms):
        values[f"V{i}"] = v
    got = amounts_by_payee("graduated", ladder, values, {rep: target for rep in values})
    for rep, v in values.items():
        assert got[rep] == half_up(graduated(v, target, ladder)), (rep, v)
    # continuous: across an edge the amount moves by at most rate x 2 cents, plus rounding
    top_rate = max(rate for _, rate in ladder)
    for j in range(len(edges)):
        below, at, above = got[f"E{j}below"], got[f"E{j}at"], got[f"E{j}above"]
        assert below <= at <= above
        assert above - below <= 2 * CENT * top_rate + CENT
    # monotone non-decreasing in the value
    ordered = [got[rep] for rep, _ in sorted(values.items(), key=lambda kv: kv[1])]
    assert ordered == sorted(ordered)


@SETTINGS
@given(ladders(), cents(100, 2_000_000), st.lists(cents(1, 8_000_000), max_size=6))
def test_retroactive_tiers_jump_at_the_edges(ladder, target, randoms) -> None:
    values: dict[str, Decimal] = {}
    edges = edge_values(ladder, target)
    for j, (below, at, above) in enumerate(edges):
        values[f"E{j}below"], values[f"E{j}at"], values[f"E{j}above"] = below, at, above
    for i, v in enumerate(randoms):
        values[f"V{i}"] = v
    got = amounts_by_payee("retroactive", ladder, values, {rep: target for rep in values})
    for j, (_, at, above) in enumerate(edges):
        # the edge belongs to band j; one cent above, the whole value takes band j+1's rate
        inner, outer = ladder[j][1], ladder[j + 1][1]
        assert got[f"E{j}at"] == half_up(at * inner)
        assert got[f"E{j}above"] == half_up(above * outer)
        assert got[f"E{j}above"] - got[f"E{j}at"] == half_up(above * outer) - half_up(at * inner)
    for rep, v in values.items():
        assert got[rep] == half_up(retroactive(v, target, ladder)), (rep, v)


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
