"""Payee statements rendered as HTML, PDF and Excel, in English, Polish or Chinese.

All three renderers start from one locale-formatted view of the statement, so the
figures and words a payee sees are the same whatever the format. Money stays Decimal
end to end: Babel formats Decimals exactly and openpyxl stores them as they are.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

from paymaster import cells
from paymaster.errors import N_, PaymasterError, Problem
from paymaster.money import minor_units
from paymaster.services.reason_labels import reason_text
from paymaster.services.statement_labels import LABELS
from paymaster.services.statement_model import GateProgress, LedgerEntry, Statement, StatementLine

# Accepted spellings -> (label language, Babel locale).
LOCALES: dict[str, tuple[str, str]] = {
    "en": ("en", "en_US"),
    "en_US": ("en", "en_US"),
    "pl": ("pl", "pl_PL"),
    "pl_PL": ("pl", "pl_PL"),
    "zh": ("zh", "zh_Hans_CN"),
    "zh_CN": ("zh", "zh_Hans_CN"),
}

# One font for every language: it has Latin, Polish and CJK glyphs, so a statement
# never shows empty boxes whatever names or explanations it carries.
PDF_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
PDF_FONT_PACKAGE = "fonts-wqy-microhei"

PERCENT_FORMAT = "#,##0.0%"


# --- locale and formatting -------------------------------------------------------------

def resolve_locale(locale: str) -> tuple[str, str]:
    """(label language, Babel locale) for an accepted locale, or a PaymasterError."""
    key = locale.replace("-", "_") if isinstance(locale, str) else locale
    if key not in LOCALES:
        raise PaymasterError(Problem.of(
            N_("unsupported statement locale %(locale)s"), locale=repr(locale),
            supported=tuple(LOCALES), hint=N_("use one of: %(supported)s")))
    return LOCALES[key]


def _money(amount: Decimal, currency: str, babel_locale: str) -> str:
    return format_currency(amount, currency, locale=babel_locale)


def _percent(ratio: Decimal, babel_locale: str) -> str:
    return format_percent(ratio, format=PERCENT_FORMAT, locale=babel_locale)


def _day(value: date | None, babel_locale: str) -> str:
    return format_date(value, format="medium", locale=babel_locale) if value else ""


def _moment(value: datetime, babel_locale: str) -> str:
    # Naive timestamps are shown as stored (Babel reads them as UTC, no conversion).
    return format_datetime(value, format="medium", locale=babel_locale)


def _amount_or_number(value: Decimal, currency: str | None, babel_locale: str) -> str:
    # Minimum gates are usually money, but a caller without the currency still gets figures.
    if currency:
        return _money(value, currency, babel_locale)
    return format_decimal(value, locale=babel_locale)


# --- gate progress in words ------------------------------------------------------------

def gate_text(gate: GateProgress, locale: str, currency: str | None = None) -> str:
    """One gate's progress in words, e.g. 'returns 81.2% of 85.0% required — failed'.

    `currency` formats minimum gates as money; without it their figures are plain numbers.
    """
    language, babel_locale = resolve_locale(locale)
    words = LABELS[language]
    marker = words["gate_passed"] if gate.passed else words["gate_failed"]
    text = _gate_progress(gate, words, babel_locale, currency)
    if not text:
        return marker
    return words["gate_marker"].format(text=text, marker=marker)


def _gate_progress(gate: GateProgress, words: dict[str, str], babel_locale: str,
                   currency: str | None) -> str:
    if gate.ratio is not None and gate.required_ratio is not None:
        text = words["gate_ratio"].format(
            subject=gate.subject or "",
            value=_percent(gate.ratio, babel_locale),
            required=_percent(gate.required_ratio, babel_locale),
        )
        # Without a subject the sentence would start with a stray separator.
        return text.lstrip(" :") if not gate.subject else text
    if gate.value is not None and gate.threshold is not None:
        return words["gate_minimum"].format(
            value=_amount_or_number(gate.value, currency, babel_locale),
            required=_amount_or_number(gate.threshold, currency, babel_locale),
        )
    return gate.subject or ""


# --- the shared view -------------------------------------------------------------------

def statement_view(statement: Statement, locale: str) -> dict[str, Any]:
    """Everything a renderer shows, as locale-formatted strings."""
    language, babel_locale = resolve_locale(locale)
    words = LABELS[language]

    def money(amount: Decimal) -> str:
        return _money(amount, statement.currency, babel_locale)

    return {
        "lang": language,
        "words": words,
        "header": _header(statement, words, babel_locale),
        "lines": [_line(line, words, money, babel_locale, language) for line in statement.lines],
        "gates": [_gate(gate, locale, statement.currency, babel_locale) for gate in statement.gates],
        "titles": [{"period": p, "title": t, "place": str(n)} for p, t, n in statement.titles],
        "entries": [_entry(entry, words, money, babel_locale) for entry in statement.entries],
        "totals": {
            "earned": money(statement.total_earned),
            "posted": money(statement.total_posted),
            "paid": money(statement.total_paid),
            "unpaid": money(statement.total_unpaid),
            "reconciles": words["yes"] if statement.reconciles else words["no"],
            "reconciles_bool": statement.reconciles,
        },
    }


def _header(statement: Statement, words: dict[str, str], babel_locale: str) -> dict[str, str]:
    return {
        "program_title": statement.program_title,
        "payee_name": statement.payee_name,
        "payee_id": statement.payee_id,
        "period": statement.period or words["all_periods"],
        "generated_on": _day(statement.generated_on, babel_locale),
        "run_id": str(statement.run_id) if statement.run_id is not None else words["no_run"],
    }


def _line(line: StatementLine, words: dict[str, str], money: Callable[[Decimal], str],
          babel_locale: str, language: str) -> dict[str, Any]:
    return {
        "period": line.period,
        "label": line.label,
        "measure": line.measure,
        "source_id": line.source_id or "",
        "date": _day(line.date, babel_locale),
        "amount": money(line.amount),
        "earns": line.earns,
        "state": line.state,
        "status": state_text(line.state, line.batches, line.paid_on, words, babel_locale),
        "reason": reason_text(line.reason, language),
        "explanation": line.explanation,
    }


def _gate(gate: GateProgress, locale: str, currency: str, babel_locale: str) -> dict[str, Any]:
    return {
        "period": gate.period,
        "evaluation": gate.evaluation,
        "subject": gate.subject or "",
        "as_of": _day(gate.as_of, babel_locale),
        "passed": gate.passed,
        "text": gate_text(gate, locale, currency),
        "reason": gate.reason or "",
        "explanation": gate.explanation,
    }


def _entry(entry: LedgerEntry, words: dict[str, str], money: Callable[[Decimal], str],
           babel_locale: str) -> dict[str, Any]:
    corrects = ""
    if entry.adjusts_period and entry.corrects is not None:
        corrects = words["adjusts_closed"].format(entry=entry.corrects, period=entry.adjusts_period,
                                                  run=entry.corrects_run or "-")
    elif entry.adjusts_period:
        corrects = words["adjusts_closed_line"].format(period=entry.adjusts_period)
    elif entry.corrects is not None:
        corrects = words["corrects_entry"].format(entry=entry.corrects)
    return {
        "entry_id": str(entry.entry_id),
        "run_id": str(entry.run_id),
        "posted_at": _moment(entry.posted_at, babel_locale),
        "kind": words.get(f"kind_{entry.kind}", entry.kind),
        "period": entry.period,
        "measure": entry.measure,
        "source_id": entry.source_id or "",
        "amount": money(entry.amount),
        "corrects": corrects,
        "payment": (words["state_paid"].format(batch=entry.batch,
                                               date=_day(entry.paid_at.date(), babel_locale))
                    if entry.batch and entry.paid_at else words["not_paid"]),
    }


def state_text(state: str, batches: tuple[str, ...] | list[str], paid_on: date | None,
               words: dict[str, str], babel_locale: str) -> str:
    """Where a line's money is, in words: not earned, earned, posted, or paid (batch, day)."""
    if state == "paid":
        return words["state_paid"].format(batch=", ".join(batches),
                                          date=_day(paid_on, babel_locale))
    return words[f"state_{state}"]


# --- HTML ------------------------------------------------------------------------------

def render_html(statement: Statement, locale: str) -> str:
    """A standalone HTML5 page (inline CSS, no external assets)."""
    # Imported here so the Excel and PDF paths do not require Jinja2.
    from jinja2 import Environment, PackageLoader

    view = statement_view(statement, locale)
    env = Environment(loader=PackageLoader("paymaster", "templates"), autoescape=True)
    return env.get_template("statement.html").render(v=view, w=view["words"])


# --- PDF -------------------------------------------------------------------------------

def render_pdf(statement: Statement, locale: str) -> bytes:
    """A PDF of the statement, A4 landscape, with a font that covers CJK and Polish."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    # Babel's narrow no-break space (fr/pl grouping) is not in the CJK font: use a plain one.
    view = _replace_text(statement_view(statement, locale), "\u202f", "\u00a0")
    words = view["words"]
    pdf = FPDF(orientation="L", format="A4")
    _use_font(pdf)
    pdf.set_title(f"{words['document_title']} {statement.payee_id}")
    pdf.add_page()
    headings = FontFace(family="wqy", fill_color=(230, 230, 230))

    _pdf_header(pdf, view)
    # The summary first: a reader looks for the total on the first page, not the last.
    _pdf_section(pdf, words["totals"])
    totals = view["totals"]
    _pdf_table(pdf, headings, (90, 50), [words["totals"], words["amount"]],
               [[words["total_earned"], totals["earned"]],
                [words["total_posted"], totals["posted"]],
                [words["total_paid"], totals["paid"]],
                [words["total_unpaid"], totals["unpaid"]],
                [words["reconciles"], totals["reconciles"]]], align="LEFT")
    _pdf_section(pdf, words["lines"])
    _pdf_table(pdf, headings, (20, 28, 18, 26, 28, 22, 32, 103),
               [words["period"], words["measure"], words["source"], words["date"],
                words["amount"], words["status"], words["reason"], words["explanation"]],
               [[ln["period"], ln["label"], ln["source_id"], ln["date"], ln["amount"],
                 ln["status"], ln["reason"], ln["explanation"]] for ln in view["lines"]])
    if view["gates"]:
        _pdf_section(pdf, words["gates"])
        _pdf_table(pdf, headings, (16, 26, 24, 90, 121),
                   [words["period"], words["evaluation"], words["as_of"], words["progress"],
                    words["explanation"]],
                   [[g["period"], g["evaluation"], g["as_of"], g["text"], g["explanation"]]
                    for g in view["gates"]])
    if view["titles"]:
        _pdf_section(pdf, words["titles"])
        _pdf_table(pdf, headings, (30, 217, 30), [words["period"], words["title"], words["place"]],
                   [[t["period"], t["title"], t["place"]] for t in view["titles"]])
    if view["entries"]:
        _pdf_section(pdf, words["ledger"])
        _pdf_table(pdf, headings, (14, 14, 40, 26, 18, 26, 26, 30, 34, 49),
                   [words["entry"], words["run"], words["posted_at"], words["kind"],
                    words["period"], words["measure"], words["source"], words["amount"],
                    words["corrects"], words["payment"]],
                   [[e["entry_id"], e["run_id"], e["posted_at"], e["kind"], e["period"],
                     e["measure"], e["source_id"], e["amount"], e["corrects"], e["payment"]]
                    for e in view["entries"]])
    return bytes(pdf.output())


def _replace_text(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replace_text(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_text(v, old, new) for v in value]
    return value


def _use_font(pdf) -> None:
    if not PDF_FONT.is_file():
        raise PaymasterError(Problem.of(
            N_("the PDF font %(font)s is missing, so statements cannot be rendered as PDF"),
            font=str(PDF_FONT), package=PDF_FONT_PACKAGE,
            hint=N_("install the Debian package %(package)s")))
    # The font has no bold face; registering it as bold too lets table headings render.
    for style in ("", "B"):
        pdf.add_font("wqy", style, str(PDF_FONT), collection_font_number=0)
    pdf.set_font("wqy", size=9)


def _pdf_header(pdf, view: dict[str, Any]) -> None:
    words, header = view["words"], view["header"]
    pdf.set_font_size(16)
    pdf.cell(0, 9, f"{header['program_title']} — {words['document_title']}",
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font_size(10)
    for label, value in (
        (words["payee"], f"{header['payee_name']} ({header['payee_id']})"),
        (words["period"], header["period"]),
        (words["generated_on"], header["generated_on"]),
        (words["run"], header["run_id"]),
    ):
        pdf.cell(0, 6, f"{label}: {value}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font_size(9)


# A heading is kept with what follows it: the heading, its table's header row and two
# rows (in mm); with less room left, the section starts on a new page.
KEEP_WITH_HEADING = 40


def _pdf_section(pdf, title: str) -> None:
    if pdf.get_y() + KEEP_WITH_HEADING > pdf.page_break_trigger:
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font_size(12)
    pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font_size(9)


def _pdf_table(pdf, headings, widths, columns: list[str], rows: list[list[str]],
               align: str = "CENTER") -> None:
    with pdf.table(col_widths=widths, width=sum(widths), headings_style=headings,
                   line_height=5, text_align="LEFT", align=align) as table:
        table.row(columns)
        for row in rows:
            table.row(row)


# --- Excel -----------------------------------------------------------------------------

def render_excel(statement: Statement, locale: str) -> bytes:
    """An .xlsx: Summary (header and totals), Lines, Gates, Titles and Ledger sheets.

    Amounts are real number cells holding the exact Decimal; headings are localized,
    sheet names are not, so programs reading the workbook can find the sheets.
    """
    from openpyxl import Workbook

    view = statement_view(statement, locale)
    words = view["words"]
    money_format = _excel_money_format(statement.currency)
    book = Workbook()

    summary = book.active
    summary.title = "Summary"
    header = view["header"]
    summary.append([words["document_title"], header["program_title"]])
    summary.append([words["payee"], f"{header['payee_name']} ({header['payee_id']})"])
    summary.append([words["period"], header["period"]])
    summary.append([words["generated_on"], statement.generated_on])
    summary.append([words["run"], statement.run_id])
    summary.append([])
    summary.append([words["total_earned"], statement.total_earned])
    summary.append([words["total_posted"], statement.total_posted])
    summary.append([words["total_paid"], statement.total_paid])
    summary.append([words["total_unpaid"], statement.total_unpaid])
    summary.append([words["reconciles"], view["totals"]["reconciles"]])
    summary["B4"].number_format = "yyyy-mm-dd"
    for cell in ("B7", "B8", "B9", "B10"):
        summary[cell].number_format = money_format

    lines = book.create_sheet("Lines")
    lines.append([words["period"], words["measure"], words["source"], words["date"],
                  f"{words['amount']} ({statement.currency})", words["status"],
                  words["reason"], words["explanation"]])
    for line, shown in zip(statement.lines, view["lines"], strict=True):
        lines.append([line.period, line.label, line.source_id, line.date, line.amount,
                      shown["status"], shown["reason"], line.explanation])
    _format_column(lines, "D", "yyyy-mm-dd")
    _format_column(lines, "E", money_format)

    gates = book.create_sheet("Gates")
    gates.append([words["period"], words["evaluation"], words["as_of"], words["status"],
                  words["progress"], words["reason"], words["explanation"]])
    for gate, shown in zip(statement.gates, view["gates"], strict=True):
        status = words["gate_passed"] if gate.passed else words["gate_failed"]
        gates.append([gate.period, gate.evaluation, gate.as_of, status, shown["text"],
                      gate.reason, gate.explanation])
    _format_column(gates, "C", "yyyy-mm-dd")

    titles = book.create_sheet("Titles")
    titles.append([words["period"], words["title"], words["place"]])
    for period, title, place in statement.titles:
        titles.append([period, title, place])

    ledger = book.create_sheet("Ledger")
    ledger.append([words["entry"], words["run"], words["posted_at"], words["kind"],
                   words["period"], words["measure"], words["source"],
                   f"{words['amount']} ({statement.currency})", words["corrects"],
                   words["adjusts"], words["payment"]])
    for entry, shown in zip(statement.entries, view["entries"], strict=True):
        ledger.append([entry.entry_id, entry.run_id, entry.posted_at, shown["kind"],
                       entry.period, entry.measure, entry.source_id, entry.amount,
                       entry.corrects, entry.adjusts_period, shown["payment"]])
    _format_column(ledger, "C", "yyyy-mm-dd hh:mm:ss")
    _format_column(ledger, "H", money_format)

    cells.safe_workbook(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _excel_money_format(currency: str) -> str:
    # Follow the currency's minor unit (2 for PLN/USD/CNY, 0 for JPY).
    places = minor_units(currency)
    return "#,##0." + "0" * places if places else "#,##0"


def _format_column(sheet, column: str, number_format: str) -> None:
    for cell in sheet[column][1:]:  # skip the heading row
        cell.number_format = number_format
