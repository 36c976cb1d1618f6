"""A stage's UNION ALL without its branches' typed NULL columns, for DuckDB.

A union of every measure's lines pads each branch to the common line schema with a
typed NULL per column the measure never sets: sales-team's payout lines were 13 branches
of 49 columns, 427 `CAST(NULL AS ...) AS "..."` items, 30 KB of SQL that DuckDB 2.0
parses at about 10 µs an identifier and then binds item by item, in every run (a cached
run too: the SQL cache and the fast path replay the same text). DuckDB's UNION ALL BY
NAME fills a column a branch lacks with NULL: the padding said nothing else. So each
branch after the first keeps only its other columns and the union is by name.

The first branch keeps every column: a union by name gives the columns of its left
operand first, in their order, so the union's columns, their order and their types are
those of the padded union, and the stage's INSERT (positional, into a table typed by
Ibis's schema) gets the same rows. Only a stage's statement is compacted: it stores
into typed columns, so a branch's NULL no longer widening a column's type cannot reach
a value (an output's CSV text would show a decimal's scale). Spark SQL has no BY NAME;
its backend compiles the padded union as Ibis writes it.
"""

from __future__ import annotations

from sqlglot import exp

# Clauses after which a projection's items may be referred to by position or alias (an
# ORDER BY 2, a GROUP BY ALL, DISTINCT ON): such a branch is left as it is.
_ITEM_CLAUSES = ("group", "having", "qualify", "order", "windows", "distinct", "limit",
                 "offset", "sort", "distribute", "cluster")


def compact(tree: exp.Expression) -> exp.Expression:
    """`tree` with every UNION ALL whose later branch pads typed NULLs made BY NAME and
    the padding dropped from that branch (in place; returned for chaining)."""
    for union in list(tree.find_all(exp.Union)):
        if union.args.get("distinct") or union.args.get("by_name"):
            continue
        branch = _projection(union.expression)
        if branch is None:
            continue
        kept = [item for item in branch.expressions if not _typed_null(item)]
        if kept and len(kept) < len(branch.expressions):
            branch.set("expressions", kept)
            union.set("by_name", True)
    return tree


def _projection(node: exp.Expression) -> exp.Select | None:
    """The SELECT that names a union branch's columns, through the `SELECT * FROM
    (subquery) AS tN` wrappers Ibis writes around it; None when another clause could
    refer to its items, or the branch is a union itself (its own branches are visited)."""
    while True:
        if isinstance(node, exp.Subquery):
            node = node.this
            continue
        if not isinstance(node, exp.Select) or any(node.args.get(c) for c in _ITEM_CLAUSES):
            return None
        if _star_over_subquery(node):
            node = node.args["from_"].this
            continue
        return node


def _star_over_subquery(select: exp.Select) -> bool:
    """`SELECT * FROM (subquery) AS tN` and nothing more."""
    source = select.args.get("from_")
    others = [k for k, v in select.args.items() if v and k not in ("expressions", "from_")]
    return (len(select.expressions) == 1 and isinstance(select.expressions[0], exp.Star)
            and source is not None and isinstance(source.this, exp.Subquery) and not others)


def _typed_null(item: exp.Expression) -> bool:
    """`CAST(NULL AS type) AS "name"`."""
    return (isinstance(item, exp.Alias) and isinstance(item.this, exp.Cast)
            and isinstance(item.this.this, exp.Null))
