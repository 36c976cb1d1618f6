"""The portal's languages: every message translated, placeholders kept, pages speak the
user's language with its money and date formats."""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
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
# A reader of Polish or Chinese meets no English: no catalog message left untranslated,
# none of these English words (outside <code>: ids, column names and reason codes are
# shown as codes, their words beside them), and no figure in English form.
ENGLISH = re.compile(
    r"\b(registration|registered|rejected|accepted|submitted|qualifying|required|passed|"
    r"failed|closed deal|not paid|place|value|target|total|growth|annual|monthly|award|"
    r"bonus|commission|contest|champion|returns|rebate|evaluation|period|amount|band|"
    r"of target|capped|licences|no lines|none|pending|approved|posted|paid|open|incentive"
    r")\b", re.I)
NUMBER_FORM = {
    # Polish writes 1 234,50: a point before two decimals or five ungrouped digits is not.
    "pl": re.compile(r"\d\.\d{2}\b|\d{5,},\d{2}\b"),
    # Chinese (zh_Hans_CN) groups thousands: 15,000.00, never 15000.00.
    "zh": re.compile(r"(?<![\d,])\d{4,}\.\d{2}\b"),
}
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
SKIP_LINKS = ("/api", "/logout", "/static", "/file", ".csv", ".pdf", ".xlsx", ".parquet",
              ".svg", "format=", "download")


class PageText(HTMLParser):
    """What a reader reads on a page (text, placeholders, labels), less <code>, and its
    links."""

    QUIET = {"script", "style", "code", "textarea", "pre"}

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.links: list[str] = []
        self._quiet = 0
        self._option: str | None = None

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag in self.QUIET:
            self._quiet += 1
        self._option = found.get("value") if tag == "option" else None
        if tag == "a" and found.get("href"):
            self.links.append(found["href"])
        for name in ("placeholder", "aria-label"):
            if found.get(name) and tag != "a":
                self.texts.append(found[name])

    def handle_endtag(self, tag):
        if tag in self.QUIET:
            self._quiet -= 1

    def handle_data(self, data):
        if self._option is not None and data.strip() == self._option:
            return  # an id offered as itself (a table, a period): chosen, not read
        if not self._quiet and data.strip():
            self.texts.append(" ".join(data.split()))


def translated_msgids(language: str) -> tuple[set[str], list[str]]:
    """The catalog's messages whose translation differs from the English: whole texts
    (to match a text node) and the longer ones (to find inside one)."""
    catalog = load(language)
    whole = {m.id for m in catalog if m.id and isinstance(m.id, str) and m.string
             and m.string != m.id and "%(" not in m.id}
    return whole, [m for m in whole if m.count(" ") >= 3]


def page_problems(language: str, path: str, texts: list[str], msgids) -> list[str]:
    whole, long = msgids
    found = []
    for text in texts:
        if text in whole or any(m in text for m in long):
            found.append(f"untranslated {text!r}")
        elif ENGLISH.search(text):
            found.append(f"English {ENGLISH.search(text).group(0)!r} in {text!r}")
        elif NUMBER_FORM[language].search(text):
            found.append(f"figure in English form in {text!r}")
        elif ISO_DATE.search(text):
            found.append(f"ISO date in {text!r}")
    return [f"{language} {path}: {p}" for p in found]


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
