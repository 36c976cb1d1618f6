"""The portal's languages: every message translated, placeholders kept, pages speak the
user's language with its money and date formats."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from pagetext import SKIP_LINKS, PageText, page_problems, translated_msgids
from starlette.testclient import TestClient

from paymaster.services.accounts import DEMO_ACCOUNTS
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


# ------------------------------------------------------------ every page in pl and zh
# The reader's texts and the checks on them: tests/pagetext.py.


def crawl(client: TestClient, language: str, msgids, limit: int = 80) -> tuple[list, list]:
    """Every page reachable from the home page by the portal's links (one payee's status
    and statement standing for every payee's); gives the pages and their problems."""
    seen, queue, shapes, problems = [], ["/"], set(), []
    while queue and len(seen) < limit:
        path = queue.pop(0)
        answer = client.get(path)
        path = str(answer.url).split("testserver", 1)[-1]
        if path in seen:
            continue
        seen.append(path)
        assert answer.status_code == 200, (path, answer.status_code)
        parser = PageText()
        parser.feed(answer.text)
        problems += page_problems(language, path, parser.texts, msgids)
        for link in (link.split("#")[0] for link in parser.links):
            shape = re.sub(r"(\?payee=|/statement/)[^/?&]+", r"\1*", link)
            if link.startswith("/") and not any(s in link for s in SKIP_LINKS) \
                    and shape not in shapes:
                queue.append(link)
                shapes.add(shape)
    return seen, problems


def test_every_page_of_every_role_speaks_polish_and_chinese(demo_workspace) -> None:
    """The office (admin: every office page and, from its payee directory, every payee
    page), a partner of each program and a rep, in Polish and in Chinese."""
    client = TestClient(create_app(demo_workspace))
    problems, visited = [], {}
    passwords = {user: password for user, password, *_ in DEMO_ACCOUNTS}
    # the office in Chinese reaches every program's payee pages too; a partner of each
    # program and a rep in Polish
    for user, language in (("admin", "zh"), ("alfa", "pl"), ("partner-d", "pl"), ("rep01", "pl")):
        client.cookies.clear()
        token = client.post("/api/login", json={"username": user, "password": passwords[user]}
                            ).json()["csrf_token"]
        client.post("/language", data={"lang": language, "back": "/me", "csrf_token": token})
        pages, found = crawl(client, language, translated_msgids(language))
        visited[user, language] = pages
        problems += [f"{user} {p}" for p in found]
    assert any(p.startswith("/office/runs/") for p in visited["admin", "zh"])
    assert any(p.endswith("/statement") for p in visited["alfa", "pl"])
    assert any(p.endswith("/leaderboards") for p in visited["rep01", "pl"])
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:60])

    # A form's errors in the reader's language: the NIP check as a Polish partner types,
    # a Chinese partner's dispute without its line.
    for user, language in (("alfa", "pl"), ("partner-d", "zh")):
        client.cookies.clear()
        token = client.post("/api/login", json={"username": user, "password": passwords[user]}
                            ).json()["csrf_token"]
        client.post("/language", data={"lang": language, "back": "/me", "csrf_token": token})
        if user == "alfa":
            fragment = client.post("/programs/generuj-leady/registrations/validate",
                                   data={"customer_nip": "5200316763", "licences": "-2",
                                         "csrf_token": token}, headers={"HX-Request": "true"})
            assert "Nieprawidłowy NIP (sprawdź cyfry)." in fragment.text
            assert "Liczba całkowita, co najmniej 0." in fragment.text
        else:
            refused = client.post("/programs/trade-in-accelerator/disputes",
                                  data={"kind": "line", "description": "RMA-L08 missing",
                                        "csrf_token": token})
            assert refused.status_code == 400
            assert "请选择争议涉及的支付明细" in refused.text
