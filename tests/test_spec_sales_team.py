"""Sales team plan against its written spec (shared/programs/sales-team.md), rule by rule.

Each test builds a tiny data folder, runs examples/sales-team/plan.yaml and checks amounts
worked out by hand from the spec (the arithmetic is in each comment). The golden cases
(tests/test_golden.py) already pin the worked examples; these tests pin the edges they
leave open: one cent either side of a boundary, half-up at the cent, ties, the plan year's
edges and clawbacks across quarters.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from conftest import EXAMPLES
from paymaster.plan.loader import load_plan
from paymaster.runs import calculate

PLAN = EXAMPLES / "sales-team" / "plan.yaml"
D = Decimal
QUARTERS = ("2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4")


def run(tmp_path: Path, sales, *, reps=None, targets=None, team_targets=None,
        returns=(), scores=(), teams=(("T1", "M1"), ("T2", "M2"))):
    """Write the plan's input CSVs and run it.

    sales: (sale_id, rep_id, amount, order_date[, customer_id[, new_product]]); reps:
    {rep_id: team_id} (default: every rep in `sales`, in T1); targets: {rep_id: quarterly
    target} for all four quarters (default 100 000 each) or {(rep_id, period): target};
    team_targets: {(team_id, quarter): target} (default none)."""
    data = tmp_path / "data"
    data.mkdir(parents=True)
    if reps is None:
        reps = {row[1]: "T1" for row in sales}
    if targets is None:
        targets = {rep: D(100000) for rep in reps}
    target_rows = []
    for key, value in targets.items():
        if isinstance(key, tuple):
            target_rows.append((*key, value))
        else:
            target_rows += [(key, quarter, value) for quarter in QUARTERS]
    sale_rows = []
    for row in sales:
        sale_id, rep, amount, day, *rest = row
        customer, new = (*rest, "C-OLD", False)[:2] if len(rest) != 1 else (rest[0], False)
        sale_rows.append((sale_id, rep, customer, "Nova" if new else "Core",
                          "true" if new else "false", amount, day))
    files = {
        "teams": ("team_id,name,manager_id", [(t, t, m) for t, m in teams]),
        "reps": ("rep_id,name,team_id", [(r, r, t) for r, t in reps.items()]),
        "rep_targets": ("rep_id,period,target", target_rows),
        "team_targets": ("team_id,quarter,target",
                         [(*k, v) for k, v in (team_targets or {}).items()]),
        "sales": ("sale_id,rep_id,customer_id,product,new_product,amount,order_date",
                  sale_rows),
        "returns": ("return_id,sale_id,amount,return_date", list(returns)),
        "scores": ("rep_id,quarter,csat,training", list(scores)),
    }
    for name, (head, rows) in files.items():
        text = "\n".join([head, *(",".join(str(v) for v in r) for r in rows)]) + "\n"
        (data / f"{name}.csv").write_text(text, encoding="utf-8")
    return calculate(PLAN, data).tables


# The reasons of the roster's 0.00 lines for a rep and period with nothing to measure
# (issue 17: one line per rep per period); the case sales-team--every-line pins them.
EMPTY = {m.roster.reason for m in load_plan(PLAN).plan.measures
         if getattr(m, "roster", None) is not None}


def lines(tables, measure: str) -> dict[tuple[str, str], Decimal]:
    """{(payee, period): amount} of one measure's payout lines (source_id for clawbacks),
    but the roster's 0.00 lines of periods with nothing to measure."""
    out = {}
    for r in tables["payouts"].to_pylist():
        if r["measure"] == measure and r["reason"] not in EMPTY:
            key = r["source_id"] if measure == "clawback" else (r["payee_id"], r["period"])
            out[key] = r["amount"]
    return out


def paid(tables, measure: str) -> dict[tuple[str, str], Decimal]:
    return {k: v for k, v in lines(tables, measure).items() if v != 0}


def titles(tables, title: str) -> set[tuple[str, str]]:
    return {(r["payee_id"], r["period"]) for r in tables["titles"].to_pylist()
            if r["title"] == title}


# ---------------------------------------------------------------- 1. ladder commission
@pytest.mark.parametrize(("sales", "expected"), [
    ("99999.99", "3000.00"),    # 3% x 99 999.99 = 2 999.9997
    ("100000.10", "3000.01"),   # 3 000 + 5% x 0.10 = 3 000.005, half up
    ("50000.50", "1500.02"),    # 3% x 50 000.50 = 1 500.015, half up
    ("120000.10", "4000.01"),   # 3 000 + 5% x 20 000 + 8% x 0.10 = 4 000.008
    ("119999.90", "4000.00"),   # 3 000 + 5% x 19 999.90 = 3 999.995, half up
])
def test_ladder_bands_one_cent_around_the_edges(tmp_path, sales, expected) -> None:
    """Measure 1: graduated 3% to 100%, 5% to 120%, 8% above; each line half up to 0.01."""
    tables = run(tmp_path, [("S1", "R01", sales, "2025-02-10")])
    assert paid(tables, "ladder") == {("R01", "2025-Q1"): D(expected)}


def test_quarter_and_year_edges(tmp_path) -> None:
    """Periods: calendar quarters of 2025; a sale on 31 March is Q1, on 1 April Q2; sales of
    2024 and 2026 are outside the plan year."""
    tables = run(tmp_path, [("S1", "R01", "1000", "2025-03-31"),
                            ("S2", "R01", "2000", "2025-04-01"),
                            ("S3", "R01", "4000", "2025-12-31"),
                            ("S4", "R01", "8000", "2026-01-01"),
                            ("S5", "R01", "9000", "2024-12-31")])
    # 3% of 1 000 / 2 000 / 4 000 against 100 000
    assert paid(tables, "ladder") == {("R01", "2025-Q1"): D("30.00"),
                                      ("R01", "2025-Q2"): D("60.00"),
                                      ("R01", "2025-Q4"): D("120.00")}


# ---------------------------------------------------- 2. new product, 3. new customer
def test_new_product_extra_is_one_line_per_quarter_half_up(tmp_path) -> None:
    """Measure 2: +2% of the quarter's new-product sales, one line per quarter: 2% x
    (100.10 + 100.15) = 4.005 -> 4.01 (rounded once, not per sale: 2.00 + 2.00)."""
    tables = run(tmp_path, [("S1", "R01", "100.10", "2025-01-05", "C-OLD", True),
                            ("S2", "R01", "100.15", "2025-03-05", "C-OLD", True),
                            ("S3", "R01", "5000", "2025-03-06", "C-OLD", False)],
                 returns=[("X1", "S1", "-100.10", "2025-03-10")])
    assert lines(tables, "new_product") == {("R01", "2025-Q1"): D("4.01")}


def test_new_customer_bonus_counts_each_first_order_once(tmp_path) -> None:
    """Measure 3: 500 per customer whose first-ever order (all reps, all history) falls in
    the quarter, to that order's rep. R01: C-A and C-B first bought in Q1 = 1 000; C-A's
    repeat in Q2 pays nothing; C-C first bought in Q2 (R02) = 500; C-H bought in 2024 by R02
    is never new, even when R01 sells to it in 2025."""
    tables = run(tmp_path, [("S1", "R01", "100", "2025-01-10", "C-A"),
                            ("S2", "R01", "100", "2025-02-10", "C-B"),
                            ("S3", "R01", "100", "2025-02-11", "C-A"),
                            ("S4", "R01", "100", "2025-04-10", "C-A"),
                            ("S5", "R02", "100", "2025-05-10", "C-C"),
                            ("S6", "R02", "100", "2024-12-31", "C-H"),
                            ("S7", "R01", "100", "2025-01-01", "C-H")])
    assert paid(tables, "new_customer") == {("R01", "2025-Q1"): D("1000.00"),
                                            ("R02", "2025-Q2"): D("500.00")}


# ------------------------------------------------------------------ 4. team commission
def test_team_one_cent_short_pays_no_member_and_no_manager(tmp_path) -> None:
    """Measure 4: team pay only when team sales reach the target: T1 99 999.99 < 100 000."""
    tables = run(tmp_path, [("S1", "R01", "50000", "2025-01-10"),
                            ("S2", "R02", "49999.99", "2025-02-10")],
                 team_targets={("T1", "2025-Q1"): D(100000)})
    assert paid(tables, "team_member") == {} and paid(tables, "team_manager") == {}
    reasons = {r["reason"] for r in tables["payouts"].to_pylist()
               if r["measure"] in ("team_member", "team_manager") and r["period"] == "2025-Q1"
               and r["payee_id"] in ("R01", "R02", "M1")}
    assert reasons == {"team_below_target"}


def test_team_reached_member_and_manager_rounding(tmp_path) -> None:
    """Measure 4: members 1% of own sales, manager 0.5% of the team's (his own rep row absent).
    T1 = 50 000.50 + 50 000.50 = 100 001 >= 100 000: members 500.005 -> 500.01 each,
    manager 500.005 -> 500.01. T2 (R03) has its own target and misses it: no pay."""
    tables = run(tmp_path, [("S1", "R01", "50000.50", "2025-04-10"),
                            ("S2", "R02", "50000.50", "2025-06-30"),
                            ("S3", "R03", "90000", "2025-05-10")],
                 reps={"R01": "T1", "R02": "T1", "R03": "T2"},
                 team_targets={("T1", "2025-Q2"): D(100000), ("T2", "2025-Q2"): D("90000.01")})
    assert paid(tables, "team_member") == {("R01", "2025-Q2"): D("500.01"),
                                           ("R02", "2025-Q2"): D("500.01")}
    assert paid(tables, "team_manager") == {("M1", "2025-Q2"): D("500.01")}


# ------------------------------------------------------- 5. contest, 6. champion, ties
def test_contest_four_way_tie_for_first_shares_all_three_prizes(tmp_path) -> None:
    """Measure 5: tied reps share the prizes of the places they cover: four tie for 1st,
    covering places 1-4 of which 1-3 carry prizes: 19 000 / 4 = 4 750 each; R05 (5th) none."""
    sales = [(f"S{i}", f"R0{i}", "1000", "2025-07-01") for i in range(1, 5)]
    tables = run(tmp_path, [*sales, ("S5", "R05", "999.99", "2025-07-02")])
    assert paid(tables, "quarterly_contest") == {
        (f"R0{i}", "2025-Q3"): D("4750.00") for i in range(1, 5)}


def test_contest_tie_for_third_and_only_two_reps_ranked(tmp_path) -> None:
    """Measure 5: R02/R03 tie 3rd in Q1: 3 000 / 2 = 1 500 each. Q2 only two reps sell:
    10 000 and 6 000, the 3rd prize is not paid."""
    tables = run(tmp_path, [("S1", "R01", "3000", "2025-01-01"),
                            ("S2", "R04", "2500", "2025-01-01"),
                            ("S3", "R02", "2000", "2025-01-01"),
                            ("S4", "R03", "2000", "2025-01-01"),
                            ("S5", "R01", "10", "2025-04-01"),
                            ("S6", "R02", "20", "2025-04-01")])
    assert paid(tables, "quarterly_contest") == {
        ("R01", "2025-Q1"): D("10000.00"), ("R04", "2025-Q1"): D("6000.00"),
        ("R02", "2025-Q1"): D("1500.00"), ("R03", "2025-Q1"): D("1500.00"),
        ("R02", "2025-Q2"): D("10000.00"), ("R01", "2025-Q2"): D("6000.00")}


def test_monthly_champion_three_way_tie_rounds_each_line(tmp_path) -> None:
    """Measure 6: rank 1 gets 2 000 and the title; three tied: 2 000 / 3 = 666.666... ->
    666.67 each, and each gets the title 销售冠军 for the month."""
    sales = [(f"S{i}", f"R0{i}", "500", "2025-05-15") for i in range(1, 4)]
    tables = run(tmp_path, [*sales, ("S4", "R04", "499", "2025-05-15")])
    assert paid(tables, "monthly_champion") == {
        (f"R0{i}", "2025-05"): D("666.67") for i in range(1, 4)}
    assert titles(tables, "monthly_champion") == {(f"R0{i}", "2025-05") for i in range(1, 4)}


# ------------------------------------------------------------------- 7. best progress
def test_best_progress_minimum_previous_one_cent_short(tmp_path) -> None:
    """Measure 7: only reps with >= 50 000 the previous month. R01 49 999.99 -> 200 000
    (+300%) is out; R02 50 000 -> 50 000.01 (+0.00002%) wins 1 000."""
    tables = run(tmp_path, [("S1", "R01", "49999.99", "2025-03-10"),
                            ("S2", "R01", "200000", "2025-04-10"),
                            ("S3", "R02", "50000", "2025-03-10"),
                            ("S4", "R02", "50000.01", "2025-04-10")])
    april = {k: v for k, v in paid(tables, "best_progress").items() if k[1] == "2025-04"}
    assert april == {("R02", "2025-04"): D("1000.00")}


def test_best_progress_equal_growth_rates_share(tmp_path) -> None:
    """Measure 7 (ties share): 50 000 -> 60 000 and 100 000 -> 120 000 are both +20%:
    500 each; R03 60 000 -> 70 000 (+16.7%) nothing."""
    tables = run(tmp_path, [("S1", "R01", "50000", "2025-05-10"),
                            ("S2", "R01", "60000", "2025-06-10"),
                            ("S3", "R02", "100000", "2025-05-10"),
                            ("S4", "R02", "120000", "2025-06-10"),
                            ("S5", "R03", "60000", "2025-05-10"),
                            ("S6", "R03", "70000", "2025-06-10")])
    assert {k: v for k, v in paid(tables, "best_progress").items()
            if k[1] == "2025-06"} == {("R01", "2025-06"): D("500.00"),
                                      ("R02", "2025-06"): D("500.00")}


def test_best_progress_only_february_to_december_2025(tmp_path) -> None:
    """Measure 7: "from February on", calendar year 2025: December 2024 60 000 -> January
    120 000 pays nothing; December 2025 60 000 gives no January 2026 line. Feb 2025:
    120 000 -> 0 (-100%), the only candidate, wins."""
    tables = run(tmp_path, [("S1", "R01", "60000", "2024-12-10"),
                            ("S2", "R01", "120000", "2025-01-10"),
                            ("S3", "R02", "60000", "2025-12-10")])
    assert paid(tables, "best_progress") == {("R01", "2025-02"): D("1000.00")}


def test_best_progress_previous_month_is_the_calendar_month(tmp_path) -> None:
    """Measure 7: growth over the previous month, not the last month with sales: R01 60 000
    in March, nothing in April, 90 000 in May is not a May candidate (April 0 < 50 000);
    April: R01 60 000 -> 0 (-100%) alone wins; May: R02 50 000 -> 50 000 (0%) wins."""
    tables = run(tmp_path, [("S1", "R01", "60000", "2025-03-10"),
                            ("S2", "R01", "90000", "2025-05-10"),
                            ("S3", "R02", "50000", "2025-04-10"),
                            ("S4", "R02", "50000", "2025-05-10")])
    assert {k: v for k, v in paid(tables, "best_progress").items()
            if k[1] in ("2025-04", "2025-05")} == {("R01", "2025-04"): D("1000.00"),
                                                   ("R02", "2025-05"): D("1000.00")}


def test_best_progress_ranks_the_exact_growth(tmp_path) -> None:
    """Measure 7: the largest growth wins. R01 50 000 -> 50 000.01 grows 1/5 000 000 =
    0.0000002; R02 50 000.01 -> 50 000.02 grows 1/5 000 001 = 0.00000019999996: R01 alone
    wins April's 1 000 (not a tie of 500 each)."""
    tables = run(tmp_path, [("A1", "R01", "50000", "2025-03-10"),
                            ("A2", "R01", "50000.01", "2025-04-10"),
                            ("B1", "R02", "50000.01", "2025-03-10"),
                            ("B2", "R02", "50000.02", "2025-04-10")])
    assert {k: v for k, v in paid(tables, "best_progress").items()
            if k[1] == "2025-04"} == {("R01", "2025-04"): D("1000.00")}


# ----------------------------------------------------------------- 8. top-five streak
def test_streak_counts_only_plan_year_months(tmp_path) -> None:
    """Measure 8: only months of the plan year count: R01 in the top 5 from November 2024 to
    March 2025 pays once, in March 2025 (its third 2025 month), not in January; R02 in the top
    5 from November 2025 pays nothing for January 2026; a run of four (R03, Jan-Apr) pays
    only in March."""
    months = ["2024-11", "2024-12", "2025-01", "2025-02", "2025-03"]
    sales = [(f"A{m}", "R01", "1000", f"{m}-05") for m in months]
    sales += [(f"B{m}", "R02", "1000", f"{m}-05") for m in ("2025-11", "2025-12", "2026-01")]
    sales += [(f"C{m}", "R03", "1000", f"2025-{m}-05") for m in ("01", "02", "03", "04")]
    tables = run(tmp_path, sales)
    assert paid(tables, "top5_streak") == {("R01", "2025-03"): D("3000.00"),
                                           ("R03", "2025-03"): D("3000.00")}


def test_streak_broken_by_one_month_outside_top_five(tmp_path) -> None:
    """Measure 8: R06 is 6th in February (five reps sell more), so its Jan, -, Mar, Apr, May
    months make a run of 3 only in May; ties at 5th are in (R06 and R07 tie 5th in March)."""
    sales = [(f"S{r}{m}", f"R0{r}", str(1000 * (10 - r)), f"2025-0{m}-05")
             for r in range(1, 6) for m in (2,)]
    sales += [(f"X{m}", "R06", "500", f"2025-0{m}-05") for m in (1, 2, 3, 4, 5)]
    sales += [("Y3", "R07", "500", "2025-03-05"), ("Z3", "R01", "900", "2025-03-05"),
              ("Z4", "R02", "900", "2025-03-05"), ("Z5", "R03", "900", "2025-03-05"),
              ("Z6", "R04", "900", "2025-03-05")]
    tables = run(tmp_path, sales)
    assert paid(tables, "top5_streak") == {("R06", "2025-05"): D("3000.00")}


def test_streak_of_twelve_months_pays_four_times(tmp_path) -> None:
    """Measure 8: once per run of three: a rep in the top 5 every month of 2025 gets 3 000 in
    March, June, September and December (4 x 3 000)."""
    tables = run(tmp_path, [(f"S{m}", "R01", "100", f"2025-{m:02d}-01") for m in range(1, 13)])
    assert paid(tables, "top5_streak") == {
        ("R01", f"2025-{m:02d}"): D("3000.00") for m in (3, 6, 9, 12)}


# ------------------------------------------------------- 9. scores, 10. annual bonus
def test_scores_pay_per_quarter_without_sales(tmp_path) -> None:
    """Measure 9: csat >= 4.5 gives 1 500, training >= 90 gives 500, per quarter, whatever
    the rep sold: R02 (no sales) 5.0 / 100 in Q2 and 4.5 / 90 in Q3."""
    tables = run(tmp_path, [("S1", "R01", "100", "2025-01-10")],
                 reps={"R01": "T1", "R02": "T1"},
                 scores=[("R02", "2025-Q2", "5", "100"), ("R02", "2025-Q3", "4.5", "90"),
                         ("R01", "2025-Q2", "4.4999", "89.99")])
    assert paid(tables, "csat") == {("R02", "2025-Q2"): D("1500.00"),
                                    ("R02", "2025-Q3"): D("1500.00")}
    assert paid(tables, "training") == {("R02", "2025-Q2"): D("500.00"),
                                        ("R02", "2025-Q3"): D("500.00")}


@pytest.mark.parametrize(("amount", "expected"), [
    ("39999.99", "0.00"),       # below 40 000 (4 x 10 000): nothing
    ("40000.01", "20000.01"),   # 20 000 x 40 000.01 / 40 000 = 20 000.005, half up
    ("60000", "30000.00"),      # exactly 150%
    ("60000.02", "30000.00"),   # capped at 150%
    ("52000.03", "26000.02"),   # 20 000 x 1.30000075 = 26 000.015, half up
])
def test_annual_bonus_edges(tmp_path, amount, expected) -> None:
    """Measure 10: annual sales >= the sum of the quarterly targets (4 x 10 000) gives
    20 000 x min(attainment, 150%), rounded half up once."""
    tables = run(tmp_path, [("S1", "R01", amount, "2025-08-10")],
                 targets={"R01": D(10000)})
    assert lines(tables, "annual_bonus") == {("R01", "2025"): D(expected)}


def test_annual_bonus_rounds_the_exact_value_once(tmp_path) -> None:
    """Measure 10 and rounding: target 4 x 2 500 000.01 = 10 000 000.04, sales
    10 000 002.54: 20 000 x 10 000 002.54 / 10 000 000.04 = 20 000.004999999980... (exact
    fraction), below the half cent: 20 000.00 (rounding it first to 8 decimals gives
    20 000.00500000 and then 20 000.01)."""
    tables = run(tmp_path, [("S1", "R01", "10000002.54", "2025-08-10")],
                 targets={"R01": D("2500000.01")})
    assert lines(tables, "annual_bonus") == {("R01", "2025"): D("20000.00")}


# ------------------------------------------------------------------ 11. sales elite
@pytest.mark.parametrize(("reps", "places"), [(10, 1), (11, 2), (30, 3)])
def test_sales_elite_places_are_ceil_of_ten_percent(tmp_path, reps, places) -> None:
    """Measure 11: top ceil(10% x number of reps): 10 reps -> 1, 11 -> 2, 30 -> exactly 3
    (not 4: 10% of 30 is 3, whatever binary floating point says). Five reps sell, with
    distinct annual sales; the others only count."""
    names = [f"R{i:02d}" for i in range(1, reps + 1)]
    sales = [(f"S{i}", names[i], str(1000 * (10 - i)), "2025-06-01") for i in range(5)]
    tables = run(tmp_path, sales, reps={n: "T1" for n in names})
    assert titles(tables, "sales_elite") == {(n, "2025") for n in names[:places]}


# ---------------------------------------------------------------------- 12. clawback
def test_clawback_uses_unrounded_ladder_of_the_sales_quarter(tmp_path) -> None:
    """Measure 12: Q1 S = 100 000.10, L = 3 000.005 (unrounded; the line is 3 000.01).
    X1 returns 50 000.05 of S1 on 31 March (same quarter): 50 000.05 x 3 000.005 /
    100 000.10 = 1 500.0025 -> -1 500.00 (with the rounded L it would be -1 500.01).
    X2 returns 10 000 of S2 (Q2 sale, 15 June) on 13 September (90 days), booked in Q3 with
    Q2's ratio L/S = 3% (Q2 S = 60 000): -300.00. X3 is a second return of S2 the same day:
    its own line, 1 000 x 3% = -30.00."""
    tables = run(tmp_path, [("S1", "R01", "100000.10", "2025-01-10"),
                            ("S2", "R01", "60000", "2025-06-15")],
                 returns=[("X1", "S1", "-50000.05", "2025-03-31"),
                          ("X2", "S2", "-10000", "2025-09-13"),
                          ("X3", "S2", "-1000", "2025-09-13")])
    assert lines(tables, "clawback") == {"X1": D("-1500.00"), "X2": D("-300.00"),
                                         "X3": D("-30.00")}
    periods = {r["source_id"]: r["period"] for r in tables["payouts"].to_pylist()
               if r["measure"] == "clawback" and r["source_id"]}
    assert periods == {"X1": "2025-Q1", "X2": "2025-Q3", "X3": "2025-Q3"}


def test_clawback_of_new_product_with_team_pay_half_up(tmp_path) -> None:
    """Measure 12: -(R x L/S + 2% x R (new) + 1% x R (team paid)), half away from zero.
    Q1: S = 100 000 (new product), L = 3 000, T1 reaches exactly 100 000. Return of
    1 234.25 after 30 days: 6% x 1 234.25 = 74.055 -> -74.06. Return of 0.10: 0.006 ->
    -0.01."""
    tables = run(tmp_path, [("S1", "R01", "100000", "2025-02-01", "C-OLD", True)],
                 team_targets={("T1", "2025-Q1"): D(100000)},
                 returns=[("X1", "S1", "-1234.25", "2025-03-03"),
                          ("X2", "S1", "-0.10", "2025-03-03")])
    assert lines(tables, "clawback") == {"X1": D("-74.06"), "X2": D("-0.01")}


def test_clawback_when_the_ladder_paid_nothing(tmp_path) -> None:
    """Measure 12: L is the rep's ladder commission in the sale's quarter. R02 has no Q1
    target, so its Q1 ladder line is 0.00 (no_target): L = 0 and only the new-product 2%
    is reversed: -(1 000 x 0 / 10 000 + 2% x 1 000) = -20.00 (not -50.00, which would claw
    back a 3% never paid). R01 (target 100 000) for comparison: -(30 + 20) = -50.00."""
    tables = run(tmp_path, [("S1", "R01", "10000", "2025-02-10", "C-OLD", True),
                            ("S2", "R02", "10000", "2025-02-10", "C-OLD", True)],
                 reps={"R01": "T1", "R02": "T1"},
                 targets={("R01", q): D(100000) for q in QUARTERS},
                 returns=[("X1", "S1", "-1000", "2025-02-20"),
                          ("X2", "S2", "-1000", "2025-02-20")])
    assert lines(tables, "ladder")[("R02", "2025-Q1")] == D("0.00")
    assert lines(tables, "clawback") == {"X1": D("-50.00"), "X2": D("-20.00")}
