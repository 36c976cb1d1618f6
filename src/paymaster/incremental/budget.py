"""Budgets over the spliced lines, charging only the lines a pool can charge.

A pool charges, in date order, the lines that are eligible, earn more than zero and
belong to it (with the engine's NULL rules: a line of no budget that would be paid runs
through each pool's running sum too). Every other line passes every pool untouched: its
budget columns depend on the line alone. So the lines that may be charged (the
*candidates*: lines that would be paid, few) are charged together, with the engine's
own `apply_budgets`, into a small table, and the others get their budget columns as a
projection read by the outputs: no line is sorted, charged or written but the
candidates, whatever changed.

The candidates themselves are kept in the state (`st___candidate_lines`, each with the
stored lines table it comes from) and follow the splice: the candidates of a part that
was recomputed are replaced by the part's, those of a table written whole are found in
it again; finding them by scanning every stored line was most of charging a budget at
10M lines (a scan of 10M lines for ~60,000 candidates, every run).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from paymaster.engine.budget import apply_budgets
from paymaster.engine.context import Context
from paymaster.engine.lines import line_schema, memtable
from paymaster.errors import Collector
from paymaster.incremental.splice import Splice, note_changes, replace_part
from paymaster.plan.expressions import Compiler
from paymaster.plan.trace import trace_columns
from paymaster.sqlnames import literal, quote, quote_all

CHARGED = "__charged_lines"
CANDIDATES = "__candidate_lines"
KEPT = "st___charged_lines"  # the previous run's charged lines
STORED = "st___candidate_lines"  # the candidates, before charging, with their table (FROM_)
FROM_ = "__st"


def candidate(lines: ir.Table, pools: list[str]) -> ir.Value:
    """Can a pool charge the line? (A pool only ever turns eligibility off.)"""
    if not pools:
        return ibis.literal(False)
    passing = (~lines["eligible"] | (lines["earned"] <= 0)).fill_null(False)
    return ~passing & lines["budget"].isin(pools).fill_null(False)


def candidate_sql(pools: list[str]) -> str:
    """`candidate` in SQL, over a stored lines table (the same three-valued logic)."""
    if not pools:
        return "FALSE"
    return ("NOT coalesce(NOT eligible OR earned <= 0, FALSE) AND "
            f"coalesce(budget IN ({', '.join(literal(p) for p in pools)}), FALSE)")


def _keep_candidates(splice: Splice, pools: list[str]) -> None:
    """The stored candidates brought up to date with the splice: a recomputed part's
    candidates replaced by those of its new rows, a table written whole scanned again,
    the others' kept. (A full run, or a state without them, finds them all.)"""
    con, stored = splice.state.con, quote(STORED)
    may = candidate_sql(pools)

    def found(name: str, rows: str) -> str:
        return f"SELECT *, {literal(name)} AS {quote(FROM_)} FROM {quote(rows)} WHERE {may}"

    if splice.full or STORED not in splice.state.names():
        parts = [found(name, name) for name in splice.lines]
        if not parts or not pools:  # (no candidates: nothing kept, nothing scanned)
            con.execute(f"DROP TABLE IF EXISTS {stored}")
            return
        con.execute(f"CREATE OR REPLACE TABLE {stored} AS " + " UNION ALL BY NAME ".join(parts))
        return
    for name in splice.lines:
        if name not in splice.rewritten:
            continue
        how = splice.rewritten[name]
        scope, rows = ("TRUE", name) if how is None else how
        con.execute(f"DELETE FROM {stored} WHERE {quote(FROM_)} = ? AND ({scope})", [name])
        con.execute(f"INSERT INTO {stored} BY NAME {found(name, rows)}")


def budgeted_lines(splice: Splice) -> ir.Table:
    """Every line with its budget columns, as `engine.budget.apply_budgets` gives them over
    all lines."""
    state, backend = splice.state, splice.state.backend
    loaded = state.loaded
    tables = [backend.table(name) for name in splice.lines]
    lines = tables[0] if tables else memtable({}, line_schema(trace_columns(loaded.plan)))
    for table in tables[1:]:
        lines = lines.union(table)
    ctx = Context(loaded=loaded, tables={}, compiler=Compiler(loaded.source, Collector()))

    def charge(rows: ir.Table, plan) -> ir.Table:
        return apply_budgets(plan, [rows],
                             lambda v, table: ctx.number(v, ctx.namespace(table), ("budgets",)))

    pools = [b.id for b in loaded.plan.budgets]
    may = candidate(lines, pools)
    state.say("charge the budgets")
    state.con.execute(f"DROP TABLE IF EXISTS {quote(CHARGED)}")
    # The candidates first, on their own: charged straight from the union of every line,
    # the union is read by each pool's branches and DuckDB materialises it whole (a CTE
    # of every line, every column: most of the run after a small change).
    _keep_candidates(splice, pools)
    state.con.execute(f"DROP TABLE IF EXISTS {quote(CANDIDATES)}")
    if STORED in state.names():
        state.con.execute(f"CREATE TEMP TABLE {quote(CANDIDATES)} AS SELECT "
                          f"{quote_all(lines.columns)} FROM {quote(STORED)}")
        candidates = backend.table(CANDIDATES)
    else:  # (no lines tables, or no pools: an empty filter, no scan)
        candidates = backend.create_table(CANDIDATES, lines.filter(may), temp=True)
    charged = backend.create_table(CHARGED, charge(candidates, loaded.plan), temp=True)
    # The charged lines are kept for the next run's delta: a change can move the budget
    # columns of another payee's charged lines (the pool runs out earlier or later).
    state.say("keep the charged lines")
    columns = [r[0] for r in state.con.execute(f"DESCRIBE {quote(CHARGED)}").fetchall()]
    before = ([r[0] for r in state.con.execute(f"DESCRIBE {quote(KEPT)}").fetchall()]
              if not splice.full and KEPT in state.names() else None)
    if before == columns and "payee_id" in columns:
        # Only the lines whose budget columns changed are written, and their payee-periods
        # noted for the delta, both from one comparison by row hashes (an exact set
        # difference of ~60,000 rows of 50 columns each way was 1.2 s of CPU at 10M).
        found = replace_part(state.con, KEPT, CHARGED, "TRUE", note=True)
        if splice.changed is not None and any(payee is None for payee, _ in found):
            splice.changed = None
        elif splice.changed is not None:
            splice.changed = splice.changed | set(found)
    else:
        if not splice.full:
            splice.changed = note_changes(state.con, KEPT, CHARGED, splice.changed)
        state.con.execute(f"CREATE OR REPLACE TABLE {quote(KEPT)} AS SELECT * FROM {quote(CHARGED)}")
    # No pool touches the other lines: charged with none, they are a projection (with the
    # pools, each line would be split into passing and charged, and read twice).
    unpooled = loaded.plan.model_copy(update={"budgets": []})
    return charge(lines.filter(~may), unpooled).union(charged)
