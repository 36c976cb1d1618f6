"""Budgets over the spliced lines, kept in the state (`st__lines`) and charged again only
where a charge can differ.

A budget pool charges, in date order, the lines that are eligible, earn more than zero
and belong to it; every other line passes every pool untouched, its budget columns a
function of the line alone. So a line that is eligible (or NULL) with earnings above
zero (or NULL) is a *candidate*: the candidates are charged together, always (they are
few: lines that would be paid); every other line is charged again only when it was
replaced by the splice. Lines of the previous run are replaced by the same rule: those
stored as candidates, and those of the replaced (measure, payee)s.
"""

from __future__ import annotations

import ibis.expr.types as ir

from paymaster.datafiles import sql_string
from paymaster.engine.budget import apply_budgets
from paymaster.engine.context import Context
from paymaster.engine.lines import LINE_SCHEMA, memtable
from paymaster.errors import Collector
from paymaster.incremental.splice import Splice
from paymaster.plan.expressions import Compiler

STORED = "st__lines"
CANDIDATE = "__candidate"


def candidate(lines: ir.Table) -> ir.Value:
    """May the line be charged to a pool? (Eligibility only ever goes from true to false.)"""
    passing = ~lines["eligible"] | (lines["earned"] <= 0)
    return ~passing.fill_null(False)


def budgeted_lines(splice: Splice) -> ir.Table:
    """Every line with its budget columns, as `engine.budget.apply_budgets` gives them over
    all lines: stored in the state, and changed only where the change can reach."""
    state, backend, con = splice.state, splice.state.backend, splice.state.con
    loaded = state.loaded
    tables = [backend.table(name) for name in splice.lines]
    lines = tables[0] if tables else memtable({}, LINE_SCHEMA)
    for table in tables[1:]:
        lines = lines.union(table)
    ctx = Context(loaded=loaded, tables={}, compiler=Compiler(loaded.source, Collector()))
    ns = ctx.namespace(lines)

    def charge(rows: ir.Table) -> ir.Table:
        return apply_budgets(loaded.plan, rows.mutate(**{CANDIDATE: candidate(rows)}),
                             lambda v: ctx.number(v, ns, ("budgets",)))

    if splice.full or STORED not in state.names():
        state.say("calculate lines")
        con.execute(f"DROP TABLE IF EXISTS {STORED}")
        backend.create_table(STORED, charge(lines))
        return backend.table(STORED).drop(CANDIDATE)
    whole = [m for m, payees in splice.replaced.items() if payees is None]
    parts = [(m, payees) for m, payees in splice.replaced.items() if payees]
    again = candidate(lines)
    if whole:
        again |= lines["measure"].isin(whole)
    for measure, _ in parts:
        again |= (lines["measure"] == measure) & splice.in_scope(
            loaded.plan.measure(measure), lines["payee_id"])
    state.say("recalculate lines")
    con.execute("DROP TABLE IF EXISTS __recharged")
    recharged = backend.create_table("__recharged", charge(lines.filter(again)), temp=True)
    stale = [CANDIDATE]
    if whole:
        stale.append(f"measure IN ({', '.join(sql_string(m) for m in whole)})")
    stale += [f"(measure = {sql_string(m)} AND payee_id IN "
              f"{splice.scope_sql(loaded.plan.measure(m))})" for m, _ in parts]
    con.execute(f"DELETE FROM {STORED} WHERE {' OR '.join(stale)}")
    con.execute(f"INSERT INTO {STORED} BY NAME SELECT * FROM {recharged.get_name()}")
    return backend.table(STORED).drop(CANDIDATE)
