"""Balances carried from period to period: draws against commission, guarantees, and a
negative period carried forward.

Each period t a payee earns C_t from the measures `of`; the guarantee is G. Without
recovery the line tops up the shortfall, max(0, G - C_t). With recovery the balance owed
is B_t = max(0, B_{t-1} + G - C_t) (topped up while short, paid back from what is
earned above G): a clamped running sum, which needs no loop over periods. With
S_t = sum of (G - C_i) for i <= t and S_0 = 0, B_t = S_t - min(0, min over k <= t of S_k)
(Lindley's recursion), so two cumulative windows compute every period at once. The
line pays the top-up max(0, G - C_t) less what it recovers, B_{t-1} + top-up - B_t.
An advance A_t is paid on top and owed like a top-up: B_t = max(0, B_{t-1} + G + A_t - C_t),
and the line is always the change of what is owed plus what the period earns below G
(with recovery: B_t - B_{t-1}).
"""

from __future__ import annotations

import ibis

from paymaster.engine.context import BlockResult, Context, join_left, reads_period
from paymaster.engine.lines import money, shape
from paymaster.plan.expressions import WIDE
from paymaster.plan.model import Balance
from paymaster.plan.periods import scope_periods
from paymaster.plan.trace import BALANCE

ZERO = ibis.literal(0, type=WIDE)


def build_balance(ctx: Context, measure: Balance, path: tuple, seq: int) -> BlockResult:
    earned = None
    for name in measure.of:
        lines = ctx.results[name].lines
        part = lines.select("payee_id", "period",
                            __earned=ibis.ifelse(lines["eligible"], lines["earned"], 0).cast(WIDE))
        earned = part if earned is None else earned.union(part)
    earned = earned.group_by(["payee_id", "period"]).aggregate(__earned=earned["__earned"].sum())
    labels = scope_periods(ctx.plan, measure.period)
    periods = ibis.memtable({"period": labels, "__index": list(range(len(labels)))})
    payees = earned.select("payee_id")
    if measure.roster is not None:
        roster = ctx.tables[measure.roster.table]
        on = ctx.expr(measure.roster.where, ctx.namespace(roster, (measure.roster.table,)),
                      path + ("roster", "where"), "boolean").fill_null(False)
        roster = roster.filter(on)
        payees = roster.select(payee_id=roster[measure.roster.column].cast("string"))
    payees = payees.filter(payees["payee_id"].notnull()).distinct()
    grid = payees.cross_join(periods)
    grid = join_left(grid, earned.rename(__payee="payee_id", __p="period"),
                     [("payee_id", "__payee"), ("period", "__p")])
    if reads_period(measure):
        grid = ctx.with_calendar(grid, measure.period)
    # The guarantee and the advance may read the period (`period`, `period.start`, ...).
    ns = ctx.namespace(grid)
    guarantee = ctx.number(measure.guarantee, ns, path + ("guarantee",)).cast(WIDE)
    advance = ctx.number(measure.advance, ns, path + ("advance",)).cast(WIDE)
    grid = grid.mutate(__c=grid["__earned"].fill_null(0).cast(WIDE), __g=guarantee,
                       __a=advance.fill_null(0).cast(WIDE))
    grid = grid.mutate(__short=(grid["__g"] + grid["__a"] - grid["__c"]).cast(WIDE))
    upto = ibis.cumulative_window(group_by="payee_id", order_by="__index")
    grid = grid.mutate(__s=grid["__short"].sum().over(upto).cast(WIDE))
    grid = grid.mutate(__low=grid["__s"].min().over(upto))
    topup = ibis.greatest(ZERO, grid["__g"] - grid["__c"])
    if measure.recoverable:
        owed = (grid["__s"] - ibis.least(ZERO, grid["__low"])).cast(WIDE)
    else:
        owed = ZERO
    grid = grid.mutate(__owed=owed, __topup=topup.cast(WIDE))
    before = grid["__owed"].lag().over(ibis.window(group_by="payee_id", order_by="__index"))
    grid = grid.mutate(__before=before.fill_null(0).cast(WIDE))
    # What the period paid back of what was owed (the line is the change of what is owed)
    recovered = ((grid["__before"] + grid["__topup"] + grid["__a"] - grid["__owed"]).cast(WIDE)
                 if measure.recoverable else ZERO)
    raw = (grid["__topup"] + grid["__a"] - recovered).cast(WIDE)
    out = shape(
        grid, ctx.line_schema(), program=ctx.plan.program, measure=measure.id, seq=seq,
        period=grid["period"], source_id=None, date=None, raw=raw,
        earned=money(raw, ctx.places),
        eligible=True, reason=None, budget=None, base=grid["__before"], rate=None, band=None,
        value=grid["__c"], target=grid["__g"], cut_by_cap=None, cut_by_limit=None,
        version=ibis.literal("v1"), cancelled=None, template=BALANCE,
        topped_up=grid["__topup"], advanced=grid["__a"], recovered=recovered,
        owed=grid["__owed"],
    )
    return BlockResult(lines=out)
