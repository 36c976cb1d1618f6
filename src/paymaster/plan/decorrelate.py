"""Correlated EXISTS as a semi-join flag, so that every backend runs it.

The compiler writes EXISTS as Ibis's correlated subquery, bound to the record's table.
Before a stage runs, `decorrelate` rewrites each projection or filter that holds one
into a left join of its table onto the distinct keys that have a match, plus a flag
column: plain joins every backend runs (Spark refuses some correlated subqueries in
projections, and plans them row by row where it accepts them).
"""

from __future__ import annotations

import itertools

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir


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


def _own_exists(node: ops.Project | ops.Filter) -> list[ops.ExistsSubquery]:
    values = node.values.values() if isinstance(node, ops.Project) else node.predicates
    found: dict[ops.ExistsSubquery, None] = {}
    for value in values:
        for sub in value.find(ops.ExistsSubquery, filter=ops.Value):
            found[sub] = None
    return list(found)


def _flatten_exists(node: ops.Project | ops.Filter, names) -> ops.Relation:
    parent = node.parent
    current = parent.to_expr()
    flags: dict[ops.Node, str] = {}
    for sub in _own_exists(node):
        found = _semi_flag(parent, sub)
        if found is None:
            continue
        hits, links = found
        flag = next(names)
        while flag in current.columns:
            flag = next(names)
        hits = hits.rename({f"{flag}_{c}": c for c in hits.columns})
        rebind = {ops.Field(parent, c): ops.Field(current.op(), c) for c in parent.schema}
        conditions = []
        for outer_value, column, null_safe in links:
            value = outer_value.replace(rebind, filter=ops.Value).to_expr()
            key = hits[f"{flag}_{column}"]
            conditions.append(value.identical_to(key) if null_safe else value == key)
        joined = current.left_join(hits, conditions)
        current = joined.select(*current.columns, **{flag: joined[f"{flag}_hit"].notnull()})
        flags[sub] = flag
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


def _conjuncts(value: ops.Value) -> list[ops.Value]:
    if isinstance(value, ops.And):
        return _conjuncts(value.left) + _conjuncts(value.right)
    return [value]


def _relations(value: ops.Value) -> set[ops.Relation]:
    return {f.rel for f in value.find(ops.Field, filter=ops.Value)}


def _semi_flag(parent: ops.Relation, sub: ops.ExistsSubquery):
    """The rows `sub` finds, as a table of distinct keys with a `hit` column, and the
    links (outer value, key column, NULL-safe?) that join it on to `parent`. None when
    the subquery has a shape this does not handle (it then stays as it is)."""
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
    if other:
        return _hits_by_outer_keys(parent, inner, conditions)
    return _hits_by_equal_keys(inner, equal, local)


def _hits_by_equal_keys(inner, equal, local):
    """Only `inner.x = outer.y` links: the distinct inner keys that pass the inner-only
    conditions (a NULL key never matches, as in EXISTS)."""
    matches = inner.to_expr()
    if local:
        matches = matches.filter(*[c.to_expr() for c in local])
    keys = matches.select(**{f"k{i}": i_side.to_expr() for i, (i_side, _) in enumerate(equal)})
    hits = keys.distinct().mutate(hit=ibis.literal(True))
    return hits, [(o_side, f"k{i}", False) for i, (_, o_side) in enumerate(equal)]


def _hits_by_outer_keys(parent, inner, conditions):
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
    return hits, [(ops.Field(parent, c), f"k{i}", True) for i, c in enumerate(used)]
