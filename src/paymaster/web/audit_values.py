"""An audit event's before/after values as a reader reads them: field names are data (in
<code>), amounts and dates in the reader's locale, state words in the reader's language,
other text as written. The JSON twin keeps `services.finance_views.readable`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal
from markupsafe import Markup, escape

from paymaster.plan.model import Plan
from paymaster.plan.words import word
from paymaster.web.i18n import DATA_WORDS, N_, Formatter

# states, roles, ledger kinds: words of the catalogs (an id that happens to be a word, as
# a payee named "open", is rare in these fields and reads the same translated)
STATE_WORDS = frozenset(DATA_WORDS + (N_("paid"), N_("superseded"), N_("finance")))
PATH = re.compile(r"\S*[/\\]\S*")
DECIMAL = re.compile(r"-?\d+(\.(\d+))?")
AMOUNT = re.compile(r"-?\d+\.\d+")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?")


def shower(fmt: Formatter, plans: Sequence[Plan] = (),
           limit: int = 160) -> Callable[[Any], Markup | None]:
    """`show` for `finance_views.audit_page`: a value as safe HTML, cut near `limit`
    characters of text (the event keeps it whole). A word one of the `plans` translates
    (a level, a label of its data) in the plan's words."""

    def plan_word(text: str) -> str:
        for plan in plans:
            translated = word(plan, text, fmt.language)
            if translated != text:
                return translated
        return text

    def scalar(value: Any) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, dt.datetime):
            return fmt.datetime(value)
        if isinstance(value, dt.date):
            return fmt.date(value)
        if isinstance(value, int | float | Decimal):
            return number(str(value))
        if not isinstance(value, str):
            return str(value)
        if value in STATE_WORDS:
            return fmt._(value)
        if DATETIME.fullmatch(value):
            return fmt.datetime(dt.datetime.fromisoformat(value))
        if DATE.fullmatch(value):
            return fmt.date(value)
        if AMOUNT.fullmatch(value):  # stored as text to stay exact; whole digits are ids
            return number(value)
        return plan_word(value)

    def number(text: str) -> str:
        """An amount keeps its decimals, a count stays whole."""
        found = DECIMAL.fullmatch(text)
        if not found:
            return text
        places = len(found.group(2) or "")
        pattern = "#,##0" + ("." + "0" * places if places else "")
        return format_decimal(Decimal(text), format=pattern, locale=fmt.locale)

    def show(value: Any, room: int = limit) -> Markup | None:
        if value is None:
            return None
        if isinstance(value, dict):
            pieces, used = [], 0
            for key, item in value.items():
                shown = Markup("–") if item is None else show(item, room - used)
                pieces.append(Markup("<code>{}</code>: {}").format(key, shown))
                used += len(str(key)) + len(Markup(shown).striptags()) + 4
                if used > room:
                    pieces.append(Markup("…"))
                    break
            return Markup(", ").join(pieces)
        if isinstance(value, list):
            pieces, used = [], 0
            for item in value:
                shown = show(item, room - used) or Markup("–")
                pieces.append(shown)
                used += len(Markup(shown).striptags()) + 2
                if used > room:
                    pieces.append(Markup("…"))
                    break
            return Markup("; ").join(pieces)
        if isinstance(value, str) and (PATH.fullmatch(value) or "\n" in value):
            # a file's path or its text (a plan's source) is data, cut like the rest
            cut = value if len(value) <= room else value[:max(room, 1) - 1] + "…"
            return Markup("<code>{}</code>").format(cut)
        text = scalar(value)
        return escape(text if len(text) <= room else text[:max(room, 1) - 1] + "…")

    return show
