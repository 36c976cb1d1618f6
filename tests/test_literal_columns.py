"""A column is put back as a literal (not stored, not sorted) only when it is that literal
on every row: `engine.context.literal_columns` against the rows DuckDB computes."""

from __future__ import annotations

from decimal import Decimal

import ibis
from hypothesis import given, settings
from hypothesis import strategies as st

from paymaster.engine.context import literal_columns, union_all
from paymaster.engine.lines import memtable

SCHEMA = {"k": "int64", "a": "string", "b": "decimal(38, 8)", "c": "int64"}
# What a part may give a column: a literal (NULL, or one of two values), or its own data.
CHOICES = {
    "a": [None, "x", "y", "data"],
    "b": [None, Decimal("1.5"), Decimal("2"), "data"],
    "c": [None, 1, 2, "data"],
}


def _part(index: int, choice: dict, filtered: bool):
    rows = {"k": [index * 10 + i for i in range(3)], "a": ["p", "q", "r"],
            "b": [Decimal("0.1"), Decimal("0.2"), Decimal("0.3")], "c": [7, 8, 9]}
    table = memtable(rows, SCHEMA)
    values = {name: (table[name] if pick == "data" else ibis.literal(pick).cast(SCHEMA[name]))
              for name, pick in choice.items()}
    table = table.select(table.k, **values)
    # (a filter and a dropped helper column, as a budget's charge has, keep the literals)
    table = table.mutate(helper=table.k * 2).filter(lambda t: t.helper >= 0).drop("helper")
    return table.filter(table.k % 2 == 0) if filtered else table


CON = ibis.duckdb.connect()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.fixed_dictionaries({n: st.sampled_from(v) for n, v in CHOICES.items()}),
                          st.booleans()), min_size=1, max_size=4))
def test_a_column_is_literal_exactly_when_every_part_gives_the_same_literal(parts) -> None:
    table = union_all([_part(i, choice, filtered) for i, (choice, filtered) in enumerate(parts)])
    found = literal_columns(table.order_by("k").view())
    expected = {name for name in CHOICES
                if parts[0][0][name] != "data"
                and all(choice[name] == parts[0][0][name] for choice, _ in parts)}
    assert set(found) == expected
    rows = CON.to_pyarrow(table).to_pylist()
    for name, value in found.items():
        # the literal put back is every row's value, of the column's own type
        assert value.type() == table[name].type()
        put_back = CON.to_pyarrow(table.select(value.name(name))).to_pylist()
        assert {row[name] for row in rows} == {row[name] for row in put_back}


def test_a_stored_or_computed_column_is_never_taken_for_a_literal() -> None:
    table = memtable({"k": [1, 2], "a": ["x", "x"]}, {"k": "int64", "a": "string"})
    # one value in the data is still data: what a later input holds may differ
    assert literal_columns(table) == {}
    # an expression of literals is not recognised either (only what is a literal is)
    assert literal_columns(table.select(table.k, a=ibis.literal("x") + "y")) == {}
