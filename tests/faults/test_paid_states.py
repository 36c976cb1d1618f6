"""Earned, posted, paid are three states, said apart everywhere (issue 15, item 3).

The demo workspace has its runs posted and nothing paid: statements, status pages, their
downloads and the API must say "posted, not paid" in every language, and agree with the
accruals report (0.00 paid). Once the office pays a batch in the portal, they say paid,
with the batch id and its date; the batch is listed and its file downloads again.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from paymaster.analytics.accruals import accruals
from paymaster.services.accounts import DEMO_ACCOUNTS
from paymaster.web.app import create_app

# Without the session's SQL cache (tests/conftest.py): injects faults into the store and
# services around runs.
pytestmark = pytest.mark.no_sql_cache

PASSWORDS = {name: password for name, password, *_ in DEMO_ACCOUNTS}
LEADS = "generuj-leady"
STATEMENT = f"/programs/{LEADS}/statement"
STATUS = f"/programs/{LEADS}/status"
POSTED = {"en": "posted, not paid", "pl": "zaksięgowano, nie wypłacono", "zh": "已入账，未支付"}
PAID = {"en": "paid: batch {}", "pl": "wypłacono: partia {}", "zh": "已支付：批次 {}"}
# what the statements used to say for a line that was only posted
OLD_PAID = {"en": ">paid<", "pl": ">wypłacono<", "zh": ">已支付<"}


def login(client: TestClient, username: str, lang: str = "en") -> None:
    client.cookies.clear()
    client.headers.pop("X-CSRF-Token", None)
    response = client.post("/api/login", json={"username": username,
                                                "password": PASSWORDS[username]})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    assert client.post("/language", data={"lang": lang, "back": "/me"},
                       follow_redirects=False).status_code == 303


def earning(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["earns"]]


def test_posted_is_not_paid_until_a_batch_pays_it(demo_workspace):
    ws = demo_workspace
    client = TestClient(create_app(ws))
    login(client, "alfa")
    data = client.get(f"/api{STATEMENT}").json()
    assert earning(data["lines"]) and all(
        (x["state"], x["paid"], x["batches"], x["paid_on"]) == ("posted", "0.00", [], None)
        for x in earning(data["lines"]))
    assert data["total_paid"] == "0.00" and data["total_unpaid"] == data["total_posted"]
    assert all(e["batch"] is None for e in data["entries"])
    status = client.get(f"/api{STATUS}").json()
    assert all(x["state"] == "posted" for x in earning(status["lines"]))
    assert status["total_paid"] == "0.00" and status["total_posted"] == data["total_posted"]
    (p1,) = [r for r in accruals(ws, program=LEADS) if r["payee_id"] == "P1"]
    assert p1["paid"] == 0 and p1["posted"] == Decimal(data["total_posted"])
    for lang in ("en", "pl", "zh"):
        login(client, "alfa", lang)
        for page in (client.get(STATEMENT).text, client.get(STATUS).text,
                     client.get(f"{STATEMENT}?format=html").text):
            # the payee home's "Paid" tile names a figure (nothing paid yet), not a line state
            tile = re.search(r'<div class="tile" id="money-paid">.*?</div>', page, re.S)
            if tile:
                assert re.search(r"PLN\s*0[.,]00|0,00\s*zł", tile.group(0)), tile.group(0)
                page = page.replace(tile.group(0), "")
            assert POSTED[lang] in page and OLD_PAID[lang] not in page, lang
        lines = list(csv.DictReader(client.get(f"{STATEMENT}?format=csv").text.splitlines()))
        assert {r["state"] for r in lines if r["earns"] == "true"} == {"posted"}

    login(client, "admin")
    paid = client.post(f"/api/office/{LEADS}/payouts")
    assert paid.status_code == 201, paid.text
    batch = paid.json()["batch"]["id"]
    again = client.post(f"/api/office/{LEADS}/payouts")
    assert (again.status_code, again.json()) == (200, {"batch": None})  # nothing left to pay
    listing = client.get(f"/office/{LEADS}/payouts")
    assert batch in listing.text and f"/office/{LEADS}/payouts/{batch}/file" in listing.text
    first = client.get(f"/office/{LEADS}/payouts/{batch}/file?format=csv")
    assert first.status_code == 200 and first.text == client.get(
        f"/api/office/{LEADS}/payouts/{batch}/file").text  # the same file every time
    rows = {r["payee_id"]: r for r in csv.DictReader(first.text.splitlines())}
    assert (rows["P1"]["payee_name"], rows["P1"]["tax_id"], rows["P1"]["batch"]) == (
        "Alfa", "5208710903", batch)
    assert Decimal(rows["P1"]["amount"]) == Decimal(data["total_posted"])

    login(client, "alfa")
    data = client.get(f"/api{STATEMENT}").json()
    today = ws.today().isoformat()
    assert all((x["state"], x["batches"], x["paid_on"]) == ("paid", [batch], today)
               and x["paid"] == x["posted"] for x in earning(data["lines"]))
    assert data["total_paid"] == data["total_posted"] and data["total_unpaid"] == "0.00"
    assert {e["batch"] for e in data["entries"]} == {batch}
    status = client.get(f"/api{STATUS}").json()
    assert all(x["state"] == "paid" and x["batches"] == [batch]
               for x in earning(status["lines"]))
    assert [r for r in accruals(ws, program=LEADS) if r["payee_id"] == "P1"] == []
    for lang in ("en", "pl", "zh"):
        login(client, "alfa", lang)
        for page in (client.get(STATEMENT).text, client.get(STATUS).text,
                     client.get(f"{STATEMENT}?format=html").text):
            assert PAID[lang].format(batch) in page and POSTED[lang] not in page, lang
    book = load_workbook(io.BytesIO(client.get(f"{STATEMENT}?format=xlsx").content))
    assert {row[-1] for row in book["Ledger"].iter_rows(min_row=2, values_only=True)} == {
        f"已支付：批次 {batch}，{ws.today().year}年{ws.today().month}月{ws.today().day}日"}


@pytest.mark.parametrize("role", ["viewer", "alfa"])
def test_only_the_office_pays_and_payees_cannot_download_batches(demo_workspace, role):
    client = TestClient(create_app(demo_workspace))
    login(client, role)
    assert client.post(f"/api/office/{LEADS}/payouts").status_code == 403
    assert client.get(f"/api/office/{LEADS}/payouts").status_code == (
        200 if role == "viewer" else 403)
