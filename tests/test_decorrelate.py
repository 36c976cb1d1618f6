"""decorrelate turns correlated EXISTS into joins: the rewrite gives the rows DuckDB's
own correlated EXISTS gives."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from paymaster.plan.decorrelate import decorrelate
from paymaster.plan.expressions import Compiler, Namespace

EXISTS_CASES = [
    "EXISTS (SELECT 1 FROM h WHERE h.cid = sales.cid)",
    "EXISTS (SELECT 1 FROM h WHERE h.cid = sales.cid AND h.family = 'x')",
    "NOT EXISTS (SELECT 1 FROM h WHERE h.cid = sales.cid AND h.since <= sales.day)",
    "EXISTS (SELECT 1 FROM h WHERE h.cid = sales.cid OR h.since = sales.day)",
    "EXISTS (SELECT 1 FROM h WHERE h.cid = sales.cid AND sales.day IS NULL)",
    "EXISTS (SELECT 1 FROM sales s WHERE s.cid = sales.cid AND s.day < sales.day)",
    "EXISTS (SELECT 1 FROM h WHERE h.cid = sales.cid) AND NOT EXISTS "
    "(SELECT 1 FROM h WHERE h.family = 'y' AND h.since > sales.day)",
]


@pytest.mark.parametrize("text", EXISTS_CASES)
def test_exists_as_semi_join_flag_matches_correlated_exists(text: str) -> None:
    """DuckDB runs both forms: the rewrite gives the rows the correlated subquery gives,
    as a column and as a filter, NULL keys included."""
    con = ibis.duckdb.connect()
    day = dt.date(2020, 1, 1)
    sales = con.create_table("sales", ibis.memtable(
        {"sid": [1, 2, 3, 4, 5], "cid": ["a", "a", "b", None, "c"],
         "day": [day, day + dt.timedelta(1), day, day, None]}))
    holdings = con.create_table("h", ibis.memtable(
        {"cid": ["a", "c", None], "family": ["x", "y", "x"],
         "since": [day, day + dt.timedelta(1), day]}))
    ns = Namespace(table=sales, names=("sales",), tables={"sales": sales, "h": holdings})
    compiler = Compiler()
    flag = compiler.compile(text, ns, (), "boolean")
    assert not compiler.collector
    for expr in (sales.mutate(flag=flag), sales.filter(flag)):
        native = con.to_pyarrow(expr.order_by("sid")).to_pylist()
        rewritten = decorrelate(expr.order_by("sid"))
        assert "EXISTS" not in ibis.to_sql(rewritten, dialect="duckdb")
        assert con.to_pyarrow(rewritten).to_pylist() == native
