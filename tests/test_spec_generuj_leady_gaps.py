"""Generuj Leady: every line a partner can ask about, with its real reason (issue 17,
items 5 and 6), worked by hand from shared/programs/generuj-leady.md.

Reuses the Case builder of tests/test_spec_generuj_leady.py. Unless said otherwise a deal
is 10.00 PLN x 12 x 10 licences = 1 200.00 annual value, M365 annual 3-250 -> 20% = 240.00.
"""

from __future__ import annotations

from test_spec_generuj_leady import PAID, UNPAID, Case, lines, verdicts


def payout(result, measure: str, source_id: str) -> dict:
    [row] = [r for r in result.explained("payouts")
             if r["measure"] == measure and r["source_id"] == source_id]
    return row


# ====================================================== 5. a removed new partner's bonus
def test_removed_new_partner_bonus_on_its_first_closed_deal_only(tmp_path):
    """Spec: "A partner who gave false information can be removed ...; all its unpaid
    amounts are then cancelled (kept on record with that reason)"; "New-partner bonus:
    365 PLN, once per partner new to the program, when its first deal closes inside the
    period"; a closed deal is an accepted registration's sale inside the period, with at
    least 3 licences.

    P4 (new, removed 2018-05-20): R41 (04-02, C41) takes S41 (04-05, 2 licences): not a
    closed deal (too few licences), though its line says partner_removed (the removal is
    checked first). R42 (04-02, C42) takes S42 (04-20, 10 licences): closed, cancelled.
    So P4's bonus is on S42 (not S41): 365.00 earned, 0.00 paid, partner_removed, 2018-04.
    P5 (new, removed): its only sale S51 (06-28, R51's) is outside the period: no closed
    deal, so no bonus line at all. P6 (new, not removed): S60 (05-02) paid 240.00 and its
    bonus 365.00 paid: nothing was charged to the pool for P4."""
    c = Case()
    c.partner("P4", new=True, removed_on="2018-05-20")
    c.partner("P5", new=True, removed_on="2018-05-20")
    c.partner("P6", new=True)
    c.reg("R41", "P4", "2018-04-02 09:00:00", "C41")
    c.sale("S41", "P4", "C41", "2018-04-05", licences=2)
    c.reg("R42", "P4", "2018-04-02 09:00:00", "C42")
    c.sale("S42", "P4", "C42", "2018-04-20")
    c.reg("R51", "P5", "2018-04-02 09:00:00", "C51")
    c.sale("S51", "P5", "C51", "2018-06-28")
    c.deal("60", "P6", "C60", "2018-05-02")
    result = c.run(tmp_path)
    assert lines(result) == {
        ("deal", "S41"): ("0.00", UNPAID, "partner_removed"),
        ("deal", "S42"): ("0.00", UNPAID, "partner_removed"),
        ("new_partner_bonus", "S42"): ("0.00", UNPAID, "partner_removed"),
        ("deal", "S51"): ("0.00", UNPAID, "partner_removed"),
        ("deal", "S60"): ("240.00", PAID, None),
        ("new_partner_bonus", "S60"): ("365.00", PAID, None)}
    bonus = payout(result, "new_partner_bonus", "S42")
    assert (bonus["period"], str(bonus["earned"])) == ("2018-04", "365.00")
    assert "partner_removed" in bonus["explanation"]


# ====================================================== 6. why a sale has no deal
def test_unclaimed_sale_names_its_registration_and_the_registrations_reason(tmp_path):
    """Spec "Payout per closed deal": "every sale gives one line, unpaid ones with their
    reason". A sale nobody's accepted registration claimed is told about the latest
    registration of its partner, customer and family submitted on or before its order day:

    - S01 (P1, C1, 04-10): R01 (04-02) declared 2 licences -> registration_rejected,
      "registration R01 rejected: too_few_licences".
    - S02 (P1, C2): R02 rejected, C2 holds M365 since 2017 -> existing_customer.
    - S03 (P1, C3): R03 passes every check, the owner rejects it saying "duplicate"
      -> "registration R03 rejected: rejected_by_owner (duplicate)".
    - S04 (P2, C4, 04-05) is R04's deal, 240.00; S05 (04-06) is left:
      registration_already_used, "registration R04 already used by S04".
    - S06 (P1, C6): only P3's R06 (rejected, partner_not_polish) exists for C6; another
      partner's registration is not P1's: no_registration.
    - S07 (P1, C1, 04-01) is ordered before R01's day: no_registration.
    - R08 (P2, C8, 04-02) takes S08 (04-03), 240.00; P2 registers C8 again, R09 (04-05),
      and the owner rejects it; S09 (04-07): its latest registration is R09 ->
      registration_rejected naming R09 (rejected_by_owner).
    - S10 (P2, C10): R10 (2018-04-02, Easter Monday) still waits for the owner, due 5
      Polish business days later (04-03..04-06, 04-09) and the run is long past that ->
      registration_pending, "registration R10 not accepted yet: overdue" (not rejected)."""
    c = Case()
    c.partner("P3", country="DE")
    c.reg("R01", "P1", "2018-04-02 09:00:00", "C1", licences=2)
    c.sale("S01", "P1", "C1", "2018-04-10")
    c.holdings.append({"customer_nip": c.nip_of("C2"), "family": "M365", "plan": "E3",
                       "since": "2017-01-01"})
    c.reg("R02", "P1", "2018-04-02 09:00:00", "C2")
    c.sale("S02", "P1", "C2", "2018-04-10")
    c.reg("R03", "P1", "2018-04-02 09:00:00", "C3", decision="rejected",
          decision_reason="duplicate")
    c.sale("S03", "P1", "C3", "2018-04-10")
    c.reg("R04", "P2", "2018-04-02 09:00:00", "C4")
    c.sale("S04", "P2", "C4", "2018-04-05")
    c.sale("S05", "P2", "C4", "2018-04-06")
    c.reg("R06", "P3", "2018-04-02 09:00:00", "C6")
    c.sale("S06", "P1", "C6", "2018-04-10")
    c.sale("S07", "P1", "C1", "2018-04-01")
    c.reg("R08", "P2", "2018-04-02 09:00:00", "C8")
    c.sale("S08", "P2", "C8", "2018-04-03")
    c.reg("R09", "P2", "2018-04-05 09:00:00", "C8", decision="rejected")
    c.sale("S09", "P2", "C8", "2018-04-07")
    c.reg("R10", "P2", "2018-04-02 09:00:00", "C10", decision="pending")
    c.sale("S10", "P2", "C10", "2018-04-10")
    result = c.run(tmp_path)
    got = verdicts(result)
    assert got.pop("R10") != "accepted"
    assert got == {"R01": "too_few_licences", "R02": "existing_customer",
                   "R03": "rejected_by_owner", "R04": "accepted", "R06": "partner_not_polish",
                   "R08": "accepted", "R09": "rejected_by_owner"}
    assert lines(result) == {
        ("deal", "S01"): ("0.00", UNPAID, "registration_rejected"),
        ("deal", "S02"): ("0.00", UNPAID, "registration_rejected"),
        ("deal", "S03"): ("0.00", UNPAID, "registration_rejected"),
        ("deal", "S04"): ("240.00", PAID, None),
        ("deal", "S05"): ("0.00", UNPAID, "registration_already_used"),
        ("deal", "S06"): ("0.00", UNPAID, "no_registration"),
        ("deal", "S07"): ("0.00", UNPAID, "no_registration"),
        ("deal", "S08"): ("240.00", PAID, None),
        ("deal", "S09"): ("0.00", UNPAID, "registration_rejected"),
        ("deal", "S10"): ("0.00", UNPAID, "registration_pending")}
    said = {s: payout(result, "deal", s)["explanation"] for s in
            ("S01", "S02", "S03", "S05", "S06", "S07", "S09", "S10")}
    assert said["S01"].startswith("registration R01 rejected: too_few_licences; ")
    assert said["S02"].startswith("registration R02 rejected: existing_customer; ")
    assert said["S03"].startswith("registration R03 rejected: rejected_by_owner (duplicate); ")
    assert said["S05"].startswith("registration R04 already used by S04; ")
    assert said["S09"].startswith("registration R09 rejected: rejected_by_owner; ")
    assert said["S10"].startswith("registration R10 not accepted yet: overdue; ")
    assert not said["S06"].startswith("registration") and not said["S07"].startswith("registration")
    # The earned figure is still shown: what the sale would have paid.
    assert str(payout(result, "deal", "S05")["earned"]) == "240.00"
