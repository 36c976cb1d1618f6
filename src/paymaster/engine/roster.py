"""A roster's empty lines: every payee of a measure's `roster` gets a line for every
period of the plan's scope, a 0.00 unpaid one with the roster's reason where the measure
gave none ("each measure gives one payout line per rep per period").

Built over the whole of the measures' lines, after the budgets: the empty lines pay
nothing, so no later measure, budget or partial recalculation reads them.
"""

from __future__ import annotations


import ibis
import ibis.expr.types as ir

from paymaster.engine.context import Context
from paymaster.engine.lines import memtable, money, shape
from paymaster.plan.periods import scope_periods
from paymaster.plan.trace import EMPTY

# A growth ranking's first period of the scope has no previous period to grow from.
NO_PREVIOUS = "no_previous_period"


def with_roster_lines(ctx: Context, lines: ir.Table) -> ir.Table:
    """`lines` and the empty lines of every measure with a roster."""
    wanted = [_wanted(ctx, index, measure) for index, measure in enumerate(ctx.plan.measures)
              if getattr(measure, "roster", None) is not None
              and measure.type != "balance"]  # a balance has a line every period already
    if not wanted:
        return lines
    expected = wanted[0]
    for table in wanted[1:]:
        expected = expected.union(table)
    have = lines.select(__m=lines["measure"], __p=lines["payee_id"],
                        __q=lines["period"]).distinct()
    missing = expected.anti_join(have, [expected["measure"] == have["__m"],
                                        expected["payee_id"] == have["__p"],
                                        expected["period"] == have["__q"]])
    zero = money(ibis.literal(0), ctx.places)
    empty = shape(missing, dict(lines.schema().items()), program=ctx.plan.program,
                  source_id="", earned=zero, amount=zero, cut_by_budget=zero,
                  eligible=False, paid=False, version="v1",
                  template=EMPTY)
    return lines.union(empty)


def _wanted(ctx: Context, index: int, measure) -> ir.Table:
    """(measure, seq, payee_id, period, reason) for each payee of the roster and period."""
    roster = measure.roster
    table = ctx.tables[roster.table]
    payees = table.select(payee_id=table[roster.column].cast("string"))
    payees = payees.filter(payees["payee_id"].notnull()).distinct()
    kind = roster.period or measure.period
    periods = [(p, roster.reason) for p in scope_periods(ctx.plan, kind)]
    if getattr(measure, "metric", None) == "growth" and periods:
        periods[0] = (periods[0][0], NO_PREVIOUS)
    labels = memtable({"period": [p for p, _ in periods], "reason": [r for _, r in periods]},
                      {"period": "string", "reason": "string"})
    return payees.cross_join(labels).mutate(measure=ibis.literal(measure.id),
                                            seq=ibis.literal(index, type="int64"))
