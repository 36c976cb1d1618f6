"""The main journeys in a real browser: Debian's Chromium driven by Playwright against the
portal served on a loopback port.

Set PAYMASTER_SCREENSHOTS=DIR to keep screenshots of the main pages (docs/screenshots
holds the ones in the docs: `PAYMASTER_SCREENSHOTS=docs/screenshots ./dev test
tests/test_browser.py`)."""

from __future__ import annotations

import os
import re
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


@pytest.fixture(scope="module")
def browser():
    """One Chromium (and Playwright driver) for the module: each test's logins open their
    own browser contexts (cookies, storage), so tests share nothing else."""
    with chromium() as browser:
        yield browser


@pytest.fixture
def site(demo_workspace, browser, monkeypatch):
    # A day inside the Generuj Leady promotion, so new registrations are in time.
    monkeypatch.setenv("PAYMASTER_TODAY", "2018-05-10T10:00:00")
    with serve(create_app(demo_workspace)) as base:
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


def choose_language(page, lang: str) -> None:
    """Pick a language in the header's menu and wait for the page it sends. Waiting on
    `document.documentElement.lang` alone races the navigation (between documents there
    is no element to read), so the wait is on the navigation itself."""
    if not page.evaluate("document.documentElement.lang").startswith(lang):
        with page.expect_navigation():
            page.select_option("header select[name=lang]", lang)
        page.wait_for_load_state()
    assert page.evaluate("document.documentElement.lang").startswith(lang)


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
    assert "请选择争议涉及的支付明细" in partner.inner_text("main")  # "choose the payout line"
    line = partner.locator("select[name=line_key] option").nth(1).get_attribute("value")
    partner.select_option("select[name=line_key]", line)
    partner.click("form[action$='/disputes'] button[type=submit]")
    partner.wait_for_url(lambda url: "/disputes/" in url)
    assert "RMA-L08" in partner.content()
    shoot(partner, "partner-dispute")


def test_the_office_filters_sorts_pages_exports_and_rejects_in_bulk(site):
    base, browser = site
    office = login(browser, base, "approver")
    office.goto(f"{base}/office/{GL}/registrations?size=10")
    # 35 leads of the example and the demo's 2 waiting: 4 pages of 10
    assert "37" in office.inner_text("nav.pager") and "4" in office.inner_text("nav.pager")
    office.click("nav.pager a[rel=next]")
    office.wait_for_url(lambda url: "page=2" in url)
    assert office.locator("#queue tbody tr").count() == 10
    # filter: P2's leads of 2018-04-04..04-08 (13 in the example's input), then by
    # licences, most first (a second click on the header reverses)
    office.fill("form.filters input[name=party]", "P2")
    office.fill("form.filters input[name=from]", "2018-04-04")
    office.fill("form.filters input[name=to]", "2018-04-08")
    office.click("form.filters button[type=submit]")
    office.wait_for_url(lambda url: "party=P2" in url)
    assert "13" in office.inner_text("nav.pager")
    office.click("#queue th a.sort:has-text('Licences')")
    office.wait_for_url(lambda url: "sort=licences" in url and "order=asc" in url)
    office.click("#queue th a.sort:has-text('Licences')")
    office.wait_for_url(lambda url: "order=desc" in url)
    assert office.inner_text("#queue tbody tr:first-child td:nth-child(2)") == "R19"
    assert office.get_attribute("#queue th[aria-sort=descending]", "aria-sort")
    # the two leads waiting: download them, then reject both with one reason
    office.goto(f"{base}/office/{GL}/registrations")
    office.select_option("form.filters select[name=state]", "submitted")
    office.click("form.filters button[type=submit]")
    office.wait_for_url(lambda url: "state=submitted" in url)
    waiting = office.locator("#queue tbody input[name=ids]")
    assert waiting.count() == 2
    with office.expect_download() as download:
        office.click("a[download]")
    rows = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("registration_id,") and len(rows) == 3
    ids = sorted(line.split(",")[0] for line in rows[1:])
    office.check("#queue thead input[data-check-all]")
    assert all(waiting.nth(i).is_checked() for i in range(2))
    office.fill("form#bulk input[name=reason]", "no budget this quarter")
    shoot(office, "office-bulk")
    office.click("form#bulk button[value=false]")
    office.wait_for_selector("#bulk-result")
    assert "2 decided" in office.inner_text("#bulk-result")
    office.goto(f"{base}/office/{GL}/registrations?state=rejected&q=no+budget")
    assert sorted(office.locator("#queue tbody tr td:nth-child(2)").all_inner_texts()) == ids


def test_finance_filters_the_ledger_then_reads_accruals_and_the_audit_log_in_polish(site):
    """Finance (a Polish user) from the header: the ledger filtered to one partner, its
    total in Polish money format; accruals at a chosen date; the audit log of approvals,
    before and after as a table. Each page fits at 1280 and 390 px."""
    base, browser = site
    page = login(browser, base, "finance", locale="pl-PL")
    page.click("header a[href='/office/ledger']")
    page.wait_for_url(lambda url: url.endswith("/office/ledger"))
    everything = int(page.inner_text("#ledger-count"))
    page.select_option("#ledger-filters select[name=program]", GL)
    page.fill("#ledger-filters input[name=payee]", "P1")
    page.click("#ledger-filters button[type=submit]")
    page.wait_for_url(lambda url: "payee=P1" in url)
    payees = page.eval_on_selector_all("#ledger tr.entry", "rs => rs.map(r => r.dataset.payee)")
    assert payees and set(payees) == {"P1"} and len(payees) < everything
    total = page.inner_text("#ledger-totals tr.total td.num")
    assert total.endswith("zł") and "," in total, total  # Polish: 1 234,56 zł
    assert "Księga" in page.inner_text("main")
    shoot(page, "finance-ledger")
    checked = [(page.url, page.evaluate(LAYOUT_CHECK))]

    page.click("nav a[href='/office/accruals']")
    page.fill("#accrual-filters input[name=as_of]", "2018-12-31")
    page.click("#accrual-filters button[type=submit]")
    page.wait_for_url(lambda url: "as_of=2018-12-31" in url)
    assert "2018" in page.inner_text("#accruals-as-of")
    assert page.locator("#accruals thead").count() or "nic nie jest należne" in page.content()
    shoot(page, "finance-accruals")
    checked.append((page.url, page.evaluate(LAYOUT_CHECK)))

    page.click("nav a[href='/office/audit']")
    page.select_option("#audit-filters select[name=action]", "approve")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_url(lambda url: "action=approve" in url)
    event = page.locator(".audit-event[data-entity=run]").first
    # the run's states in Polish
    assert event.locator("table.changes td.before").inner_text() == "podgląd"
    assert event.locator("table.changes td.after").inner_text() == "zatwierdzono"
    assert "Dziennik zdarzeń" in page.inner_text("main")
    shoot(page, "finance-audit")
    checked.append((page.url, page.evaluate(LAYOUT_CHECK)))
    page.set_viewport_size({"width": 390, "height": 900})
    for url in [u for u, _ in checked]:
        page.goto(url)
        checked.append((url + " @390px", page.evaluate(LAYOUT_CHECK)))
    assert not [c for c in checked if c[1]], checked


def test_an_admin_adds_a_user_changes_its_role_resets_its_password_and_deactivates_it(site):
    """The admin (in Polish) adds Kasia, a viewer who reads Chinese; she sees the office in
    Chinese and may not change anything; made an approver she logs in again (every change
    ends her sessions), then only with the password the admin set; deactivated, not at
    all. The users page fits at 1280 and 390 px."""
    base, browser = site
    admin = login(browser, base, "admin", locale="pl-PL")
    choose_language(admin, "pl")
    admin.click("a[href='/office/users']")
    admin.wait_for_url(lambda url: url.endswith("/office/users"))
    assert "Użytkownicy" in admin.inner_text("main h1")
    new = admin.locator("form[action='/office/users']")
    for field, value in (("username", "kasia"), ("password", "kasia-first-pass"),
                         ("display_name", "Katarzyna Zielińska"),
                         ("email", "kasia@example.com")):
        new.locator(f"[name={field}]").fill(value)
    new.locator("select[name=role]").select_option("viewer")
    new.locator("select[name=locale]").select_option("zh")
    new.locator("button[type=submit]").click()
    admin.wait_for_load_state()
    row = admin.locator("tbody tr", has=admin.locator("code", has_text="kasia"))
    assert "przeglądający" in row.inner_text() and "aktywny" in row.inner_text()
    PASSWORDS["kasia"] = "kasia-first-pass"
    kasia = login(browser, base, "kasia", locale="zh-CN")
    assert kasia.url.endswith("/office") and kasia.evaluate("document.documentElement.lang") == "zh"
    assert "查看者" in kasia.inner_text("header .who")
    assert kasia.goto(f"{base}/office/users").status == 403  # the admin's page only

    row.locator("form[action$='/kasia/role'] select[name=role]").select_option("approver")
    row.locator("form[action$='/kasia/role'] button").click()
    admin.wait_for_load_state()
    assert "zatwierdzający" in row.inner_text()
    kasia.reload()  # her session ended with the change
    assert "/login" in kasia.url
    kasia.context.close()
    kasia = login(browser, base, "kasia", locale="zh-CN")
    assert "审批人" in kasia.inner_text("header .who")
    kasia.context.close()

    row.locator("form[action$='/kasia/password'] input[name=password]").fill("kasia-new-pass-2")
    row.locator("form[action$='/kasia/password'] button").click()
    admin.wait_for_load_state()
    assert _login_fails(browser, base, "kasia", "kasia-first-pass")
    PASSWORDS["kasia"] = "kasia-new-pass-2"
    login(browser, base, "kasia", locale="zh-CN").context.close()

    row.locator("form[action$='/kasia/deactivate'] button").click()
    admin.wait_for_load_state()
    assert "dezaktywowany" in row.inner_text()
    assert row.locator("form[action$='/kasia/reactivate']").count() == 1
    assert _login_fails(browser, base, "kasia", "kasia-new-pass-2")
    del PASSWORDS["kasia"]
    shoot(admin, "admin-users")
    for width in (1280, 390):
        admin.set_viewport_size({"width": width, "height": 900})
        assert admin.evaluate(LAYOUT_CHECK) == [], width
    admin.context.close()


def _login_fails(browser, base: str, username: str, password: str) -> bool:
    page = browser.new_context().new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    failed = "/login" in page.url and page.locator("p.error[role=alert]").count() == 1
    page.context.close()
    return failed


# ---------------------------------------------------------------- layout of every page
# Nothing may stick out of its box: a card's content stays inside the card (a wide table
# scrolls inside a `.scroll` box, which must fit the card), cards do not overlap, the page is never wider
# than the window, and a badge (a status pill) stays on one line.
LAYOUT_CHECK = """() => {
  const bad = [], slack = 1;
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/\\s+/).join('.') : '') +
    (e.innerText ? ' "' + e.innerText.trim().slice(0, 30).replace(/\\s+/g, ' ') + '"' : '');
  const scrolls = e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width + slack)
    bad.push(`the page is ${document.documentElement.scrollWidth}px wide in a ${width}px window`);
  for (const el of document.querySelectorAll('.card *, header.top *')) {
    let box = el.parentElement.closest('.card, header.top, .scroll');
    if (box.matches('.scroll') && scrolls(box)) continue;  // a wide table scrolls inside its box
    while (!box.matches('.card, header.top')) box = box.parentElement.closest('.card, header.top, .scroll');
    const r = el.getBoundingClientRect(), b = box.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.left < b.left - slack || r.right > b.right + slack)
      bad.push(`${name(el)} [${Math.round(r.left)}..${Math.round(r.right)}] sticks out of ` +
               `${name(box).slice(0, 40)} [${Math.round(b.left)}..${Math.round(b.right)}]`);
  }
  const cards = [...document.querySelectorAll('.card')].map(c => [c, c.getBoundingClientRect()]);
  for (const [i, [c, a]] of cards.entries())
    for (const [d, b] of cards.slice(i + 1))
      if (!c.contains(d) && a.left < b.right - slack && b.left < a.right - slack &&
          a.top < b.bottom - slack && b.top < a.bottom - slack)
        bad.push(`${name(c).slice(0, 40)} overlaps ${name(d).slice(0, 40)}`);
  for (const pill of document.querySelectorAll('.badge')) {
    const lines = pill.getClientRects().length;
    if (lines > 1 || pill.getBoundingClientRect().height > 2.2 * parseFloat(getComputedStyle(pill).fontSize))
      bad.push(`${name(pill)} wraps`);
  }
  return bad.slice(0, 8);
}"""
SNAPSHOT_BOXES = """() => {
  const box = document.querySelector('input[name=snapshot]');
  const text = [...box.closest('label').childNodes].find(n => n.nodeType === 3 && n.textContent.trim());
  const range = document.createRange();
  range.selectNodeContents(text);
  return [box.getBoundingClientRect().toJSON(), range.getClientRects()[0].toJSON()];
}"""
SHOTS = {"/office": "office-dashboard", "/office/runs/5": "office-run-preview",
         f"/office/{GL}/payees": "office-payees", "/programs/sales-team/leaderboards": "rep-leaderboards",
         "alfa /me": "partner-me"}
# Sort and page links of a list show the same page in another order: the page itself is
# checked once.
SKIP = ("/api", "/logout", "/static", "/file", ".csv", ".pdf", ".xlsx", ".parquet", ".svg",
        "format=", "download", "sort=", "page=")  # a sorted or later page: the same layout


def same_page(link: str) -> str:
    """One payee's status or statement stands for every payee's (the directory links all)."""
    return re.sub(r"(\?payee=|/statement/)[^/?&]+", r"\1*", link)


def check_every_page(page, base: str, user: str, problems: list[str], limit: int = 80) -> list[str]:
    """Visit every page a user reaches by following the portal's links from its home page,
    checking each at 1280 and 390 px; gives the pages visited."""
    seen, queue, shapes = [], ["/"], set()
    while queue and len(seen) < limit:
        page.set_viewport_size({"width": 1280, "height": 900})
        response = page.goto(base + queue.pop(0))
        path = page.url.removeprefix(base)
        if path in seen:
            continue
        seen.append(path)
        if response.status != 200:
            problems.append(f"{user} {path}: HTTP {response.status}")
        shot = SHOTS.get(path) or SHOTS.get(f"{user} {path}")
        if shot:
            shoot(page, shot)
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            problems += [f"{user} {path} @{width}px: {p}" for p in page.evaluate(LAYOUT_CHECK)]
        links = page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
        for link in (link.split("#")[0] for link in links):
            if link.startswith("/") and not any(s in link for s in SKIP) and \
                    link not in seen + queue and same_page(link) not in shapes:
                queue.append(link)
                shapes.add(same_page(link))
    return seen


def test_no_page_of_any_role_overflows_its_boxes_at_desktop_and_phone_widths(site):
    base, browser = site
    problems, visited = [], {}
    admin = login(browser, base, "admin")
    # The header names the role once, after the user's name.
    assert admin.inner_text("header .who").lower().count("admin") == 1
    # The Snapshot checkbox sits just before its words, on their line.
    admin.goto(f"{base}/office/{GL}/imports")
    box, words = admin.evaluate(SNAPSHOT_BOXES)
    assert 0 <= words["left"] - box["right"] <= 16, (box, words)
    assert box["top"] < words["bottom"] and words["top"] < box["bottom"], (box, words)
    admin.context.close()
    # Every role: the office (admin, a viewer sees the same pages with fewer forms) in
    # Chinese, partners in Polish and Chinese, a rep in Polish (in Chinese below, and the
    # office in English in the journeys above).
    for user, lang in (("admin", "zh"), ("alfa", "pl"), ("partner-d", "zh"), ("rep01", "pl")):
        page = login(browser, base, user)
        choose_language(page, lang)
        visited[user] = check_every_page(page, base, user, problems)
        page.context.close()
    # The crawl reached the pages it must check, a run's page among them.
    assert any(p.startswith("/office/runs/") for p in visited["admin"]), visited["admin"]
    assert any(p.endswith("/leaderboards") for p in visited["alfa"]), visited["alfa"]
    assert {"/office/users", f"/office/{GL}/payees"} <= set(visited["admin"])
    assert not problems, "\n".join(problems)


def test_a_rep_home_has_a_gauge_and_charts_with_tooltips_and_fits_a_phone(site):
    """The payee home's attainment gauge and interactive charts (vendored uPlot), and the
    office's burn chart: drawn in the page, a tooltip with the locale's amounts on hover,
    nothing sticking out at 390 px. The rep reads Chinese here, the office English."""
    base, browser = site
    for user, url, currency in (("rep01", "/programs/sales-team/status", "¥"),
                                ("viewer", f"/office/{GL}/budget", "PLN")):
        page = login(browser, base, user)
        if user == "rep01":
            choose_language(page, "zh")
        page.set_viewport_size({"width": 390, "height": 900})
        page.goto(base + url)
        page.wait_for_selector(".chart.drawn canvas")
        if user == "rep01":
            gauge = page.locator("#home meter").first
            assert float(gauge.get_attribute("value")) > 0
            assert "%" in page.locator("#home .gauge-text").first.inner_text()
        over = page.locator(".chart.drawn .u-over").first
        over.scroll_into_view_if_needed()
        box = over.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)
        tip = page.locator(".chart.drawn .chart-tip").first
        tip.wait_for(state="visible")
        assert currency in tip.inner_text(), tip.inner_text()
        assert page.evaluate(LAYOUT_CHECK) == []
        shoot(page, "rep-home" if user == "rep01" else "office-budget")
        page.context.close()
