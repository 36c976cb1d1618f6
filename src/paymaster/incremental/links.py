"""The plan's links: which records of each measure read which rows of which table, and
which record columns tie different payees together (couplings)."""

from __future__ import annotations

import re

from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlglot
from sqlglot import expressions as sx

from paymaster.incremental.base import GLOBAL, Fallback
from paymaster.plan import LoadedPlan


@dataclass
class Link:
    table: str  # the table whose changed rows reach the measure
    column: str  # its column
    kind: str  # "row": equals a column of the measure's records; "payee": the payee id;
    #            "group": the measure's group column
    target: str = ""  # the records' column (kind "row" / "group")
    more: list[tuple[str, str]] = field(default_factory=list)  # further (column, target) pairs


@dataclass
class Usage:
    links: list[Link] = field(default_factory=list)
    couplings: list[list[str]] = field(default_factory=list)  # record columns tying payees
    opaque: set[str] = field(default_factory=set)  # tables read without a link


IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def analyse(loaded: LoadedPlan) -> dict[str, Usage]:
    """Per measure: how its records reach other tables, and what ties payees together."""
    plan = loaded.plan
    out: dict[str, Usage] = {}
    for measure in plan.measures:
        usage = Usage()
        out[measure.id] = usage
        if measure.type in GLOBAL:
            continue
        source = getattr(measure, "source", None)
        for lookup in getattr(measure, "lookups", []):
            for theirs, ours in lookup.on.items():
                if IDENTIFIER.match(ours):
                    usage.links.append(Link(lookup.table, theirs, "row", ours))
                else:  # a computed key: no column to follow a changed row back by
                    usage.opaque.add(lookup.table)
        for text in _texts(measure.model_dump()):
            _correlations(text, source, usage)
        if measure.type == "screening":
            usage.couplings += [r.first_wins.key for r in measure.rules if r.first_wins]
        if measure.type == "aggregate":
            group = measure.group.by if measure.group else None
            if group:
                usage.couplings.append([group])
            for spec in (measure.target, measure.group.target if measure.group else None):
                if spec is None:
                    continue
                ours = dict(spec.on)
                by_payee = [t for t, o in ours.items() if o == "payee_id"]
                by_group = [t for t, o in ours.items() if group and o == group]
                if by_payee:
                    usage.links.append(Link(spec.table, by_payee[0], "payee"))
                elif by_group:
                    usage.links.append(Link(spec.table, by_group[0], "group", group))
                else:
                    usage.opaque.add(spec.table)
        if measure.type == "per_record" and measure.claim is not None:
            screening = plan.measure(measure.claim.screening)
            if measure.payee not in measure.claim.on or screening.payee != measure.payee:
                usage.opaque.add(screening.source)  # claims across payees
        if measure.type == "gated_rebate" and measure.cover is not None:
            cover = measure.cover
            found = _equalities(f"SELECT 1 WHERE {cover.match}")
            cols = [a.name for a, b in found if a.table == cover.table and b.table == "payee"]
            cols += [b.name for a, b in found if b.table == cover.table and a.table == "payee"]
            if cols:
                usage.links.append(Link(cover.table, cols[0], "payee"))
            else:
                usage.opaque.add(cover.table)
    return out


def _texts(value) -> Iterable[str]:
    if isinstance(value, str):
        if "select" in value.lower():
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _conjuncts(node) -> list:
    """The parts of an AND chain: each must hold (an equality inside an OR need not)."""
    if isinstance(node, sx.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    if isinstance(node, sx.Paren):
        return _conjuncts(node.this)
    return [node]


def _column_equalities(node) -> list[tuple[sx.Column, sx.Column]]:
    return [(eq.left, eq.right) for eq in _conjuncts(node) if isinstance(eq, sx.EQ)
            and isinstance(eq.left, sx.Column) and isinstance(eq.right, sx.Column)]


def _equalities(sql: str) -> list[tuple[sx.Column, sx.Column]]:
    where = sqlglot.parse_one(sql, read="duckdb").args.get("where")
    return _column_equalities(where.this) if where is not None else []


def _correlations(text: str, source: str | None, usage: Usage) -> None:
    """Each `EXISTS (SELECT .. FROM t a WHERE a.x = <record>.y ..)`: a link from t.x to the
    record column y (or to the payee, for `payee.payee_id` / `line.payee_id`)."""
    try:
        tree = sqlglot.parse_one(f"SELECT {text}", read="duckdb")
    except sqlglot.errors.ParseError:
        raise Fallback(f"cannot read expression {text!r}") from None
    for select in tree.find_all(sx.Select):
        if select is tree:
            continue
        from_ = select.args.get("from") or select.args.get("from_")
        table = from_.this if from_ is not None else None
        if not isinstance(table, sx.Table):
            continue
        name, alias = table.name, table.alias_or_name
        found = False
        pairs: list[tuple[str, str]] = []  # all must hold: one link on every pair
        where = select.args.get("where")
        for left, right in _column_equalities(where.this) if where is not None else []:
            sides = [left, right]
            for ours, other in (sides, sides[::-1]):
                if ours.table != alias or other.table in (alias, "", "param", "period"):
                    continue
                if other.table in ("payee", "line") and other.name == "payee_id":
                    usage.links.append(Link(name, ours.name, "payee"))
                elif other.table == source:
                    pairs.append((ours.name, other.name))
                else:
                    continue
                found = True
        if pairs and name == source:
            usage.couplings.append([other for _, other in pairs])
        elif pairs:
            usage.links.append(Link(name, pairs[0][0], "row", pairs[0][1], pairs[1:]))
        if not found:
            usage.opaque.add(name)



def global_reads(measure) -> set[str]:
    reads = {measure.source, *(lookup.table for lookup in measure.lookups)}
    if getattr(measure, "count_table", None):
        reads.add(measure.count_table)
    return reads


def upstream(measure) -> list[str]:
    """The measures whose results this one reads (claims, `of`, `refers`), all by payee."""
    of = getattr(measure, "of", None)
    found = [getattr(getattr(measure, "claim", None), "screening", None),
             *(of if isinstance(of, list) else [of]),
             *(r.measure for r in getattr(measure, "refers", []))]
    return [m for m in found if m]


def by_period(measure) -> bool:
    """Can the measure be recomputed for some periods of a payee only? A per-record
    measure's records meet other records of their payee only in its limit (none, or per
    period) and in its claims (recomputed as whole claim groups, whose keys carry the
    payee)."""
    return (measure.type == "per_record" and measure.date is not None
            and (measure.limit is None or measure.limit.per == "period"))


def in_date_order(loaded: LoadedPlan, measure) -> bool:
    """Are a per-record measure's claims taken in date order (its `claim.order_by` starts
    with its date column, of a date type)? Then a record's claim depends only on the
    claimants and on the records of its keys ordered before it: none dated later."""
    claim = getattr(measure, "claim", None)
    if claim is None or not claim.order_by or claim.order_by[0] != measure.date:
        return False
    column = loaded.plan.inputs[measure.source].columns.get(measure.date)
    return (column is not None and column.type in ("date", "timestamp")
            and measure.date not in measure.fields
            and not any(measure.date in (lookup.prefix + c for c in lookup.columns)
                        for lookup in measure.lookups))


def by_group(plan, measure) -> list[str] | None:
    """The first-wins key by which a screening can be recomputed group by group (the
    records of the groups its changes touch, of any payee), or None. A record's screening
    depends on its own row and its group only; its results are replaced by its source id,
    a key of the source; claims read accepted records in screening order within a claim
    group, which must lie in one first-wins group (recomputed together)."""
    if measure.type != "screening":
        return None
    rules = [rule.first_wins for rule in measure.rules if rule.first_wins is not None]
    if len(rules) != 1 or plan.inputs[measure.source].key != [measure.source_id]:
        return None
    key = list(rules[0].key)
    for other in plan.measures:
        claim = getattr(other, "claim", None)
        if claim is not None and claim.screening == measure.id and not set(key) <= set(claim.on):
            return None
    return key
