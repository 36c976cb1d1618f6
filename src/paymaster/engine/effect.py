"""The program's effect: what it cost against the sales it pays for, and their growth."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from paymaster.engine.blocks.totals import exact_value
from paymaster.engine.context import Context
from paymaster.engine.lines import EFFECT_SCHEMA, memtable, money
from paymaster.plan.expressions import WIDE, divide


def effect(ctx: Context, payouts: ir.Table) -> ir.Table:
    """One row: sales in the scope and in the same span a year earlier, growth, incentive
    cost (the payout lines' total), its share of sales, and the budget used."""
    plan = ctx.plan
    if plan.effect is None:
        return memtable({}, EFFECT_SCHEMA)
    spec = plan.effect
    table = ctx.tables[spec.source]
    ns = ctx.namespace(table, (spec.source,))
    path = ("effect",)
    day = ctx.expr(spec.date, ns, path + ("date",), "date").cast("date")
    # (summed in its own type when exact, then cast: blocks/totals.py, exact_value)
    value = exact_value(ctx.expr(spec.value, ns, path + ("value",), "numeric"))
    start, end = plan.scope.start, plan.scope.end
    before = (_year_earlier(start), _year_earlier(end))
    span = end - start
    prior = (start - span - dt.timedelta(days=1), start - dt.timedelta(days=1))
    zero = ibis.literal(0, type=value.type())
    sums = table.aggregate(
        sales=ibis.ifelse(day.between(start, end), value, zero).sum().cast(WIDE),
        previous_sales=ibis.ifelse(day.between(*before), value, zero).sum().cast(WIDE),
        prior_sales=ibis.ifelse(day.between(*prior), value, zero).sum().cast(WIDE),
    )
    cost = payouts.aggregate(incentive_cost=payouts["amount"].sum().cast(WIDE))
    row = sums.cross_join(cost)
    budget = ibis.literal(plan.annual_budget, type=WIDE) if plan.annual_budget else None
    return row.select(
        program=ibis.literal(plan.program),
        period=ibis.literal(f"{start.isoformat()}..{end.isoformat()}"),
        sales=money(row["sales"].fill_null(0), ctx.places),
        previous_sales=money(row["previous_sales"].fill_null(0), ctx.places),
        growth=_ratio(row["sales"] - row["previous_sales"], row["previous_sales"]),
        prior_sales=money(row["prior_sales"].fill_null(0), ctx.places),
        prior_growth=_ratio(row["sales"] - row["prior_sales"], row["prior_sales"]),
        incentive_cost=money(row["incentive_cost"].fill_null(0), ctx.places),
        cost_share=_ratio(row["incentive_cost"], row["sales"]),
        cost_per_extra_sale=_ratio(row["incentive_cost"], _positive(
            row["sales"].fill_null(0) - row["previous_sales"].fill_null(0))),
        budget=money(budget, ctx.places) if budget is not None
        else ibis.null().cast(EFFECT_SCHEMA["budget"]),
        budget_used=_ratio(row["incentive_cost"], budget) if budget is not None
        else ibis.null().cast(EFFECT_SCHEMA["budget_used"]),
    )


def _ratio(numerator: ir.Value, denominator: ir.Value) -> ir.Value:
    return divide(numerator, denominator).round(4).cast("decimal(18, 4)")


def _positive(value: ir.Value) -> ir.Value:
    """Null unless above zero: a cost per extra sale means nothing without growth."""
    return ibis.ifelse(value > 0, value, ibis.null())


def _year_earlier(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)
