"""Trade-In Accelerator: the gaps of issue 17 (items 1-3) between the data contract and the
letter of the spec (shared/programs/trade-in-accelerator.md), each worked by hand.

Phase 6: window 2008-01-27..04-26, enrollment deadline 02-29, minimum 12 500, tier-2
cut-off 04-19, E1 2008-07-26, E2 2008-10-25. Rebate 15%, returns >= 85% by value.
Every line below is returned 2008-05-01, so the return gate always passes.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from test_spec_trade_in import NOT_PAID, Run, order

D = Decimal


def returned(*lines: str) -> list[tuple[str, str]]:
    return [(f"RMA-{line}", "2008-05-01") for line in lines]


# ------------------------------------------------------ item 1: a credit in USD
def test_only_credits_in_usd_count(tmp_path: Path) -> None:
    """Spec: "a trade-in (TMP) order with a trade-in credit in USD". X: L1 10 000 USD,
    L2 5 000 AUD, L3 3 000 with no currency written (USD), L4 2 000 'eur'. Qualifying:
    10 000 + 3 000 = 13 000 >= 12 500, 100% returned -> 0.15 x 13 000 = 1 950.00 (counting
    the AUD and EUR credits as dollars would give 20 000 -> 3 000.00). Y's only line is
    20 000 AUD: it is in the population (a trade-in line), its line is credit_not_usd, value
    0 -> minimum_not_reached."""
    orders = [order("L1", "X", "2008-02-15", "10000.00", credit_currency="USD"),
              order("L2", "X", "2008-02-16", "5000.00", credit_currency="AUD"),
              order("L3", "X", "2008-02-17", "3000.00", credit_currency=""),
              order("L4", "X", "2008-02-18", "2000.00", credit_currency="eur"),
              order("L5", "Y", "2008-02-15", "20000.00", credit_currency="AUD")]
    run = Run(tmp_path, {"X": "CN", "Y": "AU"}, orders,
              returns=returned("L1", "L2", "L3", "L4", "L5"))
    assert [run.credit(line) for line in ("L1", "L2", "L3", "L4", "L5")] == [
        (True, None), (False, "credit_not_usd"), (True, None), (False, "credit_not_usd"),
        (False, "credit_not_usd")]
    assert run.evals("X", 6) == [(1, True, D("13000.00"), None)]
    assert run.payout("X", 6) == (D("1950.00"), True, None)
    assert run.payout("Y", 6) == (*NOT_PAID, "minimum_not_reached")


# ------------------------------------- item 2: deviation strictly before confirmation
def test_deviation_and_confirmation_are_instants(tmp_path: Path) -> None:
    """Spec: "the deviation authorization must be approved strictly before the order was
    confirmed". Tier-2 lines of X, shipped/invoiced 03-10, reported 03-20 (before E1):
    T1 13 000: approved 2008-03-04 04:07, confirmed 16:07 the same day -> before: counts.
    T2 1 000: approved 16:07, confirmed 04:07 the same day -> after: refused.
    T3 1 000: approved on 2008-03-05 (a bare date, time unknown), confirmed 03-05 16:07 ->
      the approval may have come later that day: not shown strictly before, refused.
    T4 1 000: approved 2008-03-05 23:59:59, confirmed on 2008-03-06 (bare) -> any instant
      of 03-06 is later: counts.
    T5 1 000: approved 2008-03-06 04:07, confirmed on 2008-03-06 (bare) -> the confirmation
      may have been at 00:30: refused.
    T6 1 000: both bare, 2008-03-07 -> same day: refused (as before timestamps).
    Qualifying 13 000 + 1 000 = 14 000 -> 0.15 x 14 000 = 2 100.00. With dates only, T1
    was refused: 1 000 < 12 500, nothing paid."""
    def line(name: str, credit: str, approved: str, confirmed: str) -> dict:
        return order(name, "X", "2008-03-04", credit, tier="2", deviation_approved_on=approved,
                     order_confirmed_on=confirmed, shipped_on="2008-03-10",
                     invoiced_on="2008-03-10", reported_on="2008-03-20")
    orders = [line("T1", "13000.00", "2008-03-04 04:07:00", "2008-03-04 16:07:00"),
              line("T2", "1000.00", "2008-03-04 16:07:00", "2008-03-04 04:07:00"),
              line("T3", "1000.00", "2008-03-05", "2008-03-05 16:07:00"),
              line("T4", "1000.00", "2008-03-05 23:59:59", "2008-03-06"),
              line("T5", "1000.00", "2008-03-06 04:07:00", "2008-03-06"),
              line("T6", "1000.00", "2008-03-07", "2008-03-07")]
    run = Run(tmp_path, {"X": "CN"}, orders, returns=returned(*(o["line_id"] for o in orders)))
    refused = (False, "deviation_not_approved_in_time")
    assert [run.credit(f"T{i}") for i in range(1, 7)] == [
        (True, None), refused, refused, (True, None), refused, refused]
    assert run.evals("X", 6) == [(1, True, D("14000.00"), None)]
    assert run.payout("X", 6) == (D("2100.00"), True, None)


# ---------------------------------------------- item 3: which enrollment gate failed
def test_each_enrollment_failure_has_its_own_reason(tmp_path: Path) -> None:
    """Spec: "it must be in "submitted" state by the enrollment deadline ... Only approved
    enrollments take part" and "Each outcome states which gate failed". Each partner has
    one line of 13 000 (returned), so only the enrollment gates can fail:
    P draft only; Q no enrollment at all -> enrollment_not_submitted.
    R rejected (submitted 02-10) -> enrollment_rejected.
    S submitted 02-10, not decided -> enrollment_pending.
    T submitted 03-03 (after 02-29), not decided -> both gates: enrollment_late; enrollment_pending.
    U approved, submitted 03-05 -> enrollment_late.
    V rejected (02-10) and a draft -> enrollment_rejected (it did submit once).
    W withdrawn (02-10) -> enrollment_withdrawn.
    Y rejected, and JP is not eligible -> enrollment_rejected; country_not_eligible.
    Z rejected once, then approved (02-20) -> takes part: 0.15 x 13 000 = 1 950.00."""
    partners = {p: "CN" for p in "PQRSTUVWZ"} | {"Y": "JP"}
    enrollments = [("P", 6, "draft", "", "2008-02-10"),
                   ("R", 6, "rejected", "2008-02-10", "2008-02-10"),
                   ("S", 6, "submitted", "2008-02-10", "2008-02-10"),
                   ("T", 6, "submitted", "2008-03-03", "2008-03-03"),
                   ("U", 6, "approved", "2008-03-05", "2008-03-05"),
                   ("V", 6, "rejected", "2008-02-10", "2008-02-10"),
                   ("V", 6, "draft", "", "2008-02-20"),
                   ("W", 6, "withdrawn", "2008-02-10", "2008-02-10"),
                   ("Y", 6, "rejected", "2008-02-10", "2008-02-10"),
                   ("Z", 6, "rejected", "2008-02-10", "2008-02-10"),
                   ("Z", 6, "approved", "2008-02-20", "2008-02-20")]
    run = Run(tmp_path, partners, [order(f"L{p}", p, "2008-02-15", "13000.00") for p in partners],
              returns=returned(*(f"L{p}" for p in partners)), enrollments=enrollments)
    expected = {"P": "enrollment_not_submitted", "Q": "enrollment_not_submitted",
                "R": "enrollment_rejected", "S": "enrollment_pending",
                "T": "enrollment_late; enrollment_pending", "U": "enrollment_late",
                "V": "enrollment_rejected", "W": "enrollment_withdrawn",
                "Y": "enrollment_rejected; country_not_eligible"}
    assert {p: run.payout(p, 6) for p in expected} == {
        p: (*NOT_PAID, reason) for p, reason in expected.items()}
    # Both evaluations state the same failed gates, with the figures of a passing value.
    assert run.evals("T", 6) == [(1, False, D("13000.00"), expected["T"]),
                                 (2, False, D("13000.00"), expected["T"])]
    assert run.payout("Z", 6) == (D("1950.00"), True, None)
