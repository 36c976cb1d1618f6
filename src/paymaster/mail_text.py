"""A notification put in words: subject, plain text and HTML in the reader's language, from
the codes and figures its outbox row holds. The sentences are in the portal's catalogs
(web/locales; `python -m paymaster.web.catalog` extracts them from here too); amounts and
dates are formatted for the reader's locale by Babel."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from html import escape

from babel.dates import format_date
from babel.numbers import format_currency

from paymaster.messages import LOCALES, translations
from paymaster.services.reason_labels import reason_text


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark, translate later"
    return message


# (kind, status or what) -> (subject, first paragraph). Placeholders: %(id)s, %(program)s,
# %(date)s, %(phase)s, %(period)s, %(total)s, %(lines)s.
SENTENCES: dict[tuple[str, str], tuple[str, str]] = {
    ("registration", "accepted"): (
        N_("Registration %(id)s accepted"),
        N_("Your lead registration %(id)s in %(program)s was accepted.")),
    ("registration", "rejected"): (
        N_("Registration %(id)s rejected"),
        N_("Your lead registration %(id)s in %(program)s was rejected.")),
    ("enrollment", "approved"): (
        N_("Enrollment %(id)s approved"),
        N_("Your enrollment %(id)s in %(program)s, phase %(phase)s, was approved.")),
    ("enrollment", "rejected"): (
        N_("Enrollment %(id)s rejected"),
        N_("Your enrollment %(id)s in %(program)s, phase %(phase)s, was rejected.")),
    ("dispute", "accepted"): (
        N_("Dispute %(id)s accepted"),
        N_("Your dispute %(id)s in %(program)s was answered: it is accepted.")),
    ("dispute", "rejected"): (
        N_("Dispute %(id)s rejected"),
        N_("Your dispute %(id)s in %(program)s was answered: it is rejected.")),
    # A payee reads its statement, not a run: the run's number stays out of the words.
    ("statement", "posted"): (
        N_("Your statement for %(period)s is published"),
        N_("Your statement for %(period)s in %(program)s is published: %(lines)s line(s), "
           "%(total)s in total. Read it on the Statement page of the portal.")),
    ("statement", "posted_whole"): (  # a run of no one period: the program's whole statement
        N_("Your statement in %(program)s is published"),
        N_("Your statement in %(program)s is published: %(lines)s line(s), %(total)s in "
           "total. Read it on the Statement page of the portal.")),
    ("reminder", "registration_decision"): (
        N_("Registration %(id)s is due for a decision by %(date)s"),
        N_("Lead registration %(id)s in %(program)s is waiting for a decision, due by "
           "%(date)s.")),
    ("reminder", "enrollment_decision"): (
        N_("Enrollment %(id)s is due for a decision by %(date)s"),
        N_("Enrollment %(id)s in %(program)s is waiting for a decision, due by %(date)s.")),
    ("reminder", "enrollment_deadline"): (
        N_("Enrollment for phase %(phase)s closes on %(date)s"),
        N_("Applications to phase %(phase)s of %(program)s must be submitted by %(date)s; "
           "yours is not submitted yet.")),
}
GREETING = N_("Hello,")
REASON = N_("Reason: %(reason)s")
ANSWER = N_("The program office says: %(text)s")
FOOTER = N_("See the details in the Paymaster portal. You can turn these messages off on "
            "your account page there.")


def render(kind: str, payload: dict, language: str) -> tuple[str, str, str]:
    """(subject, text, html) of one message."""
    language = language if language in LOCALES else "en"
    _ = translations(language).gettext
    what = payload.get("what") or payload.get("status") or "posted"
    subject, lead = SENTENCES[(kind, what)]
    figures = _figures(payload, language)
    paragraphs = [_(lead) % figures]
    if payload.get("reason"):
        paragraphs.append(_(REASON) % {"reason": reason_text(payload["reason"], language)})
    if payload.get("resolution"):
        paragraphs.append(_(ANSWER) % {"text": payload["resolution"]})
    paragraphs.append(_(FOOTER))
    text = "\n\n".join([_(GREETING), *paragraphs]) + "\n"
    html = (f'<!doctype html><html lang="{language}"><body>'
            + "".join(f"<p>{escape(p)}</p>" for p in [_(GREETING), *paragraphs])
            + "</body></html>")
    return _(subject) % figures, text, html


def _figures(payload: dict, language: str) -> dict[str, str]:
    locale = LOCALES[language]
    ident = next((payload[k] for k in ("registration_id", "enrollment_id", "dispute_id",
                                       "run_id", "id") if payload.get(k) is not None), "")
    figures = {"id": str(ident), "program": str(payload.get("title") or payload.get("program") or ""),
               "phase": str(payload.get("phase") or ""), "period": str(payload.get("period")
                                                                      or ""),
               "lines": str(payload.get("lines") or ""), "date": "", "total": ""}
    if payload.get("date"):
        figures["date"] = format_date(dt.date.fromisoformat(payload["date"]), format="long",
                                      locale=locale)
    if payload.get("total") is not None:
        figures["total"] = format_currency(Decimal(payload["total"]), payload["currency"],
                                           locale=locale)
    return figures
