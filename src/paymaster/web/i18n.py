"""Languages of the portal: gettext catalogs (Babel .po files) for Polish and Chinese;
English is the source text. Money and dates in each locale's formats (Babel)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from markupsafe import Markup, escape

from paymaster.errors import N_, Count, Word  # noqa: F401 - N_ re-exported
from paymaster.messages import CATALOGS, LOCALES, translations  # noqa: F401 - re-exported
from paymaster.plan.model import Plan
from paymaster.plan.words import measure_labels, word
from paymaster.reasons import reason_label
from paymaster.services.statement_labels import display_label


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
    # Starlette's titles of an error page (an unknown address, a wrong method)
    N_("Not Found"),
    N_("Method Not Allowed"),
    # the queues, as errors name them (errors.Word)
    N_("registrations"),
    N_("enrollments"),
    N_("disputes"),
)


class Formatter:
    """What a template needs to speak one language: `_`, money, dates, percentages."""

    def __init__(self, language: str, plan: Plan | None = None,
                 plans: Callable[[str], Any] | None = None):
        self.language = language if language in LOCALES else "en"
        self.locale = LOCALES[self.language]
        self._ = translations(self.language).gettext
        self.plan = plan  # the page's program: its own words (labels, reasons) translated
        self._plans = plans  # any program's loaded plan, by name (pages listing programs)

    def money(self, amount: Decimal | None, currency: str) -> str:
        return "" if amount is None else format_currency(amount, currency, locale=self.locale)

    def date(self, value: dt.date | str | None) -> str:
        if isinstance(value, str):  # a date column of an input row, kept as ISO text
            try:
                value = dt.date.fromisoformat(value[:10])
            except ValueError:
                return value
        return "" if value is None else format_date(value, format="medium", locale=self.locale)

    def datetime(self, value: dt.datetime | None) -> str:
        return "" if value is None else format_datetime(value, format="medium",
                                                        locale=self.locale)

    def reason(self, code: str | None) -> str:
        """A reason code's words (empty for a code nobody translates, shown as written)."""
        return reason_label(code, self.language, self.plan)

    def field_error(self, error: str) -> str:
        """A form field's error (web.routes_payee.FieldError) in the reader's language."""
        message, values = getattr(error, "message", error), getattr(error, "values", None)
        return self._(message) % values if values else self._(message)

    def program_title(self, program: str, title: str) -> str:
        """A program's title in the reader's language (a page listing programs)."""
        return word(self._plans(program).plan, title, self.language) if self._plans else title

    def measure(self, measure_id: str | None) -> str:
        """A measure of the page's plan by its label in the reader's language, without the
        rules' clause number; the id itself when the plan has no such measure."""
        labels = measure_labels(self.plan, self.language) if self.plan is not None else {}
        return display_label(labels[measure_id], measure_id) if measure_id in labels \
            else (measure_id or "")

    def word(self, text: str | None) -> str:
        """A word of the page's plan (a label, a band, a title) in the reader's language;
        a ranking's band ("place 2") in the catalog's words."""
        numbered = re.fullmatch(r"(place|evaluation) (\d+)", text or "")
        if numbered:  # the engine's bands of rankings and gated rebates
            kind = self._("place") if numbered.group(1) == "place" else self._("Evaluation")
            return f"{kind} {numbered.group(2)}"
        return word(self.plan, text, self.language) if self.plan is not None else (text or "")

    def cell(self, value):
        """An input record's value: dates and numbers in the locale's form, text as is."""
        if isinstance(value, dt.date):
            return self.date(value)
        if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
            return self.number(value)
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return self.date(value)
        return "" if value is None else value

    def problem(self, problem) -> Markup:
        """A problem's message and hint in the reader's language (`problem_text` with the
        hint in brackets)."""
        text, hint = self.problem_message(problem), self.problem_hint(problem)
        if not hint:
            return text
        return Markup(escape(self._(N_("%(message)s (%(hint)s)")))
                      % {"message": text, "hint": hint})

    def problem_message(self, problem) -> Markup:
        """A templated problem's (errors.Problem.of) translated template with its figures
        in the locale's form: ids in <code>, words of the catalogs translated, dates and
        figures formatted, all escaped. An older, finished text is translated when the
        catalogs have it whole, else shown as written."""
        if problem.template is None:
            return escape(self._(problem.message))
        return self._fill(problem.template, problem.args)

    def problem_hint(self, problem) -> Markup | None:
        """The hint in the reader's language; a command-line hint (a templated problem's
        `cli_hint`: a command to type) is not shown on a page. An untemplated hint only
        when the catalogs have it or the reader reads English."""
        if problem.template is not None:
            return self._fill(problem.hint_template, problem.args) \
                if problem.hint_template else None
        if not problem.hint:
            return None
        said = self._(problem.hint)
        return escape(said) if said != problem.hint or self.language == "en" else None

    def _fill(self, template: str, args) -> Markup:
        return Markup(escape(self._(template)) % {name: self._figure(value)
                                                  for name, value in args})

    def _figure(self, value) -> Markup:
        if isinstance(value, Word):
            return escape(self._(value))
        if isinstance(value, bool) or value is None:
            return escape(str(value))
        if isinstance(value, dt.datetime):
            return escape(self.datetime(value))
        if isinstance(value, dt.date):
            return escape(self.date(value))
        if isinstance(value, Decimal):
            return escape(self.number(value))
        if isinstance(value, Count):
            return escape(format_decimal(value, locale=self.locale))
        if isinstance(value, int):
            return escape(str(value))  # a case or run number, a small count: as written
        if isinstance(value, list | tuple):  # a list of ids
            return Markup(", ").join(self._figure(v) for v in value)
        return Markup("<code>{}</code>").format(value)

    def number(self, value: Decimal | None) -> str:
        """A measured figure that is not money (a count, a score, sales as a value)."""
        return "" if value is None else format_decimal(value, format="#,##0.00",
                                                       locale=self.locale)

    def percent(self, ratio: Decimal | None) -> str:
        return "" if ratio is None else format_percent(ratio, format="#,##0.0%",
                                                       locale=self.locale)
