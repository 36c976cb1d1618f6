"""A stage's UNION ALL written without its branches' typed NULL padding (DuckDB's UNION
ALL BY NAME, backends/duckunions.py) stores the same rows, in the same typed columns, as
the padded union Ibis writes: property-tested over unions of tables that each set their
own columns, and sales-team's payout lines (13 measures padded to one line schema) no
longer carry the padding into the SQL a run parses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis
import sqlglot
from hypothesis import given
from hypothesis import strategies as st

from property_support import SETTINGS, connection, memtable

from paymaster.backends import duckunions

# A line schema in small: each branch sets some of these and pads the rest with NULL.
SCHEMA = {"key": "string", "amount": "decimal(18,3)", "raw": "decimal(38,8)",
          "day": "date", "place": "int64", "band": "string"}
VALUES = {
    "amount": st.decimals(min_value=-10**6, max_value=10**6, places=3),
    "raw": st.decimals(min_value=-10**9, max_value=10**9, places=8),
    "day": st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2026, 12, 31)),
    "place": st.integers(min_value=0, max_value=99),
    "band": st.sampled_from(["a", "b", "c, d", ""]),
}
OPTIONAL = sorted(VALUES)


@st.composite
def branches(draw) -> list[tuple[list[str], list[dict]]]:
    """2-5 branches, each: the optional columns it sets, and its rows."""
    out = []
    for index in range(draw(st.integers(min_value=2, max_value=5))):
        sets = sorted(draw(st.sets(st.sampled_from(OPTIONAL))))
        rows = draw(st.lists(st.fixed_dictionaries(
            {name: st.none() | VALUES[name] for name in sets}), max_size=3))
        out.append((sets, [{"key": f"b{index}r{n}", **row} for n, row in enumerate(rows)]))
    return out


def _union(parts: list[tuple[list[str], list[dict]]]):
    """Ibis's union of the branches, each padded to SCHEMA with typed NULLs (as
    engine/lines.shape pads a measure's lines)."""
    tables = []
    for sets, rows in parts:
        schema = {name: SCHEMA[name] for name in ("key", *sets)}
        base = memtable({name: [row.get(name) for row in rows] for name in schema}, schema)
        tables.append(base.select(**{
            name: (base[name] if name in schema else ibis.null()).cast(dtype)
            for name, dtype in SCHEMA.items()}))
    union = tables[0]
    for table in tables[1:]:
        union = union.union(table)
    return union


def _stored(con, sql: str) -> tuple[list, list]:
    """The rows `sql` stores into a table typed as the stage's, and its column types."""
    con.raw_sql("DROP TABLE IF EXISTS union_stage")
    columns = ", ".join(c.sql(dialect="duckdb")
                        for c in ibis.schema(SCHEMA).to_sqlglot_column_defs("duckdb"))
    con.raw_sql(f"CREATE TEMP TABLE union_stage ({columns})")
    con.raw_sql(f"INSERT INTO union_stage ({', '.join(SCHEMA)}) {sql}")
    rows = con.raw_sql("SELECT * FROM union_stage ORDER BY key").fetchall()
    types = con.raw_sql("SELECT * FROM union_stage LIMIT 0").description
    return rows, [t[1] for t in types]


@SETTINGS
@given(branches())
def test_a_union_without_its_padding_stores_the_same_rows(parts) -> None:
    con = connection()
    union = _union(parts)
    con._run_pre_execute_hooks(union)  # (registers the in-memory tables)
    padded = con.compiler.to_sqlglot(union)
    compact = duckunions.compact(padded.copy())
    assert _stored(con, compact.sql(dialect="duckdb")) == _stored(con, padded.sql(dialect="duckdb"))
    # Every branch after the first dropped its padding; the first keeps every column.
    nulls = sum(len(SCHEMA) - 1 - len(sets) for sets, _rows in parts[1:])
    text = compact.sql(dialect="duckdb")
    assert text.count("CAST(NULL AS") == len(SCHEMA) - 1 - len(parts[0][0])
    assert ("BY NAME" in text) == (nulls > 0)


def test_a_branch_whose_items_may_be_referred_to_is_left_padded() -> None:
    # An ORDER BY or DISTINCT in a branch could name an item or its position: not touched.
    sql = ("SELECT 1 AS a, CAST(NULL AS INT) AS b UNION ALL "
           "SELECT * FROM (SELECT DISTINCT 2 AS a, CAST(NULL AS INT) AS b) AS t1")
    assert duckunions.compact(sqlglot.parse_one(sql, dialect="duckdb")).sql("duckdb") == sql
    ordered = ("SELECT 1 AS a, CAST(NULL AS INT) AS b UNION ALL "
               "SELECT * FROM (SELECT 2 AS a, CAST(NULL AS INT) AS b ORDER BY 2) AS t1")
    assert duckunions.compact(sqlglot.parse_one(ordered, dialect="duckdb")).sql(
        "duckdb") == ordered
    # A branch of NULLs alone keeps them (a SELECT needs an item).
    nulls = "SELECT 1 AS a UNION ALL SELECT CAST(NULL AS INT) AS a"
    assert duckunions.compact(sqlglot.parse_one(nulls, dialect="duckdb")).sql("duckdb") == nulls


def test_decimal_values_keep_their_digits() -> None:
    # (a hand case beside the property: a value with all eight places, a negative amount)
    parts = [(["raw"], [{"key": "b0r0", "raw": Decimal("0.00000001")}]),
             (["amount", "band"], [{"key": "b1r0", "amount": Decimal("-1.005"), "band": "x"}])]
    union = _union(parts)
    con = connection()
    con._run_pre_execute_hooks(union)
    compact = duckunions.compact(con.compiler.to_sqlglot(union)).sql(dialect="duckdb")
    rows, _types = _stored(con, compact)
    assert rows == [("b0r0", None, Decimal("0.00000001"), None, None, None),
                    ("b1r0", Decimal("-1.005"), None, None, None, "x")]
