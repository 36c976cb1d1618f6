"""Sales team plan: further edge scenarios from the written spec (shared/programs/sales-team.md).

Each scenario is computed by hand from the spec alone (arithmetic in the docstring) and run
through examples/sales-team/plan.yaml with the helpers of test_spec_sales_team.py. They pin
what neither the golden case nor test_spec_sales_team.py pins: target rows of the wrong
kind or year, same-day first orders, the team gate on either side of a quarter, ties in
every ranking (including exact-decimal and exact-growth ties), months in which nobody
sells, runs broken and restarted, the elite title with few sellers, the clawback's team
1% taken from the sale's quarter (not the return's), the 90-day window across February
and the year end, rounding once at the cent, and the effect report.
"""

from __future__ import annotations

from decimal import Decimal


from test_spec_sales_team import lines, paid, run, titles

D = Decimal


def rows(tables, measure: str) -> list[dict]:
    return [r for r in tables["payouts"].to_pylist() if r["measure"] == measure]


def title_rows(tables, title: str) -> dict[tuple[str, str], tuple[int, Decimal]]:
    return {(r["payee_id"], r["period"]): (r["rank"], r["value"])
            for r in tables["titles"].to_pylist() if r["title"] == title}


# ---------------------------------------------------------------- 1. ladder commission
def test_ladder_uses_the_quarter_target_not_the_month_targets(tmp_path) -> None:
    """Measure 1 is 'against the quarterly target'. R01 has a 2025-Q1 target of 100 000 and
    month targets 2025-01..03 of 10 000 each (no measure uses them). Q1 sales 50 000 (Jan) +
    60 000 (Mar) = 110 000: 3% x 100 000 + 5% x 10 000 = 3 000 + 500 = 3 500.00 (summing the
    month rows into the target, 130 000, would give 3% x 110 000 = 3 300)."""
    targets = {("R01", "2025-Q1"): D(100000)}
    targets.update({("R01", f"2025-0{m}"): D(10000) for m in (1, 2, 3)})
    tables = run(tmp_path, [("S1", "R01", "50000", "2025-01-15"),
                            ("S2", "R01", "60000", "2025-03-15")], targets=targets)
    assert lines(tables, "ladder") == {("R01", "2025-Q1"): D("3500.00")}


# ---------------------------------------------------- 2. new product, 3. new customer
def test_new_product_extra_needs_no_target_and_splits_at_the_quarter(tmp_path) -> None:
    """Measure 2: +2% of the quarter's new-product sales, whatever the ladder does. R01 has
    no target at all (ladder lines 0.00, no_target), yet: Q1 2% x 1 000 (31 March) = 20.00,
    Q2 2% x 2 000 (1 April) = 40.00; the Core sale (5 000) adds nothing."""
    tables = run(tmp_path, [("S1", "R01", "1000", "2025-03-31", "C-OLD", True),
                            ("S2", "R01", "2000", "2025-04-01", "C-OLD", True),
                            ("S3", "R01", "5000", "2025-04-02", "C-OLD", False)],
                 targets={})
    assert paid(tables, "new_product") == {("R01", "2025-Q1"): D("20.00"),
                                           ("R01", "2025-Q2"): D("40.00")}
    assert paid(tables, "ladder") == {}


def test_new_customer_same_day_tie_by_numeric_sale_id(tmp_path) -> None:
    """Measure 3: 'ties by sale id'. Customer C-N first orders on 2025-05-05 twice: sale 9
    (R02) and sale 10 (R01). Sale 9 is the lower id (9 < 10 as numbers), so R02 gets 500 in
    Q2 and R01 nothing."""
    tables = run(tmp_path, [("10", "R01", "100", "2025-05-05", "C-N"),
                            ("9", "R02", "100", "2025-05-05", "C-N")])
    assert paid(tables, "new_customer") == {("R02", "2025-Q2"): D("500.00")}


def test_new_customer_counts_a_customer_once_at_the_quarter_edge(tmp_path) -> None:
    """Measure 3: 500 per customer, to the rep of the first order. C-A orders twice from R01
    on 2025-03-31 (one customer: 500, not 1 000), then from R02 on 2025-04-01 (not new).
    C-B first orders from R02 on 2025-03-31 (500 to R02 in Q1), then from R01 on 2025-04-01
    (not new). Result: R01 Q1 500, R02 Q1 500, nothing in Q2."""
    tables = run(tmp_path, [("S1", "R01", "100", "2025-03-31", "C-A"),
                            ("S2", "R01", "100", "2025-03-31", "C-A"),
                            ("S3", "R02", "100", "2025-04-01", "C-A"),
                            ("S4", "R02", "100", "2025-03-31", "C-B"),
                            ("S5", "R01", "100", "2025-04-01", "C-B")])
    assert paid(tables, "new_customer") == {("R01", "2025-Q1"): D("500.00"),
                                            ("R02", "2025-Q1"): D("500.00")}


# ------------------------------------------------------------------ 4. team commission
def test_team_sales_split_at_the_quarter_edge(tmp_path) -> None:
    """Measure 4: T1 Q1 target 100 000: R01 60 000 (10 Jan) + R02 40 000 (31 March) = exactly
    100 000, reached: R01 1% x 60 000 = 600.00, R02 1% x 40 000 = 400.00, M1 0.5% x 100 000 =
    500.00. R02's 50 000 on 1 April is Q2: T1 Q2 50 000 < 100 000, R02 and M1 get 0.00 with
    team_below_target."""
    tables = run(tmp_path, [("S1", "R01", "60000", "2025-01-10"),
                            ("S2", "R02", "40000", "2025-03-31"),
                            ("S3", "R02", "50000", "2025-04-01")],
                 team_targets={("T1", "2025-Q1"): D(100000), ("T1", "2025-Q2"): D(100000)})
    assert paid(tables, "team_member") == {("R01", "2025-Q1"): D("600.00"),
                                           ("R02", "2025-Q1"): D("400.00")}
    assert paid(tables, "team_manager") == {("M1", "2025-Q1"): D("500.00")}
    q2 = {(r["measure"], r["payee_id"]): (r["amount"], r["paid"], r["reason"])
          for r in rows(tables, "team_member") + rows(tables, "team_manager")
          if r["period"] == "2025-Q2"}
    # One line per rep (and manager) per quarter: R01 sold nothing in Q2, T2 has no sales.
    assert q2 == {("team_member", "R02"): (D("0.00"), False, "team_below_target"),
                  ("team_manager", "M1"): (D("0.00"), False, "team_below_target"),
                  ("team_member", "R01"): (D("0.00"), False, "no_sales"),
                  ("team_manager", "M2"): (D("0.00"), False, "no_team_sales")}


def test_manager_may_be_a_rep_of_another_team(tmp_path) -> None:
    """People: the manager 'is not a rep of the team' (T1), but may be a rep of T2. R03 (T2)
    manages T1. T1 Q1: R01 100 000 = target 100 000: R01 1 000.00, R03 as T1's manager 0.5% x
    100 000 = 500.00. T2 Q1: R03 50 000 < 100 000: R03's member line 0.00. The contest ranks
    R03 by its own sales (50 000), not T1's: R01 10 000, R03 6 000."""
    tables = run(tmp_path, [("S1", "R01", "100000", "2025-02-10"),
                            ("S2", "R03", "50000", "2025-02-10")],
                 reps={"R01": "T1", "R03": "T2"}, teams=(("T1", "R03"), ("T2", "M2")),
                 team_targets={("T1", "2025-Q1"): D(100000), ("T2", "2025-Q1"): D(100000)})
    assert paid(tables, "team_member") == {("R01", "2025-Q1"): D("1000.00")}
    assert paid(tables, "team_manager") == {("R03", "2025-Q1"): D("500.00")}
    assert paid(tables, "quarterly_contest") == {("R01", "2025-Q1"): D("10000.00"),
                                                 ("R03", "2025-Q1"): D("6000.00")}


# ---------------------------------------------------------------- 5. quarterly contest
def test_contest_three_tied_first_share_all_prizes_each_line_rounded(tmp_path) -> None:
    """Measure 5: three tied 1st cover places 1-3: (10 000 + 6 000 + 3 000) / 3 =
    6 333.333... -> 6 333.33 each; R04 is 4th (place 4): nothing."""
    sales = [(f"S{i}", f"R0{i}", "5000", "2025-08-01") for i in (1, 2, 3)]
    tables = run(tmp_path, [*sales, ("S4", "R04", "4000", "2025-08-01")])
    assert paid(tables, "quarterly_contest") == {
        (f"R0{i}", "2025-Q3"): D("6333.33") for i in (1, 2, 3)}


def test_contest_two_tied_second_share_second_and_third(tmp_path) -> None:
    """Measure 5: R01 1st 10 000; R02/R03 tie 2nd, covering places 2-3: (6 000 + 3 000) / 2 =
    4 500 each; R04 is 4th (1 + three better): nothing."""
    tables = run(tmp_path, [("S1", "R01", "5000", "2025-11-01"),
                            ("S2", "R02", "4000", "2025-11-01"),
                            ("S3", "R03", "4000", "2025-12-31"),
                            ("S4", "R04", "3000", "2025-10-01")])
    assert paid(tables, "quarterly_contest") == {
        ("R01", "2025-Q4"): D("10000.00"), ("R02", "2025-Q4"): D("4500.00"),
        ("R03", "2025-Q4"): D("4500.00")}


def test_contest_ties_on_exact_decimal_sums(tmp_path) -> None:
    """Measure 5 (ties share): R01 sells 1 000.10 + 1 000.20 = 2 000.30, R02 2 000.30 in one
    line: a tie for 1st (8 000 each, (10 000 + 6 000) / 2), R03 2 000.29 is 3rd: 3 000."""
    tables = run(tmp_path, [("S1", "R01", "1000.10", "2025-01-05"),
                            ("S2", "R01", "1000.20", "2025-02-05"),
                            ("S3", "R02", "2000.30", "2025-03-05"),
                            ("S4", "R03", "2000.29", "2025-03-05")])
    assert paid(tables, "quarterly_contest") == {
        ("R01", "2025-Q1"): D("8000.00"), ("R02", "2025-Q1"): D("8000.00"),
        ("R03", "2025-Q1"): D("3000.00")}


def test_returns_do_not_reduce_ranked_sales(tmp_path) -> None:
    """'Returns do not reduce it (they act only through the clawback)'. R01 sells 10 000 on
    5 July and returns all of it on 10 July; R02 sells 9 000. Q3 contest: R01 10 000, R02
    6 000; July champion R01 2 000. The return claws back -(10 000 x 300 / 10 000) = -300.00
    (L = 3% x 10 000 = 300 against a 100 000 target)."""
    tables = run(tmp_path, [("S1", "R01", "10000", "2025-07-05"),
                            ("S2", "R02", "9000", "2025-07-06")],
                 returns=[("X1", "S1", "-10000", "2025-07-10")])
    assert paid(tables, "quarterly_contest") == {("R01", "2025-Q3"): D("10000.00"),
                                                 ("R02", "2025-Q3"): D("6000.00")}
    assert paid(tables, "monthly_champion") == {("R01", "2025-07"): D("2000.00")}
    assert lines(tables, "clawback") == {"X1": D("-300.00")}


# --------------------------------------------------- 6. monthly champion, 11. titles
def test_monthly_champion_by_calendar_month_with_title_rows(tmp_path) -> None:
    """Measure 6: rank 1 by monthly sales gets 2 000 and the title. January: R01 3 000 (31
    Jan) beats R02 2 000 (15 Jan); February: R02 2 500 (1 Feb) alone. Ranked by month, not
    by quarter (R02's Q1 4 500 > R01's 3 000). Title rows: rank 1, value = monthly sales."""
    tables = run(tmp_path, [("S1", "R01", "3000", "2025-01-31"),
                            ("S2", "R02", "2000", "2025-01-15"),
                            ("S3", "R02", "2500", "2025-02-01")])
    assert paid(tables, "monthly_champion") == {("R01", "2025-01"): D("2000.00"),
                                                ("R02", "2025-02"): D("2000.00")}
    assert title_rows(tables, "monthly_champion") == {
        ("R01", "2025-01"): (1, D("3000.00")), ("R02", "2025-02"): (1, D("2500.00"))}


def test_sales_elite_pays_nothing_and_names_the_year(tmp_path) -> None:
    """Measure 11: 10 reps -> ceil(10% x 10) = 1 place: R01 (2025 sales 5 000 + 1 000 = 6 000)
    gets 销售精英 for 2025, rank 1, value 6 000.00; 'A title pays nothing': no payout line
    of the measure at all."""
    names = [f"R{i:02d}" for i in range(1, 11)]
    tables = run(tmp_path, [("S1", "R01", "5000", "2025-03-01"),
                            ("S2", "R01", "1000", "2025-11-01"),
                            ("S3", "R02", "5999.99", "2025-06-01")],
                 reps={n: "T1" for n in names})
    assert title_rows(tables, "sales_elite") == {("R01", "2025"): (1, D("6000.00"))}
    assert rows(tables, "sales_elite") == []


def test_sales_elite_places_beyond_the_sellers_title_no_one_else(tmp_path) -> None:
    """Measure 11: 30 reps -> 3 places, but only two reps sell in 2025: R01 and R02 get the
    title; reps without sales are not ranked (a 2024 sale of R03 does not count)."""
    names = [f"R{i:02d}" for i in range(1, 31)]
    tables = run(tmp_path, [("S1", "R01", "2000", "2025-03-01"),
                            ("S2", "R02", "1000", "2025-06-01"),
                            ("S3", "R03", "9000", "2024-12-31")],
                 reps={n: "T1" for n in names})
    assert titles(tables, "sales_elite") == {("R01", "2025"), ("R02", "2025")}


# ------------------------------------------------------------------- 7. best progress
def test_best_progress_equal_exact_growth_is_a_tie(tmp_path) -> None:
    """Measure 7: R01 50 000 (March) -> 150 000 (April): 150 000 / 50 000 - 1 = 200%; R02
    50 000.05 -> 150 000.15: 150 000.15 / 50 000.05 - 1 = exactly 200% too. A tie: 1 000 / 2
    = 500.00 each."""
    tables = run(tmp_path, [("A1", "R01", "50000", "2025-03-10"),
                            ("A2", "R01", "150000", "2025-04-10"),
                            ("B1", "R02", "50000.05", "2025-03-10"),
                            ("B2", "R02", "150000.15", "2025-04-10")])
    assert {k: v for k, v in paid(tables, "best_progress").items()
            if k[1] == "2025-04"} == {("R01", "2025-04"): D("500.00"),
                                      ("R02", "2025-04"): D("500.00")}


def test_best_progress_in_a_month_nobody_sells(tmp_path) -> None:
    """Measure 7: growth over the previous calendar month, even when nobody sells at all that
    month. R01 60 000 in March; nobody sells in April: April R01 60 000 -> 0 = -100%, the
    only candidate, wins 1 000. May: nobody had 50 000 in April, no winner (R01's 90 000 is
    not compared with March). June: R01 90 000 -> 0 (-100%) vs R02 50 000 -> 60 000 (+20%):
    R02. July: R02 60 000 -> 0, alone: R02."""
    tables = run(tmp_path, [("S1", "R01", "60000", "2025-03-10"),
                            ("S2", "R01", "90000", "2025-05-10"),
                            ("S3", "R02", "50000", "2025-05-10"),
                            ("S4", "R02", "60000", "2025-06-10")])
    assert paid(tables, "best_progress") == {("R01", "2025-04"): D("1000.00"),
                                             ("R02", "2025-06"): D("1000.00"),
                                             ("R02", "2025-07"): D("1000.00")}


def test_best_progress_three_way_tie_rounds_each_line(tmp_path) -> None:
    """Measure 7 (ties share): R01, R02, R03 each 50 000 (May) -> 60 000 (June), +20% all:
    1 000 / 3 = 333.333... -> 333.33 each. (July: all three 60 000 -> 0, -100%: 333.33 each
    again.)"""
    sales = [(f"A{i}", f"R0{i}", "50000", "2025-05-10") for i in (1, 2, 3)]
    sales += [(f"B{i}", f"R0{i}", "60000", "2025-06-10") for i in (1, 2, 3)]
    tables = run(tmp_path, sales)
    assert paid(tables, "best_progress") == {
        (f"R0{i}", m): D("333.33") for i in (1, 2, 3) for m in ("2025-06", "2025-07")}


# ----------------------------------------------------------------- 8. top-five streak
def test_streak_is_broken_by_a_month_in_which_nobody_sells(tmp_path) -> None:
    """Measure 8: three *consecutive* months. R01 sells in Jan, Feb, Apr, May, Jun; nobody
    sells in March, so R01 is not in March's top 5: Jan-Feb is a run of 2, Apr-Jun a run of
    3 paying 3 000 in June only (not in April)."""
    tables = run(tmp_path, [(f"S{m}", "R01", "1000", f"2025-0{m}-05") for m in (1, 2, 4, 5, 6)])
    assert paid(tables, "top5_streak") == {("R01", "2025-06"): D("3000.00")}


def test_streak_restarts_after_a_break(tmp_path) -> None:
    """Measure 8: once per run of three. R01 is in the top 5 Jan-May (a run of 5: pays in
    March only), out in June (no sales), in again Jul-Sep (a new run: pays in September)."""
    months = (1, 2, 3, 4, 5, 7, 8, 9)
    tables = run(tmp_path, [(f"S{m}", "R01", "1000", f"2025-0{m}-05") for m in months])
    assert paid(tables, "top5_streak") == {("R01", "2025-03"): D("3000.00"),
                                           ("R01", "2025-09"): D("3000.00")}


def test_streak_five_tied_at_third_are_all_in_the_top_five(tmp_path) -> None:
    """Measure 8: Jan-Mar each month R01 9 000 (1st), R02 8 000 (2nd), R03-R07 7 000 (all
    place 3 <= 5, in), R08 6 000 (place 8: seven reps better, out). In March R01-R07 each
    get 3 000; R08 nothing."""
    amounts = {"R01": 9000, "R02": 8000, "R03": 7000, "R04": 7000, "R05": 7000,
               "R06": 7000, "R07": 7000, "R08": 6000}
    sales = [(f"S{r}{m}", r, str(a), f"2025-0{m}-05")
             for r, a in amounts.items() for m in (1, 2, 3)]
    tables = run(tmp_path, sales)
    assert paid(tables, "top5_streak") == {
        (f"R0{i}", "2025-03"): D("3000.00") for i in range(1, 8)}


# --------------------------------------------------------------- 10. annual bonus
def test_annual_target_is_the_four_2025_quarters_only(tmp_path) -> None:
    """Measure 10: annual target = sum of the 2025 quarterly targets 10 000 + 20 000 + 30 000
    + 40 000 = 100 000 (the 2024-Q4, 2026-Q1 and 2025-01 rows are not quarters of the plan
    year). Annual sales: 125 000 (2025-05-10); the 2024-12-31 and 2026-01-01 sales are outside.
    20 000 x 125 000 / 100 000 = 25 000.00."""
    targets = {("R01", "2024-Q4"): D(50000), ("R01", "2025-Q1"): D(10000),
               ("R01", "2025-Q2"): D(20000), ("R01", "2025-Q3"): D(30000),
               ("R01", "2025-Q4"): D(40000), ("R01", "2026-Q1"): D(50000),
               ("R01", "2025-01"): D(5000)}
    tables = run(tmp_path, [("S1", "R01", "50000", "2024-12-31"),
                            ("S2", "R01", "125000", "2025-05-10"),
                            ("S3", "R01", "50000", "2026-01-01")], targets=targets)
    assert lines(tables, "annual_bonus") == {("R01", "2025"): D("25000.00")}


def test_annual_bonus_ignores_returns(tmp_path) -> None:
    """Measures 10 and 'returns do not reduce sales': target 4 x 10 000 = 40 000; sales
    40 000, of which 10 000 returned: annual sales stay 40 000 = 100%: 20 000.00 (not 0 for
    30 000 < 40 000)."""
    tables = run(tmp_path, [("S1", "R01", "40000", "2025-06-01")],
                 targets={"R01": D(10000)}, returns=[("X1", "S1", "-10000", "2025-06-10")])
    assert lines(tables, "annual_bonus") == {("R01", "2025"): D("20000.00")}


# ---------------------------------------------------------------------- 12. clawback
def test_clawback_team_one_percent_follows_the_sales_quarter(tmp_path) -> None:
    """Measure 12: the 1% is reversed 'if the rep earned the team commission', all taken in
    the quarter of the original sale. T1 (R01) misses Q1 (target 1 000 000) and reaches Q2
    (10 000); T2 (R02) reaches Q1 (10 000) and misses Q2 (1 000 000). Each rep sells 50 000
    on 1 March (Q1 ladder 3% x 50 000 = 1 500, L/S = 3%) and 20 000 on 10 April, and returns
    5 000 of the March sale on 15 April (45 days, booked in Q2):
    R01 -(5 000 x 3%) = -150.00 (no 1%: T1 missed Q1, even though R01 earns it in Q2);
    R02 -(5 000 x 3% + 1% x 5 000) = -(150 + 50) = -200.00."""
    tables = run(tmp_path, [("S1", "R01", "50000", "2025-03-01"),
                            ("S2", "R01", "20000", "2025-04-10"),
                            ("S3", "R02", "50000", "2025-03-01"),
                            ("S4", "R02", "20000", "2025-04-10")],
                 reps={"R01": "T1", "R02": "T2"},
                 team_targets={("T1", "2025-Q1"): D(1000000), ("T1", "2025-Q2"): D(10000),
                               ("T2", "2025-Q1"): D(10000), ("T2", "2025-Q2"): D(1000000)},
                 returns=[("X1", "S1", "-5000", "2025-04-15"),
                          ("X2", "S3", "-5000", "2025-04-15")])
    assert paid(tables, "team_member") == {("R01", "2025-Q2"): D("200.00"),
                                           ("R02", "2025-Q1"): D("500.00")}
    assert lines(tables, "clawback") == {"X1": D("-150.00"), "X2": D("-200.00")}


def test_clawback_window_across_february(tmp_path) -> None:
    """Measure 12: return date - sale date <= 90. Sale 2025-01-31 (10 000, L/S = 3%):
    to 2025-05-01 is 28 (Feb) + 31 (Mar) + 30 (Apr) + 1 = 90 days: -(1 000 x 3%) = -30.00 in
    2025-Q2; to 2025-05-02 is 91 days: 0.00, not paid, returned_after_90_days."""
    tables = run(tmp_path, [("S1", "R01", "10000", "2025-01-31")],
                 returns=[("X1", "S1", "-1000", "2025-05-01"),
                          ("X2", "S1", "-1000", "2025-05-02")])
    got = {r["source_id"]: (r["period"], r["amount"], r["paid"], r["reason"])
           for r in rows(tables, "clawback") if r["source_id"]}
    assert got == {"X1": ("2025-Q2", D("-30.00"), True, None),
                   "X2": ("2025-Q2", D("0.00"), False, "returned_after_90_days")}


def test_clawback_of_a_december_sale_booked_in_january(tmp_path) -> None:
    """Measure 12: 'a negative line in the quarter the return is booked'. Sale 2025-11-15
    (10 000, Q4 L/S = 3%) returned 1 000 on 2026-01-10: 15 + 31 + 10 = 56 days <= 90:
    -(1 000 x 3%) = -30.00 in 2026-Q1, with the Q4 2025 ratio. No return is booked in 2025:
    R01's four quarters of the plan year each get one 0.00 line, `no_returns`."""
    tables = run(tmp_path, [("S1", "R01", "10000", "2025-11-15")],
                 returns=[("X1", "S1", "-1000", "2026-01-10")])
    got = {(r["source_id"], r["period"]): (r["amount"], r["reason"])
           for r in rows(tables, "clawback")}
    assert got == {("X1", "2026-Q1"): (D("-30.00"), None),
                   **{("", q): (D("0.00"), "no_returns")
                      for q in ("2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4")}}


def test_clawback_rounds_the_exact_value_once(tmp_path) -> None:
    """Measure 12 and rounding: Q1 S = 100 000.01 against 100 000: L = 3 000 + 5% x 0.01 =
    3 000.0005 (unrounded). A return of 49 997.83 (31 days): 49 997.83 x 3 000.0005 /
    100 000.01 = 1 499.934999995650000435 (exact), under the half cent: -1 499.93."""
    tables = run(tmp_path, [("S1", "R01", "100000.01", "2025-01-10")],
                 returns=[("X1", "S1", "-49997.83", "2025-02-10")])
    assert lines(tables, "clawback") == {"X1": D("-1499.93")}


# -------------------------------------------------------------- 13. budget and effect
def test_effect_reports_spend_share_and_growth(tmp_path) -> None:
    """Measure 13. R01 (T1, no team target), target 100 000 a quarter; 2024-06-01 sale 40 000
    (C-OLD's first order); 2025-02-10 sale 50 000; X1 returns 6 666.67 on 2025-02-20.
    Payout lines: ladder Q1 3% x 50 000 = 1 500; contest Q1 10 000; champion Feb 2 000; best
    progress March (Feb 50 000 -> Mar 0, -100%, alone) 1 000; clawback -(6 666.67 x 3%) =
    -200.0001 -> -200.00; team lines 0 (no target), annual bonus 0 (50 000 < 400 000),
    nothing else. Incentive cost 1 500 + 10 000 + 2 000 + 1 000 - 200 = 14 300.00.
    Sales 2025 50 000 (returns do not reduce it), 2024 40 000: growth 10 000 / 40 000 =
    0.2500; cost share 14 300 / 50 000 = 0.2860; budget 2 000 000, used 14 300 / 2 000 000 =
    0.00715 -> 0.0072 (half up); cost per extra sale 14 300 / 10 000 = 1.4300."""
    tables = run(tmp_path, [("H1", "R01", "40000", "2024-06-01"),
                            ("S1", "R01", "50000", "2025-02-10")],
                 returns=[("X1", "S1", "-6666.67", "2025-02-20")])
    assert sum(r["amount"] for r in tables["payouts"].to_pylist()) == D("14300.00")
    [row] = tables["effect"].to_pylist()
    got = {k: row[k] for k in ("sales", "previous_sales", "growth", "incentive_cost",
                               "cost_share", "cost_per_extra_sale", "budget", "budget_used")}
    assert got == {"sales": D("50000.00"), "previous_sales": D("40000.00"),
                   "growth": D("0.2500"), "incentive_cost": D("14300.00"),
                   "cost_share": D("0.2860"), "cost_per_extra_sale": D("1.4300"),
                   "budget": D("2000000.00"), "budget_used": D("0.0072")}

