"""Aggregate measures: one line per payee and period from a total, with targets, tiers,
group totals (a team against its target) and gates."""

from __future__ import annotations

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from paymaster.engine.blocks.totals import by_start, exact_money, grouped, records
from paymaster.engine.context import BlockResult, Context, join_left, reads_period
from paymaster.engine.lines import CREDIT_SCHEMA, first_reason, money, shape
from paymaster.plan.expressions import WIDE, multiply
from paymaster.plan.model import Aggregate, TargetLookup, Tiers
from paymaster.plan.periods import CALENDAR_KINDS
from paymaster.plan.trace import (
    AGGREGATE_AMOUNT,
    AGGREGATE_GRADUATED,
    AGGREGATE_RETROACTIVE,
    band_label,
)


def build_aggregate(ctx: Context, measure: Aggregate, path: tuple, seq: int) -> BlockResult:
    in_scope = measure.date is not None
    table = records(ctx, measure, path, in_scope)
    ns = ctx.namespace(table, (measure.source,))
    keys = ["payee_id", "period", *measure.keys]
    # (compiled either way: a plan's `source_id` is checked whatever a run writes)
    record_id = _record_id(ctx, table, measure, ns, path)
    if ctx.aggregate_credits:
        table = table.mutate(source_id=record_id)
        if table.op().find(ops.ExistsSubquery):
            # Records chosen by a subquery (a customer's first order) are chosen once: the
            # totals and the credits read them stored, not the subquery's join twice.
            # (Without the credits the totals alone read them: nothing is stored.)
            table = ctx.stage_narrow(f"{measure.id}__records", table,
                                     {*keys, "source_id", "__value", "__date", "__pstart"})
    groups = grouped(ctx, measure, table, keys, in_scope)
    credits = _credits(ctx, table, groups, measure, keys) if ctx.aggregate_credits else None
    lines = groups.select(*keys, "value", "count", "date")
    if measure.only_positive:
        lines = lines.filter(lines["value"] > 0)
    if measure.target is not None:
        lines = _with_target(ctx, lines, measure.target, "target", path + ("target",),
                             measure.period)
    if measure.group is not None:
        group_window = ibis.window(group_by=[measure.group.by, "period"])
        lines = lines.mutate(group_value=lines["value"].sum().over(group_window).cast(WIDE))
        if measure.group.target is not None:
            lines = _with_target(ctx, lines, measure.group.target, "group_target",
                                 path + ("group", "target"), measure.period)
    lines = ctx.with_version(lines, "date" if measure.date else None)
    ns = ctx.namespace(lines, ("line",))
    checks = []
    if measure.target is not None:
        # A missing target must not silently pay the whole value at the first tier.
        checks.append(("no_target", lines["target"].isnull()))
    for i, gate in enumerate(measure.gates):
        ok = ctx.expr(gate.require, ns, path + ("gates", i, "require"), "boolean").fill_null(False)
        checks.append((gate.name, ~ok))
    if measure.tiers is not None:
        raw, band = _tiers(ctx, lines, measure.tiers, ns, path + ("tiers",))
        template = AGGREGATE_GRADUATED if measure.tiers.mode == "graduated" else AGGREGATE_RETROACTIVE
    else:
        raw = ctx.expr(measure.amount, ns, path + ("amount",), "numeric").cast(WIDE)
        band, template = ibis.null().cast("string"), AGGREGATE_AMOUNT
    reason = first_reason(checks)
    eligible = reason.isnull()
    lines = lines.mutate(
        raw=raw, reason=reason, eligible=eligible, band=band,
        earned=ibis.ifelse(eligible, money(raw.fill_null(0), ctx.places),
                           money(ibis.literal(0), ctx.places)),
    )
    out = shape(lines, ctx.line_schema(), program=ctx.plan.program, measure=measure.id, seq=seq,
                source_id=ibis.literal(""), budget=measure.budget, template=template,
                **{name: lines[name] if name in lines.columns else None
                   for name in ("target", "group_value", "group_target")})
    return BlockResult(lines=out, credits=credits)


def _record_id(ctx: Context, table: ir.Table, measure: Aggregate, ns, path: tuple) -> ir.Value:
    """What names a summed record in the credits: `source_id`, else the table's key."""
    if measure.source_id is not None:
        return ctx.expr(measure.source_id, ns, path + ("source_id",)).cast("string")
    key = ctx.plan.inputs[measure.source].key
    if not key:
        return ibis.null().cast("string")
    parts = [table[c].cast("string") for c in key]
    return parts[0] if len(parts) == 1 else ibis.literal("/").join(parts)


def _credits(ctx: Context, table: ir.Table, groups: ir.Table, measure: Aggregate,
             keys: list[str]) -> ir.Table:
    """Every record an aggregate line sums, so a payee sees which deals made the total;
    with `only_positive`, the records of a total not above zero count for nothing (the
    total read from the stored totals, not summed again over every record)."""
    counts = ibis.literal(True)
    labelled = {}
    if measure.only_positive:
        # Matched on a calendar period's first day, the label read from the total: every
        # record is in a total (the totals are of these records), and a label is text
        # built for each of millions of records, a date is not.
        on = keys
        if by_start(measure, table, keys) and "__pstart" in groups.columns:
            on = ["__pstart" if key == "period" else key for key in keys]
            labelled = {"__gperiod": groups["period"]}
        totals = groups.select(__total=groups["value"], **labelled,
                               **{f"__g{i}": groups[key] for i, key in enumerate(on)})
        # (NULL keys are a group of their own, as in the GROUP BY that summed them)
        table = table.left_join(totals, [table[key].identical_to(totals[f"__g{i}"])
                                         for i, key in enumerate(on)])
        counts = table["__total"] > 0
    return shape(table, CREDIT_SCHEMA, program=ctx.plan.program, measure=measure.id,
                 value=exact_money(table["__value"].fill_null(0), ctx.places), counts=counts,
                 reason=ibis.ifelse(counts, ibis.null().cast("string"), "not_above_zero"),
                 **({"period": table["__gperiod"]} if labelled else {}))


def _with_target(ctx: Context, lines: ir.Table, spec: TargetLookup, name: str,
                 path: tuple, kind: str = "") -> ir.Table:
    targets = ctx.apply_lookups(ctx.tables[spec.table], spec.lookups, (spec.table,), path)
    # The period a target row is matched to: its attributes for `column` and `where`.
    matched = [theirs for theirs, ours in spec.on.items() if ours == "period"]
    if matched and kind in CALENDAR_KINDS and reads_period(spec):
        targets = ctx.with_calendar(targets, kind, matched[0])
    ns = ctx.namespace(targets, (spec.table,))
    if spec.where is not None:
        targets = targets.filter(ctx.expr(spec.where, ns, path + ("where",), "boolean"))
        ns = ctx.namespace(targets, (spec.table,))
    amount = ctx.expr(spec.column, ns, path + ("column",), "numeric").cast(WIDE)
    targets = targets.mutate(__amount=amount)
    keys = {f"__t{i}": targets[theirs].cast("string") for i, theirs in enumerate(spec.on)}
    summed = targets.group_by(**keys).aggregate(**{name: targets["__amount"].sum().cast(WIDE)})
    pairs = [(ours, f"__t{i}") for i, ours in enumerate(spec.on.values())]
    return join_left(lines, summed, pairs)


def _tiers(ctx: Context, lines: ir.Table, tiers: Tiers, ns, path: tuple):
    """Graduated: each rate on the part of the value inside its band.
    Retroactive: the rate of the band the value reaches, on the whole value."""
    value = lines["value"]
    scale = lines["target"] if tiers.relative_to == "target" else ibis.literal(1, type=WIDE)
    lower = ibis.literal(0, type=WIDE)
    total = ibis.literal(0, type=WIDE)
    band = ibis.null().cast("string")
    for i, tier in enumerate(tiers.tiers):
        rate = ctx.number(tier.rate, ns, path + ("tiers", i, "rate"))
        upper = multiply(ctx.number(tier.upto, ns, path + ("tiers", i, "upto")), scale) \
            if tier.upto is not None else None
        label = tier.label or band_label(tiers, tier, i)
        top = value if upper is None else ibis.least(value, upper)
        inside = ibis.greatest(top - lower, 0).cast(WIDE)
        reached = value > lower if i else ibis.literal(True)
        if tiers.mode == "graduated":
            total = (total + multiply(inside, rate)).cast(WIDE)
        else:
            total = ibis.ifelse(reached, multiply(value, rate), total)
        band = ibis.ifelse(reached, ibis.literal(label), band)
        lower = upper if upper is not None else lower
    return total, band
