"""Statement renderers: locale-formatted figures, escaping, exact Decimals in Excel."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from paymaster.errors import PaymasterError
from paymaster.services.statement_model import GateProgress, LedgerEntry, Statement, StatementLine
from paymaster.services.statements_render import gate_text, render_excel, render_html, render_pdf

PAYEE_NAME = "Anna <b>Nowak</b>"
EXPLANATION = "1% of 123456.00 = 1234.56"

RETURNS_GATE = GateProgress(
    period="2024-Q1", evaluation="evaluation_1", subject="returns", as_of=date(2024, 3, 31),
    passed=False, value=None, threshold=None, ratio=Decimal("0.812"),
    required_ratio=Decimal("0.85"), reason="returns", explanation="returns ratio below target",
)
MINIMUM_GATE = GateProgress(
    period="2024-Q1", evaluation="evaluation_2", subject="minimum", as_of=date(2024, 3, 31),
    passed=True, value=Decimal("27500.00"), threshold=Decimal("25000.00"), ratio=None,
    required_ratio=None, reason=None, explanation="sales above the minimum",
)


def make_statement(currency: str) -> Statement:
    lines = [
        StatementLine("2024-Q1", "deal", "Closed deal", "S-1", date(2024, 1, 15),
                      Decimal("1234.56"), True, None, EXPLANATION),
        StatementLine("2024-Q1", "deal", "Closed deal", "S-2", date(2024, 2, 3),
                      Decimal("100.05"), True, None, "flat 100.05 per deal"),
        StatementLine("2024-Q1", "deal", "Closed deal", "S-3", date(2024, 3, 9),
                      Decimal("0.00"), False, "budget_exhausted", "budget of 1334.61 used up"),
    ]
    posted = datetime(2024, 4, 2, 9, 30)
    entries = [
        LedgerEntry(1, 7, posted, "payout", "2024-Q1", "deal", "S-1", Decimal("1234.56"), None),
        LedgerEntry(2, 7, posted, "payout", "2024-Q1", "deal", "S-2", Decimal("110.05"), None),
        LedgerEntry(3, 8, posted, "adjustment", "2024-Q1", "deal", "S-2", Decimal("-10.00"), 2),
    ]
    return Statement(
        program="sales", program_title="Sales 2024", payee_id="P-17", payee_name=PAYEE_NAME,
        period="2024-Q1", currency=currency, generated_on=date(2024, 4, 5), run_id=8,
        lines=lines, gates=[RETURNS_GATE, MINIMUM_GATE],
        titles=[("2024-Q1", "Top seller", 1)], entries=entries,
    )


# (locale, currency, total as written by hand, returns gate text, minimum gate text)
CASES = [
    ("en", "USD", "$1,334.61",
     "returns 81.2% of 85.0% required — failed",
     "$27,500.00 of $25,000.00 required — passed"),
    ("pl_PL", "PLN", "1\xa0334,61\xa0zł",
     "returns: 81,2% z wymaganych 85,0% — niespełniony",
     "27\xa0500,00\xa0zł z wymaganych 25\xa0000,00\xa0zł — spełniony"),
    ("zh", "CNY", "¥1,334.61",
     "returns 达到 81.2%，要求 85.0%（未通过）",
     "达到 ¥27,500.00，要求 ¥25,000.00（已通过）"),
]


@pytest.mark.parametrize(("locale", "currency", "total", "ratio_text", "minimum_text"), CASES)
def test_gate_text(locale, currency, total, ratio_text, minimum_text):
    assert gate_text(RETURNS_GATE, locale) == ratio_text
    assert gate_text(MINIMUM_GATE, locale, currency) == minimum_text


@pytest.mark.parametrize(("locale", "currency", "total", "ratio_text", "minimum_text"), CASES)
def test_html(locale, currency, total, ratio_text, minimum_text):
    html = render_html(make_statement(currency), locale)
    assert html.startswith("<!DOCTYPE html>")
    assert html.count(total) >= 2  # total earned and total posted
    assert ratio_text in html
    assert minimum_text in html
    assert EXPLANATION in html
    assert "budget_exhausted" in html
    assert "Anna &lt;b&gt;Nowak&lt;/b&gt;" in html
    assert "<b>Nowak" not in html
    assert "<link" not in html and "<script" not in html  # standalone


def test_html_words_are_translated():
    statement = make_statement("PLN")
    assert "nie wypłacono" in render_html(statement, "pl")
    assert "koryguje zapis nr 2" in render_html(statement, "pl")
    assert "未支付" in render_html(statement, "zh_CN")
    assert "corrects entry #2" in render_html(statement, "en_US")


def _squash(text: str) -> str:
    # PDF text extraction may turn non-breaking spaces into spaces or drop them.
    return "".join(text.replace("\xa0", " ").split())


@pytest.mark.parametrize(("locale", "currency", "total", "ratio_text", "minimum_text"), CASES)
def test_pdf(locale, currency, total, ratio_text, minimum_text):
    data = render_pdf(make_statement(currency), locale)
    assert data.startswith(b"%PDF")
    pypdf = pytest.importorskip("pypdf")
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    assert _squash(total) in _squash(text)
    assert "81.2%" in text or "81,2%" in text


@pytest.mark.parametrize(("locale", "currency", "total", "ratio_text", "minimum_text"), CASES)
def test_excel(locale, currency, total, ratio_text, minimum_text):
    book = load_workbook(io.BytesIO(render_excel(make_statement(currency), locale)))
    assert {"Lines", "Gates", "Ledger", "Summary"} <= set(book.sheetnames)

    lines = list(book["Lines"].iter_rows(min_row=2))
    assert [Decimal(str(row[4].value)) for row in lines] == [
        Decimal("1234.56"), Decimal("100.05"), Decimal("0.00")]
    assert all(row[4].number_format == "#,##0.00" for row in lines)
    assert lines[2][6].value == "budget_exhausted"

    ledger = list(book["Ledger"].iter_rows(min_row=2, values_only=True))
    assert [Decimal(str(row[7])) for row in ledger] == [
        Decimal("1234.56"), Decimal("110.05"), Decimal("-10.00")]
    assert ledger[2][8] == 2  # the adjustment corrects entry 2

    gates = list(book["Gates"].iter_rows(min_row=2, values_only=True))
    assert gates[0][4] == ratio_text

    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row[0]}
    values = list(summary.values())
    assert Decimal(str(values[-5])) == Decimal("1334.61")  # total earned
    assert Decimal(str(values[-4])) == Decimal("1334.61")  # total posted
    assert Decimal(str(values[-3])) == Decimal("0")  # total paid: no entry is in a batch
    assert Decimal(str(values[-2])) == Decimal("1334.61")  # posted, not paid yet
    assert values[-1] == {"en": "yes", "pl_PL": "tak", "zh": "是"}[locale]


def test_reconcile_flag_when_totals_differ():
    statement = make_statement("USD")
    statement.entries.pop()  # drop the adjustment: posted is 10.00 too much
    assert '<td class="failed">no</td>' in render_html(statement, "en")
    summary = load_workbook(io.BytesIO(render_excel(statement, "en")))["Summary"]
    assert list(summary.iter_rows(values_only=True))[-1] == ("Reconciles", "no")


@pytest.mark.parametrize("render", [render_html, render_pdf, render_excel])
def test_unsupported_locale(render):
    with pytest.raises(PaymasterError, match="unsupported statement locale 'de'") as error:
        render(make_statement("EUR"), "de")
    assert "en, en_US, pl, pl_PL, zh, zh_CN" in str(error.value)


def test_missing_pdf_font(monkeypatch, tmp_path):
    from paymaster.services import statements_render

    monkeypatch.setattr(statements_render, "PDF_FONT", tmp_path / "missing.ttc")
    with pytest.raises(PaymasterError, match="fonts-wqy-microhei"):
        render_pdf(make_statement("USD"), "en")


def test_pdf_puts_the_totals_on_the_first_page_and_no_heading_alone_at_a_page_bottom():
    """However many lines push the sections down, a section heading is never the last
    thing on a page, and the first page carries the totals (1 334.61 earned)."""
    pypdf = pytest.importorskip("pypdf")
    headings = ("Payout lines", "Gates and thresholds", "Titles", "Ledger entries", "Totals")
    base = make_statement("USD")
    # 4, 6 and 9 more lines left "Ledger entries", "Titles", "Gates and thresholds" alone
    # at the bottom of page 1 when the totals came last.
    for extra in (4, 6, 9):
        filler = [StatementLine("2024-Q1", "deal", "Closed deal", f"Z-{i}", date(2024, 3, 9),
                                Decimal("0.00"), False, "budget_exhausted", "budget used up")
                  for i in range(extra)]
        statement = Statement(**{**base.__dict__, "lines": base.lines + filler})
        pages = pypdf.PdfReader(io.BytesIO(render_pdf(statement, "en"))).pages
        first = pages[0].extract_text()
        assert "Total earned" in first and "$1,334.61" in first, extra
        for number, page in enumerate(pages, 1):
            last = [ln.strip() for ln in page.extract_text().splitlines() if ln.strip()][-1]
            assert last not in headings, f"{extra} extra lines: '{last}' ends page {number}"
