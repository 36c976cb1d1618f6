"""Scenario tests for Generuj Leady, worked by hand from shared/programs/generuj-leady.md.

Each test builds a tiny input folder (only the rows it needs), runs
examples/generuj-leady/plan.yaml (pool 150 000.00 PLN) and checks amounts and reasons
computed by hand from the spec; the comment or docstring of each test shows the arithmetic.
The golden cases (examples/ and tests/cases/generuj-leady) already pin most single rules;
these add the boundaries and combinations those do not reach.
"""

from __future__ import annotations

import csv
from pathlib import Path


from conftest import EXAMPLES
from paymaster.runs import calculate

PLAN = EXAMPLES / "generuj-leady" / "plan.yaml"
VARIANT = EXAMPLES / "generuj-leady" / "rate-change.yaml"
WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)


def nip(seed: int) -> str:
    """A valid Polish NIP: nine digits, then sum(digit x weight) mod 11 (never 10)."""
    n = 520_100_000 + seed * 37
    while True:
        digits = f"{n:09d}"
        check = sum(int(d) * w for d, w in zip(digits, WEIGHTS, strict=True)) % 11
        if check != 10:
            return digits + str(check)
        n += 1


class Case:
    """Input rows for one scenario; partners P1..P9 and customers exist on first use."""

    def __init__(self) -> None:
        self.partners: dict[str, dict] = {}
        self.customers: dict[str, dict] = {}
        self.holdings: list[dict] = []
        self.vendor: list[dict] = []
        self.regs: list[dict] = []
        self.sales: list[dict] = []

    def partner(self, pid: str, *, country: str = "PL", new: bool = False,
                removed_on: str = "") -> dict:
        row = self.partners.setdefault(pid, {
            "partner_id": pid, "name": f"Partner {pid}", "address": "Warszawa",
            "country": country, "nip": nip(900 + int(pid[1:])), "new_to_program": "false",
            "removed_on": "", "removal_reason": ""})
        row.update(country=country, new_to_program=str(new).lower(), removed_on=removed_on,
                   removal_reason="false information" if removed_on else "")
        return row

    def nip_of(self, cust: str, *, segment: str = "commercial_smb", country: str = "PL") -> str:
        if cust not in self.customers:
            self.customers[cust] = {"nip": nip(int(cust[1:])), "name": f"Client {cust}",
                                    "address": "Lodz", "country": country, "segment": segment}
        return self.customers[cust]["nip"]

    def reg(self, rid: str, pid: str, submitted: str, cust: str, *, family: str = "M365",
            plan: str = "E3", licences: int = 10, decision: str = "", **over) -> None:
        if pid not in self.partners:
            self.partner(pid)
        row = {"registration_id": rid, "partner_id": pid, "submitted_at": submitted,
               "customer_name": f"Client {cust}", "customer_address": "Lodz",
               "customer_nip": self.nip_of(cust), "family": family, "plan": plan,
               "licences": licences, "pcs": 12, "partner_name": f"Partner {pid}",
               "partner_address": "Warszawa", "partner_nip": self.partners[pid]["nip"],
               "contact_name": "Jan Kowalski", "contact_phone": "+48 600 000 000",
               "contact_email": "kontakt@partner.pl", "decision": decision,
               "decision_reason": ""}
        row.update(over)
        self.regs.append(row)

    def sale(self, sid: str, pid: str, cust: str, order_date: str, *, family: str = "M365",
             billing: str = "annual", licences: int = 10, price: str = "10.00",
             plan: str = "E3") -> None:
        if pid not in self.partners:
            self.partner(pid)
        self.sales.append({"sale_id": sid, "partner_id": pid, "customer_nip": self.nip_of(cust),
                           "family": family, "plan": plan, "billing": billing,
                           "licences": licences, "unit_price": price, "order_date": order_date})

    def deal(self, n: str, pid: str, cust: str, day: str, **sale) -> None:
        """A clean registration R<n> on 2018-04-02 and its sale S<n> ordered on `day`."""
        self.reg(f"R{n}", pid, "2018-04-02 09:00:00", cust, family=sale.get("family", "M365"))
        self.sale(f"S{n}", pid, cust, day, **sale)

    def run(self, folder: Path, plan: Path = PLAN):
        return calculate(plan, self.write(folder))

    def write(self, folder: Path) -> Path:
        """The scenario's input tables as CSV files in `folder`."""
        tables = {"partners": list(self.partners.values()),
                  "customers": list(self.customers.values()), "holdings": self.holdings,
                  "vendor_registry": self.vendor, "registrations": self.regs,
                  "sales": self.sales}
        headers = {"holdings": ["customer_nip", "family", "plan", "since"],
                   "vendor_registry": ["customer_nip", "family", "registered_on"],
                   "sales": ["sale_id", "partner_id", "customer_nip", "family", "plan",
                             "billing", "licences", "unit_price", "order_date"]}
        folder.mkdir(parents=True, exist_ok=True)
        for name, rows in tables.items():
            fields = list(rows[0]) if rows else headers[name]
            with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as out:
                writer = csv.DictWriter(out, fieldnames=fields)
                writer.writeheader()
                writer.writerows(rows)
        return folder


def lines(result) -> dict[tuple[str, str], tuple[str, bool, str | None]]:
    """(measure, sale id) -> (amount as text, paid, reason)."""
    return {(r["measure"], r["source_id"]): (str(r["amount"]), r["paid"], r["reason"])
            for r in result.tables["payouts"].to_pylist()}


def verdicts(result) -> dict[str, str]:
    """registration id -> 'accepted' or the reason it was rejected."""
    return {r["subject"]: ("accepted" if r["passed"] else r["reason"])
            for r in result.tables["evaluations"].to_pylist()}


PAID = True
UNPAID = False


# ------------------------------------------------------------------ 1. registration checks
def test_check_order_first_failing_rule_is_the_reason(tmp_path):
    """Spec "Lead registration": missing fields and invalid NIPs first, then rules 1-7 in
    order; the first failing check is the reason. Each registration fails two checks."""
    c = Case()
    c.partner("P3", country="DE")
    c.holdings.append({"customer_nip": c.nip_of("C6"), "family": "O365", "plan": "E1",
                       "since": "2018-04-03"})
    c.vendor.append({"customer_nip": c.nip_of("C7"), "family": "M365",
                     "registered_on": "2018-04-03"})
    c.vendor.append({"customer_nip": c.nip_of("C8"), "family": "M365",
                     "registered_on": "2018-04-01"})
    # missing e-mail and customer NIP with a wrong check digit: missing field first
    c.reg("R01", "P1", "2018-04-02 09:00:00", "C1", contact_email="",
          customer_nip="1234567890")
    # partner NIP of 9 digits, partner in DE: invalid NIP is checked before rule 1
    c.reg("R02", "P3", "2018-04-02 09:00:00", "C2", partner_nip="520871090")
    # 1 before 2: DE partner, enterprise customer
    c.nip_of("C3", segment="commercial_enterprise")
    c.reg("R03", "P3", "2018-04-02 09:00:00", "C3")
    # 2 before 3: customer on the list but not PL, and 2 licences
    c.nip_of("C4", country="DE")
    c.reg("R04", "P1", "2018-04-02 09:00:00", "C4", licences=2)
    # 3 before 4: 2 licences for a customer holding O365 E1 since 2018-04-03 (O365 E1 reg)
    c.reg("R05", "P1", "2018-04-04 09:00:00", "C6", family="O365", plan="E1", licences=2)
    # 4 before 5: R06 (P1, 04-02, before the holding) accepted; R07 (P2, 04-04) fails both
    c.reg("R06", "P1", "2018-04-02 09:00:00", "C6", family="O365", plan="E1")
    c.reg("R07", "P2", "2018-04-04 09:00:00", "C6", family="O365", plan="E1")
    # 5 before 6: R08 (P1, 04-02) accepted; vendor registry 04-03; R09 (P2, 04-04)
    c.reg("R08", "P1", "2018-04-02 09:00:00", "C7")
    c.reg("R09", "P2", "2018-04-04 09:00:00", "C7")
    # 6 before 7: in the vendor registry and submitted after the end
    c.reg("R10", "P2", "2018-06-28 09:00:00", "C8")
    got = verdicts(c.run(tmp_path))
    assert got == {"R01": "missing_field", "R02": "invalid_nip", "R03": "partner_not_polish",
                   "R04": "customer_not_polish_smb", "R05": "too_few_licences",
                   "R06": "accepted", "R07": "existing_customer", "R08": "accepted",
                   "R09": "already_registered", "R10": "in_vendor_registry"}


def test_only_an_earlier_accepted_registration_blocks(tmp_path):
    """Spec rule 5: same customer NIP and family registered earlier by another partner;
    only an earlier *accepted* one blocks (not one rejected by a check, nor one still
    waiting for the owner); order by submission time, then id. Rule 7: the period is
    2018-03-27 00:00 .. 2018-06-27 23:59:59 by submission day."""
    c = Case()
    c.partner("P3", country="DE")
    c.reg("R01", "P1", "2018-04-02 09:00:00", "C1", licences=2)       # too_few_licences
    c.reg("R02", "P2", "2018-04-03 09:00:00", "C1")                   # not blocked
    c.reg("R03", "P1", "2018-04-02 09:00:00", "C2", decision="pending")
    c.reg("R04", "P2", "2018-04-03 09:00:00", "C2")                   # pending does not block
    c.reg("R05", "P1", "2018-03-26 23:59:59", "C3")                   # before the start
    c.reg("R06", "P2", "2018-03-27 00:00:00", "C3")                   # first day: inside
    c.reg("R07", "P3", "2018-04-02 09:00:00", "C4")                   # partner_not_polish
    c.reg("R08", "P2", "2018-04-03 09:00:00", "C4")
    c.reg("R09", "P1", "2018-04-02 09:00:00", "C5")                   # accepted, M365
    c.reg("R10", "P2", "2018-04-03 09:00:00", "C5", family="O365")    # other family
    c.reg("R11", "P2", "2018-04-04 09:00:00", "C5")                   # same family: blocked
    c.reg("R12", "P4", "2018-04-05 09:00:00", "C5")                   # still R09's
    c.reg("R14", "P1", "2018-04-06 09:00:00", "C6")                   # same second as R13,
    c.reg("R13", "P2", "2018-04-06 09:00:00", "C6")                   # R13 first by id
    c.reg("R15", "P2", "2018-06-27 23:59:59", "C7")                   # last second: inside
    c.sale("S03", "P1", "C2", "2018-04-10")     # R03 still pending: not accepted, no deal
    c.sale("S04", "P2", "C2", "2018-04-10")     # R04's deal: 10 x 12 x 10 x 20% = 240.00
    result = c.run(tmp_path)
    # S03's registration R03 is still with the owner: that is why S03 is not paid.
    assert lines(result) == {("deal", "S03"): ("0.00", UNPAID, "registration_pending"),
                             ("deal", "S04"): ("240.00", PAID, None)}
    got = verdicts(result)
    assert got.pop("R03") != "accepted"
    assert got == {"R01": "too_few_licences", "R02": "accepted", "R04": "accepted",
                   "R05": "outside_promotion_period", "R06": "accepted",
                   "R07": "partner_not_polish", "R08": "accepted", "R09": "accepted",
                   "R10": "accepted", "R11": "already_registered",
                   "R12": "already_registered", "R13": "accepted",
                   "R14": "already_registered", "R15": "accepted"}


def test_existing_customer_and_vendor_registry_edges(tmp_path):
    """Spec rules 4 and 6: an existing customer is rejected unless all it holds (since on
    or before the submission day) is O365 and the plan is O365 E3/E5 or an M365 E-plan;
    the vendor registry blocks only the same NIP *and family*."""
    c = Case()

    def holds(cust, family, plan, since):
        c.holdings.append({"customer_nip": c.nip_of(cust), "family": family, "plan": plan,
                           "since": since})

    holds("C1", "O365", "E1", "2017-01-01")
    c.reg("R01", "P1", "2018-04-02 09:00:00", "C1", family="O365", plan="E5")  # upgrade
    holds("C2", "O365", "E1", "2017-01-01")
    c.reg("R02", "P1", "2018-04-02 09:00:00", "C2", family="D365", plan="Business")
    holds("C3", "O365", "E1", "2017-01-01")
    holds("C3", "D365", "Business", "2018-04-10")      # after the submission day
    c.reg("R03", "P1", "2018-04-02 09:00:00", "C3", family="M365", plan="E5")
    holds("C4", "M365", "E3", "2017-01-01")            # not O365: no exception
    c.reg("R04", "P1", "2018-04-02 09:00:00", "C4", family="M365", plan="E5")
    holds("C5", "O365", "E1", "2017-01-01")
    c.reg("R05", "P1", "2018-04-02 09:00:00", "C5", family="M365", plan="E3")
    c.vendor.append({"customer_nip": c.nip_of("C6"), "family": "O365",
                     "registered_on": "2018-04-01"})
    c.reg("R06", "P1", "2018-04-02 09:00:00", "C6", family="M365")             # other family
    got = verdicts(c.run(tmp_path))
    assert got == {"R01": "accepted", "R02": "existing_customer", "R03": "accepted",
                   "R04": "existing_customer", "R05": "accepted", "R06": "accepted"}


# ------------------------------------------------------------------ 2. matching sales
def test_matching_earliest_unclaimed_sale_ties_by_sale_id(tmp_path):
    """Spec "Payout per closed deal": registrations in submission order each take their
    earliest unclaimed matching sale (ties by sale id), ordered on or after the
    registration day; the first day of the period (2018-03-27) is inside."""
    c = Case()
    c.reg("R60", "P2", "2018-04-02 09:00:00", "C60")
    c.sale("S61", "P2", "C60", "2018-04-10")            # same day as S60, higher id
    c.sale("S60", "P2", "C60", "2018-04-10")
    # two registrations of P2 for the same opportunity: R70 (04-03) first takes the
    # earliest sale S71 (04-04), then R71 (04-05) takes S70 (04-06)
    c.reg("R70", "P2", "2018-04-03 09:00:00", "C70")
    c.reg("R71", "P2", "2018-04-05 09:00:00", "C70")
    c.sale("S70", "P2", "C70", "2018-04-06")
    c.sale("S71", "P2", "C70", "2018-04-04")
    c.reg("R80", "P3", "2018-03-27 00:00:00", "C80")
    c.sale("S80", "P3", "C80", "2018-03-27")
    got = lines(c.run(tmp_path))
    # each paid deal: 10.00 x 12 x 10 = 1 200 x 20% (M365 annual) = 240.00
    assert got == {("deal", "S60"): ("240.00", PAID, None),
                   ("deal", "S61"): ("0.00", UNPAID, "registration_already_used"),
                   ("deal", "S70"): ("240.00", PAID, None),
                   ("deal", "S71"): ("240.00", PAID, None),
                   ("deal", "S80"): ("240.00", PAID, None)}


# ------------------------------------------------------------------ 3. rates and rounding
def test_rate_bands_and_half_up_rounding(tmp_path):
    """Spec "Rate" and "Base": monthly 3-250 is 5% for any family; 251+ is 2% for monthly
    too; the base is unit price x 12 x min(licences, 500); each line rounded half-up."""
    c = Case()
    c.deal("01", "P1", "C1", "2018-05-02", family="D365", billing="monthly", licences=250)
    c.deal("02", "P1", "C2", "2018-05-03", family="O365", billing="monthly", licences=251)
    c.deal("03", "P1", "C3", "2018-05-04", family="D365", licences=3, price="33.33")
    c.deal("04", "P1", "C4", "2018-05-05", family="O365", licences=3, price="0.475")
    c.deal("05", "P1", "C5", "2018-05-06", billing="monthly", licences=500)
    got = lines(c.run(tmp_path))
    assert got == {
        ("deal", "S01"): ("1500.00", PAID, None),   # 10 x 12 x 250 = 30 000 x 5%
        ("deal", "S02"): ("602.40", PAID, None),    # 10 x 12 x 251 = 30 120 x 2%
        ("deal", "S03"): ("179.98", PAID, None),    # 33.33 x 36 = 1 199.88 x 15% = 179.982
        ("deal", "S04"): ("2.57", PAID, None),      # 0.475 x 36 = 17.10 x 15% = 2.565 -> up
        ("deal", "S05"): ("1200.00", PAID, None)}   # 10 x 12 x 500 = 60 000 x 2%


# ------------------------------------------------------------------ 4. monthly count cap
def test_monthly_cap_by_order_date_and_calendar_month(tmp_path):
    """Spec "Monthly count cap": at most 5 closed deals per partner per calendar month, the
    earliest 5 by order date (ties by sale id) paid. Order date decides, not sale id;
    a new month starts a new count."""
    c = Case()
    c.deal("26", "P5", "C26", "2018-05-01", family="O365")
    for n in range(21, 26):                              # S21..S25 on 05-02..05-06
        c.deal(str(n), "P5", f"C{n}", f"2018-05-0{n - 19}", family="O365")
    for n in range(31, 36):                              # S31..S35 on 05-27..05-31
        c.deal(str(n), "P6", f"C{n}", f"2018-05-{n - 4}", family="O365")
    c.deal("36", "P6", "C36", "2018-06-01", family="O365")
    got = lines(c.run(tmp_path))
    # every deal: 10.00 x 12 x 10 = 1 200 x 15% (O365 annual) = 180.00
    paid = ("180.00", PAID, None)
    expected = {("deal", f"S{n}"): paid for n in (26, 21, 22, 23, 24, 31, 32, 33, 34, 35, 36)}
    expected[("deal", "S25")] = ("0.00", UNPAID, "monthly_cap")   # P5's 6th May deal by date
    assert got == expected


# ------------------------------------------------------------------ 5. budget pool
def test_capped_removed_and_unregistered_deals_take_nothing_from_the_pool(tmp_path):
    """Spec "Order of the limits" and "Budget pool": only deals that pass eligibility and
    the count cap are charged; a removed partner (removed whatever the date, here after
    the payout run) takes nothing; a line reaching the pool exactly is paid in full."""
    c = Case()
    for n in range(11, 17):                             # P5: six May deals of 180.00
        c.deal(str(n), "P5", f"C{n}", f"2018-05-0{n - 9}", family="O365")
    c.partner("P4", removed_on="2018-08-15")
    c.deal("17", "P4", "C17", "2018-05-08", family="O365")
    c.sale("S18", "P2", "C18", "2018-05-09", family="O365")
    # 248.50 x 12 x 250 = 745 500 x 20% = 149 100.00 = 150 000.00 - 5 x 180.00
    c.deal("19", "P1", "C19", "2018-06-01", licences=250, price="248.50")
    c.deal("20", "P2", "C20", "2018-06-02", family="O365")
    got = lines(c.run(tmp_path))
    expected = {("deal", f"S{n}"): ("180.00", PAID, None) for n in range(11, 16)}
    expected |= {("deal", "S16"): ("0.00", UNPAID, "monthly_cap"),
                 ("deal", "S17"): ("0.00", UNPAID, "partner_removed"),
                 ("deal", "S18"): ("0.00", UNPAID, "no_registration"),
                 ("deal", "S19"): ("149100.00", PAID, None),
                 ("deal", "S20"): ("0.00", UNPAID, "budget_exhausted")}
    assert got == expected


def _spend_149400(c: Case) -> None:
    """P3 (not new) on 2018-05-01: 249.00 x 12 x 250 = 747 000 x 20% = 149 400.00;
    600.00 of the pool remains after it."""
    c.deal("01", "P3", "C1", "2018-05-01", licences=250, price="249.00")


def test_pool_charged_by_order_date_then_sale_id_crossing_line_gets_the_rest(tmp_path):
    """Spec "Budget pool": lines charged by order date, ties by sale id (not partner); the
    line crossing the limit is paid (and marked paid) only what remains."""
    c = Case()
    _spend_149400(c)
    c.deal("20", "P2", "C20", "2018-06-01", family="O365", licences=250)  # 30 000 x 15%
    c.deal("19", "P4", "C19", "2018-06-01")                                # 1 200 x 20%
    got = lines(c.run(tmp_path))
    assert got == {("deal", "S01"): ("149400.00", PAID, None),
                   ("deal", "S19"): ("240.00", PAID, None),     # 600.00 -> 360.00 left
                   ("deal", "S20"): ("360.00", PAID, None)}     # 4 500.00 earned


def test_bonus_is_charged_right_after_its_deal(tmp_path):
    """Spec "New-partner bonus": 365 PLN charged to the pool right after the partner's
    first closed deal, before a later-id deal of the same day."""
    c = Case()
    _spend_149400(c)
    c.partner("P6", new=True)
    c.deal("30", "P6", "C30", "2018-06-05")             # 240.00 -> 360.00 left
    c.deal("31", "P2", "C31", "2018-06-05")             # 240.00
    got = lines(c.run(tmp_path))
    assert got == {("deal", "S01"): ("149400.00", PAID, None),
                   ("deal", "S30"): ("240.00", PAID, None),
                   ("new_partner_bonus", "S30"): ("360.00", PAID, None),  # crosses
                   ("deal", "S31"): ("0.00", UNPAID, "budget_exhausted")}


def test_new_partner_deal_crossing_the_pool(tmp_path):
    """Spec "Budget pool" and "New-partner bonus": the first deal crossing the pool gets the
    rest, its bonus finds the pool exhausted, and no later deal carries a bonus."""
    c = Case()
    _spend_149400(c)
    c.partner("P7", new=True)
    c.deal("40", "P7", "C40", "2018-05-10", price="100.00")  # 100 x 12 x 10 = 12 000 x 20%
    c.deal("41", "P7", "C41", "2018-05-11")
    got = lines(c.run(tmp_path))
    assert got == {("deal", "S01"): ("149400.00", PAID, None),
                   ("deal", "S40"): ("600.00", PAID, None),    # 2 400.00 earned
                   ("new_partner_bonus", "S40"): ("0.00", UNPAID, "budget_exhausted"),
                   ("deal", "S41"): ("0.00", UNPAID, "budget_exhausted")}


# ------------------------------------------------------------------ 6. new-partner bonus
def test_bonus_once_on_the_first_closed_deal_ties_by_sale_id(tmp_path):
    """Spec "New-partner bonus": once per new partner, with its first closed deal; a sale
    with no registration is no deal; two deals on one day: the lower sale id is first."""
    c = Case()
    c.partner("P7", new=True)
    c.sale("S49", "P7", "C49", "2018-04-14")            # no registration
    c.deal("51", "P7", "C51", "2018-04-15")
    c.deal("50", "P7", "C50", "2018-04-15")
    result = c.run(tmp_path)
    assert lines(result) == {("deal", "S49"): ("0.00", UNPAID, "no_registration"),
                             ("deal", "S50"): ("240.00", PAID, None),
                             ("new_partner_bonus", "S50"): ("365.00", PAID, None),
                             ("deal", "S51"): ("240.00", PAID, None)}
    [summary] = result.tables["summary"].to_pylist()
    assert (summary["payee_id"], str(summary["amount"])) == ("P7", "845.00")  # 240+365+240


# ------------------------------------------------------------------ 7. rule changes
def _variant(folder: Path) -> Path:
    """plan.yaml with a version from 2018-05-01: at least 5 licences, bonus 500 PLN."""
    text = PLAN.read_text(encoding="utf-8")
    version = ("versions:\n  - effective_from: 2018-05-01\n    label: v2\n"
               "    parameters: {min_licences: 5, new_partner_bonus: 500}\n\ninputs:\n")
    assert text.count("\ninputs:\n") == 1
    path = folder / "variant.yaml"
    path.write_text(text.replace("\ninputs:\n", "\n" + version, 1), encoding="utf-8")
    return path


def test_versions_registration_by_submission_day_deal_and_bonus_by_order_date(tmp_path):
    """Spec "Rule changes": a registration is checked under the version in force on its
    submission day; a deal, and its bonus, under the version in force on its order date."""
    c = Case()
    c.reg("R01", "P2", "2018-04-30 23:59:59", "C1", licences=4)   # v1: 4 >= 3, accepted
    c.reg("R02", "P2", "2018-05-01 00:00:00", "C2", licences=4)   # v2: 4 < 5
    c.sale("S01", "P2", "C1", "2018-04-30", licences=4)           # v1: paid
    c.reg("R03", "P2", "2018-04-30 10:00:00", "C3", licences=4)
    c.sale("S03", "P2", "C3", "2018-05-01", licences=4)           # v2: too few
    c.partner("P7", new=True)
    c.partner("P8", new=True)
    c.deal("07", "P7", "C7", "2018-04-30")                        # v1 bonus 365
    c.deal("08", "P8", "C8", "2018-05-01")                        # v2 bonus 500
    result = c.run(tmp_path / "data", _variant(tmp_path))
    assert verdicts(result) == {"R01": "accepted", "R02": "too_few_licences",
                                "R03": "accepted", "R07": "accepted", "R08": "accepted"}
    # deals: 10.00 x 12 x 4 = 480 x 20% = 96.00; 10.00 x 12 x 10 = 1 200 x 20% = 240.00
    assert lines(result) == {("deal", "S01"): ("96.00", PAID, None),
                             ("deal", "S03"): ("0.00", UNPAID, "too_few_licences"),
                             ("deal", "S07"): ("240.00", PAID, None),
                             ("new_partner_bonus", "S07"): ("365.00", PAID, None),
                             ("deal", "S08"): ("240.00", PAID, None),
                             ("new_partner_bonus", "S08"): ("500.00", PAID, None)}


# ------------------------------------------------------------------ 8. data as written
def test_blank_field_is_missing(tmp_path):
    """Spec "Lead registration": all fields are required; a field of blanks only is
    missing (reason missing_field), checked before everything else."""
    c = Case()
    c.reg("R02", "P2", "2018-04-02 09:00:00", "C2", contact_name="   ")
    assert verdicts(c.run(tmp_path)) == {"R02": "missing_field"}


def test_customer_nip_written_with_dashes_is_the_same_nip(tmp_path):
    """Spec "Lead registration": NIPs must be valid (10 digits with the check digit). The
    project reads dashes as formatting (tests/cases/generuj-leady R17 accepts a partner
    NIP 676-221-00-06), so a customer NIP written with dashes is that customer's NIP:
    the registration is accepted and the sale (plain NIP) is its deal, 1 200 x 20%."""
    c = Case()
    plain = c.nip_of("C1")
    dashed = f"{plain[:3]}-{plain[3:6]}-{plain[6:8]}-{plain[8:]}"
    c.reg("R01", "P2", "2018-04-02 09:00:00", "C1", customer_nip=dashed)
    c.sale("S01", "P2", "C1", "2018-04-10")
    result = c.run(tmp_path)
    assert verdicts(result) == {"R01": "accepted"}
    assert lines(result) == {("deal", "S01"): ("240.00", PAID, None)}
