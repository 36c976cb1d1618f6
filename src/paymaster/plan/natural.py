"""Natural order's sort key, cheap when the ids allow it.

`expressions.natural_key` (S9 before S10) costs five regular expressions per row, in every
ordered window. When every id of a column has one shape (the same length, the same text
before a trailing number: S000000001, S000000002, ...) the id itself sorts the same way,
so the key is the id. Which of the two applies is decided in the SQL (a scalar query over
the column's origin, a single pass with one regular expression per row), not in Python:
the compiled SQL does not depend on the data, and a stage run on other data (an
incremental recalculation, Spark) decides again.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir

from paymaster.plan.expressions import natural_key

# Stores a one-row table and returns the stored table (`natural_sort_key`'s `once`).
Once = Callable[[ir.Table], ir.Table]

# An id of one shape: text without digits, then its number. (\z, not $: Spark's Java
# regular expressions let $ match before a final line break.)
SHAPED = r"^[^0-9]*[0-9]+\z"
# Relations whose column values are a subset of their parent's (rows dropped, reordered
# or repeated, never changed): the uniformity of the parent's column holds for them.
PASS_THROUGH = (ops.Filter, ops.Sort, ops.Limit, ops.Distinct, ops.DropNull, ops.DropColumns,
                ops.SelfReference, ops.JoinReference)


def natural_sort_key(table: ir.Table, name: str, once: Once | None = None) -> ir.Value:
    """A sort key for `table[name]` (text) ordering as `natural_key` does: the id itself
    when every id has one shape, else `natural_key`.

    Why the same order: ids of one length with one prefix P before their digits compare,
    as text, by their digits of one length, that is by their number; `natural_key` orders
    by P, then the number, then the id. The check reads the column where its values come
    from (`_origin`: through filters, joins and renames), as the rows of `table` are a
    subset of those, so a stage's window does not compute its input twice; and one shape
    is proved from the least and greatest id: every id lies between them as text, so
    shares their prefix P, and a character other than a digit right after P would put it
    outside them.

    `once`, when given, stores the check's one row (a stage) and returns it: Ibis writes
    a scalar subquery again in every window that reads it, and DuckDB computes each
    copy (a regular expression over every id of the origin); stored, every window of
    the stage reads one row."""
    value = table[name]
    relation, column = _origin(table.op(), name)
    ids = relation.to_expr()[column]
    facts = relation.to_expr().aggregate(
        __lo=ids.min(), __hi=ids.max(), __short=ids.length().min(), __long=ids.length().max(),
        __shaped=ids.re_search(SHAPED).all())
    check = facts.select(
        __one=(facts["__short"] == facts["__long"]) & facts["__shaped"]
        & (_prefix(facts["__lo"]) == _prefix(facts["__hi"])))
    if once is not None:
        check = once(check)
    one_shape = check.select("__one").as_scalar()
    return ibis.ifelse(one_shape.fill_null(False), value, natural_key(value))


def value_order(table: ir.Table, columns: list[str], unique: list[str] | None,
                never_null: set[str] = frozenset()) -> ir.Value | None:
    """Natural order of `columns` as one value, unique per row: a struct of, per column,
    whether it is NULL (unless it is in `never_null`) and its sort key (`natural_sort_key`
    for text; NULL given a stand-in of its type, so no field is ever NULL), then the
    columns of `unique` not among `columns` (values unique per row, in any order: only
    ties need them).

    Structs compare field by field, so two rows compare as a row number over
    `columns` (ascending, NULLs last) numbers them, and the struct can be compared, taken
    the least of per key and joined on, with no sort of every row. None when `unique` is
    None (no columns known unique per row) or a column's type has no stand-in."""
    if unique is None:
        return None
    fields: dict[str, ir.Value] = {}
    for i, name in enumerate([*columns, *[c for c in unique if c not in columns]]):
        value = table[name]
        key = natural_sort_key(table, name) if name in columns and value.type().is_string() else value
        stand_in = _stand_in(key.type())
        if stand_in is None:
            return None
        if name not in never_null:
            fields[f"n{i}"] = value.isnull()
        fields[f"v{i}"] = key.fill_null(stand_in)
    return ibis.struct(fields)


def _stand_in(dtype: dt.DataType) -> ir.Value | None:
    """A value of `dtype` for NULL in `value_order` (its flag orders it; any value does)."""
    for test, value in ((dtype.is_string, ""), (dtype.is_boolean, False),
                        (dtype.is_integer, 0), (dtype.is_floating, 0.0),
                        (dtype.is_decimal, Decimal(0)), (dtype.is_date, datetime.date(1970, 1, 1)),
                        (dtype.is_timestamp, datetime.datetime(1970, 1, 1))):
        if test():
            return ibis.literal(value, type=dtype)
    return None


def _prefix(text: ir.StringValue) -> ir.StringValue:
    return text.re_replace(r"[0-9]+\z", "")


def _origin(relation: ops.Relation, name: str) -> tuple[ops.Relation, str]:
    """The earliest relation holding the same values as `relation`'s column `name` (or
    more of them): followed through projections that pass it on (renamed, or cast to text
    from text), filters, sorts and joins; stops at anything that makes new values."""
    while True:
        if isinstance(relation, ops.Filter) and _stored(relation.parent):
            # The filtered rows of a stored table are read again cheaply: checking only
            # those (the few lines a bonus or a pool ranks) beats a regular expression
            # over every stored id.
            return relation, name
        if isinstance(relation, PASS_THROUGH):
            relation = relation.parent
            continue
        if isinstance(relation, ops.Union):
            # Both parts' values from one origin (a split and joined again, as the claims
            # split the records they number from the rest): the union's are a subset.
            left, right = _origin(relation.left, name), _origin(relation.right, name)
            return left if left == right else (relation, name)
        if isinstance(relation, ops.Project | ops.JoinChain | ops.Aggregate):
            values = relation.groups if isinstance(relation, ops.Aggregate) else relation.values
            value = values.get(name)
            while isinstance(value, ops.Cast) and value.arg.dtype.is_string() and value.to.is_string():
                value = value.arg
            if isinstance(value, ops.Field):
                relation, name = value.rel, value.name
                continue
        return relation, name


def _stored(relation: ops.Relation) -> bool:
    """A table in the database, or its columns and literals (a stage stored without its
    constant columns, `engine.context.store_varying`): nothing computed when read."""
    if isinstance(relation, ops.PhysicalTable):
        return True
    if not isinstance(relation, ops.Project) or not isinstance(relation.parent, ops.PhysicalTable):
        return False
    return all(isinstance(value, ops.Literal | ops.Field)
               or (isinstance(value, ops.Cast) and isinstance(value.arg, ops.Literal))
               for value in relation.values.values())
