"""The portal's languages: every message translated, placeholders kept, pages speak the
user's language with its money and date formats."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from paymaster.web.app import create_app
from paymaster.web.catalog import LANGUAGES, load, messages
from paymaster.web.i18n import Formatter


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language: str) -> None:
    catalog = load(language)
    used = messages()
    missing = [m for m in used if not (catalog.get(m) and catalog.get(m).string)]
    assert missing == [], f"run: python -m paymaster.web.catalog, then translate {missing}"
    for msgid in used:
        placeholders = sorted(re.findall(r"%\(\w+\)s", msgid))
        assert sorted(re.findall(r"%\(\w+\)s", catalog.get(msgid).string)) == placeholders, msgid


def test_money_and_dates_in_each_locale() -> None:
    import datetime as dt

    amount, day = Decimal("1234.5"), dt.date(2018, 5, 10)
    assert Formatter("en").money(amount, "PLN") == "PLN1,234.50"  # CLDR en_US: no space
    assert Formatter("pl").money(amount, "PLN") == "1\xa0234,50\xa0zł"
    assert Formatter("zh").money(amount, "CNY") == "¥1,234.50"
    assert Formatter("pl").date(day) == "10 maj 2018"
    assert Formatter("zh").date(day) == "2018年5月10日"


def test_a_page_speaks_the_users_language(demo_workspace) -> None:
    client = TestClient(create_app(demo_workspace))
    answer = client.post("/api/login", json={"username": "alfa", "password": "alfa-demo-pass"})
    assert answer.json()["user"]["locale"] == "pl"
    page = client.get("/programs/generuj-leady/registrations")
    assert page.status_code == 200
    assert 'lang="pl"' in page.text
    assert "Wyloguj" in page.text  # "Log out" in the header, from the Polish catalog
    token = answer.json()["csrf_token"]
    client.post("/language", data={"lang": "zh", "back": "/me", "csrf_token": token})
    assert 'lang="zh"' in client.get("/me").text
