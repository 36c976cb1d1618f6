"""Budgets over the spliced lines, charging only the lines a pool can charge.

A pool charges, in date order, the lines that are eligible, earn more than zero and
belong to it (with the engine's NULL rules: a line of no budget that would be paid runs
through each pool's running sum too). Every other line passes every pool untouched: its
budget columns depend on the line alone. So the lines that may be charged (the
*candidates*: lines that would be paid, few) are charged together, with the engine's
own `apply_budgets`, into a small table, and the others get their budget columns as a
projection read by the outputs: no line is sorted, charged or written but the
candidates, whatever changed.
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
from paymaster.sqlnames import quote

CHARGED = "__charged_lines"
CANDIDATES = "__candidate_lines"
KEPT = "st___charged_lines"  # the previous run's charged lines


def candidate(lines: ir.Table, pools: list[str]) -> ir.Value:
    """Can a pool charge the line? (A pool only ever turns eligibility off.)"""
    if not pools:
        return ibis.literal(False)
    passing = (~lines["eligible"] | (lines["earned"] <= 0)).fill_null(False)
    return ~passing & lines["budget"].isin(pools).fill_null(False)


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

    may = candidate(lines, [b.id for b in loaded.plan.budgets])
    state.say("charge the budgets")
    state.con.execute(f"DROP TABLE IF EXISTS {quote(CHARGED)}")
    # The candidates first, on their own: charged straight from the union of every line,
    # the union is read by each pool's branches and DuckDB materialises it whole (a CTE
    # of every line, every column: most of the run after a small change).
    state.con.execute(f"DROP TABLE IF EXISTS {quote(CANDIDATES)}")
    candidates = backend.create_table(CANDIDATES, lines.filter(may), temp=True)
    charged = backend.create_table(CHARGED, charge(candidates, loaded.plan), temp=True)
    # The charged lines are kept for the next run's delta: a change can move the budget
    # columns of another payee's charged lines (the pool runs out earlier or later).
    state.say("keep the charged lines")
    if not splice.full:
        splice.changed = note_changes(state.con, KEPT, CHARGED, splice.changed)
    if splice.full or KEPT not in state.names():
        state.con.execute(f"CREATE OR REPLACE TABLE {quote(KEPT)} AS SELECT * FROM {quote(CHARGED)}")
    else:  # (only the lines whose budget columns changed are written)
        replace_part(state.con, KEPT, CHARGED, "TRUE")
    # No pool touches the other lines: charged with none, they are a projection (with the
    # pools, each line would be split into passing and charged, and read twice).
    unpooled = loaded.plan.model_copy(update={"budgets": []})
    return charge(lines.filter(~may), unpooled).union(charged)
