"""The main journeys in a real browser: Debian's Chromium driven by Playwright against the
portal served on a loopback port.

Set PAYMASTER_SCREENSHOTS=DIR to keep screenshots of the main pages (docs/screenshots
holds the ones in the docs: `PAYMASTER_SCREENSHOTS=docs/screenshots ./dev test
tests/test_browser.py`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from liveserver import chromium, serve
from paymaster.services import accounts
from paymaster.web.app import create_app

GL, TI = "generuj-leady", "trade-in-accelerator"
PASSWORDS = {u: p for u, p, *_ in accounts.DEMO_ACCOUNTS}
NEW_LEAD = {  # Client C43 is on the internal list and registered by nobody yet
    "customer_name": "Client C43", "customer_address": "Lodz", "customer_nip": "5203880316",
    "family": "M365", "plan": "E3", "licences": "25", "pcs": "30",
    "partner_address": "Warszawa", "contact_name": "Jan Kowalski",
    "contact_phone": "+48 600 000 000", "contact_email": "kontakt@partner.pl"}
PARTNER = {"alfa": ("Alfa", "5208710903"), "beta": ("Beta", "5208790090")}


@pytest.fixture
def site(demo_workspace, monkeypatch):
    # A day inside the Generuj Leady promotion, so new registrations are in time.
    monkeypatch.setenv("PAYMASTER_TODAY", "2018-05-10T10:00:00")
    with serve(create_app(demo_workspace)) as base, chromium() as browser:
        yield base, browser


def shoot(page, name: str) -> None:
    folder = os.environ.get("PAYMASTER_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def login(browser, base: str, username: str, locale: str = "en-US"):
    page = browser.new_context(locale=locale).new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    return page


def register(page, base: str, username: str) -> str:
    page.goto(f"{base}/programs/{GL}/registrations")
    name, nip = PARTNER[username]
    for field, value in (NEW_LEAD | {"partner_name": name, "partner_nip": nip}).items():
        locator = page.locator(f"[name={field}]")
        if locator.evaluate("e => e.tagName") == "SELECT":
            locator.select_option(value)
        else:
            locator.fill(value)
    page.click("#register-form button[type=submit]")
    page.wait_for_selector("#result")
    return page.inner_text("#result")


def test_a_partner_registers_a_lead_and_sees_it_accepted_and_a_duplicate_is_rejected(site):
    base, browser = site
    alfa = login(browser, base, "alfa")
    result = register(alfa, base, "alfa")
    assert "submitted" in result.lower() or "złożon" in result.lower()
    shoot(alfa, "partner-registration")
    reg_id = result.split(":")[0].split()[-1]

    office = login(browser, base, "approver")
    office.goto(f"{base}/office/{GL}/registrations")
    shoot(office, "office-registrations")
    row = office.locator(f"tr:has-text('{reg_id}')").first
    row.locator("button[value=true]").click()
    office.wait_for_function(
        f"() => [...document.querySelectorAll('tr')].some(r => r.innerText.includes('{reg_id}')"
        " && /accepted/i.test(r.innerText))")

    alfa.goto(f"{base}/programs/{GL}/registrations?lang=en")
    assert "accepted" in alfa.locator(f"#reg-{reg_id}").inner_text().lower() or \
        "zaakceptow" in alfa.locator(f"#reg-{reg_id}").inner_text().lower()

    beta = login(browser, base, "beta")
    duplicate = register(beta, base, "beta")
    assert "already_registered" in duplicate


def test_the_office_approves_an_enrollment_runs_and_posts(site, monkeypatch):
    base, browser = site
    monkeypatch.setenv("PAYMASTER_TODAY", "2008-05-02T10:00:00")  # inside phase 7's enrollment
    partner = login(browser, base, "partner-a")
    partner.goto(f"{base}/programs/{TI}/enrollments")
    partner.select_option("select[name=phase]", "7") if partner.locator(
        "select[name=phase]").count() else partner.fill("input[name=phase]", "7")
    partner.fill("input[name=effective_from]", "2008-05-02")
    partner.check("input[name=submit]")
    partner.click("form[action$='/enrollments'] button[type=submit]")
    partner.wait_for_load_state()
    assert "submitted" in partner.content().lower() or "złożon" in partner.content().lower()

    office = login(browser, base, "approver")
    office.goto(f"{base}/office/{TI}/enrollments")
    row = office.locator("tr:has-text('A')").filter(has=office.locator("button[value=true]")).first
    row.locator("button[value=true]").click()
    office.wait_for_function(
        "() => [...document.querySelectorAll('tr')].some(r => /approved/i.test(r.innerText))")

    office.goto(f"{base}/office/{TI}/runs")
    office.fill("input[name=as_of]", "2026-01-02")
    office.click("form[action$='/runs'] button[type=submit]")
    office.wait_for_url(lambda url: "/office/runs/" in url)
    office.click("form[action$='/approve'] button")
    office.wait_for_load_state()
    office.click("form[action$='/post'] button")
    office.wait_for_load_state()
    shoot(office, "office-run")
    assert "posted" in office.content().lower()


def test_a_partner_reads_its_statement_and_opens_a_dispute(site):
    base, browser = site
    partner = login(browser, base, "partner-d", locale="zh-CN")
    partner.goto(f"{base}/programs/{TI}/statement")
    text = partner.content()
    assert "2,250.00" in text or "2250.00" in text
    shoot(partner, "partner-statement")
    partner.goto(f"{base}/programs/{TI}/status")
    shoot(partner, "partner-status")
    partner.goto(f"{base}/programs/{TI}/disputes")
    partner.check("input[name=kind][value=line]")
    partner.fill("textarea[name=description]", "The rebate should include RMA-L08 earlier.")
    partner.click("form[action$='/disputes'] button[type=submit]")  # no line chosen yet
    partner.wait_for_load_state()
    assert "choose the payout line" in partner.inner_text("main")
    line = partner.locator("select[name=line_key] option").nth(1).get_attribute("value")
    partner.select_option("select[name=line_key]", line)
    partner.click("form[action$='/disputes'] button[type=submit]")
    partner.wait_for_url(lambda url: "/disputes/" in url)
    assert "RMA-L08" in partner.content()
    shoot(partner, "partner-dispute")
