"""The finance pages on the demo workspace: the ledger's filters, order, pages, totals and
CSV export; accruals at a date before and after a payout batch; the audit log's filters
and its before/after table; the bank reference in the payout file; who may see them.
Expected figures come from the hand-computed example payouts (examples/*/expected)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal

from babel.numbers import format_currency
from sqlalchemy import func, select

from paymaster.services import imports
from paymaster.services.inputs import content_sha, current
from paymaster.store.models import LedgerEntry

from conftest import EXAMPLES, golden_total
from office_support import GL, TIA, login

SALES = "sales-team"
IBAN = "PL61109010140000071219812874"


def expected_payouts(program: str) -> list[dict]:
    with (EXAMPLES / program / "expected" / "payouts.csv").open(encoding="utf-8") as handle:
        return [r for r in csv.DictReader(handle) if r["paid"] == "true"]


def hand_total(program: str, **match: str) -> Decimal:
    return sum((Decimal(r["amount"]) for r in expected_payouts(program)
                if all(r[k] == v for k, v in match.items())), Decimal(0))


def test_only_finance_and_admin_see_the_finance_pages(demo_workspace):
    for username, status in (("finance", 200), ("admin", 200), ("viewer", 403),
                             ("approver", 403)):
        client = login(demo_workspace, username)
        for path in ("/api/office/ledger", "/office/ledger", "/api/office/accruals",
                     "/office/accruals", "/api/office/audit", "/office/audit",
                     "/api/office/ledger/file"):
            assert client.get(path).status_code == status, (username, path)
    finance = login(demo_workspace, "finance")
    # finance reads the office pages, pays, and changes nothing else
    assert finance.get(f"/api/office/{GL}/runs").status_code == 200
    assert finance.post(f"/api/office/{GL}/runs", json={}).status_code == 403
    assert finance.post("/api/office/users", json={}).status_code in (403, 422)
    assert login(demo_workspace, "alfa").get("/api/office/ledger").status_code == 403
    home = finance.get("/office").text  # the header leads to the finance pages
    assert 'href="/office/ledger"' in home
    ledger = login(demo_workspace, "admin").get("/office/ledger").text
    for link in ("/office/accruals", "/office/audit", "/office/users", f"/office/{GL}/payouts"):
        assert f'href="{link}"' in ledger, link


def test_the_ledger_filters_sorts_pages_totals_and_exports(demo_workspace):
    finance = login(demo_workspace, "finance")
    everything = finance.get("/api/office/ledger").json()
    # the demo posted each example's hand-computed payouts; trade-in also D's accepted
    # dispute: 15% of its 15 000.00 qualifying credit = 2 250.00 (conftest)
    assert {t["currency"]: Decimal(t["amount"]) for t in everything["totals"]} == {
        "PLN": golden_total(GL), "USD": golden_total(TIA) + Decimal("2250.00"),
        "CNY": golden_total(SALES)}
    with demo_workspace.store.reading() as session:
        assert everything["count"] == session.scalar(select(func.count(LedgerEntry.id)))
        clawbacks = session.scalar(select(func.count(LedgerEntry.id)).where(
            LedgerEntry.kind == "clawback"))

    p1 = finance.get("/api/office/ledger", params={"program": GL, "payee": "P1"}).json()
    assert {e["payee_id"] for e in p1["entries"]} == {"P1"}
    assert [(t["currency"], Decimal(t["amount"])) for t in p1["totals"]] == [
        ("PLN", hand_total(GL, payee_id="P1"))]
    period = expected_payouts(GL)[0]["period"]
    one = finance.get("/api/office/ledger", params={"program": GL, "period": period}).json()
    assert {e["period"] for e in one["entries"]} == {period}
    assert Decimal(one["totals"][0]["amount"]) == hand_total(GL, period=period)
    kind = finance.get("/api/office/ledger", params={"kind": "clawback"}).json()
    assert kind["count"] == clawbacks and {e["kind"] for e in kind["entries"]} <= {"clawback"}
    assert "payout" in kind["choices"]["kinds"]

    # order and pages: page 2 of 5 rows is the 6th to 10th of the whole order
    ordered = finance.get("/api/office/ledger", params={
        "sort": "amount", "desc": "true", "size": 500}).json()["entries"]
    amounts = [Decimal(e["amount"]) for e in ordered]
    assert amounts == sorted(amounts, reverse=True)
    second = finance.get("/api/office/ledger", params={
        "sort": "amount", "desc": "true", "size": 25, "page": 2}).json()
    assert [e["id"] for e in second["entries"]] == [e["id"] for e in ordered[25:50]]
    assert second["pages"] == -(-everything["count"] // 25)
    assert second["totals"] == everything["totals"]  # of every page, not this one
    assert finance.get("/api/office/ledger", params={"sort": "nip"}).status_code == 400
    assert finance.get("/api/office/ledger", params={"program": "nope"}).status_code == 404

    exported = finance.get("/office/ledger/file", params={"program": GL, "payee": "P1"})
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == p1["count"] and {r["payee_id"] for r in rows} == {"P1"}
    assert sum(Decimal(r["amount"]) for r in rows) == hand_total(GL, payee_id="P1")
    assert "ledger-generuj-leady-P1.csv" in exported.headers["content-disposition"]

    # the page in Polish: the total in Polish money format, the filter kept
    finance.post("/language", data={"lang": "pl", "back": "/office/ledger",
                                    "csrf_token": finance.headers["X-CSRF-Token"]})
    page = finance.get("/office/ledger", params={"program": GL, "payee": "P1"}).text
    assert format_currency(hand_total(GL, payee_id="P1"), "PLN", locale="pl_PL") in page
    assert page.count('<tr class="entry"') == p1["count"]
    assert "Księga" in page
    assert finance.get("/office/generuj-leady/ledger", follow_redirects=False
                       ).headers["location"] == f"/office/ledger?program={GL}"


def test_accruals_bank_reference_and_the_audit_log_around_a_payout(demo_workspace):
    ws = demo_workspace
    finance = login(ws, "finance")
    before = finance.get("/api/office/accruals").json()
    assert before["as_of"] == ws.today().isoformat()
    rows = {(r["program"], r["payee_id"]): r for r in before["rows"]}
    expected = defaultdict(Decimal)
    for r in expected_payouts(GL):
        expected[r["payee_id"]] += Decimal(r["amount"])
    for payee, amount in expected.items():
        if amount:  # nothing paid yet: all that is posted is accrued
            row = rows[(GL, payee)]
            assert (Decimal(row["posted"]), Decimal(row["paid"]), Decimal(row["accrued"])) == (
                amount, 0, amount), payee

    # P1's bank account arrives with its master data, then finance pays Generuj Leady
    with ws.store.reading() as session:
        p1 = next(r.data for r in current(session, GL, "partners").values()
                  if r.data["partner_id"] == "P1")
    row = dict(p1) | {"bank_reference": IBAN}
    imports.apply_rows(ws, GL, "partners", [row], actor="finance", as_of=ws.today(),
                       snapshot=False, file_name="bank details", file_sha=content_sha(row))
    paid = finance.post(f"/api/office/{GL}/payouts")
    assert paid.status_code == 201, paid.text
    batch = paid.json()["batch"]["id"]
    file = finance.get(f"/office/{GL}/payouts/{batch}/file?format=csv").text
    lines = {r["payee_id"]: r for r in csv.DictReader(io.StringIO(file))}
    assert list(lines["P1"]) == ["batch", "batch_date", "program", "payee_id", "payee_name",
                                 "tax_id", "bank_reference", "periods", "currency", "amount",
                                 "entries"]
    assert (lines["P1"]["bank_reference"], lines["P1"]["tax_id"]) == (IBAN, "5208710903")
    assert lines["P2"]["bank_reference"] == ""  # not known: empty
    assert Decimal(lines["P1"]["amount"]) == expected["P1"]
    page = finance.get(f"/office/{GL}/payouts").text
    assert batch in page and "format=parquet" in page

    after = finance.get("/api/office/accruals").json()
    assert not [r for r in after["rows"] if r["program"] == GL]  # all of it paid
    assert {r["program"] for r in after["rows"]} == {r["program"] for r in before["rows"]} - {GL}
    assert (finance.get("/api/office/accruals", params={"program": GL}).json()["rows"]) == []
    last = finance.get("/api/office/accruals", params={"as_of": "9999-12-31"})  # no overflow
    assert last.status_code == 200 and last.json()["rows"] == after["rows"]

    audit = finance.get("/api/office/audit", params={"actor": "finance"}).json()
    assert [e["action"] for e in audit["events"]] == ["pay", "import"]  # newest first
    pay = audit["events"][0]
    assert (pay["key"], pay["program"]) == (batch, GL)
    assert {c["field"]: (c["before"], c["after"]) for c in pay["changes"]}["payees"] == (
        None, str(len(lines)))
    approvals = finance.get("/api/office/audit", params={"action": "approve"}).json()
    runs = [e for e in approvals["events"] if e["entity"] == "run"]
    assert runs and {e["action"] for e in approvals["events"]} == {"approve"}
    assert all(e["changes"] == [{"field": "status", "before": "preview", "after": "approved"}]
               for e in runs)
    tomorrow = ws.today().replace(year=ws.today().year + 1).isoformat()
    assert finance.get("/api/office/audit", params={"start": tomorrow}).json()["count"] == 0
    assert finance.get("/api/office/audit", params={"end": "9999-12-31"}).json()["count"] == (
        finance.get("/api/office/audit").json()["count"])
    paged = finance.get("/api/office/audit", params={"size": 25, "page": 2}).json()
    assert paged["page"] == 2 and len(paged["events"]) == min(25, paged["count"] - 25)

    finance.post("/language", data={"lang": "zh", "back": "/office/audit",
                                    "csrf_token": finance.headers["X-CSRF-Token"]})
    html = finance.get("/office/audit", params={"action": "approve"}).text
    # the states in the reader's language, the field's name as data
    assert '<td class="before">预览</td>' in html and '<td class="after">已批准</td>' in html
    assert '<td><code>status</code></td>' in html
    assert '"status": "preview"' not in html and "{" not in html.split("<main>")[1]
    assert "审计日志" in html and f'href="/office/{GL}/payouts"' in html
