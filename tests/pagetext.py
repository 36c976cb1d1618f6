"""What a reader of Polish or Chinese reads on a page, and what in it is not Polish or
Chinese (English words, untranslated catalog messages, figures and dates in English
form): shared by the page crawl (test_web_i18n) and the refusals (test_web_errors_i18n)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from paymaster.web.catalog import load

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


def reader_problems(language: str, path: str, html: str) -> list[str]:
    """Every text of `html` a reader of `language` would find English or in English form."""
    parser = PageText()
    parser.feed(html)
    return page_problems(language, path, parser.texts, translated_msgids(language))
