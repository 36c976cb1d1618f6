"""Budget forecast, effect report, accruals and charts: figures worked out by hand or
from the input files, never from the code under test."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest

from conftest import EXAMPLES
from paymaster.analytics.accruals import accruals
from paymaster.analytics.budget import Line, budget_forecast, forecast
from paymaster.analytics.charts import bar_chart, burn_chart
from paymaster.analytics.effect import effect_report
from paymaster.runs import calculate
from paymaster.services import ledger, payouts

D = Decimal
MONDAY = dt.date(2026, 3, 2)


def weekly_lines(amounts: list[str]) -> list[Line]:
    """One line per week, on its Monday, none posted yet."""
    return [Line(MONDAY + dt.timedelta(weeks=i), D(a), D(0)) for i, a in enumerate(amounts)]


def test_a_steady_burn_runs_out_when_the_rest_is_spent_at_that_rate() -> None:
    # 4 weeks of 100 = 400 used of 1 000; 600 left at 100 a week = 6 weeks = 42 days
    as_of = MONDAY + dt.timedelta(days=27)
    f = forecast("p", "fund", "PLN", D(1000), weekly_lines(["100", "100", "100", "100"]), as_of)
    assert (f.spent, f.committed, f.remaining) == (D(0), D(400), D(600))
    assert (f.rate_per_week, f.rate_low, f.rate_high) == (D("100.00"),) * 3
    assert f.exhaustion == f.exhaustion_low == f.exhaustion_high == as_of + dt.timedelta(days=42)
    assert [amount for _, amount in f.weekly] == [D(100)] * 4


def test_an_uneven_burn_gives_an_interval() -> None:
    # weeks 50, 150, 100, 100: mean 100; sample sd = sqrt((50² + 50²) / 3) = 40.8248;
    # two standard errors = 2 x 40.8248 / 2 = 40.8248 -> rates 59.18 .. 140.82;
    # 600 left: 600 / 140.8248 x 7 = 29.82 -> 30 days; 600 / 59.1752 x 7 = 70.97 -> 71 days
    as_of = MONDAY + dt.timedelta(days=27)
    f = forecast("p", "fund", "PLN", D(1000), weekly_lines(["50", "150", "100", "100"]), as_of)
    assert (f.rate_low, f.rate_per_week, f.rate_high) == (D("59.18"), D("100.00"), D("140.82"))
    assert f.exhaustion_low == as_of + dt.timedelta(days=30)
    assert f.exhaustion == as_of + dt.timedelta(days=42)
    assert f.exhaustion_high == as_of + dt.timedelta(days=71)


def test_the_forecast_stops_at_the_programs_end_date() -> None:
    # 400 used of 1 000 at 100 a week would run out 42 days on; the program ends 28 days
    # on: nothing runs out, and by its end 400 + 100 x 28 / 7 = 800 is used. An end after
    # the 42 days changes nothing; an end between the dates of the interval (30 .. 71
    # days) keeps the early ones and drops the late one.
    as_of = MONDAY + dt.timedelta(days=27)
    f = forecast("p", "fund", "PLN", D(1000), weekly_lines(["100"] * 4), as_of,
                 ends_on=as_of + dt.timedelta(days=28))
    assert (f.exhaustion, f.exhaustion_low, f.exhaustion_high) == (None, None, None)
    assert f.used_at_end == D("800.00") and f.ends_on == as_of + dt.timedelta(days=28)
    later = forecast("p", "fund", "PLN", D(1000), weekly_lines(["100"] * 4), as_of,
                     ends_on=as_of + dt.timedelta(days=42))
    assert later.exhaustion == as_of + dt.timedelta(days=42) and later.used_at_end is None
    uneven = forecast("p", "fund", "PLN", D(1000), weekly_lines(["50", "150", "100", "100"]),
                      as_of, ends_on=as_of + dt.timedelta(days=50))
    assert (uneven.exhaustion_low, uneven.exhaustion, uneven.exhaustion_high) == (
        as_of + dt.timedelta(days=30), as_of + dt.timedelta(days=42), None)
    svg = burn_chart(f, "svg").decode()
    assert "projected to the program" in svg and "projected: out on" not in svg


def test_posted_lines_are_spent_and_the_rest_committed() -> None:
    lines = [Line(MONDAY, D(300), D(300)), Line(MONDAY + dt.timedelta(days=8), D(200), D(0))]
    f = forecast("p", "fund", "PLN", D(1000), lines, MONDAY + dt.timedelta(days=13))
    assert (f.spent, f.committed, f.remaining, f.used) == (D(300), D(200), D(500), D(500))


def test_a_pool_that_ran_out_says_when() -> None:
    lines = weekly_lines(["400", "400", "200", "0"])
    f = forecast("p", "fund", "PLN", D(1000), lines, MONDAY + dt.timedelta(days=27))
    assert f.remaining == 0
    assert f.exhausted_on == f.exhaustion == MONDAY + dt.timedelta(weeks=2)


def test_the_demo_fund_ran_out_on_the_day_the_spec_example_says(demo_workspace) -> None:
    """Generuj Leady: the 150 000 PLN fund is spent in full (examples/.../WORKSHEET.md);
    every line was posted, so it is all spent and nothing committed."""
    [fund] = budget_forecast(demo_workspace, "generuj-leady")
    with (EXAMPLES / "generuj-leady" / "expected" / "payouts.csv").open() as handle:
        paid = sum(D(r["amount"]) for r in csv.DictReader(handle) if r["paid"] == "true")
    assert (fund.limit, fund.spent, fund.committed, fund.remaining) == (
        D(150000), paid, D(0), D(0))
    assert fund.exhausted_on is not None and fund.as_of == dt.date(2018, 6, 27)
    svg = burn_chart(fund, "svg")
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
    assert burn_chart(fund, "png").startswith(b"\x89PNG")


def _ladder_attainment_from_inputs() -> dict[str, tuple[int, int, int]]:
    """Per quarter: reps below 95%, within 95..105%, from 105% of target, from the
    sales and target files (the ladder's value is the sum of sales amounts)."""
    data = EXAMPLES / "sales-team" / "data"
    with (data / "rep_targets.csv").open() as handle:
        targets = {(r["rep_id"], r["period"]): D(r["target"]) for r in csv.DictReader(handle)}
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    with (data / "sales.csv").open() as handle:
        for r in csv.DictReader(handle):
            day = dt.date.fromisoformat(r["order_date"])
            if day.year == 2025:
                sums[(r["rep_id"], f"2025-Q{(day.month - 1) // 3 + 1}")] += D(r["amount"])
    buckets: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for key, total in sums.items():
        ratio = total / targets[key]
        buckets[key[1]][0 if ratio < D("0.95") else 1 if ratio < D("1.05") else 2] += 1
    return {period: tuple(b) for period, b in buckets.items()}


def test_effect_report_spreads_attainment_and_concentration() -> None:
    result = calculate(EXAMPLES / "sales-team" / "plan.yaml", EXAMPLES / "sales-team" / "data")
    report = effect_report(result.tables)
    ladder = {r["period"]: (r["below"], r["at"], r["above"])
              for r in report["attainment"].to_pylist() if r["measure"] == "ladder"}
    assert ladder == _ladder_attainment_from_inputs()
    [effect] = report["effect"].to_pylist()
    assert (effect["cost_share"], effect["cost_per_extra_sale"]) == (D("0.1939"), D("0.1940"))
    # concentration from the hand-computed payout lines: the top 10% of 14 payees is 2
    # (R12 sold nothing: its lines are all 0.00, one per measure and period, issue 17)
    with (EXAMPLES / "sales-team" / "expected" / "payouts.csv").open() as handle:
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for r in csv.DictReader(handle):
            totals[r["payee_id"]] += D(r["amount"])
    ranked = sorted(totals.values(), reverse=True)
    [row] = report["concentration"].to_pylist()
    assert row["payees"] == len(ranked) == 14 and ranked[-1] == 0
    assert round(D(str(row["top10_share"])), 4) == round(sum(ranked[:2]) / sum(ranked), 4)


def test_accruals_are_posted_minus_paid_plus_what_is_not_posted(demo_workspace, tmp_path) -> None:
    ws = demo_workspace
    entries = ledger.entries(ws, "sales-team")
    posted: dict[str, Decimal] = defaultdict(Decimal)
    for e in entries:
        posted[e.payee_id] += e.amount
    rows = {r["payee_id"]: r for r in accruals(ws, program="sales-team")}
    assert {p: r["accrued"] for p, r in rows.items()} == {p: v for p, v in posted.items() if v}
    assert all(r["unposted"] == 0 and r["paid"] == 0 for r in rows.values())
    payouts.create_batch(ws, "sales-team", actor="finance")
    assert accruals(ws, program="sales-team") == []
    # before any posting, nothing was accrued: the date matters
    assert accruals(ws, dt.date(2000, 1, 1), program="sales-team") == []


def test_charts_are_images() -> None:
    assert bar_chart(["a", "b"], [D("1.50"), D("-2")], "t", fmt="png").startswith(b"\x89PNG")
    with pytest.raises(ValueError):
        bar_chart(["a"], [D(1)], "t", fmt="gif")
