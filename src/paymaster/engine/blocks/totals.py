"""Each payee's total per period: the records a measure sums, and their totals stored once.

Most measures of a plan sum the same records the same way (a sales plan's ladder, contest,
champion, streak and annual measures all total each rep's sales of the plan year): the
totals of one such grouping are computed and stored once and read by every measure that
groups the same records by the same keys, and by the measure's own credits.

Calendar periods nest (a month lies in one quarter, a quarter in one year), and a total,
a count, a last date and a first start add up over the months of a quarter: a measure of
quarters or years whose records some other measure of the plan totals by month (the
ladder and the annual bonus beside the monthly champion) reads the stored monthly totals
rolled up, not its records again.
"""

from __future__ import annotations

import json

import ibis
import ibis.expr.types as ir

from paymaster.engine.context import Context, reads_period
from paymaster.engine.lines import money
from paymaster.money import money_type
from paymaster.plan.expressions import WIDE
from paymaster.plan.model import Aggregate, Ranking, Streak, TitleRank
from paymaster.plan.periods import CALENDAR_KINDS, period_label, period_start

# What decides a measure's records and their grouping (the rest of a measure reads the
# totals): two measures alike in all of these have the same totals.
RECORD_FIELDS = ("source", "lookups", "fields", "filter", "date", "payee", "period", "value")


def records(ctx: Context, measure, path: tuple, in_scope: bool) -> ir.Table:
    """The measure's records with their payee, period and `__value` (in the plan's scope
    when `in_scope`)."""
    table = ctx.source(measure, path)
    if in_scope:
        table = ctx.in_scope(table)
    table = ctx.payee_period(table, measure, path)
    ns = ctx.namespace(table, (measure.source,))
    value = ctx.expr(measure.value, ns, path + ("value",), "numeric")
    return table.mutate(__value=exact_value(value))


def exact_value(value: ir.Value) -> ir.Value:
    """A record's value in its own type when WIDE holds every value of it (an integer, a
    decimal of at most WIDE's places and integer digits: an input's DECIMAL(18, 4)),
    else cast to WIDE. Summed, then cast, the totals are the same figures; but a sum
    or a rounding of a DECIMAL(18, 4) is an order of magnitude cheaper than of the
    DECIMAL(38, 8) it would be cast to first (0.15 s of CPU per million credits)."""
    dtype = value.type()
    if dtype.is_integer():
        return value
    if dtype.is_decimal() and dtype.scale is not None and dtype.precision is not None \
            and dtype.scale <= WIDE.scale \
            and dtype.precision - dtype.scale <= WIDE.precision - WIDE.scale:
        return value
    return value.cast(WIDE)


def exact_money(value: ir.Value, places: int) -> ir.Value:
    """`lines.money` of a value from `exact_value`: rounded half-up to `places` in its own
    type (no rounding at all when it has no more places), the same amount."""
    dtype = value.type()
    if dtype.is_integer() or (dtype.is_decimal() and dtype.scale is not None
                              and dtype.scale <= places):
        return value.cast(money_type(places))
    if dtype.is_decimal() and value.type() != WIDE:
        return value.round(places).cast(money_type(places))
    return money(value, places)


def grouped(ctx: Context, measure, table: ir.Table, keys: list[str], in_scope: bool) -> ir.Table:
    """Per `keys` of `records`: the total `value`, the `count` of records, the last `date`
    (NULL without a date) and the first period start `__pstart` (when periods have one);
    stored once per plan for every measure with the same records and keys."""
    signature = _signature(ctx, measure, keys, in_scope)
    shared = ctx.shared.get(signature) if signature is not None else None
    if shared is not None:
        return shared
    before = len(ctx.compiler.collector.problems)
    finer = _finer(ctx, measure, keys, in_scope)
    if finer is not None:
        # (the finer totals under the measure's name and their kind: `ladder__month`)
        fine = measure.model_copy(update={"period": finer, "id": f"{measure.id}__{finer}"})
        day = table["__date"].cast("date")
        base = grouped(ctx, fine, table.mutate(period=period_label(day, finer),
                                               __pstart=period_start(day, finer)),
                       keys, in_scope)
        out = ctx.stage(f"{measure.id}__totals", _rolled_up(base, keys, measure.period))
        if signature is not None and len(ctx.compiler.collector.problems) == before:
            ctx.shared[signature] = out
        return out
    sums = {
        "value": table["__value"].sum().cast(WIDE),
        "count": table.count(),
        "date": table["__date"].max() if measure.date else ibis.null().cast("date"),
    }
    if by_start(measure, table, keys):
        # Grouped by the period's first day, labelled once per total: a calendar
        # period's label is text built for every record (0.08 s of CPU per million).
        by = ["__pstart" if key == "period" else key for key in keys]
        out = table.group_by(by).aggregate(**sums)
        out = out.mutate(period=period_label(out["__pstart"], measure.period))
        out = out.select(*keys, *sums, "__pstart")
    else:
        if "__pstart" in table.columns:
            sums["__pstart"] = table["__pstart"].min()
        out = table.group_by(keys).aggregate(**sums)
    out = ctx.stage(f"{measure.id}__totals", out)
    if signature is not None and len(ctx.compiler.collector.problems) == before:
        ctx.shared[signature] = out
    return out


def by_start(measure, table: ir.Table, keys: list[str]) -> bool:
    """Are the records' periods calendar periods, each named by its first day `__pstart`
    (one label per start, one start per label)?"""
    return (measure.period in CALENDAR_KINDS and "period" in keys
            and "__pstart" in table.columns)


def _rolled_up(fine: ir.Table, keys: list[str], kind: str) -> ir.Table:
    """Totals of calendar periods of `kind` from the totals of the finer periods they hold."""
    table = fine.mutate(period=period_label(fine["__pstart"], kind))
    return table.group_by(keys).aggregate(
        value=table["value"].sum().cast(WIDE),
        count=table["count"].sum().cast("int64"),
        date=table["date"].max(),
        __pstart=period_start(table["__pstart"].min(), kind),
    )


def _finer(ctx: Context, measure, keys: list[str], in_scope: bool) -> str | None:
    """The finest calendar period, finer than the measure's own, by which another measure
    of the plan totals the same records by the same keys; None when there is none, or when
    periods may not be rolled up: without sharing, without a date, or when an expression
    of the measure reads its period (`period.days` of a month is not of a quarter)."""
    kind = measure.period
    if ctx.shared is None or kind not in CALENDAR_KINDS or not measure.date \
            or reads_period(measure):
        return None
    same = measure.model_dump(mode="json", include=set(RECORD_FIELDS) - {"period"})
    kinds = [other.period for other in ctx.plan.measures
             if getattr(other, "period", None) in CALENDAR_KINDS
             and CALENDAR_KINDS.index(other.period) < CALENDAR_KINDS.index(kind)
             and _grouping(other) == (keys, in_scope) and not reads_period(other)
             and other.model_dump(mode="json", include=set(RECORD_FIELDS) - {"period"}) == same]
    return min(kinds, key=CALENDAR_KINDS.index, default=None)


def _grouping(measure) -> tuple[list[str], bool] | None:
    """The keys and scope a measure's block totals its records by (blocks/aggregates.py,
    blocks/rankings.py); None for a measure that totals nothing."""
    if isinstance(measure, Aggregate):
        return ["payee_id", "period", *measure.keys], measure.date is not None
    if isinstance(measure, Ranking | Streak | TitleRank):
        return ["payee_id", "period"], True
    return None


def _signature(ctx: Context, measure, keys: list[str], in_scope: bool) -> str | None:
    """The key measures share totals under; None when they may not (`ctx.shared` None)."""
    if ctx.shared is None:
        return None
    spec = measure.model_dump(mode="json", include=set(RECORD_FIELDS))
    return json.dumps([spec, keys, in_scope, bool(measure.date)], sort_keys=True)
