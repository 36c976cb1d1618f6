"""Property tests of money and tiers: the engine on real DuckDB over generated input,
against references computed in Python with exact Decimal (or plain integer) arithmetic.

1. money: half-up rounding, per line, totals are sums of rounded lines
2. graduated tiers: sum over bands, continuous at the edges, monotone
3. retroactive tiers: the whole value at the rate of the band it reaches

Each example builds the engine's expressions once on small tables and runs them once.
Limits, budgets, eligibility, NIP and prizes: test_properties_lines.py."""

from __future__ import annotations

from decimal import Decimal
from math import gcd

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from paymaster.money import minor_units, round_money
from property_support import (
    CENT, REPS, SETTINGS, cents, half_up, header, payouts, run,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


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
