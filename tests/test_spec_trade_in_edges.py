"""Trade-In Accelerator: further edges of the spec (shared/programs/trade-in-accelerator.md)
that neither the golden case nor tests/test_spec_trade_in.py pins. Every expectation is
worked by hand from the spec; the arithmetic is in each docstring.

Spec dates: phase 6 window 2008-01-27..04-26, enrollment deadline 02-29, minimum 12 500,
tier-2 cut-off 04-19 (one week before the end), E1 2008-07-26, E2 2008-10-25.
Phase 7 window 2008-04-27..10-25, deadline 09-30, minimum 25 000, tier-2 cut-off 10-18,
second half from 2008-07-27, E1 2009-01-24, E2 2009-04-25. Rebate 15%, returns >= 85%
by value.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from test_spec_trade_in import NOT_PAID, Run, order, tier2

D = Decimal


def enr(partner: str, phase: int, submitted: str, effective: str | None = None,
        status: str = "approved") -> tuple:
    return (partner, phase, status, submitted, effective or submitted)


# --------------------------------------------------------------- enrollment
def test_phase6_submitted_day_after_deadline_is_not_enrolled(tmp_path: Path) -> None:
    """Spec: "it must be in "submitted" state by the enrollment deadline (phase 6:
    2008-02-29)". 2008 is a leap year: A submitted 02-29 takes part, B submitted 03-01
    does not. Each: 13 000 returned 05-01 -> A 0.15 x 13 000 = 1 950.00; B enrollment_late."""
    partners = {"A": "CN", "B": "CN"}
    run = Run(tmp_path, partners,
              [order(f"L{p}", p, "2008-02-15", "13000.00") for p in partners],
              returns=[(f"RMA-L{p}", "2008-05-01") for p in partners],
              enrollments=[enr("A", 6, "2008-02-29"), enr("B", 6, "2008-03-01")])
    assert run.payout("A", 6) == (D("1950.00"), True, None)
    assert run.payout("B", 6) == (*NOT_PAID, "enrollment_late")


def test_allowed_values_match_in_any_letter_case(tmp_path: Path) -> None:
    """Data contract (docs/data.md): allowed values match in any letter case.
    Enrollment status "Approved" takes part; line L2 claimed under "mscp" is excluded
    as claimed_under_MSCP, line L3 under "vip" stacks; case "CONFIRMED" resolved 06-01
    counts as returned.
    Qualifying: L1 12 000 (returned 05-01) + L3 1 000 (RMA confirmed by case 06-01) =
    13 000 >= 12 500; returns 13 000 / 13 000 = 100% -> 0.15 x 13 000 = 1 950.00."""
    run = Run(tmp_path, {"X": "CN"},
              [order("L1", "X", "2008-02-15", "12000.00"),
               order("L2", "X", "2008-02-16", "5000.00", claimed_program="mscp"),
               order("L3", "X", "2008-02-17", "1000.00", claimed_program="vip")],
              returns=[("RMA-L1", "2008-05-01"), ("RMA-L2", "2008-05-01")],
              cases=[("CS1", "RMA-L3", "CONFIRMED", "2008-06-01")],
              enrollments=[enr("X", 6, "2008-02-01", status="Approved")])
    assert run.credit("L2") == (False, "claimed_under_MSCP")
    assert run.credit("L3") == (True, None)
    assert run.payout("X", 6) == (D("1950.00"), True, None)


# --------------------------------------------------------------- windows
def test_phase7_last_day_counts_and_phase_boundary(tmp_path: Path) -> None:
    """Spec, Phases: phase 7 order window 2008-04-27 .. 2008-10-25 (both ends in).
    X enrolled in phase 7 only (effective 05-01, full window): L1 20 000 on 04-27 and
    L2 5 000 on 10-25 qualify -> 25 000, returned 11-01 -> 100%: 0.15 x 25 000 = 3 750.00.
    L0 on 2008-04-26 belongs to phase 6 (not phase 7): phase 6 enrollment_not_submitted, and with
    9 000 < 12 500 never returned every failing gate is listed."""
    run = Run(tmp_path, {"X": "NZ"},
              [order("L0", "X", "2008-04-26", "9000.00"),
               order("L1", "X", "2008-04-27", "20000.00"),
               order("L2", "X", "2008-10-25", "5000.00")],
              returns=[("RMA-L1", "2008-11-01"), ("RMA-L2", "2008-11-01")],
              enrollments=[enr("X", 7, "2008-05-01")])
    assert run.credit("L2") == (True, None)
    assert run.evals("X", 7) == [(1, True, D("25000.00"), None)]
    assert run.payout("X", 7) == (D("3750.00"), True, None)
    assert run.payout("X", 6) == (
        *NOT_PAID, "enrollment_not_submitted; minimum_not_reached; returns_below_85")


def test_whitespace_tmp_quote_is_not_a_trade_in(tmp_path: Path) -> None:
    """Spec, Qualifying orders: "it is a trade-in (TMP) order". A TMP quote of blanks is
    no quote: L2 not_trade_in. Qualifying L1 12 000 only < 12 500 -> minimum_not_reached
    (with L2's 1 000 it would have been 13 000)."""
    run = Run(tmp_path, {"X": "CN"},
              [order("L1", "X", "2008-02-15", "12000.00"),
               order("L2", "X", "2008-02-16", "1000.00", tmp_quote="   ")],
              returns=[("RMA-L1", "2008-05-01"), ("RMA-L2", "2008-05-01")])
    assert run.credit("L2") == (False, "not_trade_in")
    assert run.payout("X", 6) == (*NOT_PAID, "minimum_not_reached")


def test_trade_in_partner_without_enrollment_only_internal_use(tmp_path: Path) -> None:
    """Data contract: a payout line for every partner with a trade-in order in the window.
    N (no enrollment) has one TMP line, internal use: it is in the population, its line is
    credited internal_use, payout 0 enrollment_not_submitted (value 0 -> also
    minimum_not_reached)."""
    run = Run(tmp_path, {"N": "CN"},
              [order("L1", "N", "2008-02-15", "13000.00", resale="false")],
              returns=[("RMA-L1", "2008-05-01")], enrollments=[])
    assert run.credit("L1") == (False, "internal_use")
    amount, paid, reason = run.payout("N", 6)
    assert (amount, paid) == NOT_PAID
    assert reason.split("; ")[0] == "enrollment_not_submitted"
    assert "minimum_not_reached" in reason


def test_boolean_spellings_of_resale_and_network(tmp_path: Path) -> None:
    """Data contract: booleans may be true/false, 1/0, yes/no. L2 resale "no" ->
    internal_use; L3 from_customer_network "0" -> not_from_customer_network; L1 resale
    "yes", network "1" qualifies. L1 13 000 returned -> 0.15 x 13 000 = 1 950.00."""
    run = Run(tmp_path, {"X": "CN"},
              [order("L1", "X", "2008-02-15", "13000.00", resale="yes",
                     from_customer_network="1"),
               order("L2", "X", "2008-02-16", "4000.00", resale="no"),
               order("L3", "X", "2008-02-17", "4000.00", from_customer_network="0")],
              returns=[("RMA-L1", "2008-05-01")])
    assert run.credit("L2") == (False, "internal_use")
    assert run.credit("L3") == (False, "not_from_customer_network")
    assert run.payout("X", 6) == (D("1950.00"), True, None)


# --------------------------------------------------------------- tier 2
def test_tier2_shipped_after_evaluation_1_counts_only_at_2(tmp_path: Path) -> None:
    """Spec: a tier-2 line counts at an evaluation only when shipped, invoiced AND
    reported on or before it. 2L invoiced and reported 04-01 but shipped 07-27 (day after
    E1). Tier-1 11 500 + tier-2 1 000, all returned 05-01:
    E1 11 500 < 12 500 minimum_not_reached; E2 12 500 pass -> 0.15 x 12 500 = 1 875.00."""
    run = Run(tmp_path, {"X": "CN"},
              [order("T1", "X", "2008-02-15", "11500.00"),
               tier2("2L", "X", "2008-03-05", "1000.00", shipped_on="2008-07-27",
                     invoiced_on="2008-04-01", reported_on="2008-04-01")],
              returns=[("RMA-T1", "2008-05-01"), ("RMA-2L", "2008-05-01")])
    assert run.evals("X", 6) == [(1, False, D("11500.00"), "minimum_not_reached"),
                                 (2, True, D("12500.00"), None)]
    assert run.payout("X", 6) == (D("1875.00"), True, None)


def test_deviation_compared_with_confirmation_not_order_date(tmp_path: Path) -> None:
    """Spec: "the deviation authorization must be approved strictly before the order was
    confirmed". Tier-2 lines ordered 03-05:
    A deviation 03-06, confirmed 03-07 (after the order date, before confirmation) -> qualifies;
    B deviation 03-07, confirmed 03-07 -> deviation_not_approved_in_time;
    C deviation 03-08, confirmed 03-07 -> deviation_not_approved_in_time."""
    shipped = dict(shipped_on="2008-03-20", invoiced_on="2008-03-20", reported_on="2008-03-20")
    run = Run(tmp_path, {"X": "CN"},
              [order(f"L{k}", "X", "2008-03-05", "1000.00", tier="2",
                     order_confirmed_on="2008-03-07", deviation_approved_on=dev, **shipped)
               for k, dev in (("A", "2008-03-06"), ("B", "2008-03-07"), ("C", "2008-03-08"))])
    assert run.credit("LA") == (True, None)
    assert run.credit("LB") == (False, "deviation_not_approved_in_time")
    assert run.credit("LC") == (False, "deviation_not_approved_in_time")


def test_tier1_needs_no_deviation_or_distributor_dates(tmp_path: Path) -> None:
    """Spec: the deviation and shipped/invoiced/reported conditions are for tier-2 orders
    (bought through a distributor). A tier-1 line with a deviation dated after confirmation
    and no shipping dates qualifies and counts at E1: 13 000 returned ->
    0.15 x 13 000 = 1 950.00."""
    run = Run(tmp_path, {"X": "CN"},
              [order("L1", "X", "2008-02-15", "13000.00", deviation_approved_on="2008-03-01")],
              returns=[("RMA-L1", "2008-05-01")])
    assert run.credit("L1") == (True, None)
    assert run.evals("X", 6) == [(1, True, D("13000.00"), None)]


def test_tier2_cutoff_is_one_week_before_phase_7_end(tmp_path: Path) -> None:
    """Spec: tier-2 orders tracked until one week before the window ends (phase 7:
    10-25 - 7 = 10-18). 2A ordered 10-18 qualifies, 2B ordered 10-19 tier2_after_cutoff;
    a tier-1 line on 10-19 (T2) is unaffected."""
    pos = dict(shipped_on="2008-10-20", invoiced_on="2008-10-20", reported_on="2008-10-20")
    run = Run(tmp_path, {"X": "CN"},
              [tier2("2A", "X", "2008-10-18", "1000.00", **pos),
               tier2("2B", "X", "2008-10-19", "1000.00", **pos),
               order("T2", "X", "2008-10-19", "1000.00")])
    assert run.credit("2A") == (True, None)
    assert run.credit("2B") == (False, "tier2_after_cutoff")
    assert run.credit("T2") == (True, None)


def test_phase7_tier2_reported_between_evaluations(tmp_path: Path) -> None:
    """Phase 7 evaluations 2009-01-24 and 2009-04-25. Tier-1 22 000 + tier-2 3 000 reported
    2009-01-25 (day after E1); both returned 2008-12-01.
    E1: 22 000 < 25 000 minimum_not_reached; E2: 25 000, 100% -> 0.15 x 25 000 = 3 750.00."""
    run = Run(tmp_path, {"X": "IN"},
              [order("T1", "X", "2008-06-10", "22000.00"),
               tier2("2L", "X", "2008-09-10", "3000.00", shipped_on="2008-09-20",
                     invoiced_on="2008-09-20", reported_on="2009-01-25")],
              returns=[("RMA-T1", "2008-12-01"), ("RMA-2L", "2008-12-01")])
    assert run.evals("X", 7) == [(1, False, D("22000.00"), "minimum_not_reached"),
                                 (2, True, D("25000.00"), None)]
    assert run.payout("X", 7) == (D("3750.00"), True, None)


# --------------------------------------------------------------- returns
def test_phase7_returns_around_its_evaluation_dates(tmp_path: Path) -> None:
    """Phase 7: E1 2009-01-24, E2 2009-04-25 (final return deadline). One 25 000 line each,
    RMA received: A 2009-01-24 -> E1 pass; B 2009-01-25 -> E1 0% fail, E2 pass;
    C 2009-04-25 -> E2 pass; F 2009-04-26 -> never. Paid 0.15 x 25 000 = 3 750.00."""
    days = {"A": "2009-01-24", "B": "2009-01-25", "C": "2009-04-25", "F": "2009-04-26"}
    run = Run(tmp_path, {p: "KR" for p in days},
              [order(f"L{p}", p, "2008-06-15", "25000.00") for p in days],
              returns=[(f"RMA-L{p}", d) for p, d in days.items()])
    assert [e[1] for e in run.evals("A", 7)] == [True]
    assert [e[1] for e in run.evals("B", 7)] == [False, True]
    assert [e[1] for e in run.evals("C", 7)] == [False, True]
    for p in "ABC":
        assert run.payout(p, 7) == (D("3750.00"), True, None)
    assert run.payout("F", 7) == (*NOT_PAID, "returns_below_85")


def test_return_rate_is_by_value_not_by_count(tmp_path: Path) -> None:
    """Spec [resolved: by value]. V: big line 17 000 returned, two 1 500 lines not:
    17 000 / 20 000 = 85% -> pass (by count 1/3). C: the two 1 500 lines returned, the
    17 000 not: 3 000 / 20 000 = 15% -> returns_below_85 (by count 2/3)."""
    lines, rets = [], []
    for p, returned in (("V", ["1"]), ("C", ["2", "3"])):
        lines += [order(f"{p}1", p, "2008-02-15", "17000.00"),
                  order(f"{p}2", p, "2008-02-16", "1500.00"),
                  order(f"{p}3", p, "2008-02-17", "1500.00")]
        rets += [(f"RMA-{p}{n}", "2008-05-01") for n in returned]
    run = Run(tmp_path, {"V": "CN", "C": "CN"}, lines, returns=rets)
    assert run.payout("V", 6) == (D("3000.00"), True, None)  # 0.15 x 20 000
    assert run.payout("C", 6) == (*NOT_PAID, "returns_below_85")
    assert [r["ratio"] for r in run.evaluations if r["payee_id"] == "C"
            and r["period"] == "phase-6"] == [D("0.1500")] * 2


def test_returned_excluded_line_does_not_raise_rate_or_volume(tmp_path: Path) -> None:
    """Spec: a line claimed under OIP is excluded; the rate is over the RMAs of the lines
    that count. Qualifying L1 10 000 returned + L2 3 000 not = 13 000; returned 10 000 /
    13 000 = 76.9% < 85% at both evaluations. L3 (OIP, 20 000, returned) must not enter:
    with it 30 000 / 33 000 = 90.9% would pass."""
    run = Run(tmp_path, {"X": "CN"},
              [order("L1", "X", "2008-02-15", "10000.00"),
               order("L2", "X", "2008-02-16", "3000.00"),
               order("L3", "X", "2008-02-17", "20000.00", claimed_program="OIP")],
              returns=[("RMA-L1", "2008-05-01"), ("RMA-L3", "2008-05-01")])
    assert [e[2:] for e in run.evals("X", 6)] == [(D("13000.00"), "returns_below_85")] * 2
    assert run.payout("X", 6) == (*NOT_PAID, "returns_below_85")


def test_cases_that_do_not_confirm_a_return(tmp_path: Path) -> None:
    """Spec: an RMA counts when received, "or confirmed by a resolved case by then".
    Each partner: L1 13 000 with only a case: O open (resolved date given), R rejected
    (resolved 06-01), U confirmed without a resolution date -> none is returned: 0% at
    both evaluations, returns_below_85. K confirmed, resolved 06-01 -> 1 950.00."""
    partners = {"O": "CN", "R": "CN", "U": "CN", "K": "CN"}
    run = Run(tmp_path, partners,
              [order(f"L{p}", p, "2008-02-15", "13000.00") for p in partners],
              cases=[("C-O", "RMA-LO", "open", "2008-06-01"),
                     ("C-R", "RMA-LR", "rejected", "2008-06-01"),
                     ("C-U", "RMA-LU", "confirmed", ""),
                     ("C-K", "RMA-LK", "confirmed", "2008-06-01")])
    for p in "ORU":
        assert run.payout(p, 6) == (*NOT_PAID, "returns_below_85"), p
    assert run.payout("K", 6) == (D("1950.00"), True, None)


def test_return_received_as_midnight_timestamp(tmp_path: Path) -> None:
    """Data contract: a date may be written as a midnight timestamp. RMA received
    "2008-07-26 00:00:00" is received on E1 -> 13 000 / 13 000 passes at E1: 1 950.00."""
    run = Run(tmp_path, {"X": "CN"}, [order("L1", "X", "2008-02-15", "13000.00")],
              returns=[("RMA-L1", "2008-07-26 00:00:00")])
    assert run.evals("X", 6) == [(1, True, D("13000.00"), None)]


def test_returns_exactly_85_percent_phase7(tmp_path: Path) -> None:
    """Spec: at least 85%. 21 250 / 25 000 = 0.85 exactly -> pass at E1:
    0.15 x 25 000 = 3 750.00; 21 249.99 / 25 000 = 0.8499996 -> fails both."""
    run = Run(tmp_path, {"A": "AU", "B": "AU"},
              [order("A1", "A", "2008-05-10", "21250.00"),
               order("A2", "A", "2008-05-11", "3750.00"),
               order("B1", "B", "2008-05-10", "21249.99"),
               order("B2", "B", "2008-05-11", "3750.01")],
              returns=[("RMA-A1", "2008-08-01"), ("RMA-B1", "2008-08-01")])
    assert run.payout("A", 7) == (D("3750.00"), True, None)
    assert run.payout("B", 7) == (*NOT_PAID, "returns_below_85")


def test_ratio_shown_half_up_from_the_exact_fraction(tmp_path: Path) -> None:
    """Contract (WORKSHEET: ratio = returned / value, shown half-up to 4 decimals; the
    explanation shows it as a percent, spec e.g. "returns 81.2% of 85% required").
    17 212.86 / 20 013.79 = 0.860049995528... -> 0.8600 ("86%"), not 0.8601: it must not be
    rounded twice (first to 8 places, 0.86005000, then to 4). Passes: 0.15 x 20 013.79 =
    3 002.0685 -> 3 002.07."""
    run = Run(tmp_path, {"X": "CN"},
              [order("L1", "X", "2008-02-15", "17212.86"),
               order("L2", "X", "2008-02-16", "2800.93")],
              returns=[("RMA-L1", "2008-05-01")])
    (row,) = [r for r in run.evaluations if r["period"] == "phase-6"]
    assert row["ratio"] == D("0.8600")
    assert "returns 86% of 85% required" in row["explanation"]
    assert run.payout("X", 6) == (D("3002.07"), True, None)


# --------------------------------------------------------------- certification
@pytest.mark.parametrize(("cert", "valid"), [
    (("Gold", "2008-04-27", "2008-10-25"), True),   # exactly the phase
    (("Gold", "2008-04-28", "2009-12-31"), False),  # 04-27 uncovered
    (("Gold", "2007-01-01", "2008-10-24"), False),  # 10-25 uncovered
])
def test_phase7_certification_boundaries(tmp_path: Path, cert, valid) -> None:
    """Spec: certification valid on every day of the phase (7: 2008-04-27..10-25), both
    days of a record included. 25 000 returned -> 0.15 x 25 000 = 3 750.00 when covered."""
    run = Run(tmp_path, {"X": "SG"}, [order("L1", "X", "2008-06-10", "25000.00")],
              returns=[("RMA-L1", "2008-11-01")], certifications=[("X", *cert)])
    expected = (D("3750.00"), True, None) if valid else (*NOT_PAID, "certification_not_valid")
    assert run.payout("X", 7) == expected


def test_certification_chain_of_three_with_nested_record(tmp_path: Path) -> None:
    """Spec: valid every day. Gold 2007-01-01..2008-03-31, Silver 2008-02-01..02-10 (nested
    inside the Gold), Select 2008-04-01..2009-12-31 (touches the Gold) -> covered.
    13 000 returned -> 1 950.00."""
    certs = [("X", "Gold", "2007-01-01", "2008-03-31"),
             ("X", "Silver", "2008-02-01", "2008-02-10"),
             ("X", "Select", "2008-04-01", "2009-12-31")]
    run = Run(tmp_path, {"X": "CN"}, [order("L1", "X", "2008-02-15", "13000.00")],
              returns=[("RMA-L1", "2008-05-01")], certifications=certs)
    assert run.payout("X", 6) == (D("1950.00"), True, None)


def test_other_partners_certification_does_not_cover(tmp_path: Path) -> None:
    """Spec: the partner must hold the certification. Y has Gold for the whole program;
    X has Gold only until 2008-03-31: X certification_not_valid, Y paid 1 950.00."""
    run = Run(tmp_path, {"X": "CN", "Y": "CN"},
              [order(f"L{p}", p, "2008-02-15", "13000.00") for p in "XY"],
              returns=[(f"RMA-L{p}", "2008-05-01") for p in "XY"],
              certifications=[("X", "Gold", "2007-01-01", "2008-03-31"),
                              ("Y", "Gold", "2007-01-01", "2009-12-31")])
    assert run.payout("X", 6) == (*NOT_PAID, "certification_not_valid")
    assert run.payout("Y", 6) == (D("1950.00"), True, None)


# --------------------------------------------------------------- second half
def test_second_half_enroller_keeps_last_day_and_tier2_cutoff(tmp_path: Path) -> None:
    """Spec, Phases: a second-half enroller (effective 2008-08-15 > 07-26) is measured on
    07-27..10-25. Lines: T0 05-01 30 000 -> outside_measured_window; T1 07-27 10 000;
    T2 10-25 (last day) 10 000; 2A tier-2 10-18 (cut-off) 5 000, reported 10-30;
    2B tier-2 10-19 4 000 -> tier2_after_cutoff. All returned 11-05.
    E1: 10 000 + 10 000 + 5 000 = 25 000 >= 25 000, 100% -> 0.15 x 25 000 = 3 750.00."""
    pos = dict(shipped_on="2008-10-30", invoiced_on="2008-10-30", reported_on="2008-10-30")
    lines = [order("T0", "X", "2008-05-01", "30000.00"),
             order("T1", "X", "2008-07-27", "10000.00"),
             order("T2", "X", "2008-10-25", "10000.00"),
             tier2("2A", "X", "2008-10-18", "5000.00", **pos),
             tier2("2B", "X", "2008-10-19", "4000.00", **pos)]
    run = Run(tmp_path, {"X": "PH"}, lines,
              returns=[(f"RMA-{r['line_id']}", "2008-11-05") for r in lines],
              enrollments=[enr("X", 7, "2008-08-10", "2008-08-15")])
    assert run.credit("T0") == (False, "outside_measured_window")
    assert run.credit("2B") == (False, "tier2_after_cutoff")
    assert run.evals("X", 7) == [(1, True, D("25000.00"), None)]
    assert run.payout("X", 7) == (D("3750.00"), True, None)


def test_first_half_draft_does_not_keep_full_window(tmp_path: Path) -> None:
    """Spec: only approved enrollments take part; a draft effective 05-01 does not give the
    full window. The approved application is effective 08-01 (second half): May line
    20 000 outside the measured window; August 6 000 alone < 25 000 ->
    minimum_not_reached."""
    run = Run(tmp_path, {"X": "CN"},
              [order("X1", "X", "2008-05-15", "20000.00"),
               order("X2", "X", "2008-08-15", "6000.00")],
              returns=[("RMA-X1", "2008-09-01"), ("RMA-X2", "2008-09-01")],
              enrollments=[("X", 7, "draft", "", "2008-05-01"),
                           enr("X", 7, "2008-07-30", "2008-08-01")])
    assert run.credit("X1") == (False, "outside_measured_window")
    assert run.payout("X", 7) == (*NOT_PAID, "minimum_not_reached")


# --------------------------------------------------------------- outcomes
def test_payout_reason_is_that_of_the_last_evaluation(tmp_path: Path) -> None:
    """Spec: each outcome states which gate failed. E1: tier-1 12 000 (not returned) only
    -> 12 000 < 12 500 and 0% -> "minimum_not_reached; returns_below_85". E2: tier-2 1 000
    (reported 08-01, returned 05-01) counts -> 13 000, returned 1 000 / 13 000 = 7.7% ->
    returns_below_85 only; that is the payout's reason, nothing paid."""
    run = Run(tmp_path, {"X": "CN"},
              [order("T1", "X", "2008-02-15", "12000.00"),
               tier2("2L", "X", "2008-03-05", "1000.00", shipped_on="2008-03-10",
                     invoiced_on="2008-03-10", reported_on="2008-08-01")],
              returns=[("RMA-2L", "2008-05-01")])
    assert run.evals("X", 6) == [
        (1, False, D("12000.00"), "minimum_not_reached; returns_below_85"),
        (2, False, D("13000.00"), "returns_below_85")]
    assert run.payout("X", 6) == (*NOT_PAID, "returns_below_85")
    e2 = [r for r in run.evaluations if r["evaluation"] == "2" and r["period"] == "phase-6"][0]
    assert "returns 7.69% of 85% required" in e2["explanation"]  # 1/13 = 0.076923


def test_minimum_failure_explained_with_amounts_phase7(tmp_path: Path) -> None:
    """Spec: each outcome states which gate failed and by how much. 24 000 of the 25 000
    phase-7 minimum, returned: reason minimum_not_reached, explanation
    "qualifying 24000.00 of 25000.00 required"; payout explanation carries it too."""
    run = Run(tmp_path, {"X": "CN"}, [order("L1", "X", "2008-06-01", "24000.00")],
              returns=[("RMA-L1", "2008-08-01")])
    ev = [r for r in run.evaluations if r["evaluation"] == "1" and r["period"] == "phase-7"][0]
    assert "qualifying 24000.00 of 25000.00 required" in ev["explanation"]
    assert "minimum_not_reached" in ev["explanation"]
    (line,) = [r for r in run.payouts if r["period"] == "phase-7"]
    assert "24000.00 of 25000.00" in line["explanation"]


def test_same_partner_paid_in_both_phases_separately(tmp_path: Path) -> None:
    """Spec: gates and rebate per phase. Phase 6: 12 500 returned -> 1 875.00 (3-month
    minimum met exactly). Phase 7: 25 000.01 returned -> 0.15 x 25 000.01 = 3 750.0015 ->
    3 750.00. Phase-6 volume does not help phase 7 nor vice versa."""
    run = Run(tmp_path, {"X": "HK"},
              [order("L6", "X", "2008-03-01", "12500.00"),
               order("L7", "X", "2008-07-01", "25000.01")],
              returns=[("RMA-L6", "2008-05-01"), ("RMA-L7", "2008-09-01")])
    assert run.payout("X", 6) == (D("1875.00"), True, None)
    assert run.payout("X", 7) == (D("3750.00"), True, None)


def test_failing_rate_a_billionth_short_is_not_shown_as_85(tmp_path: Path) -> None:
    """Spec, Gates: the outcome states the failed gate and by how much; a failing rate must
    not read as the 85% it falls short of (the existing test pins this at 84.99995%).
    8 499 999.99 / 10 000 000.00 = 0.849999999 < 0.85 -> returns_below_85 at both
    evaluations; shown cut to 0.8499 ("returns 84.99% of 85% required"), never 0.8500."""
    run = Run(tmp_path, {"X": "CN"},
              [order("L1", "X", "2008-02-15", "8499999.99"),
               order("L2", "X", "2008-02-16", "1500000.01")],
              returns=[("RMA-L1", "2008-05-01")])
    rows = [r for r in run.evaluations if r["period"] == "phase-6"]
    assert [(r["passed"], r["reason"]) for r in rows] == [(False, "returns_below_85")] * 2
    assert run.payout("X", 6) == (*NOT_PAID, "returns_below_85")
    assert [r["ratio"] for r in rows] == [D("0.8499")] * 2
    assert all("returns 84.99% of 85% required" in r["explanation"] for r in rows)


def test_orders_outside_both_windows_never_count(tmp_path: Path) -> None:
    """Spec: an order qualifies only when "placed inside the phase's order window".
    2008-01-26 (day before phase 6) and 2008-10-26 (day after phase 7), 20 000 each and
    returned, count nowhere. Phase 6: only L6 12 000 -> minimum_not_reached; phase 7:
    only L7 24 000 -> minimum_not_reached. Neither line gets a qualifying credit."""
    run = Run(tmp_path, {"X": "CN"},
              [order("B6", "X", "2008-01-26", "20000.00"),
               order("L6", "X", "2008-03-01", "12000.00"),
               order("L7", "X", "2008-06-01", "24000.00"),
               order("A7", "X", "2008-10-26", "20000.00")],
              returns=[(f"RMA-{x}", "2008-06-01") for x in ("B6", "L6", "L7", "A7")])
    assert [e[2] for e in run.evals("X", 6)] == [D("12000.00")] * 2
    assert [e[2] for e in run.evals("X", 7)] == [D("24000.00")] * 2
    assert run.payout("X", 6) == (*NOT_PAID, "minimum_not_reached")
    assert run.payout("X", 7) == (*NOT_PAID, "minimum_not_reached")
    assert not [c for c in run.credits if c["source_id"] in ("B6", "A7") and c["counts"]]


def test_output_fields_of_a_phase7_pass_at_evaluation_2(tmp_path: Path) -> None:
    """Data contract output fields. 25 000 returned 2009-02-01: E1 (as_of 2009-01-24)
    value 25 000.00, threshold 25 000.00, ratio 0.0000, required 0.85, returns_below_85;
    E2 (as_of 2009-04-25) ratio 1.0000, passed. Payout: period phase-7, measure rebate,
    base 25 000, rate 0.15, earned = amount = 3 750.00, paid, no reason."""
    run = Run(tmp_path, {"X": "CN"}, [order("L1", "X", "2008-06-15", "25000.00")],
              returns=[("RMA-L1", "2009-02-01")])
    rows = sorted((r for r in run.evaluations if r["period"] == "phase-7"),
                  key=lambda r: r["evaluation"])
    got = [(r["evaluation"], str(r["as_of"]), r["passed"], r["value"], r["threshold"],
            r["ratio"], r["required_ratio"], r["reason"]) for r in rows]
    assert got == [
        ("1", "2009-01-24", False, D("25000.00"), D("25000.00"), D("0.0000"), D("0.85"),
         "returns_below_85"),
        ("2", "2009-04-25", True, D("25000.00"), D("25000.00"), D("1.0000"), D("0.85"), None)]
    (line,) = [r for r in run.payouts if r["period"] == "phase-7"]
    assert (line["measure"], line["paid"], line["reason"]) == ("rebate", True, None)
    assert (line["base"], line["rate"]) == (D("25000"), D("0.15"))
    assert line["earned"] == line["amount"] == D("3750.00")
