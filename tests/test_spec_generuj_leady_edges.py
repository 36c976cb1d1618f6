"""Edge scenarios for Generuj Leady, worked by hand from shared/programs/generuj-leady.md.

These add to tests/test_spec_generuj_leady.py (whose Case builder they reuse): the spec's
boundaries, ties, output fields and states that neither it nor the golden case pins.
Every expectation comes from the spec; the docstrings show the arithmetic. Scenarios where
the engine differs are kept and marked xfail(strict=True) with what it does instead.

Unless said otherwise a deal is 10.00 PLN x 12 x 10 licences = 1 200.00 annual value,
M365 annual 3-250 -> 20% = 240.00 (O365 annual: 15% = 180.00); the pool is 150 000.00.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from paymaster.calendar import add_business_days
from test_spec_generuj_leady import PAID, PLAN, UNPAID, Case, lines, verdicts


def dashed(nip: str) -> str:
    """A NIP written the usual Polish way, 725-010-00-02."""
    return f"{nip[:3]}-{nip[3:6]}-{nip[6:8]}-{nip[8:]}"


def rows(result, table: str) -> list[dict]:
    return result.explained(table)


def payout(result, measure: str, source_id: str) -> dict:
    [row] = [r for r in rows(result, "payouts")
             if r["measure"] == measure and r["source_id"] == source_id]
    return row


def evaluation(result, subject: str) -> dict:
    [row] = [r for r in rows(result, "evaluations") if r["subject"] == subject]
    return row


def versioned(folder: Path, effective_from: str, parameters: str) -> Path:
    """plan.yaml with one more version (`parameters` in YAML flow style)."""
    text = PLAN.read_text(encoding="utf-8")
    version = (f"versions:\n  - effective_from: {effective_from}\n    label: v2\n"
               f"    parameters: {parameters}\n\ninputs:\n")
    assert text.count("\ninputs:\n") == 1
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "variant.yaml"
    path.write_text(text.replace("\ninputs:\n", "\n" + version, 1), encoding="utf-8")
    return path


def D(value) -> Decimal:  # noqa: N802 - reads like the figures it checks
    """A figure of an output row, exactly (never through float)."""
    return Decimal(str(value))


# =========================================================== 1. lead registration fields
REQUIRED = ["customer_name", "customer_address", "customer_nip", "plan", "licences", "pcs",
            "partner_name", "partner_address", "partner_nip", "contact_name",
            "contact_phone", "contact_email"]


def test_every_declared_field_is_required(tmp_path):
    """Spec "Lead registration": customer name, address and NIP; the plan and the licence
    count; the number of PCs; partner name, address and NIP; the contact's full name, phone
    and e-mail. "All are required." Twelve registrations, each missing one of the twelve:
    every one is rejected missing_field (checked before all, so before the invalid NIP an
    empty NIP also is, and before too_few_licences an empty licence count also is)."""
    c = Case()
    for i, name in enumerate(REQUIRED):
        c.reg(f"R{10 + i}", "P1", "2018-04-03 09:00:00", f"C{10 + i}", **{name: ""})
    assert verdicts(c.run(tmp_path)) == {f"R{10 + i}": "missing_field"
                                         for i in range(len(REQUIRED))}


def test_missing_product_family_rejects_only_that_registration(tmp_path):
    """Spec "Lead registration": the plan the customer intends to buy is part of the
    registration and "All are required"; a registration lacking it is *rejected* with the
    reason (missing field, checked before all). R01 lacks its product family: R01 is
    missing_field; R02 (clean) is accepted and its sale S02 is paid 240.00."""
    c = Case()
    c.reg("R01", "P1", "2018-04-03 09:00:00", "C1", family="")
    c.reg("R02", "P1", "2018-04-03 09:00:00", "C2")
    c.sale("S02", "P1", "C2", "2018-04-10")
    result = c.run(tmp_path)
    assert verdicts(result) == {"R01": "missing_field", "R02": "accepted"}
    assert lines(result) == {("deal", "S02"): ("240.00", PAID, None)}


# =========================================================== 2. first registration wins
def test_submission_time_decides_before_the_id_and_nip_formatting_is_ignored(tmp_path):
    """Spec rule 5: "order by submission time, then registration id". R08 (P2, 09:00)
    comes before R07 (P1, 10:00) although its id is higher: R08 accepted, R07
    already_registered. R09 (P3, 11:00) writes the same customer NIP with dashes: the
    same NIP and family, so it is blocked too. R10 (P1, 12:00, O365) is another family:
    accepted."""
    c = Case()
    c.reg("R07", "P1", "2018-04-03 10:00:00", "C7")
    c.reg("R08", "P2", "2018-04-03 09:00:00", "C7")
    c.reg("R09", "P3", "2018-04-03 11:00:00", "C7", customer_nip=dashed(c.nip_of("C7")))
    c.reg("R10", "P1", "2018-04-03 12:00:00", "C7", family="O365")
    assert verdicts(c.run(tmp_path)) == {"R07": "already_registered", "R08": "accepted",
                                         "R09": "already_registered", "R10": "accepted"}


# =========================================================== 3. customer list, holdings, registry
def test_customer_list_nip_written_with_dashes(tmp_path):
    """Spec rule 2: rejected when "the customer is not on the internal list as a Polish
    commercial SMB customer". The list has C1 (PL, commercial_smb) with its NIP written
    with dashes; R01 gives the same NIP in plain digits. It is the same customer: R01 is
    accepted and its sale S01 is paid 1 200 x 20% = 240.00."""
    c = Case()
    plain = c.nip_of("C1")
    c.customers["C1"]["nip"] = dashed(plain)
    c.reg("R01", "P1", "2018-04-03 09:00:00", "C1", customer_nip=plain)
    c.sales.append({"sale_id": "S01", "partner_id": "P1", "customer_nip": plain,
                    "family": "M365", "plan": "E3", "billing": "annual", "licences": 10,
                    "unit_price": "10.00", "order_date": "2018-04-10"})
    result = c.run(tmp_path)
    assert verdicts(result) == {"R01": "accepted"}
    assert lines(result) == {("deal", "S01"): ("240.00", PAID, None)}


def test_holding_recorded_with_dashed_nip_is_the_customers(tmp_path):
    """Spec rule 4: C1 holds M365 E3 since 2017-01-01 (recorded as 725-...-..-.. in the
    holdings), R01 registers M365 E5 for C1 on 2018-04-03: not all O365, so no exception:
    existing_customer."""
    c = Case()
    c.holdings.append({"customer_nip": dashed(c.nip_of("C1")), "family": "M365",
                       "plan": "E3", "since": "2017-01-01"})
    c.reg("R01", "P1", "2018-04-03 09:00:00", "C1", plan="E5")
    assert verdicts(c.run(tmp_path)) == {"R01": "existing_customer"}


def test_vendor_registry_with_dashed_nip_blocks(tmp_path):
    """Spec rule 6: the vendor registry holds (C1's NIP written with dashes, M365) dated
    2018-04-01; R01 registers C1 M365 on 2018-04-03: in_vendor_registry."""
    c = Case()
    c.vendor.append({"customer_nip": dashed(c.nip_of("C1")), "family": "M365",
                     "registered_on": "2018-04-01"})
    c.reg("R01", "P1", "2018-04-03 09:00:00", "C1")
    assert verdicts(c.run(tmp_path)) == {"R01": "in_vendor_registry"}


def test_existing_customer_exception_edges(tmp_path):
    """Spec rule 4: rejected when the customer holds any M365/O365/D365 service "unless
    everything it holds is O365 and the registered plan is an upgrade to E3 or higher (O365
    E3/E5, or an M365 E-plan)".
    R01: holds O365 E1 and O365 E3 (all O365), registers O365 E5: accepted.
    R02: holds O365 E1, registers M365 F3 (not an E-plan): existing_customer.
    R03: holds only D365, registers D365 (same family, not O365): existing_customer.
    R04: holds O365 E1 since 2018-04-03 = submission day, registers O365 E1: existing.
    R05: holds D365 only since 2018-04-04, the day after submission, registers M365 F3:
         nothing held yet: accepted."""
    c = Case()

    def holds(cust, family, plan, since):
        c.holdings.append({"customer_nip": c.nip_of(cust), "family": family, "plan": plan,
                           "since": since})

    holds("C1", "O365", "E1", "2016-01-01")
    holds("C1", "O365", "E3", "2017-01-01")
    c.reg("R01", "P1", "2018-04-03 09:00:00", "C1", family="O365", plan="E5")
    holds("C2", "O365", "E1", "2016-01-01")
    c.reg("R02", "P1", "2018-04-03 09:00:00", "C2", family="M365", plan="F3")
    holds("C3", "D365", "Business Central", "2016-01-01")
    c.reg("R03", "P1", "2018-04-03 09:00:00", "C3", family="D365", plan="Sales")
    holds("C4", "O365", "E1", "2018-04-03")
    c.reg("R04", "P1", "2018-04-03 23:00:00", "C4", family="O365", plan="E1")
    holds("C5", "D365", "Sales", "2018-04-04")
    c.reg("R05", "P1", "2018-04-03 23:59:59", "C5", family="M365", plan="F3")
    assert verdicts(c.run(tmp_path)) == {"R01": "accepted", "R02": "existing_customer",
                                         "R03": "existing_customer",
                                         "R04": "existing_customer", "R05": "accepted"}


def test_o365_e5_holder_registering_e3_is_not_an_upgrade(tmp_path):
    """Spec rule 4: the exception needs the registered plan to be an *upgrade* to E3 or
    higher. C1 already holds O365 E5 (since 2017); registering O365 E3 is a downgrade, not
    an upgrade: existing_customer."""
    c = Case()
    c.holdings.append({"customer_nip": c.nip_of("C1"), "family": "O365", "plan": "E5",
                       "since": "2017-01-01"})
    c.reg("R01", "P1", "2018-04-03 09:00:00", "C1", family="O365", plan="E3")
    assert verdicts(c.run(tmp_path)) == {"R01": "existing_customer"}


def test_o365_e3_holder_upgrades_only_to_e5_or_m365(tmp_path):
    """Spec rule 4, "an upgrade to E3 or higher": C1 holds O365 E3 (all O365). O365 E3
    again is not an upgrade (existing_customer); O365 E5 is (accepted); so is an M365
    E-plan, for C2 holding the same (accepted)."""
    c = Case()
    for customer in ("C1", "C2", "C3"):
        c.holdings.append({"customer_nip": c.nip_of(customer), "family": "O365", "plan": "E3",
                           "since": "2017-01-01"})
    c.reg("R01", "P1", "2018-04-03 09:00:00", "C1", family="O365", plan="E3")
    c.reg("R02", "P1", "2018-04-03 09:00:00", "C2", family="O365", plan="E5")
    c.reg("R03", "P1", "2018-04-03 09:00:00", "C3", family="M365", plan="E3")
    assert verdicts(c.run(tmp_path)) == {"R01": "existing_customer", "R02": "accepted",
                                         "R03": "accepted"}


# =========================================================== 4. states a partner sees
def test_confirmation_deadline_is_five_polish_business_days():
    """Spec: the owner confirms or rejects "within 5 business days (Polish working days:
    no weekends, no Polish public holidays)". Counting from the day after submission:
    2018-03-28 (Wed): 29, 30 Mar, [1 Apr Sun, 2 Apr Easter Monday], 3, 4, 5 Apr -> 04-05.
    2018-04-27 (Fri): 30 Apr, [1 May], 2, [3 May], 4, 7, 8 May -> 05-08.
    2018-05-28 (Mon): 29, 30, [31 May Corpus Christi], 1 Jun, 4, 5 Jun -> 06-05.
    2018-08-10 (Fri): 13, 14, [15 Aug Assumption], 16, 17, 20 Aug -> 08-20."""
    due = {d: add_business_days(dt.date.fromisoformat(d), 5, "PL")
           for d in ("2018-03-28", "2018-04-27", "2018-05-28", "2018-08-10")}
    assert due == {"2018-03-28": dt.date(2018, 4, 5), "2018-04-27": dt.date(2018, 5, 8),
                   "2018-05-28": dt.date(2018, 6, 5), "2018-08-10": dt.date(2018, 8, 20)}


def test_unanswered_registration_shows_overdue_not_rejected(tmp_path):
    """Spec "Lead registration" and "What a partner sees": R01 (2018-04-03 Tue) is still
    unanswered; due 5 business days later = 2018-04-10; the payout run (July-August 2018)
    is long past that, so R01 is overdue. It is not accepted (no deal: S01
    registration_pending, its registration still with the owner)
    and it must show as overdue, not as rejected."""
    c = Case()
    c.reg("R01", "P1", "2018-04-03 09:00:00", "C1", decision="pending")
    c.sale("S01", "P1", "C1", "2018-04-20")
    result = c.run(tmp_path)
    assert lines(result) == {("deal", "S01"): ("0.00", UNPAID, "registration_pending")}
    ev = evaluation(result, "R01")
    assert ev["passed"] is False
    shown = f"{ev['reason']} {ev['explanation']}".lower()
    assert "overdue" in shown
    assert "rejected" not in shown


def test_owner_rejection_shows_the_stated_reason(tmp_path):
    """Spec: the owner "confirms or rejects"; a partner sees its registrations "rejected
    with reason". R01 passes every check and the owner rejects it with the reason
    'duplicate of a direct vendor deal': reason rejected_by_owner, and the stated reason
    is shown in the evaluation."""
    c = Case()
    c.reg("R01", "P1", "2018-04-03 09:00:00", "C1", decision="rejected",
          decision_reason="duplicate of a direct vendor deal")
    ev = evaluation(c.run(tmp_path), "R01")
    assert (ev["passed"], ev["reason"]) == (False, "rejected_by_owner")
    assert "duplicate of a direct vendor deal" in (ev["explanation"] or "")


def test_registration_won_and_paid_is_visible(tmp_path):
    """Spec "What a partner sees": R01 (accepted) wins sale S01, paid 240.00; R02
    (accepted) has no sale yet. The partner sees R01 as won/paid (its evaluation says so,
    or the deal line names R01), and R02 as accepted only."""
    c = Case()
    c.reg("R01", "P1", "2018-04-03 09:00:00", "C1")
    c.reg("R02", "P1", "2018-04-03 09:00:00", "C2")
    c.sale("S01", "P1", "C1", "2018-04-10")
    result = c.run(tmp_path)
    assert lines(result) == {("deal", "S01"): ("240.00", PAID, None)}
    r01 = evaluation(result, "R01")["explanation"] or ""
    s01 = payout(result, "deal", "S01")["explanation"] or ""
    assert ("won" in r01 or "paid" in r01 or "S01" in r01) or "R01" in s01
    r02 = evaluation(result, "R02")["explanation"] or ""
    assert "won" not in r02 and "paid" not in r02


# =========================================================== 5. matching sales
def test_owner_rejected_lead_and_second_registration_after_a_failed_only_chance(tmp_path):
    """Spec "Payout per closed deal": a closed deal needs an *accepted* registration.
    R01 (C1) is rejected by the owner: its sale S01 is unpaid, registration_rejected.
    R02 (P2, C2, 04-02) takes its earliest sale S02 (04-03, 2 licences): too_few_licences,
    its only chance. R03 (P2, C2, 04-05, same partner: not blocked) takes the earliest
    *unclaimed* sale on or after 04-05: S03 (04-06), paid 1 200 x 20% = 240.00. S04
    (04-07) is left: its latest registration, R03, already closed S03:
    registration_already_used."""
    c = Case()
    c.reg("R01", "P1", "2018-04-02 09:00:00", "C1", decision="rejected")
    c.sale("S01", "P1", "C1", "2018-04-10")
    c.reg("R02", "P2", "2018-04-02 09:00:00", "C2")
    c.reg("R03", "P2", "2018-04-05 09:00:00", "C2")
    c.sale("S02", "P2", "C2", "2018-04-03", licences=2)
    c.sale("S03", "P2", "C2", "2018-04-06")
    c.sale("S04", "P2", "C2", "2018-04-07")
    result = c.run(tmp_path)
    assert verdicts(result) == {"R01": "rejected_by_owner", "R02": "accepted",
                                "R03": "accepted"}
    assert lines(result) == {("deal", "S01"): ("0.00", UNPAID, "registration_rejected"),
                             ("deal", "S02"): ("0.00", UNPAID, "too_few_licences"),
                             ("deal", "S03"): ("240.00", PAID, None),
                             ("deal", "S04"): ("0.00", UNPAID, "registration_already_used")}


def test_sale_with_dashed_customer_nip_is_the_registered_customer(tmp_path):
    """Spec "Payout per closed deal": the sale matches on the same customer NIP. R01 gives
    C1's NIP in plain digits, the sale S01 writes the same NIP with dashes: same customer,
    so S01 is R01's deal, 1 200 x 20% = 240.00."""
    c = Case()
    c.reg("R01", "P1", "2018-04-03 09:00:00", "C1")
    c.sale("S01", "P1", "C1", "2018-04-10")
    c.sales[-1]["customer_nip"] = dashed(c.nip_of("C1"))
    assert lines(c.run(tmp_path)) == {("deal", "S01"): ("240.00", PAID, None)}


# =========================================================== 6. figures shown per line
def test_line_figures_base_rate_licence_cap(tmp_path):
    """Spec "What a partner sees": each deal's payout "with the arithmetic (base, rate,
    cap, ...)". S08: O365 annual, 620 licences at 57.10: rate by the uncapped count 620 ->
    251+ = 2%; base 57.10 x 12 x min(620, 500) = 342 600.00; 342 600 x 2% = 6 852.00;
    120 licences cut by the cap. S04: M365 monthly 3 licences at 66.66: 66.66 x 12 x 3 =
    2 399.76 x 5% = 119.988 -> 119.99 (half-up)."""
    c = Case()
    c.deal("08", "P2", "C8", "2018-05-10", family="O365", licences=620, price="57.10")
    c.deal("04", "P2", "C4", "2018-05-11", billing="monthly", licences=3, price="66.66")
    result = c.run(tmp_path)
    s08, s04 = payout(result, "deal", "S08"), payout(result, "deal", "S04")
    assert (str(s08["earned"]), str(s08["amount"]), s08["paid"]) == ("6852.00", "6852.00", True)
    assert D(s08["base"]) == D("342600") and D(s08["rate"]) == D("0.02")
    assert D(s08["cut_by_cap"]) == D("120")
    assert "500" in s08["explanation"] and "2%" in s08["explanation"]
    assert (str(s04["amount"]), D(s04["rate"])) == ("119.99", D("0.05"))
    assert D(s04["base"]) == D("2399.76")


def test_count_cap_and_budget_figures_and_summary(tmp_path):
    """Spec "Monthly count cap", "Budget pool", "What a partner sees" (count cap, budget,
    its total). P3: 249.00 x 12 x 250 = 747 000 x 20% = 149 400.00 on 05-01 (600.00 left).
    P1: six May deals 05-02..05-07 of 180.00 (O365 annual): 1st-3rd charged 540.00 -> 60.00
    left; the 4th crosses: paid 60.00 (cut 120.00 by the budget, still paid); the 5th
    budget_exhausted; the 6th is over the count cap: monthly_cap, cut 180.00 by the limit.
    P1's total: 3 x 180 + 60 = 600.00; earned (before cap and budget) 6 x 180 = 1 080.00;
    6 lines, 4 paid, 2 unpaid."""
    c = Case()
    c.deal("01", "P3", "C1", "2018-05-01", licences=250, price="249.00")
    for n in range(11, 17):
        c.deal(str(n), "P1", f"C{n}", f"2018-05-0{n - 9}", family="O365")
    result = c.run(tmp_path)
    assert lines(result) == {
        ("deal", "S01"): ("149400.00", PAID, None),
        ("deal", "S11"): ("180.00", PAID, None), ("deal", "S12"): ("180.00", PAID, None),
        ("deal", "S13"): ("180.00", PAID, None), ("deal", "S14"): ("60.00", PAID, None),
        ("deal", "S15"): ("0.00", UNPAID, "budget_exhausted"),
        ("deal", "S16"): ("0.00", UNPAID, "monthly_cap")}
    s14, s16 = payout(result, "deal", "S14"), payout(result, "deal", "S16")
    assert (str(s14["earned"]), str(s14["cut_by_budget"])) == ("180.00", "120.00")
    assert (str(s16["earned"]), str(s16["cut_by_limit"])) == ("180.00", "180.00")
    summary = {r["payee_id"]: r for r in rows(result, "summary")}
    p1 = summary["P1"]
    assert (p1["lines"], p1["paid_lines"], p1["unpaid_lines"]) == (6, 4, 2)
    assert (str(p1["earned"]), str(p1["amount"])) == ("1080.00", "600.00")


def test_periods_of_registration_deal_and_bonus(tmp_path):
    """data contract: a deal's period is the month of its order date; the bonus shares
    its deal's period; a registration's period is the month of its submission day.
    R01 at 2018-04-30 23:59:59 (day 04-30, period 2018-04); its sale S01 on 2018-05-01:
    deal and P7's new-partner bonus in period 2018-05 (240.00 and 365.00)."""
    c = Case()
    c.partner("P7", new=True)
    c.reg("R01", "P7", "2018-04-30 23:59:59", "C1")
    c.sale("S01", "P7", "C1", "2018-05-01")
    result = c.run(tmp_path)
    ev = evaluation(result, "R01")
    assert (ev["period"], ev["as_of"], ev["passed"]) == ("2018-04", dt.date(2018, 4, 30), True)
    deal, bonus = payout(result, "deal", "S01"), payout(result, "new_partner_bonus", "S01")
    assert (deal["period"], str(deal["amount"])) == ("2018-05", "240.00")
    assert (bonus["period"], bonus["payee_id"], str(bonus["amount"]), bonus["paid"]) == \
        ("2018-05", "P7", "365.00", True)


# =========================================================== 7. count cap
def test_bonus_takes_no_cap_slot_and_goes_to_the_earliest_deal_by_date(tmp_path):
    """Spec "New-partner bonus" and "Monthly count cap": P7 (new) has six closed deals in
    April; S56 is ordered first (04-02) though its id is highest. The five earliest by date
    (S56, S51..S54) are paid 240.00 each, S55 (04-07) is monthly_cap; the bonus (365.00)
    goes with S56, the first deal, and is not a deal: it takes no slot."""
    c = Case()
    c.partner("P7", new=True)
    c.deal("56", "P7", "C56", "2018-04-02")
    for n in range(51, 56):
        c.deal(str(n), "P7", f"C{n}", f"2018-04-0{n - 48}")   # S51 04-03 .. S55 04-07
    got = lines(c.run(tmp_path))
    expected = {("deal", f"S{n}"): ("240.00", PAID, None) for n in (56, 51, 52, 53, 54)}
    expected[("deal", "S55")] = ("0.00", UNPAID, "monthly_cap")
    expected[("new_partner_bonus", "S56")] = ("365.00", PAID, None)
    assert got == expected


def test_cap_tie_by_sale_id_reads_numbers_in_ids(tmp_path):
    """Spec "Monthly count cap": six deals of P5 all ordered 2018-05-10, ids S2, S3, S4,
    S5, S6, S10. Ties by sale id: S2 < S3 < ... < S6 < S10, so S2..S6 are paid 240.00 and
    S10, the sixth, is monthly_cap."""
    c = Case()
    for n in (2, 3, 4, 5, 6, 10):
        c.reg(f"R{n}", "P5", "2018-04-03 09:00:00", f"C{n}")
        c.sale(f"S{n}", "P5", f"C{n}", "2018-05-10")
    got = lines(c.run(tmp_path))
    expected = {("deal", f"S{n}"): ("240.00", PAID, None) for n in (2, 3, 4, 5, 6)}
    expected[("deal", "S10")] = ("0.00", UNPAID, "monthly_cap")
    assert got == expected


def test_versioned_count_cap_and_licence_cap_follow_the_order_date(tmp_path):
    """Spec "Rule changes": "a deal is computed under the version in force on its order
    date". v2 from 2018-05-16: at most 3 paid deals a month, licence cap 400.
    P1 in May: 05-02, 05-03, 05-04, 05-05 (v1, cap 5: slots 1-4, paid 240.00 each);
    05-16 and 05-17 (v2: slots 5 and 6 > 3): monthly_cap.
    P2: S20 05-15 (v1) 450 licences: rate 2% (251+), 10 x 12 x min(450, 500) = 54 000 x 2%
    = 1 080.00; S21 05-16 (v2) 450 licences: 10 x 12 x min(450, 400) = 48 000 x 2% = 960.00."""
    c = Case()
    for i, day in enumerate(("05-02", "05-03", "05-04", "05-05", "05-16", "05-17")):
        c.deal(str(10 + i), "P1", f"C{10 + i}", f"2018-{day}")
    c.deal("20", "P2", "C20", "2018-05-15", licences=450)
    c.deal("21", "P2", "C21", "2018-05-16", licences=450)
    plan = versioned(tmp_path / "plan", "2018-05-16", "{monthly_deal_cap: 3, licence_cap: 400}")
    result = c.run(tmp_path / "data", plan)
    expected = {("deal", f"S{n}"): ("240.00", PAID, None) for n in (10, 11, 12, 13)}
    expected |= {("deal", "S14"): ("0.00", UNPAID, "monthly_cap"),
                 ("deal", "S15"): ("0.00", UNPAID, "monthly_cap"),
                 ("deal", "S20"): ("1080.00", PAID, None),
                 ("deal", "S21"): ("960.00", PAID, None)}
    assert lines(result) == expected
    assert {r["source_id"]: r["version"] for r in rows(result, "payouts")
            if r["source_id"] in ("S13", "S14", "S20", "S21")} == \
        {"S13": "v1", "S14": "v2", "S20": "v1", "S21": "v2"}


# =========================================================== 8. removed partner
def test_removed_partner_whatever_the_date_kept_on_record(tmp_path):
    """Spec: a removed partner's unpaid amounts are cancelled "(kept on record with that
    reason)"; its deals "(whatever the removal date) are not paid and take no cap slot and
    nothing from the budget". P4 was removed on 2018-03-01, before the promotion: its
    registration is still judged normally (accepted) and its deal S40 is on record,
    earned 500.00 x 12 x 10 = 60 000 x 20% = 12 000.00, amount 0.00, partner_removed.
    With 149 400.00 spent by P3 (05-01), P2's 05-10 deal of 600.00 (25.00 x 12 x 10 =
    3 000 x 20%) still gets the whole 600.00 left."""
    c = Case()
    c.partner("P4", removed_on="2018-03-01")
    c.deal("01", "P3", "C1", "2018-05-01", licences=250, price="249.00")
    c.deal("40", "P4", "C40", "2018-05-05", price="500.00")
    c.deal("41", "P2", "C41", "2018-05-10", price="25.00")
    result = c.run(tmp_path)
    assert verdicts(result)["R40"] == "accepted"
    assert lines(result) == {("deal", "S01"): ("149400.00", PAID, None),
                             ("deal", "S40"): ("0.00", UNPAID, "partner_removed"),
                             ("deal", "S41"): ("600.00", PAID, None)}
    assert str(payout(result, "deal", "S40")["earned"]) == "12000.00"


def test_removed_new_partner_bonus_is_cancelled_on_record(tmp_path):
    """Spec "A partner who gave false information can be removed ...; all its unpaid
    amounts are then cancelled (kept on record with that reason)". P4 is new to the
    program and removed on 2018-05-20; its first closed deal S40 (04-10) would bring the
    365.00 bonus. Both are kept on record unpaid: deal 0.00 partner_removed, bonus 0.00
    partner_removed."""
    c = Case()
    c.partner("P4", new=True, removed_on="2018-05-20")
    c.deal("40", "P4", "C40", "2018-04-10")
    assert lines(c.run(tmp_path)) == {
        ("deal", "S40"): ("0.00", UNPAID, "partner_removed"),
        ("new_partner_bonus", "S40"): ("0.00", UNPAID, "partner_removed")}


# =========================================================== 9. budget
def test_budget_ties_by_sale_id_across_partners_with_bonus_right_after(tmp_path):
    """Spec "Budget pool": charged by order date, ties by sale id; the bonus right after
    its deal. 149 400.00 spent on 05-01 (600.00 left). On 05-20: S30 (P2, 240.00) first,
    360.00 left; S31 (P7 new, 240.00) -> 120.00 left; P7's bonus 365.00 crosses: paid
    120.00; S32 (P8, 240.00) budget_exhausted; on 05-21 S29 (P2) budget_exhausted, though
    its id is lower (date first)."""
    c = Case()
    c.deal("01", "P3", "C1", "2018-05-01", licences=250, price="249.00")
    c.partner("P7", new=True)
    c.deal("32", "P8", "C32", "2018-05-20")
    c.deal("31", "P7", "C31", "2018-05-20")
    c.deal("30", "P2", "C30", "2018-05-20")
    c.deal("29", "P2", "C29", "2018-05-21")
    assert lines(c.run(tmp_path)) == {
        ("deal", "S01"): ("149400.00", PAID, None),
        ("deal", "S30"): ("240.00", PAID, None),
        ("deal", "S31"): ("240.00", PAID, None),
        ("new_partner_bonus", "S31"): ("120.00", PAID, None),
        ("deal", "S32"): ("0.00", UNPAID, "budget_exhausted"),
        ("deal", "S29"): ("0.00", UNPAID, "budget_exhausted")}


# =========================================================== 10. dates
def test_registration_day_boundaries_for_a_deal(tmp_path):
    """Spec: a closed deal's sale is "ordered on or after the registration day" and
    "inside the promotion period" (2018-03-27 .. 2018-06-27 inclusive).
    R01 submitted 2018-06-27 23:59:59 (last day, accepted): S01 ordered 2018-06-27 is its
    deal, paid 240.00. R02 submitted 2018-04-10 00:00:01: S02 ordered 2018-04-09 is before
    the registration day (no_registration) and S03 ordered 2018-04-10 is its deal (240.00).
    R03 submitted 2018-06-20: its only sale S04 on 2018-06-28 is outside the period."""
    c = Case()
    c.reg("R01", "P1", "2018-06-27 23:59:59", "C1")
    c.sale("S01", "P1", "C1", "2018-06-27")
    c.reg("R02", "P2", "2018-04-10 00:00:01", "C2")
    c.sale("S02", "P2", "C2", "2018-04-09")
    c.sale("S03", "P2", "C2", "2018-04-10")
    c.reg("R03", "P3", "2018-06-20 12:00:00", "C3")
    c.sale("S04", "P3", "C3", "2018-06-28")
    assert lines(c.run(tmp_path)) == {
        ("deal", "S01"): ("240.00", PAID, None),
        ("deal", "S02"): ("0.00", UNPAID, "no_registration"),
        ("deal", "S03"): ("240.00", PAID, None),
        ("deal", "S04"): ("0.00", UNPAID, "outside_period")}


def test_rate_bands_by_family_billing_and_uncapped_count(tmp_path):
    """Spec "Rate": 3-250 M365 annual 20%, O365/D365 annual 15%, any family monthly 5%,
    251+ 2% whatever the family or billing; chosen by the sale's uncapped licence count.
    S1 D365 annual 250 at 2.00: 2 x 12 x 250 = 6 000 x 15% = 900.00.
    S2 M365 annual 251 at 2.00: 2 x 12 x 251 = 6 024 x 2% = 120.48.
    S3 O365 monthly 3 at 3.3333: 3.3333 x 12 x 3 = 119.9988 x 5% = 5.99994 -> 6.00.
    S4 D365 monthly 1000 at 1.00: 1 x 12 x 500 = 6 000 x 2% = 120.00.
    S5 M365 monthly 250 at 0.0125: 0.0125 x 12 x 250 = 37.50 x 5% = 1.875 -> 1.88."""
    c = Case()
    c.deal("1", "P1", "C1", "2018-04-10", family="D365", licences=250, price="2.00")
    c.deal("2", "P1", "C2", "2018-04-11", licences=251, price="2.00")
    c.deal("3", "P1", "C3", "2018-04-12", family="O365", billing="monthly", licences=3,
           price="3.3333")
    c.deal("4", "P1", "C4", "2018-04-13", family="D365", billing="monthly", licences=1000,
           price="1.00")
    c.deal("5", "P1", "C5", "2018-04-14", billing="monthly", licences=250, price="0.0125")
    assert lines(c.run(tmp_path)) == {
        ("deal", "S1"): ("900.00", PAID, None), ("deal", "S2"): ("120.48", PAID, None),
        ("deal", "S3"): ("6.00", PAID, None), ("deal", "S4"): ("120.00", PAID, None),
        ("deal", "S5"): ("1.88", PAID, None)}
