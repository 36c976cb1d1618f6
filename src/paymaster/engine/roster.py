"""A roster's empty lines: every payee of a measure's `roster` gets a line for every
period of the plan's scope, a 0.00 unpaid one with the roster's reason where the measure
gave none ("each measure gives one payout line per rep per period").

Built over the whole of the measures' lines, after the budgets: the empty lines pay
nothing, so no later measure, budget or partial recalculation reads them.
"""

from __future__ import annotations


import ibis
import ibis.expr.types as ir

from paymaster.engine.context import Context, union_all
from paymaster.engine.lines import memtable, money, shape
from paymaster.plan.periods import scope_periods
from paymaster.plan.trace import EMPTY

# A growth ranking's first period of the scope has no previous period to grow from.
NO_PREVIOUS = "no_previous_period"


def with_roster_lines(ctx: Context, lines: ir.Table) -> ir.Table:
    """`lines` and the empty lines of every measure with a roster."""
    wanted = _wanted(ctx)
    if wanted is None:
        return lines
    have = lines.select(__m=lines["measure"], __p=lines["payee_id"],
                        __q=lines["period"]).distinct()
    missing = wanted.anti_join(have, [wanted["measure"] == have["__m"],
                                      wanted["payee_id"] == have["__p"],
                                      wanted["period"] == have["__q"]])
    zero = money(ibis.literal(0), ctx.places)
    empty = shape(missing, dict(lines.schema().items()), program=ctx.plan.program,
                  source_id="", earned=zero, amount=zero, cut_by_budget=zero,
                  eligible=False, paid=False, version="v1",
                  template=EMPTY)
    return lines.union(empty)


def _wanted(ctx: Context) -> ir.Table | None:
    """(payee_id, measure, seq, period, reason) for each payee of a roster and period.

    Measures with the same roster (most of a plan's: every rep) read its payees once,
    crossed with all their (measure, period) rows: one scan of the roster table, not one
    per measure, in every output that reads the lines."""
    rows: dict[tuple[str, str], list[tuple]] = {}
    for index, measure in enumerate(ctx.plan.measures):
        roster = getattr(measure, "roster", None)
        if roster is None or measure.type == "balance":  # a balance has every period
            continue
        kind = roster.period or measure.period
        periods = [(p, roster.reason) for p in scope_periods(ctx.plan, kind)]
        if getattr(measure, "metric", None) == "growth" and periods:
            periods[0] = (periods[0][0], NO_PREVIOUS)
        rows.setdefault((roster.table, roster.column), []).extend(
            (measure.id, index, period, reason) for period, reason in periods)
    parts = []
    for (name, column), labelled in rows.items():
        table = ctx.tables[name]
        payees = table.select(payee_id=table[column].cast("string"))
        payees = payees.filter(payees["payee_id"].notnull()).distinct()
        labels = memtable({"measure": [r[0] for r in labelled], "seq": [r[1] for r in labelled],
                           "period": [r[2] for r in labelled], "reason": [r[3] for r in labelled]},
                          {"measure": "string", "seq": "int64", "period": "string",
                           "reason": "string"})
        parts.append(payees.cross_join(labels))
    return union_all(parts) if parts else None
