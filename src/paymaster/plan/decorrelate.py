"""Correlated EXISTS as joins that every backend runs.

The compiler writes EXISTS as Ibis's correlated subquery, bound to the record's table.
Before a stage runs, `decorrelate` rewrites each projection or filter that holds one
into a left join of its table onto a small table derived from the subquery, plus a flag
column (Spark refuses some correlated subqueries in projections, and plans them row by
row where it accepts them). The small table is, by the shape of the subquery's links:

- first in order: equalities, and "the inner row comes before mine" over one or more
  order columns (`s.d < t.d OR (s.d = t.d AND id_before(s.id, t.id))`): per group of
  the equal keys, the least value of each order column (`_first_in_order`);
- equal keys only: the distinct inner keys that have a match;
- anything else (two inequalities, an OR of unrelated links, ...): the distinct outer
  values the condition reads, each joined to every inner row it matches (as costly as
  the subquery itself).
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from paymaster.plan.expressions import _id_before, natural_key
from paymaster.plan.natural import natural_sort_key


def decorrelate(table: ir.Table) -> ir.Table:
    """`table` with every correlated EXISTS in a projection or filter turned into a
    left join and a flag; unchanged when it has none."""
    root = table.op()
    if not root.find(ops.ExistsSubquery):
        return table
    names = (f"__exists{i}" for i in itertools.count())

    def rewrite(node: ops.Node, kwargs: dict | None) -> ops.Node:
        node = node.__recreate__(kwargs) if kwargs else node
        if isinstance(node, (ops.Project, ops.Filter)):
            return _flatten_exists(node, names)
        return node

    return root.replace(rewrite).to_expr()


def _matched(hits: dict[str, ir.Value], reads: list[ir.Value]) -> ir.BooleanValue:
    return hits["hit"].notnull()


@dataclass
class _Probe:
    """One EXISTS answered by a join: `hits` joined on to the outer table by `links`
    (outer value, column of `hits`, NULL-safe?); `flag` gives the answer from the
    joined columns of `hits` (by name) and the outer values `reads` (in their order)."""

    hits: ir.Table
    links: list[tuple[ops.Value, str, bool]]
    reads: list[ops.Value] = field(default_factory=list)
    flag: Callable[[dict[str, ir.Value], list[ir.Value]], ir.BooleanValue] = _matched


def _own_exists(node: ops.Project | ops.Filter) -> list[ops.ExistsSubquery]:
    values = node.values.values() if isinstance(node, ops.Project) else node.predicates
    found: dict[ops.ExistsSubquery, None] = {}
    for value in values:
        for sub in value.find(ops.ExistsSubquery, filter=ops.Value):
            found[sub] = None
    return list(found)


def _flatten_exists(node: ops.Project | ops.Filter, names: Iterator[str]) -> ops.Relation:
    parent = node.parent
    current = parent.to_expr()
    flags: dict[ops.Node, str] = {}
    # EXISTS that differ only in what they compare the joined figures with (a gated
    # rebate's `returned_when` at each evaluation date) share one join.
    joins: dict[tuple, str] = {}
    for sub in _own_exists(node):
        probe = _probe(parent, sub)
        if probe is None:
            continue
        flag = next(names)
        while flag in current.columns:
            flag = next(names)
        key = (_unaliased(probe.hits.op()), tuple(probe.links))
        prefix = joins.get(key)
        if prefix is None:
            prefix = joins[key] = flag
            hits = probe.hits.rename({f"{prefix}_{c}": c for c in probe.hits.columns})
            rebind = {ops.Field(parent, c): ops.Field(current.op(), c) for c in parent.schema}
            conditions = []
            for outer_value, column, null_safe in probe.links:
                value = outer_value.replace(rebind, filter=ops.Value).to_expr()
                key_column = hits[f"{prefix}_{column}"]
                conditions.append(value.identical_to(key_column) if null_safe else value == key_column)
            joined = current.left_join(hits, conditions)
            current = joined.select(*current.columns, *hits.columns)
        rebind = {ops.Field(parent, c): ops.Field(current.op(), c) for c in parent.schema}
        found = probe.flag({c: current[f"{prefix}_{c}"] for c in probe.hits.columns},
                           [v.replace(rebind, filter=ops.Value).to_expr() for v in probe.reads])
        current = current.mutate(**{flag: found})
        flags[sub] = flag
    joined_columns = [c for c in current.columns
                      if any(c.startswith(f"{prefix}_") for prefix in joins.values())
                      and c not in parent.schema]
    if joined_columns:
        current = current.drop(*joined_columns)
    if not flags:
        return node
    new_parent = current.op()
    replaced: dict[ops.Node, ops.Node] = {
        ops.Field(parent, c): ops.Field(new_parent, c) for c in parent.schema
    }
    replaced.update({sub: ops.Field(new_parent, flag) for sub, flag in flags.items()})
    if isinstance(node, ops.Project):
        values = {k: v.replace(replaced, filter=ops.Value) for k, v in node.values.items()}
        return ops.Project(new_parent, values)
    kept = ops.Filter(new_parent, tuple(p.replace(replaced, filter=ops.Value) for p in node.predicates))
    return ops.Project(kept, {c: ops.Field(kept, c) for c in parent.schema})


def _unaliased(node: ops.Node) -> ops.Node:
    """`node` with each table's own alias (every EXISTS reads its table through a
    `view()` of its own) numbered alike: equal for subqueries over the same rows."""
    aliases = {ref: ops.SelfReference(ref.parent, 0) for ref in node.find(ops.SelfReference)}
    return node.replace(aliases) if aliases else node


def _conjuncts(value: ops.Value) -> list[ops.Value]:
    if isinstance(value, ops.And):
        return _conjuncts(value.left) + _conjuncts(value.right)
    return [value]


def _relations(value: ops.Value) -> set[ops.Relation]:
    return {f.rel for f in value.find(ops.Field, filter=ops.Value)}


def _probe(parent: ops.Relation, sub: ops.ExistsSubquery) -> _Probe | None:
    """How to answer `sub` by a join onto `parent`; None when the subquery has a shape
    this does not handle (it then stays as it is)."""
    if not isinstance(sub.rel, ops.Filter):
        return None
    inner = sub.rel.parent
    conditions = [c for p in sub.rel.predicates for c in _conjuncts(p)]
    equal, other, local = [], [], []
    for cond in conditions:
        rels = _relations(cond)
        if not rels <= {parent, inner}:
            return None  # correlated with a table further out: left to the backend
        if parent not in rels:
            local.append(cond)
        elif isinstance(cond, ops.Equals) and _relations(cond.left) == {inner} \
                and _relations(cond.right) == {parent}:
            equal.append((cond.left, cond.right))
        elif isinstance(cond, ops.Equals) and _relations(cond.left) == {parent} \
                and _relations(cond.right) == {inner}:
            equal.append((cond.right, cond.left))
        else:
            other.append(cond)
    if not equal and not other:
        return None  # not correlated
    if not other:
        return _hits_by_equal_keys(inner, equal, local)
    steps = _order(other[0], parent, inner) if len(other) == 1 else None
    if steps is not None:
        return _first_in_order(inner, equal, steps, local)
    return _hits_by_outer_keys(parent, inner, conditions)


def _hits_by_equal_keys(inner, equal, local) -> _Probe:
    """Only `inner.x = outer.y` links: the distinct inner keys that pass the inner-only
    conditions (a NULL key never matches, as in EXISTS)."""
    matches = inner.to_expr()
    if local:
        matches = matches.filter(*[c.to_expr() for c in local])
    keys = matches.select(**{f"k{i}": i_side.to_expr() for i, (i_side, _) in enumerate(equal)})
    hits = keys.distinct().mutate(hit=ibis.literal(True))
    return _Probe(hits, [(o_side, f"k{i}", False) for i, (_, o_side) in enumerate(equal)])


def _hits_by_outer_keys(parent, inner, conditions) -> _Probe:
    """Other links (<, <=, OR, ...): the distinct outer values the condition reads,
    joined to the inner table on the whole condition; those that matched are joined
    back NULL-safe (the condition itself saw the NULLs)."""
    outer = parent.to_expr()
    used = sorted({f.name for c in conditions for f in c.find(ops.Field, filter=ops.Value)
                   if f.rel == parent})
    keys = outer.select(**{f"k{i}": outer[c] for i, c in enumerate(used)}).distinct()
    rebound = {ops.Field(parent, c): ops.Field(keys.op(), f"k{i}") for i, c in enumerate(used)}
    matched = keys.inner_join(inner.to_expr(),
                              [c.replace(rebound, filter=ops.Value).to_expr() for c in conditions])
    hits = matched.select(*[keys[f"k{i}"] for i in range(len(used))]).distinct()
    hits = hits.mutate(hit=ibis.literal(True))
    return _Probe(hits, [(ops.Field(parent, c), f"k{i}", True) for i, c in enumerate(used)])


# -- "an inner row comes before mine": the first rows of each group
#
# `NOT EXISTS (SELECT 1 FROM sales s WHERE s.customer_id = sales.customer_id AND
# (s.order_date < sales.order_date OR (s.order_date = sales.order_date AND
# id_before(s.sale_id, sales.sale_id))))` keeps a customer's first sales. As outer keys
# it joins every sale with every sale of its customer; yet an inner row before mine
# exists exactly when the group's least order date is before mine, or equals mine and
# the least id among the rows of that date is before mine: one aggregate per order
# column, joined on the equal keys.
#
# Recognised here, on Ibis operations, rather than when the compiler reads the SQL:
# the fast form changes the relation (an aggregate joined on to the record's table),
# which only this pass does, the compiler returning a value; and here the links are
# already split into equalities and the rest, whatever the SQL spelling (`a < b` or
# `b > a`, either side of AND and OR).
#
# A per-group least value of the subquery's own rows rather than `rank()` over the
# records: the records are not the subquery's rows (lookups, fields and the date are
# added before a filter; the subquery may filter its rows), so a window over them would
# need a proof that both hold the same rows; the least values need none. Ties (equal
# date and id are not before each other: both pass NOT EXISTS) and NULLs (a NULL key
# never matches, a NULL date is before nothing and nothing is before it) follow from
# the very comparisons the subquery makes, applied to the least values (the greatest
# for a `>` column). Why it is exact: when some inner row r has r.d1 = mine.d1 ... and
# r.dk < mine.dk, the least d1 is at most r.d1, and if equal to mine.d1 the least d2
# among the rows of that d1 is at most r.d2, and so on to dk; the other way round,
# each least value is some row's own value.

COMPARE = {ops.Less: "<", ops.LessEqual: "<=", ops.Greater: ">", ops.GreaterEqual: ">="}
MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
APPLY = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
ID_BEFORE = "id_before"


@dataclass(frozen=True)
class _Step:
    """One order column: `inner <op> outer` says the inner row comes first."""

    inner: ops.Value
    outer: ops.Value
    op: str  # one of COMPARE's, or ID_BEFORE


def _order(cond: ops.Value, parent: ops.Relation, inner: ops.Relation) -> list[_Step] | None:
    """The order columns of `cond` when it reads "the inner row comes first" in a
    lexicographic order: `a < A`, or `a < A OR (a = A AND <the same, next columns>)`
    (`>` for a descending column); the last column may also be `<=`, `>=` or
    `id_before(a, A)`. None for any other condition."""
    step = _step(cond, parent, inner)
    if step is not None:
        return [step]
    if not isinstance(cond, ops.Or):
        return None
    for first, rest in ((cond.left, cond.right), (cond.right, cond.left)):
        head = _step(first, parent, inner)
        # Only a strict comparison can be followed by a tie-break; and not id_before,
        # whose order ends with the id itself (nothing left to break).
        if head is None or head.op not in ("<", ">") or not isinstance(rest, ops.And):
            continue
        for tie, tail in ((rest.left, rest.right), (rest.right, rest.left)):
            if isinstance(tie, ops.Equals) and {tie.left, tie.right} == {head.inner, head.outer}:
                more = _order(tail, parent, inner)
                if more is not None:
                    return [head, *more]
    return None


def _step(cond: ops.Value, parent: ops.Relation, inner: ops.Relation) -> _Step | None:
    # id_before first: it is itself a `<` of two natural keys, and read as that the least
    # of the group would be a natural key (five regular expressions per row) rather than
    # the id whose key is least (the id itself when ids have one shape: plan/natural.py).
    pair = _id_before_args(cond)
    if pair is not None and _relations(pair[0]) == {inner} and _relations(pair[1]) == {parent}:
        return _Step(pair[0], pair[1], ID_BEFORE)
    kind = COMPARE.get(type(cond))
    if kind is not None:
        left, right = _relations(cond.left), _relations(cond.right)
        if left == {inner} and right == {parent}:
            return _Step(cond.left, cond.right, kind)
        if left == {parent} and right == {inner}:
            return _Step(cond.right, cond.left, MIRRORED[kind])
    return None


def _id_before_args(cond: ops.Value) -> tuple[ops.Value, ops.Value] | None:
    """(a, b) when `cond` is `id_before(a, b)`: rebuilt by the compiler's own function
    and compared, so a change to how it is written cannot go unnoticed here."""
    if not isinstance(cond, ops.Less):
        return None

    def ids(side: ops.Value) -> list[ops.Value]:
        # the id is a column read inside the key (or its cast to text)
        fields = side.find(ops.Field)
        return [*fields, *[c for c in side.find(ops.Cast) if isinstance(c.arg, ops.Field)]]

    for a in ids(cond.left):
        for b in ids(cond.right):
            if _id_before(a.to_expr(), b.to_expr()).op() == cond:
                return a, b
    return None


def _first_in_order(inner, equal, steps: list[_Step], local) -> _Probe:
    """Per group of the inner rows' equal keys, the least (or, for `>`, the greatest)
    value of each order column among the rows that tie on the columns before it."""
    source = inner.to_expr()
    if local:
        source = source.filter(*[c.to_expr() for c in local])
    keys = [f"k{i}" for i in range(len(equal))]

    def columns(upto: int) -> ir.Table:
        # The keys and the order columns up to `upto` only: each level reads its own
        # projection of the inner rows, so that no one table of every inner row and
        # every order column is shared by all levels (a CTE that DuckDB stores: a
        # million sales' ids copied to be read once more).
        picked = source.select(
            **{k: i_side.to_expr() for k, (i_side, _) in zip(keys, equal, strict=True)},
            **{f"o{j}": step.inner.to_expr() for j, step in enumerate(steps[:upto + 1])})
        if keys:
            picked = picked.filter(*[picked[k].notnull() for k in keys])  # a NULL key never matches
        return picked

    bounds = None
    levels: list[ir.Table] = []
    for j, step in enumerate(steps):
        rows = columns(j)
        for i, level in enumerate(levels):
            # The next column only breaks ties among the rows at the least (greatest)
            # value of each column before it.
            rows = rows.semi_join(level, [*[rows[k] == level[k] for k in keys],
                                          rows[f"o{i}"] == level[f"m{i}"]])
        column = rows[f"o{j}"]
        if step.op == ID_BEFORE:
            # The id with the least natural key: no other id of the group comes
            # before it (keys end with the id itself, so only equal ids tie).
            # (The id itself when every id has one shape: plan/natural.py.)
            key = (natural_sort_key(rows, f"o{j}") if column.type().is_string()
                   else natural_key(column))
            least = {f"m{j}": column.argmin(key)}
        elif step.op in ("<", "<="):
            least = {f"m{j}": column.min()}
        else:
            least = {f"m{j}": column.max()}
        level = rows.group_by(keys).aggregate(**least) if keys else rows.aggregate(**least)
        levels.append(level)
        if bounds is None:
            bounds = level
        else:
            joined = bounds.left_join(level, [bounds[k] == level[k] for k in keys])
            bounds = joined.select(*[bounds[c] for c in bounds.columns],
                                   *[level[c] for c in least])
    return _Probe(bounds, [(o_side, f"k{i}", False) for i, (_, o_side) in enumerate(equal)],
                  reads=[step.outer for step in steps],
                  flag=lambda hits, mine: _comes_first(steps, hits, mine))


def _comes_first(steps: list[_Step], hits: dict[str, ir.Value],
                 mine: list[ir.Value]) -> ir.BooleanValue:
    """Whether some inner row of my group comes before mine: the subquery's own
    comparison between the group's least values and mine, column by column, each
    next column only where the ones before it tie (a CASE, so that DuckDB reads an id
    as a number only on those rows), and NULL (never true) as false."""
    flag: ir.BooleanValue | None = None
    for j in reversed(range(len(steps))):
        least, value, op = hits[f"m{j}"], mine[j], steps[j].op
        earlier = _id_before(least, value) if op == ID_BEFORE else APPLY[op](least, value)
        if flag is not None:
            earlier = ibis.cases((earlier, True), (least == value, flag), else_=False)
        flag = earlier
    return flag.fill_null(False)
