"""Languages of the portal: gettext catalogs (Babel .po files) for Polish and Chinese;
English is the source text. Money and dates in each locale's formats (Babel)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

from paymaster.messages import CATALOGS, LOCALES, translations  # noqa: F401 - re-exported
from paymaster.services.reason_labels import reason_label


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark, translate later"
    """Mark a text for the catalogs where it is defined; it is translated where shown."""
    return message


# Words the pages show from data (roles, states, ledger kinds, actions, the labels made
# from column names), marked for the catalogs.
DATA_WORDS = (
    N_("admin"),
    N_("approver"),
    N_("partner"),
    N_("rep"),
    N_("viewer"),
    N_("submitted"),
    N_("accepted"),
    N_("rejected"),
    N_("draft"),
    N_("approved"),
    N_("withdrawn"),
    N_("preview"),
    N_("posted"),
    N_("open"),
    N_("payout"),
    N_("adjustment"),
    N_("clawback"),
    N_("cancellation"),
    N_("submit"),
    N_("withdraw"),
    N_("Customer name"),
    N_("Customer address"),
    N_("Customer nip"),
    N_("Family"),
    N_("Plan"),
    N_("Licences"),
    N_("Pcs"),
    N_("Partner name"),
    N_("Partner address"),
    N_("Partner nip"),
    N_("Contact name"),
    N_("Contact phone"),
    N_("Contact email"),
    N_("Items"),
    N_("Return date"),
    N_("Rma number"),
    N_("Tmp quote"),
    N_("Sales order"),
    N_("plan added"),
    N_("plan changed"),
)


class Formatter:
    """What a template needs to speak one language: `_`, money, dates, percentages."""

    def __init__(self, language: str):
        self.language = language if language in LOCALES else "en"
        self.locale = LOCALES[self.language]
        self._ = translations(self.language).gettext

    def money(self, amount: Decimal | None, currency: str) -> str:
        return "" if amount is None else format_currency(amount, currency, locale=self.locale)

    def date(self, value: dt.date | None) -> str:
        return "" if value is None else format_date(value, format="medium", locale=self.locale)

    def datetime(self, value: dt.datetime | None) -> str:
        return "" if value is None else format_datetime(value, format="medium",
                                                        locale=self.locale)

    def reason(self, code: str | None) -> str:
        """A reason code's words (empty for a plan's own codes, shown as written)."""
        return reason_label(code, self.language)

    def number(self, value: Decimal | None) -> str:
        """A measured figure that is not money (a count, a score, sales as a value)."""
        return "" if value is None else format_decimal(value, format="#,##0.00",
                                                       locale=self.locale)

    def percent(self, ratio: Decimal | None) -> str:
        return "" if ratio is None else format_percent(ratio, format="#,##0.0%",
                                                       locale=self.locale)
