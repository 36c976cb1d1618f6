"""Each payee's total per period: the records a measure sums, and their totals stored once.

Most measures of a plan sum the same records the same way (a sales plan's ladder, contest,
champion, streak and annual measures all total each rep's sales of the plan year): the
totals of one such grouping are computed and stored once and read by every measure that
groups the same records by the same keys, and by the measure's own credits.
"""

from __future__ import annotations

import json

import ibis
import ibis.expr.types as ir

from paymaster.engine.context import Context
from paymaster.plan.expressions import WIDE

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
    value = ctx.expr(measure.value, ns, path + ("value",), "numeric").cast(WIDE)
    return table.mutate(__value=value)


def grouped(ctx: Context, measure, table: ir.Table, keys: list[str], in_scope: bool) -> ir.Table:
    """Per `keys` of `records`: the total `value`, the `count` of records, the last `date`
    (NULL without a date) and the first period start `__pstart` (when periods have one);
    stored once per plan for every measure with the same records and keys."""
    signature = _signature(ctx, measure, keys, in_scope)
    shared = ctx.shared.get(signature) if signature is not None else None
    if shared is not None:
        return shared
    before = len(ctx.compiler.collector.problems)
    sums = {
        "value": table["__value"].sum().cast(WIDE),
        "count": table.count(),
        "date": table["__date"].max() if measure.date else ibis.null().cast("date"),
    }
    if "__pstart" in table.columns:
        sums["__pstart"] = table["__pstart"].min()
    out = ctx.stage(f"{measure.id}__totals", table.group_by(keys).aggregate(**sums))
    if signature is not None and len(ctx.compiler.collector.problems) == before:
        ctx.shared[signature] = out
    return out


def _signature(ctx: Context, measure, keys: list[str], in_scope: bool) -> str | None:
    """The key measures share totals under; None when they may not (`ctx.shared` None)."""
    if ctx.shared is None:
        return None
    spec = measure.model_dump(mode="json", include=set(RECORD_FIELDS))
    return json.dumps([spec, keys, in_scope, bool(measure.date)], sort_keys=True)
