"""Plan expression functions count as DuckDB counts: DATE_DIFF honours its unit (day, week,
month, quarter, year), the same on Spark; TRY_CAST gives NULL for a value that does not
convert, where CAST stops."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import ibis
import pytest

from paymaster.errors import Collector
from paymaster.plan.expressions import Compiler, Namespace

D = dt.date
# (start, end) and, per unit, the count worked by hand: boundaries crossed for month,
# quarter and year; days; whole weeks of 7 days, cut toward zero.
PAIRS = [
    # 31 Jan -> 1 Mar 2024 (leap year): 30 days, 4 whole weeks, 2 month ends, same quarter
    (D(2024, 1, 31), D(2024, 3, 1), {"day": 30, "week": 4, "month": 2, "quarter": 0, "year": 0}),
    # New Year's Eve -> New Year's Day: one of every boundary, no whole week
    (D(2023, 12, 31), D(2024, 1, 1), {"day": 1, "week": 0, "month": 1, "quarter": 1, "year": 1}),
    # backwards: negative counts, a week cut toward zero (-30 days is -4 weeks, not -5)
    (D(2024, 3, 1), D(2024, 1, 31), {"day": -30, "week": -4, "month": -2, "quarter": 0,
                                     "year": 0}),
    # 1 Jan 2024 -> 31 Dec 2025: 730 days (2024 has 366), 104 weeks, 23 months, 7 quarters
    (D(2024, 1, 1), D(2025, 12, 31), {"day": 730, "week": 104, "month": 23, "quarter": 7,
                                      "year": 1}),
]
UNITS = ["day", "week", "month", "quarter", "year"]


def _diffs():
    table = ibis.memtable({"a": [p[0] for p in PAIRS], "b": [p[1] for p in PAIRS],
                           "i": list(range(len(PAIRS)))})
    compiler = Compiler(collector=Collector())
    ns = Namespace(table)
    columns = {u: compiler.compile(f"DATE_DIFF('{u}', a, b)", ns, ("x",)) for u in UNITS}
    columns["plural"] = compiler.compile("DATE_DIFF('months', a, b)", ns, ("x",))
    columns["legacy"] = compiler.compile("datediff('year', a, b)", ns, ("x",))
    assert not compiler.collector
    return table.select("i", **columns).order_by("i")


def _check(rows) -> None:
    for (start, end, want), row in zip(PAIRS, rows, strict=True):
        assert {u: row[u] for u in UNITS} == want, (start, end)
        assert row["plural"] == want["month"] and row["legacy"] == want["year"]


def test_date_diff_counts_in_its_unit_on_duckdb() -> None:
    rows = _diffs().execute().to_dict("records")
    _check(rows)
    # ... exactly as DuckDB's own date_diff does on the same dates
    con = duckdb.connect()
    for (start, end, _), row in zip(PAIRS, rows, strict=True):
        native = con.execute("SELECT " + ", ".join(f"date_diff('{u}', ?::DATE, ?::DATE)"
                                                   for u in UNITS),
                             [start, end] * len(UNITS)).fetchone()
        assert tuple(row[u] for u in UNITS) == native


@pytest.mark.spark
def test_date_diff_counts_in_its_unit_on_spark(spark) -> None:
    con = ibis.pyspark.connect(spark)
    _check(con.execute(_diffs()).to_dict("records"))


def test_date_diff_refuses_a_unit_it_cannot_count() -> None:
    table = ibis.memtable({"a": [D(2024, 1, 1)], "b": [D(2024, 2, 1)]})
    compiler = Compiler(collector=Collector())
    compiler.compile("DATE_DIFF('fortnight', a, b)", Namespace(table), ("measures", 0, "amount"))
    (problem,) = compiler.collector.problems
    assert "fortnight" in problem.message and "'month'" in (problem.hint or "")


def test_try_cast_is_null_where_cast_fails() -> None:
    table = ibis.memtable({"s": ["12.5", "n/a", None], "i": [0, 1, 2]})
    compiler = Compiler(collector=Collector())
    ns = Namespace(table)
    got = table.select("i", n=compiler.compile("TRY_CAST(s AS DECIMAL)", ns, ("x",)),
                       d=compiler.compile("TRY_CAST(s AS DATE)", ns, ("x",)),
                       ).order_by("i").execute()
    assert got["n"].tolist()[0] == Decimal("12.5")
    assert got["n"].isna().tolist() == [False, True, True]
    assert got["d"].isna().tolist() == [True, True, True]
    with pytest.raises(Exception, match="n/a"):
        table.select(n=compiler.compile("CAST(s AS DECIMAL)", ns, ("x",))).execute()
