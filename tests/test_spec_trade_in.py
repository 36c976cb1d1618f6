"""Trade-In Accelerator against its spec (shared/programs/trade-in-accelerator.md): small
scenarios worked by hand, for the rules and boundaries the golden cases do not pin.

Every scenario writes minimal CSVs to tmp_path and runs examples/trade-in-accelerator/
plan.yaml. Dates used throughout (from the spec's phase table):
phase 6: window 2008-01-27..04-26, minimum 12 500, E1 2008-07-26, E2 2008-10-25;
phase 7: window 2008-04-27..10-25, minimum 25 000, E1 2009-01-24, E2 2009-04-25,
second half (late enrolment) from 2008-07-27. Rebate 15%, returns >= 85% by value.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import EXAMPLES
from paymaster.runs import calculate

PLAN = EXAMPLES / "trade-in-accelerator" / "plan.yaml"
ORDER_COLUMNS = ["line_id", "partner_id", "sales_order", "tmp_quote", "order_date",
                 "trade_in_credit", "resale", "from_customer_network", "tier",
                 "order_confirmed_on", "deviation_approved_on", "shipped_on", "invoiced_on",
                 "reported_on", "claimed_program", "rma_number"]
GOLD = ("Gold", "2007-01-01", "2009-12-31")


def order(line: str, partner: str, date: str, credit: str, **extra: str) -> dict:
    """A qualifying tier-1 trade-in line (resale, from the customer's network) by default."""
    row = {"line_id": line, "partner_id": partner, "sales_order": f"SO-{line}",
           "tmp_quote": f"TMP-{line}", "order_date": date, "trade_in_credit": credit,
           "resale": "true", "from_customer_network": "true", "tier": "1",
           "order_confirmed_on": date, "rma_number": f"RMA-{line}"}
    row.update(extra)
    return row


def tier2(line: str, partner: str, date: str, credit: str, **extra: str) -> dict:
    """A tier-2 line ordered and confirmed on `date`, deviation approved the day before
    (fine for dates not on the 1st), shipped/invoiced/reported as given in `extra`."""
    deviation = date[:8] + f"{int(date[8:]) - 1:02d}"
    return order(line, partner, date, credit, tier="2", deviation_approved_on=deviation,
                 **extra)


def _write(path: Path, columns: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


class Run:
    """The plan run on the given partners; lookups of its output rows."""

    def __init__(self, tmp_path: Path, partners: dict[str, str], orders: list[dict],
                 returns: list[tuple[str, str]] = (), cases: list[tuple] = (),
                 certifications: list[tuple] | None = None,
                 enrollments: list[tuple] | None = None) -> None:
        # partners: id -> country. Default: Gold for the whole program, and an approved
        # enrollment submitted/effective 2008-02-01 (phase 6) and 2008-05-01 (phase 7).
        if certifications is None:
            certifications = [(p, *GOLD) for p in partners]
        if enrollments is None:
            enrollments = [(p, ph, "approved", day, day) for p in partners
                           for ph, day in ((6, "2008-02-01"), (7, "2008-05-01"))]
        data = tmp_path / "data"
        data.mkdir()
        _write(data / "partners.csv", ["partner_id", "name", "country"],
               [{"partner_id": p, "name": f"Partner {p}", "country": c}
                for p, c in partners.items()])
        _write(data / "certifications.csv", ["partner_id", "level", "valid_from", "valid_to"],
               [dict(zip(["partner_id", "level", "valid_from", "valid_to"], c, strict=True))
                for c in certifications])
        cols = ["partner_id", "phase", "status", "submitted_on", "effective_from"]
        _write(data / "enrollments.csv", ["enrollment_id", *cols],
               [{"enrollment_id": f"E{i}", **dict(zip(cols, e, strict=True))}
                for i, e in enumerate(enrollments)])
        # Columns beyond the usual ones (credit_currency) only when a scenario gives them.
        extra = sorted({k for o in orders for k in o} - set(ORDER_COLUMNS))
        _write(data / "orders.csv", ORDER_COLUMNS + extra, orders)
        _write(data / "returns.csv", ["rma_number", "received_on"],
               [{"rma_number": r, "received_on": d} for r, d in returns])
        _write(data / "cases.csv", ["case_id", "rma_number", "status", "resolved_on"],
               [dict(zip(["case_id", "rma_number", "status", "resolved_on"], c, strict=True))
                for c in cases])
        result = calculate(PLAN, data)
        self.payouts = result.explained("payouts")
        self.evaluations = result.explained("evaluations")
        self.credits = result.tables["credits"].to_pylist()

    def payout(self, partner: str, phase: int) -> tuple[Decimal, bool, str | None]:
        (row,) = [r for r in self.payouts
                  if r["payee_id"] == partner and r["period"] == f"phase-{phase}"]
        return row["amount"], row["paid"], row["reason"]

    def evals(self, partner: str, phase: int) -> list[tuple]:
        """(evaluation, passed, value, reason) in evaluation order."""
        rows = [r for r in self.evaluations
                if r["payee_id"] == partner and r["period"] == f"phase-{phase}"]
        return [(int(r["evaluation"]), r["passed"], r["value"], r["reason"])
                for r in sorted(rows, key=lambda r: int(r["evaluation"]))]

    def credit(self, line: str) -> tuple[bool, str | None]:
        (row,) = [r for r in self.credits if r["source_id"] == line]
        return row["counts"], row["reason"]


D = Decimal
NOT_PAID = (D("0.00"), False)


# --------------------------------------------------------------- enrollment
def test_only_approved_enrollments_take_part(tmp_path: Path) -> None:
    """Spec, Partners and enrollment: "Only approved enrollments take part." A submitted
    (not yet approved) or withdrawn application does not; an approved one does.
    Each partner: 13 000 returned 05-01 -> E1 13 000, 100%."""
    partners = {"S": "CN", "W": "CN", "A": "CN"}
    run = Run(tmp_path, partners,
              [order(f"L{p}", p, "2008-02-15", "13000.00") for p in partners],
              returns=[(f"RMA-L{p}", "2008-05-01") for p in partners],
              enrollments=[("S", 6, "submitted", "2008-02-01", "2008-02-01"),
                           ("W", 6, "withdrawn", "2008-02-01", "2008-02-01"),
                           ("A", 6, "approved", "2008-02-01", "2008-02-01")])
    assert run.payout("S", 6) == (*NOT_PAID, "enrollment_pending")
    assert run.payout("W", 6) == (*NOT_PAID, "enrollment_withdrawn")
    assert run.payout("A", 6) == (D("1950.00"), True, None)  # 0.15 x 13 000


def test_phase7_enrollment_deadline_is_inclusive(tmp_path: Path) -> None:
    """Spec: submitted by the enrollment deadline (phase 7: 2008-09-30). Submitted on
    09-30 takes part, on 10-01 does not. Both take effect in the second half (measured
    07-27..10-25): one line of 25 000 on 2008-10-05, returned 2008-11-01 ->
    E1 25 000, 100%: Y paid 0.15 x 25 000 = 3 750.00; Z enrollment_late."""
    partners = {"Y": "KR", "Z": "KR"}
    run = Run(tmp_path, partners,
              [order(f"L{p}", p, "2008-10-05", "25000.00") for p in partners],
              returns=[(f"RMA-L{p}", "2008-11-01") for p in partners],
              enrollments=[("Y", 7, "approved", "2008-09-30", "2008-09-30"),
                           ("Z", 7, "approved", "2008-10-01", "2008-10-01")])
    assert run.payout("Y", 7) == (D("3750.00"), True, None)
    assert run.payout("Z", 7) == (*NOT_PAID, "enrollment_late")


def test_enrollment_is_per_phase(tmp_path: Path) -> None:
    """Spec: enrollment is per phase (each phase has its own deadline). A partner enrolled
    in phase 7 only is not enrolled for its phase-6 orders (13 000, returned)."""
    run = Run(tmp_path, {"X": "CN"}, [order("L1", "X", "2008-02-15", "13000.00")],
              returns=[("RMA-L1", "2008-05-01")],
              enrollments=[("X", 7, "approved", "2008-05-01", "2008-05-01")])
    assert run.payout("X", 6) == (*NOT_PAID, "enrollment_not_submitted")
    # Phase 7: enrolled, no orders -> value 0 < 25 000.
    assert run.payout("X", 7) == (*NOT_PAID, "minimum_not_reached")


# --------------------------------------------------------------- certification
@pytest.mark.parametrize(("certs", "valid"), [
    # Gold to 03-31 and again from 04-01: touching, every day covered.
    ([("Gold", "2007-01-01", "2008-03-31"), ("Gold", "2008-04-01", "2009-12-31")], True),
    # A single missing day, 2008-04-01.
    ([("Gold", "2007-01-01", "2008-03-31"), ("Gold", "2008-04-02", "2009-12-31")], False),
    # Starts one day after the phase starts (01-27 uncovered).
    ([("Silver", "2008-01-28", "2009-12-31")], False),
    # Ends one day before the phase ends (04-26 uncovered).
    ([("Premier", "2007-01-01", "2008-04-25")], False),
    # Registered (not a counting level) bridges 02-16..02-20.
    ([("Gold", "2007-01-01", "2008-02-15"), ("Registered", "2008-02-16", "2008-02-20"),
      ("Gold", "2008-02-21", "2009-12-31")], False),
    # Select then Premier, touching: both counting levels.
    ([("Select", "2007-01-01", "2008-03-10"), ("Premier", "2008-03-11", "2009-12-31")], True),
])
def test_certification_valid_every_day_of_phase(tmp_path: Path, certs, valid) -> None:
    """Spec: a Gold, Silver, Premier or Select certification valid on **every day** of the
    phase (6: 2008-01-27..04-26). Partner X: 13 000 returned -> otherwise passes E1,
    0.15 x 13 000 = 1 950.00."""
    run = Run(tmp_path, {"X": "CN"}, [order("L1", "X", "2008-02-15", "13000.00")],
              returns=[("RMA-L1", "2008-05-01")],
              certifications=[("X", *c) for c in certs])
    expected = (D("1950.00"), True, None) if valid else (*NOT_PAID, "certification_not_valid")
    assert run.payout("X", 6) == expected


def test_certification_judged_per_phase(tmp_path: Path) -> None:
    """Spec: valid on every day of *the* phase. Gold 2007-01-01..2008-05-31 covers phase 6
    but not phase 7 (04-27..10-25). Phase 6: 13 000 -> 1 950.00; phase 7: 30 000 returned,
    but certification_not_valid."""
    run = Run(tmp_path, {"X": "SG"},
              [order("L1", "X", "2008-02-15", "13000.00"),
               order("L2", "X", "2008-05-15", "30000.00")],
              returns=[("RMA-L1", "2008-05-01"), ("RMA-L2", "2008-09-01")],
              certifications=[("X", "Gold", "2007-01-01", "2008-05-31")])
    assert run.payout("X", 6) == (D("1950.00"), True, None)
    assert run.payout("X", 7) == (*NOT_PAID, "certification_not_valid")


# --------------------------------------------------------------- tier-2 lines
def test_tier2_counts_once_shipped_invoiced_and_reported(tmp_path: Path) -> None:
    """Spec: a tier-2 line counts at an evaluation only when it was shipped, invoiced and
    reported on or before that date. Each partner: tier-1 11 500 (returned) + one tier-2
    1 000 (returned 05-01), so the 12 500 minimum hangs on the tier-2 line:
    R reported on E1 itself (07-26) -> E1 12 500 pass, 1 875.00;
    I invoiced 07-27 (day after E1) -> E1 11 500 minimum, E2 12 500 pass, 1 875.00;
    S never shipped -> never counts: 11 500 at both, minimum_not_reached (still a
    qualifying line in credits)."""
    partners = {"R": "CN", "I": "CN", "S": "CN"}
    base = [order(f"T{p}", p, "2008-02-15", "11500.00") for p in partners]
    lines = [
        tier2("2R", "R", "2008-03-05", "1000.00", shipped_on="2008-03-10",
              invoiced_on="2008-03-10", reported_on="2008-07-26"),
        tier2("2I", "I", "2008-03-05", "1000.00", shipped_on="2008-03-10",
              invoiced_on="2008-07-27", reported_on="2008-04-01"),
        tier2("2S", "S", "2008-03-05", "1000.00", invoiced_on="2008-03-10",
              reported_on="2008-04-01"),
    ]
    rmas = [f"RMA-T{p}" for p in partners] + ["RMA-2R", "RMA-2I", "RMA-2S"]
    run = Run(tmp_path, partners, base + lines, returns=[(r, "2008-05-01") for r in rmas])
    assert run.evals("R", 6) == [(1, True, D("12500.00"), None)]
    assert run.payout("R", 6) == (D("1875.00"), True, None)
    assert run.evals("I", 6) == [(1, False, D("11500.00"), "minimum_not_reached"),
                                 (2, True, D("12500.00"), None)]
    assert run.payout("I", 6) == (D("1875.00"), True, None)
    assert [e[2] for e in run.evals("S", 6)] == [D("11500.00"), D("11500.00")]
    assert run.payout("S", 6) == (*NOT_PAID, "minimum_not_reached")
    assert run.credit("2S") == (True, None)


# --------------------------------------------------------------- second-half enroller
def test_second_half_enroller_measured_on_last_three_months(tmp_path: Path) -> None:
    """Spec, Phases: enrolment taking effect after the first three months of a 6-month
    phase -> measured on the orders *and returns* of the last three months (07-27..10-25),
    the 25 000 minimum still applies [resolved].
    H (effective 08-01): May line 30 000 never returned is outside the window, so not in
    the return rate either; 08-10 line 25 000 returned 11-01 -> 25 000, 100%: 3 750.00
    (were the May line counted the rate would be 25 000 / 55 000 = 45%).
    K (effective 08-01): 12 500 in the window -> minimum_not_reached (the 3-month minimum
    of 12 500 does not apply)."""
    partners = {"H": "TW", "K": "TW"}
    run = Run(tmp_path, partners,
              [order("H1", "H", "2008-05-10", "30000.00"),
               order("H2", "H", "2008-08-10", "25000.00"),
               order("K1", "K", "2008-08-10", "12500.00")],
              returns=[("RMA-H2", "2008-11-01"), ("RMA-K1", "2008-11-01")],
              enrollments=[(p, 7, "approved", "2008-07-20", "2008-08-01") for p in partners])
    assert run.credit("H1") == (False, "outside_measured_window")
    assert run.evals("H", 7) == [(1, True, D("25000.00"), None)]
    assert run.payout("H", 7) == (D("3750.00"), True, None)
    assert run.payout("K", 7) == (*NOT_PAID, "minimum_not_reached")


def test_second_half_decided_by_the_enrollment_taking_part(tmp_path: Path) -> None:
    """Spec: the late-enrolment window applies to a partner that *enrolls* in the second
    half; only approved enrollments submitted by the deadline take part. Each partner:
    May line 20 000 + August line 6 000 (returned) -> full window 26 000: 3 900.00.
    A: approved 05-01 plus a second approved application effective 08-01;
    B: approved 05-01 plus an approved one submitted 10-05 (after the 09-30 deadline).
    C (control): only a rejected 05-01 application and an approved 08-01 one -> second-half
    enroller, 6 000 < 25 000: minimum_not_reached."""
    partners = {"A": "CN", "B": "CN", "C": "CN"}
    run = Run(tmp_path, partners,
              [row for p in partners for row in (order(f"{p}1", p, "2008-05-15", "20000.00"),
                                                  order(f"{p}2", p, "2008-08-15", "6000.00"))],
              returns=[(f"RMA-{p}{n}", "2008-09-01") for p in partners for n in (1, 2)],
              enrollments=[("A", 7, "approved", "2008-05-01", "2008-05-01"),
                           ("A", 7, "approved", "2008-08-01", "2008-08-01"),
                           ("B", 7, "approved", "2008-05-01", "2008-05-01"),
                           ("B", 7, "approved", "2008-10-05", "2008-10-05"),
                           ("C", 7, "rejected", "2008-05-01", "2008-05-01"),
                           ("C", 7, "approved", "2008-08-01", "2008-08-01")])
    assert run.payout("A", 7) == (D("3900.00"), True, None)
    assert run.payout("B", 7) == (D("3900.00"), True, None)
    assert run.credit("C1") == (False, "outside_measured_window")
    assert run.payout("C", 7) == (*NOT_PAID, "minimum_not_reached")


def test_effective_date_does_not_shorten_a_3_month_phase(tmp_path: Path) -> None:
    """Spec, Phases: the last-three-months rule is for 6-month phases; phase 6 (3 months)
    has no second half. Enrollment effective 2008-04-01, line ordered 02-15 (13 000,
    returned) still counts: 0.15 x 13 000 = 1 950.00."""
    run = Run(tmp_path, {"X": "CN"}, [order("L1", "X", "2008-02-15", "13000.00")],
              returns=[("RMA-L1", "2008-05-01")],
              enrollments=[("X", 6, "approved", "2008-02-20", "2008-04-01")])
    assert run.credit("L1") == (True, None)
    assert run.payout("X", 6) == (D("1950.00"), True, None)


def test_late_enroller_certification_still_covers_whole_phase(tmp_path: Path) -> None:
    """Spec: certification valid on every day of *the phase* (not of the measured window);
    our reading for a second-half enroller. Phase 7 enrollment effective 08-01, Gold only
    from 2008-07-27: 04-27..07-26 uncovered -> certification_not_valid, although its
    25 000 in the window is returned."""
    run = Run(tmp_path, {"X": "KR"}, [order("L1", "X", "2008-08-10", "25000.00")],
              returns=[("RMA-L1", "2008-11-01")],
              certifications=[("X", "Gold", "2008-07-27", "2009-12-31")],
              enrollments=[("X", 7, "approved", "2008-07-20", "2008-08-01")])
    assert run.payout("X", 7) == (*NOT_PAID, "certification_not_valid")


# --------------------------------------------------------------- returns
def test_returns_and_cases_dated_around_evaluation_1(tmp_path: Path) -> None:
    """Spec, Returns: RMAs received on or before the evaluation date, or confirmed by a
    case resolved by then. One 13 000 line each:
    A received 07-27 (day after E1) -> E1 0% fail, E2 pass: 1 950.00;
    B case confirmed on 07-26 (= E1), no returns row -> E1 pass: 1 950.00;
    C case confirmed 07-27 -> E1 fail, E2 pass: 1 950.00;
    F received 10-26 (day after E2 / final return deadline) -> 0% at both: nothing."""
    partners = {"A": "CN", "B": "CN", "C": "CN", "F": "CN"}
    run = Run(tmp_path, partners,
              [order(f"L{p}", p, "2008-02-15", "13000.00") for p in partners],
              returns=[("RMA-LA", "2008-07-27"), ("RMA-LF", "2008-10-26")],
              cases=[("CS-B", "RMA-LB", "confirmed", "2008-07-26"),
                     ("CS-C", "RMA-LC", "confirmed", "2008-07-27")])
    assert [e[1] for e in run.evals("A", 6)] == [False, True]
    assert run.evals("A", 6)[0][3] == "returns_below_85"
    assert run.payout("A", 6) == (D("1950.00"), True, None)
    assert run.evals("B", 6) == [(1, True, D("13000.00"), None)]
    assert [e[1] for e in run.evals("C", 6)] == [False, True]
    assert run.payout("C", 6) == (D("1950.00"), True, None)
    assert run.payout("F", 6) == (*NOT_PAID, "returns_below_85")


def test_an_rma_returned_twice_counts_once(tmp_path: Path) -> None:
    """Spec, Returns: the rate is the credit of the RMAs received / the credit of all the
    counting lines' RMAs, by value. L1 11 000 has two returns rows and a confirmed case
    (one RMA: counted once), L2 2 000 never returned: 11 000 / 13 000 = 84.6% < 85% at
    both evaluations (double counting would give 22 000 / 13 000 and pass)."""
    run = Run(tmp_path, {"X": "CN"},
              [order("L1", "X", "2008-02-15", "11000.00"),
               order("L2", "X", "2008-02-16", "2000.00")],
              returns=[("RMA-L1", "2008-05-01"), ("RMA-L1", "2008-05-03")],
              cases=[("CS-1", "RMA-L1", "confirmed", "2008-06-01")])
    assert run.payout("X", 6) == (*NOT_PAID, "returns_below_85")
    ratios = [r["ratio"] for r in run.evaluations if r["period"] == "phase-6"]
    assert ratios == [D("0.8462"), D("0.8462")]  # 11 000 / 13 000 = 0.846153...


def test_return_rate_compared_exactly_not_after_rounding(tmp_path: Path) -> None:
    """Spec: the return rate must be at least 85%. 16 999.99 / 20 000 = 0.8499995 is below
    85% even though it shows as 0.8500 at 4 decimals: returns_below_85, nothing paid."""
    run = Run(tmp_path, {"X": "CN"},
              [order("L1", "X", "2008-02-15", "16999.99"),
               order("L2", "X", "2008-02-16", "3000.01")],
              returns=[("RMA-L1", "2008-05-01")])
    assert [(e[1], e[3]) for e in run.evals("X", 6)] == [(False, "returns_below_85")] * 2
    assert run.payout("X", 6) == (*NOT_PAID, "returns_below_85")


def test_failing_rate_is_not_shown_as_the_threshold(tmp_path: Path) -> None:
    """Spec, Gates: each outcome states which gate failed and by how much. 16 999.99 /
    20 000 = 84.99995% fails; its explanation and its ratio are cut to 84.99%, not
    rounded up to the 85% it falls short of."""
    run = Run(tmp_path, {"X": "CN"},
              [order("L1", "X", "2008-02-15", "16999.99"),
               order("L2", "X", "2008-02-16", "3000.01")],
              returns=[("RMA-L1", "2008-05-01")],
              enrollments=[("X", 6, "approved", "2008-02-01", "2008-02-01")])
    explanation = run.evaluations[0]["explanation"]
    assert "failed: returns_below_85" in explanation
    assert "returns 85% of 85% required" not in explanation
    assert "returns 84.99% of 85% required" in explanation
    assert run.evaluations[0]["ratio"] == Decimal("0.8499")


def test_outcome_states_failed_gate_and_by_how_much() -> None:
    """Spec, Gates: each outcome states which gate failed and by how much (e.g. "returns
    81.2% of 85% required"). Example data: D 12 180 / 15 000 = 81.2%; B 12 499.99 of
    the 12 500 minimum."""
    result = calculate(PLAN, EXAMPLES / "trade-in-accelerator" / "data")
    rows = {(r["payee_id"], r["evaluation"]): r["explanation"]
            for r in result.explained("evaluations")}
    assert "returns 81.2% of 85% required" in rows[("D", "1")]
    assert "returns_below_85" in rows[("D", "1")]
    assert "12499.99 of 12500.00 required" in rows[("B", "2")]


# --------------------------------------------------------------- minimum and rebate
def test_phase7_minimum_one_cent_short(tmp_path: Path) -> None:
    """Spec: minimum $25,000 in a 6-month phase. 24 999.99 fails at both evaluations."""
    run = Run(tmp_path, {"X": "AU"},
              [order("L1", "X", "2008-05-10", "20000.00"),
               order("L2", "X", "2008-09-10", "4999.99")],
              returns=[("RMA-L1", "2008-08-01"), ("RMA-L2", "2008-11-01")])
    assert [e[2:] for e in run.evals("X", 7)] == [(D("24999.99"), "minimum_not_reached")] * 2
    assert run.payout("X", 7) == (*NOT_PAID, "minimum_not_reached")


@pytest.mark.parametrize(("credit", "rebate"), [
    ("12500.30", "1875.05"),  # 1 875.045: half-up (banker's rounding would give 1 875.04)
    ("12500.10", "1875.02"),  # 1 875.015
    ("12500.03", "1875.00"),  # 1 875.0045
    ("12500.0333", "1875.00"),  # 1 875.004995: not rounded twice (to 1 875.005 -> .01)
])
def test_rebate_is_15_percent_rounded_half_up(tmp_path: Path, credit, rebate) -> None:
    """Spec: Rebate = 15% of the total qualifying credit; money to the cent, half-up
    (DESIGN.md). One returned line of `credit` in phase 6."""
    run = Run(tmp_path, {"X": "CN"}, [order("L1", "X", "2008-02-15", credit)],
              returns=[("RMA-L1", "2008-05-01")])
    assert run.payout("X", 6) == (D(rebate), True, None)
