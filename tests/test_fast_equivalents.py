"""Cheaper SQL with the same meaning as what it replaced (issue 16)."""

from __future__ import annotations

import ibis
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from paymaster.engine.blocks.screening import BLANK, _blank
from paymaster.engine.lines import memtable
from paymaster.figures import unordered, figures
from paymaster.plan.expressions import Compiler, Namespace
from property_support import connection

# whitespace TRIM strips, whitespace it does not (NBSP, NEL, line separator), and text
ALPHABET = " \t\n\r\x0b\x0c\xa0\x85\u2028\u3000ax0-"
# and characters around "!", where the blank check's cheap comparison draws its line
MARKS = ALPHABET + "!\x01\x1f\"~"


@given(st.lists(st.none() | st.text(MARKS, max_size=6), min_size=1, max_size=30))
@settings(max_examples=30, deadline=None)
def test_blank_check_is_strip_then_empty(values: list[str | None]) -> None:
    """A required field is missing when it is NULL or only whitespace as `strip()` sees it
    (space, tab, LF, CR, VT, FF): the regular expression says so exactly when TRIM leaves
    '', and the screening's check (`_blank`: the expression only on text before "!") says
    what both say. A number or date is blank only when NULL."""
    texts = [v for v in values if v is not None] or [""]
    table = memtable({"v": texts}, {"v": "string"})
    rows = connection().to_pyarrow(table.select(
        fast=table.v.re_search(BLANK), slow=table.v.strip() == "")).to_pylist()
    assert [r["fast"] for r in rows] == [r["slow"] for r in rows], texts
    assert [r["fast"] for r in rows] == [v.strip(" \t\n\r\x0b\x0c") == "" for v in texts]
    numbers = [None if v is None else len(v) for v in values]
    table = memtable({"v": values, "n": numbers}, {"v": "string", "n": "int64"})
    rows = connection().to_pyarrow(table.select(
        blank=_blank(table.v), none=_blank(table.n))).to_pylist()
    assert [r["blank"] for r in rows] == [v is None or v.strip(" \t\n\r\x0b\x0c") == ""
                                          for v in values], values
    assert [r["none"] for r in rows] == [v is None for v in values]


def test_totals_do_not_sort_the_payout_lines() -> None:
    """The payouts are sorted lines with their columns chosen: the figures' totals read
    them without the sort (nor the columns' order), and count the same."""
    lines = memtable({"payee_id": ["P2", "P1", "P1"], "paid": [True, False, True],
                      "amount": [1, 2, 3], "reason": [None, "cap", None]},
                     {"payee_id": "string", "paid": "boolean", "amount": "int64", "reason": "string"})
    payouts = lines.order_by(["payee_id", "amount"]).select("payee_id", "amount", "paid", "reason")
    plain = unordered(payouts)
    assert "ORDER BY" not in ibis.to_sql(plain) and "ORDER BY" in ibis.to_sql(payouts)
    assert plain.columns == payouts.columns
    totals = figures(plain, pa.table({"x": [1]}), connection().to_pyarrow)
    assert (totals.payees, totals.lines, totals.paid, totals.total) == (2, 3, 2, 6)
    assert totals.unpaid_by_reason == [("cap", 1)]
    # the payouts as the engine gives them: the money columns cast to the currency's
    # places above the chosen columns (build._in_currency); still no sort
    in_currency = payouts.mutate(amount=payouts["amount"].cast("decimal(18, 2)"))
    plain = unordered(in_currency)
    assert "ORDER BY" not in ibis.to_sql(plain) and plain.schema() == in_currency.schema()
    totals = figures(plain, pa.table({"x": [1]}), connection().to_pyarrow)
    assert (totals.payees, totals.lines, totals.paid, totals.total) == (2, 3, 2, 6)


@given(st.lists(st.none() | st.text(ALPHABET, max_size=6), min_size=1, max_size=30))
@settings(max_examples=30, deadline=None)
def test_plan_trim_is_strip_and_trims_only_text_with_space_at_an_end(values: list) -> None:
    """A plan's TRIM(x) removes what `strip()` removes; TRIM with a set of characters
    (slow in DuckDB) runs only on text with whitespace at an end, a regex decides which."""
    table = memtable({"v": values}, {"v": "string"})
    trimmed = table.select(t=Compiler().compile("TRIM(v)", Namespace(table=table), ()))
    assert "REGEXP_MATCHES" in ibis.to_sql(trimmed, dialect="duckdb")
    rows = connection().to_pyarrow(trimmed).to_pylist()
    assert [r["t"] for r in rows] == [None if v is None else v.strip(" \t\n\r\x0b\x0c")
                                      for v in values]
