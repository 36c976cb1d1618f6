"""Rankings with prizes (ties share), streaks in the top N, and honour titles."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from paymaster.engine.blocks.totals import grouped, records
from paymaster.engine.context import BlockResult, Context
from paymaster.engine.lines import TITLE_SCHEMA, money, shape
from paymaster.plan.expressions import WIDE, divide, multiply
from paymaster.plan.model import Ranking, Streak, TitleRank
from paymaster.plan.periods import period_index, period_label
from paymaster.plan.trace import RANKING_GROWTH, RANKING_PLACE, STREAK

# Reasons of a roster's ranked payees who win nothing (see Ranking.roster, Streak.roster).
NOT_PLACED = "not_placed"
STREAK_INCOMPLETE = "streak_incomplete"


def totals(ctx: Context, measure, path: tuple) -> ir.Table:
    """Each payee's total of `value` per period, over records in the plan's scope (the
    totals shared with every measure that sums the same records: blocks/totals.py)."""
    table = records(ctx, measure, path, in_scope=True)
    out = grouped(ctx, measure, table, ["payee_id", "period"], in_scope=True)
    out = out.select("payee_id", "period", "value", "date", "__pstart")
    return out.filter(out["value"] > 0)


def ranked(table: ir.Table, metric: str = "value") -> ir.Table:
    """1 + the number of payees strictly better in the period; and how many share the place."""
    table = table.mutate(
        rank=(ibis.rank().over(group_by="period", order_by=ibis.desc(table[metric])) + 1).cast("int64")
    )
    return table.mutate(tied=table.count().over(group_by=["period", "rank"]))


def build_ranking(ctx: Context, measure: Ranking, path: tuple, seq: int) -> BlockResult:
    table = totals(ctx, measure, path)
    if measure.metric == "growth":
        table = _growth(ctx, table, measure, path)
    if measure.ranked_from is not None:
        first = ctx.number(measure.ranked_from, ctx.namespace(table, ("line",)),
                           path + ("ranked_from",))
        kind = measure.period
        counted = (period_index(table["__pstart"], kind)
                   - period_index(ibis.literal(ctx.plan.scope.start, type="date"), kind) + 1)
        table = table.filter(counted >= first)
    table = ranked(table, "__by" if measure.metric == "growth" else "value")
    ns = ctx.namespace(table, ("line",))
    prizes = [ctx.number(p, ns, path + ("prizes", i)) for i, p in enumerate(measure.prizes)]
    # The pool a column first: the exact quotient names its numerator five times (range
    # check, message, integer parts, sign), and the pool is two CASEs over the prizes
    # (sales-team's best_progress stage: 21 KB of SQL to parse, 8 KB with a column).
    table = table.mutate(__pool=_prize_pool(table["rank"], table["tied"], prizes))
    share = divide(table["__pool"], table["tied"])
    # With a roster, every payee ranked gets a line: 0.00 with `not_placed` below the prizes.
    # (a view: the shape below reads `raw` four times, and would otherwise write the
    # quotient out in each, as `_growth` says)
    winners = (table if measure.roster else table.filter(share > 0)).mutate(raw=share).view()
    placed = winners["raw"] > 0
    growth = measure.metric == "growth"
    lines = shape(winners, ctx.line_schema(), program=ctx.plan.program, measure=measure.id,
                  seq=seq, source_id="", earned=money(winners["raw"], ctx.places), eligible=placed,
                  reason=ibis.ifelse(placed, ibis.null().cast("string"), NOT_PLACED),
                  budget=measure.budget, version="v1",
                  band=ibis.literal("place ").concat(winners["rank"].cast("string")),
                  template=RANKING_GROWTH if growth else RANKING_PLACE,
                  place=winners["rank"], tied=winners["tied"],
                  growth=winners["metric"] if growth else None)
    titles = None
    if measure.title:
        top = table.filter(table["rank"] == 1)
        titles = shape(top, TITLE_SCHEMA, program=ctx.plan.program, title=measure.title,
                       value=money(top["value"], ctx.places))
    return BlockResult(lines=lines, titles=titles)


def _prize_pool(rank: ir.Value, tied: ir.Value, prizes: list[ir.Value]) -> ir.Value:
    """The prizes of the places tied payees cover, rank .. rank+tied-1: they share it
    equally (divided by `tied`)."""
    def cumulative(n: ir.Value) -> ir.Value:
        # sum of the first n prizes
        cases = [(n <= 0, ibis.literal(0, type=WIDE))]
        running = ibis.literal(0, type=WIDE)
        for i, prize in enumerate(prizes):
            running = (running + prize).cast(WIDE)
            cases.append((n == i + 1, running))
        return ibis.cases(*cases, else_=running)

    places = len(prizes)
    last = ibis.least(rank + tied - 1, places)
    first = ibis.least(rank - 1, places)
    return (cumulative(last) - cumulative(first)).cast(WIDE)


def _growth(ctx: Context, table: ir.Table, measure: Ranking, path: tuple) -> ir.Table:
    """Growth of this period over the previous one, for payees whose previous period reached
    `min_previous`; their current total may be zero (no sales at all)."""
    ns = ctx.namespace(table, ("line",))
    minimum = ctx.number(measure.min_previous or 0, ns, path + ("min_previous",))
    kind = measure.period
    previous = table.filter(table["value"] >= minimum)
    next_start = _next_start(previous["__pstart"], kind)
    previous = previous.select(
        payee_id=previous["payee_id"], prev=previous["value"],
        period=period_label(next_start, kind), __nstart=next_start,
    ).filter(ibis._["__nstart"] <= ctx.plan.scope.end)
    current = table.select(__cp=table["payee_id"], __cq=table["period"], __cv=table["value"],
                           __cd=table["date"])
    joined = previous.left_join(
        current, [previous["payee_id"] == current["__cp"], previous["period"] == current["__cq"]]
    )
    value = joined["__cv"].fill_null(0).cast(WIDE)
    prev = joined["prev"].cast(WIDE)
    # The quotient a column first, and a view: Ibis merges a select into the one that
    # reads it when that is no more nodes, and an exact quotient is one node written out as
    # 5 copies of its operands (sales-team's best_progress: the quotient 12 times, 13 KB).
    divided = joined.select(
        payee_id=joined["payee_id"], period=joined["period"], value=value,
        date=joined["__nstart"], __pstart=joined["__nstart"], __prev=prev,
        __q=divide(value, prev)).view()
    quotient, prev = divided["__q"], divided["__prev"]
    grown = divided.select(
        "payee_id", "period", "value", metric=(quotient - 1).cast(WIDE), date=divided["date"],
        __pstart=divided["__pstart"], __prev=prev, __q=quotient,
        # the next 8 places of the quotient: (value - q x prev) < prev x 10^-8, exactly
        __q2=divide(multiply(divided["value"] - multiply(quotient, prev), 100000000), prev),
    )
    return _exact_ties(grown).drop("__prev", "__q", "__q2", "__new", "__tie")


def _exact_ties(grown: ir.Table) -> ir.Table:
    """The key growth is ranked by: the exact quotient's first 16 places (two exact
    decimal quotients, no double), made equal for growths that are exactly equal and told
    apart for growths that differ further on: neighbours in that order are compared
    exactly (a/b = c/d when a*d = c*b). The key is the tie group's place, best first."""
    order = [ibis.desc("__q"), ibis.desc("__q2"), "payee_id"]
    lag = ibis.window(group_by="period", order_by=order)
    same = (grown["value"] * grown["__prev"].lag().over(lag)
            == grown["value"].lag().over(lag) * grown["__prev"]).fill_null(False)
    grown = grown.mutate(__new=ibis.ifelse(same, 0, 1))
    grown = grown.mutate(__tie=grown["__new"].sum().over(
        ibis.window(group_by="period", order_by=order, rows=(None, 0))))
    return grown.mutate(__by=-grown["__tie"])


def _next_start(start: ir.Value, kind: str) -> ir.Value:
    months = {"month": 1, "quarter": 3, "year": 12}[kind]
    return (start + ibis.interval(months=months)).cast("date")


def build_streak(ctx: Context, measure: Streak, path: tuple, seq: int) -> BlockResult:
    """Runs of consecutive periods in the top N (ties at N are in); a prize each time a run
    reaches a multiple of `length` periods."""
    table = ranked(totals(ctx, measure, path))
    ns = ctx.namespace(table, ("line",))
    places = ctx.number(measure.top, ns, path + ("top",)).cast("int64")
    length = ctx.number(measure.length, ns, path + ("length",)).cast("int64")
    table = table.mutate(__places=places, __length=length)
    top = table.filter(table["rank"] <= table["__places"])
    top = top.mutate(__idx=period_index(top["__pstart"], measure.period))
    top = top.mutate(
        __island=top["__idx"]
        - ibis.row_number().over(group_by=top["payee_id"], order_by=top["__idx"])
    )
    top = top.mutate(
        run=ibis.row_number().over(group_by=["payee_id", "__island"], order_by="__idx") + 1
    )
    ns = ctx.namespace(top, ("line",))
    amount = ctx.number(measure.amount, ns, path + ("amount",))
    due = top["run"] % top["__length"] == 0
    # With a roster, every period in the top N gets a line: 0.00 with `streak_incomplete`
    # until the run reaches its next multiple of `length`.
    winners = (top if measure.roster else top.filter(due)).mutate(
        raw=ibis.ifelse(due, amount.cast(WIDE), ibis.literal(0, type=WIDE)), __due=due)
    lines = shape(
        winners, ctx.line_schema(), program=ctx.plan.program, measure=measure.id, seq=seq,
        source_id="", earned=money(winners["raw"], ctx.places), eligible=winners["__due"],
        version="v1",
        reason=ibis.ifelse(winners["__due"], ibis.null().cast("string"), STREAK_INCOMPLETE),
        budget=measure.budget,
        template=STREAK, place=winners["rank"], tied=winners["tied"], run=winners["run"],
        slot_limit=winners["__places"],
    )
    return BlockResult(lines=lines)


def build_title(ctx: Context, measure: TitleRank, path: tuple, seq: int) -> BlockResult:
    """Titles pay nothing: payees ranked within ceil(fraction x count) places, ties included."""
    table = ranked(totals(ctx, measure, path))
    count = ctx.tables[measure.count_table].count()
    fraction = ctx.number(measure.fraction, ctx.namespace(table, ("line",)), path + ("fraction",))
    places = (fraction * count).ceil()
    chosen = table.filter(table["rank"] <= places)
    titles = shape(chosen, TITLE_SCHEMA, program=ctx.plan.program, title=measure.id,
                   value=money(chosen["value"], ctx.places))
    return BlockResult(titles=titles)
