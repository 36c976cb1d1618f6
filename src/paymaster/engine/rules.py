"""Named eligibility rules: each becomes a 'failed' flag whose name is the reason."""

from __future__ import annotations

from collections import Counter

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from paymaster.plan.expressions import Namespace
from paymaster.plan.model import Rule
from paymaster.plan.taxids import TAX_ID_SEPARATORS


def materialize(table: ir.Table, checks: list[tuple[str, ir.Value]], tag: str):
    """Put each check's flag on the table it was compiled against, as a column.

    Correlated EXISTS values belong to that exact table; once they are columns, later
    steps can reshape the table freely."""
    columns = {f"__{tag}_{i}": failed for i, (_, failed) in enumerate(checks)}
    table = table.mutate(**columns)
    return table, [(name, table[f"__{tag}_{i}"]) for i, (name, _) in enumerate(checks)]


# Text work worth computing once (a regular expression is ~0.2 s per million rows in
# DuckDB, which computes a repeated one again in every place it is written) ...
_COSTLY = (ops.RegexSearch, ops.RegexReplace, ops.RegexExtract, ops.Strip, ops.LStrip, ops.RStrip,
           ops.StringSQLLike, ops.StringSQLILike)
# ... out of parts that cannot fail on a row a condition around them would have kept
# from them (no cast, no arithmetic): computing them on every row changes no result.
_SAFE = (*_COSTLY, ops.Field, ops.Literal, ops.IfElse, ops.SearchedCase, ops.SimpleCase,
         ops.IsNull, ops.NotNull, ops.Coalesce, ops.Equals, ops.NotEquals, ops.Less, ops.LessEqual,
         ops.Greater, ops.GreaterEqual, ops.And, ops.Or, ops.Not, ops.Uppercase, ops.Lowercase,
         ops.StringLength, ops.StringContains, ops.StartsWith, ops.EndsWith, ops.InValues)


def shared_parts(table: ir.Table, values: list[ir.Value]) -> tuple[ir.Table, list[ir.Value]]:
    """Compute once, as a column of `table`, each costly part (a TRIM, a LIKE) that the
    `values` compiled against `table` repeat: `TRIM(tmp_quote)` in a rule and in the
    population's condition, `TRIM(credit_currency)` twice in one rule. DuckDB evaluates
    an expression again wherever it is written; a column is read. Only parts of plain
    columns and safe operations are moved (`_SAFE`), so no row computes what could fail.
    Returns the widened table and the values over it (the same results)."""
    base = table.op()
    # a part's uses: the values it is, and the distinct expressions it is a part of
    uses = Counter(value.op() for value in values)
    for node in set().union(*(_nodes(value.op()) for value in values)):
        uses.update(child for child in set(node.__children__) if isinstance(child, ops.Value))
    shared = [node for node, n in uses.items() if n > 1 and _hoistable(node, base)]
    inner = {child for node in shared for child in _nodes(node) if child is not node}
    shared = [node for node in shared if node not in inner]
    if not shared:
        return table, values
    wider = table.mutate(**{f"__part{i}": node.to_expr() for i, node in enumerate(shared)})
    mapping = {node: wider[f"__part{i}"].op() for i, node in enumerate(shared)}
    mapping[base] = wider.op()
    return wider, [value.op().replace(mapping).to_expr() for value in values]


def _nodes(root: ops.Node) -> list[ops.Node]:
    """Every node of a value's expression, each once, not entering its relations."""
    seen, todo = {root}, [root]
    while todo:
        node = todo.pop()
        for child in node.__children__:
            if child not in seen and not isinstance(child, ops.Relation):
                seen.add(child)
                todo.append(child)
    return list(seen)


def _hoistable(node: ops.Node, base: ops.Relation) -> bool:
    parts = _nodes(node)
    return (any(isinstance(p, _COSTLY) for p in parts)
            and all(isinstance(p, _SAFE) and (not isinstance(p, ops.Field) or p.rel == base)
                    for p in parts))


def rule_checks(ctx, rules: list[Rule], ns: Namespace, path: tuple) -> list[tuple[str, ir.Value]]:
    """(name, failed) per rule, in plan order. `first_wins` rules are handled by screening.
    Use the flags on `ns.table` itself, or `materialize` them first."""
    checks = []
    for i, rule in enumerate(rules):
        if rule.fail_when is not None:
            failed = ctx.expr(rule.fail_when, ns, path + (i, "fail_when"), "boolean").fill_null(False)
        elif rule.require is not None:
            failed = ~ctx.expr(rule.require, ns, path + (i, "require"), "boolean").fill_null(False)
        else:
            continue
        checks.append((rule.name, failed))
    return checks


def nip_digits(value: ir.Value) -> ir.Value:
    """The NIP as written, without spaces and dashes (plan.taxids: the same on both backends)."""
    return value.cast("string").re_replace(TAX_ID_SEPARATORS, "")


def nip_valid_digits(digits: ir.Value, number: ir.Value) -> ir.Value:
    """Polish NIP checksum in SQL, on `nip_digits` and that as an integer (`number`):
    10 digits, weights 6 5 7 2 3 4 5 6 7, sum mod 11 = the 10th digit. Digits by integer
    arithmetic: cheaper than ten substrings, each re-cleaning the text. Without a
    division (an integer / is a DOUBLE in DuckDB): digit i times 10^(9-i) is a difference
    of two remainders, and 10^k = (-1)^k modulo 11, so the sum modulo 11 needs no digit."""
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    total = sum(((number % 10 ** (10 - i) - number % 10 ** (9 - i)) * (w if (9 - i) % 2 == 0 else -w)
                 for i, w in enumerate(weights)), ibis.literal(0, type="int64"))
    well_formed = digits.re_search(r"^[0-9]{10}$").fill_null(False)
    return well_formed & ibis.ifelse(well_formed, ((total % 11) + 11) % 11 == (number % 10), False)


def nip_valid(value: ir.Value) -> ir.Value:
    """Polish NIP checksum in SQL (one value; screening computes the parts as columns)."""
    digits = nip_digits(value)
    return nip_valid_digits(digits, digits.try_cast("int64"))


TAX_ID_CHECKS = {"pl.nip": nip_valid}
TAX_ID_PARTS = {"pl.nip": (nip_digits, nip_valid_digits)}
