"""Ties broken by id use natural order: an id's trailing number sorts as a number."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import ibis
from hypothesis import given, settings
from hypothesis import strategies as st

from paymaster.engine.lines import memtable
from paymaster.plan.expressions import _id_before, natural_key
from paymaster.plan.natural import _origin, natural_sort_key, value_order
from property_support import DAY0, connection, header, payouts


CAPPED = header() + """
measures:
  - id: deal
    type: per_record
    source: sales
    payee: rep
    source_id: sale_id
    date: day
    period: month
    amount: amount
    limit: {name: monthly_cap, count: 2, per: period, order_by: [day, sale_id]}
    budget: pool
budgets:
  - {id: pool, amount: 100}
"""


def test_budget_and_cap_break_ties_by_numeric_id_as_numbers() -> None:
    same_day = DAY0 + dt.timedelta(days=3)
    rows = [{"sale_id": sale_id, "rep": "R1", "amount": Decimal("60.00"), "day": same_day}
            for sale_id in ("10", "9", "100")]
    # a pool of 100.00: "9" is charged first (60.00), "10" gets the remaining 40.00
    lines = {r["source_id"]: r for r in payouts(CAPPED, rows)}
    assert lines["9"]["amount"] == Decimal("60.00")
    assert lines["10"]["amount"] == Decimal("40.00")
    assert lines["100"]["reason"] == "monthly_cap"  # the third of the month with a cap of 2


def test_id_before_in_expressions() -> None:
    pairs = [("9", "10", True), ("10", "9", False), ("S09", "S10", True), ("7", "A1", True),
             ("A1", "7", False), ("B", "A", False),
             # the trailing number as a number, whatever its digits
             ("S9", "S10", True), ("S10", "S9", False), ("S007", "S7", True),
             ("S7", "S8", True), ("S-2018-9", "S-2018-10", True), ("S1", "S", True),
             ("S", "S1", False), ("S", "T", True), ("R99999999999999999999", "R100000000000000000000", True)]
    table = memtable({"a": [p[0] for p in pairs], "b": [p[1] for p in pairs]},
                     {"a": "string", "b": "string"})
    out = ibis.duckdb.connect().to_pyarrow(table.mutate(before=_id_before(table.a, table.b)))
    assert [r["before"] for r in out.to_pylist()] == [p[2] for p in pairs]


def _ids(draw) -> list[str | None]:
    """Ids of one shape (prefix, fixed digit count), or of mixed shapes that come close
    to one: a different length, prefix or a character other than a digit in the number."""
    prefix = draw(st.sampled_from(["", "S", "S-", "R2D2-", "Z"]))
    width = draw(st.integers(1, 4))
    numbers = draw(st.lists(st.integers(0, 10 ** width - 1), min_size=1, max_size=12))
    ids: list[str | None] = [f"{prefix}{n:0{width}d}" for n in numbers]
    odd = draw(st.sampled_from(["none", "longer", "prefix", "inner", "no number", "null", "any"]))
    at = draw(st.integers(0, len(ids) - 1))
    if odd == "longer":
        ids[at] = ids[at] + "7"
    elif odd == "prefix":
        ids[at] = "T" + ids[at][1:] if ids[at] else "T"
    elif odd == "inner" and width > 1:
        ids[at] = ids[at][:-2] + draw(st.sampled_from(["-", "Z", ".", "/", ":"])) + ids[at][-1]
    elif odd == "no number":
        ids[at] = prefix or "S"
    elif odd == "null":
        ids[at] = None
    elif odd == "any":
        ids += draw(st.lists(st.text("S-09 \n1", max_size=5), max_size=4))
    return ids


@given(st.data())
@settings(max_examples=40, deadline=None)
def test_natural_sort_key_orders_as_the_structured_key(data) -> None:
    """The id itself where every id of the column has one shape, the structured key
    otherwise: the same order as `natural_key` in every case, and the plain id really is
    taken for ids of one shape (also for a table filtered and joined from the input)."""
    ids = _ids(data.draw)
    table = memtable({"id": ids, "keep": [i % 3 != 1 for i in range(len(ids))]},
                     {"id": "string", "keep": "boolean"})
    derived = table.filter(table.keep).mutate(other=table.keep)
    other = table.select(id2=table.id)
    derived = derived.left_join(other, derived.id == other.id2)
    con = connection()
    plain = []
    for t in (table, derived):
        # equal keys are equal ids under both keys: the ranks agree exactly when the orders do
        fast, exact = natural_sort_key(t, "id"), natural_key(t.id)
        rows = con.to_pyarrow(t.select(
            fast=ibis.rank().over(order_by=fast), exact=ibis.rank().over(order_by=exact),
            plain=(fast == t.id).fill_null(True))).to_pylist()
        assert [r["fast"] for r in rows] == [r["exact"] for r in rows], ids
        plain.append(all(r["plain"] for r in rows))
    # followed through the join and the projection to the filtered input rows: a filter
    # over a stored table is read again rather than every stored id checked
    relation, column = _origin(derived.op(), "id")
    assert relation == table.filter(table.keep).op() and column == "id"
    assert _origin(table.select(id3=table.id).op(), "id3") == (table.op(), "id")
    # a relation split and joined again (the claims' numbered records and the rest): the
    # union's ids are the input's; the union of two origins is checked itself
    part = table.mutate(id4=table.id, n=table.id.length())
    both = part.filter(part.keep).union(part.filter(~part.keep))
    assert _origin(both.op(), "id4") == (table.op(), "id")
    two = both.union(both.mutate(id4=both.id4 + "0").select(*both.columns))
    assert _origin(two.op(), "id4") == (two.op(), "id4")
    shaped = [i for i in ids if i is not None]
    one_shape = (len({len(i) for i in shaped}) == 1
                 and len({i.rstrip("0123456789") for i in shaped}) == 1
                 and all(re.fullmatch(r"[^0-9]*[0-9]+", i) for i in shaped))
    # with no id at all (every one NULL) both keys are NULL: "plain" cannot tell them apart
    assert plain[0] == one_shape or not shaped, ids
    assert plain[1] or not one_shape, ids  # (a subset of ids of one shape has one shape)


@given(st.data())
@settings(max_examples=20, deadline=None)
def test_value_order_numbers_as_the_row_number(data) -> None:
    """The screening's order as a value (`value_order`, no sort of every record): a struct
    of each column's NULL flag and natural sort key, unique per row with the key. Ordering
    by it, and its least per group, agree with a row number over the natural order (NULLs
    last) for ids of any shape, NULL times and ids included; with a column known never
    NULL the flag is left out and the order is the same; ties of the order's columns are
    broken by the unique key, so every row has its own place."""
    ids = list(dict.fromkeys(_ids(data.draw)))  # a key: each id once (NULL once at most)
    days = data.draw(st.lists(st.none() | st.integers(0, 3), min_size=len(ids), max_size=len(ids)))
    times = [None if d is None else dt.datetime(2026, 1, 1) + dt.timedelta(hours=d) for d in days]
    groups = data.draw(st.lists(st.integers(0, 2), min_size=len(ids), max_size=len(ids)))
    table = memtable({"id": ids, "at": times, "g": groups},
                     {"id": "string", "at": "timestamp", "g": "int64"})
    con = connection()
    exact = ibis.row_number().over(order_by=[table.at, natural_key(table.id)])
    value = value_order(table, ["at", "id"], ["id"])
    assert set(value.type().names) == {"n0", "v0", "n1", "v1"}
    rows = con.to_pyarrow(table.select(
        "g", exact=exact, fast=ibis.row_number().over(order_by=value))).to_pylist()
    assert [r["fast"] for r in rows] == [r["exact"] for r in rows], (ids, times)
    # the least per group is the first row of the group in that order
    ranked = table.mutate(exact=exact, value=value)
    least = ranked.group_by("g").aggregate(first=ranked.exact.min(), least=ranked.value.min())
    back = ranked.select(g2=ranked.g, value2=ranked.value, exact2=ranked.exact)
    joined = least.inner_join(back, [least.g == back.g2, least.least == back.value2])
    pairs = con.to_pyarrow(joined.select("first", "exact2")).to_pylist()
    assert len(pairs) == len(set(groups)) and all(p["first"] == p["exact2"] for p in pairs)
    # the order's only column may tie: the key breaks the ties, the order stays
    by_time = value_order(table, ["at"], ["id"])
    rows = con.to_pyarrow(table.select("at", place=ibis.rank().over(order_by=by_time))
                          .order_by("place")).to_pylist()
    assert [r["place"] for r in rows] == list(range(len(ids)))  # (ibis ranks from 0)
    seen = [r["at"] for r in rows]
    assert seen == sorted(seen, key=lambda t: (t is None, t or dt.datetime.min))
    # never NULL: no flag, the same order
    if None not in times:
        plain = value_order(table, ["at", "id"], ["id"], never_null={"at"})
        assert "n0" not in plain.type().names
        rows = con.to_pyarrow(table.select(exact=exact, fast=ibis.row_number().over(
            order_by=plain))).to_pylist()
        assert [r["fast"] for r in rows] == [r["exact"] for r in rows]
    assert value_order(table, ["at", "id"], None) is None  # no unique key: not a value


TWO_MEASURES = header() + """
measures:
  - id: deal
    type: per_record
    source: sales
    payee: rep
    source_id: sale_id
    date: day
    period: month
    amount: amount
  - id: echo
    type: per_record
    source: sales
    payee: rep
    source_id: sale_id
    date: day
    period: month
    amount: amount
"""

# Ids a person may type: both cases, digits, accents and other scripts, spaces and
# punctuation, one a prefix of another ("S1", "S10", "S1 "), and the empty id.
_ID_TEXT = st.text(st.sampled_from(list("aAzZ09_- .é\u00c9\u017c\u4e2d\U0001f600")), max_size=4)


def _utf8(text: str | None) -> tuple[bool, bytes]:
    return (text is None, (text or "").encode())


@given(st.lists(st.tuples(_ID_TEXT, _ID_TEXT, st.integers(0, 70)), min_size=1, max_size=10))
@settings(max_examples=15, deadline=None)
def test_the_files_order_is_the_utf8_byte_order_nulls_last(drawn) -> None:
    """The order the payouts promise (payee, period, date, source id, the plan's measure
    order) compares text by its UTF-8 bytes, never by case or by language (DuckDB's
    binary collation, and Spark's), with a missing value after every other: what a
    narrower sort key would have to reproduce exactly (docs/performance.md, "Seventh
    round (sort6 branch)")."""
    rows = [{"sale_id": sale_id, "rep": rep, "amount": Decimal("1.00"),
             "day": DAY0 + dt.timedelta(days=day)} for rep, sale_id, day in drawn]
    lines = payouts(TWO_MEASURES, rows)
    got = [(r["payee_id"], r["period"], r["date"], r["source_id"], r["measure"]) for r in lines]
    expected = sorted(
        ((r["rep"], r["day"].strftime("%Y-%m"), r["day"], r["sale_id"], measure)
         for r in rows for measure in ("deal", "echo")),
        key=lambda k: (_utf8(k[0]), k[1], k[2], _utf8(k[3]), k[4]))
    assert got == expected
    # a missing date or id (a roster's empty line has no date) after every other, as the
    # outputs' `order_by` compiles for DuckDB
    ids = [r["sale_id"] for r in rows] + [None]
    table = memtable({"id": ids, "day": [r["day"] for r in rows] + [None]},
                     {"id": "string", "day": "date"})
    ordered = connection().to_pyarrow(table.order_by(["day", "id"])).to_pylist()
    assert [r["id"] for r in ordered] == [
        r[1] for r in sorted(zip([r["day"] for r in rows] + [None], ids, strict=True),
                             key=lambda r: (r[0] is None, r[0] or DAY0, _utf8(r[1])))]
