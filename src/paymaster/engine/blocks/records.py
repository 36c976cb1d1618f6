"""Per-record measures (one line per source record) and once-per-payee bonuses."""

from __future__ import annotations

from decimal import Decimal

import ibis
import ibis.expr.types as ir

from paymaster.engine.context import BlockResult, Context, join_left, period_label
from paymaster.engine.lines import (
    CREDIT_SCHEMA,
    LINE_SCHEMA,
    amount_text,
    first_reason,
    join_text,
    literal_decimal,
    money,
    natural_order,
    percent,
    shape,
    text,
)
from paymaster.engine.rules import materialize, rule_checks
from paymaster.plan.expressions import WIDE, explain, multiply
from paymaster.plan.model import OneOff, PerRecord, RateTable


def build_per_record(ctx: Context, measure: PerRecord, path: tuple, seq: int) -> BlockResult:
    table = ctx.source(measure, path)
    table = ctx.with_version(table, "__date" if measure.date else None)
    table = ctx.payee_period(table, measure, path)
    names = (measure.source,)
    ns = ctx.namespace(table, names)
    table = table.mutate(source_id=ctx.expr(measure.source_id, ns, path + ("source_id",)).cast("string"))
    checks: list[tuple[str, ir.Value]] = []
    if measure.claim is not None:
        table = ctx.claimed(_claim(ctx, table, measure), measure)
        checks.append((measure.claim.reason, table["__claimed_by"].isnull()))
    table = _attach_refers(ctx, table, measure, path)
    refer_names = {r.measure: _refer_columns(table, r.measure) for r in measure.refers}
    ns = ctx.namespace(table, names, **refer_names)
    rules = rule_checks(ctx, measure.rules, ns, path + ("rules",))
    if measure.duration is not None:
        d = measure.duration
        start = ctx.expr(d.start, ns, path + ("duration", "start"), "date")
        end = ctx.expr(d.end, ns, path + ("duration", "end"), "date")
        rules.append((d.name, end.cast("date").delta(start.cast("date"), unit="day") > d.max_days))
    table, rules = materialize(table, rules, "rule")
    checks += rules
    table = _apply_caps(ctx, table, measure, names, path, refer_names)
    ns = ctx.namespace(table, names, **refer_names)
    if measure.amount is not None:
        raw = ctx.expr(measure.amount, ns, path + ("amount",), "numeric").cast(WIDE)
        base, rate, band = ibis.null().cast(WIDE), ibis.null().cast(WIDE), ibis.null().cast("string")
        known_rates = []
    else:
        base = ctx.expr(measure.base, ns, path + ("base",), "numeric").cast(WIDE)
        rate, band, known_rates = _rate(ctx, measure.rate, ns, path + ("rate",))
        raw = multiply(base, rate)
        checks.append(("no_band", rate.isnull()))
    failed = first_reason(checks)
    table = table.mutate(
        raw=raw, earned=money(raw.fill_null(0)), base=base, rate=rate, band=band,
        reason=failed, eligible=failed.isnull(),
        date=table["__date"] if measure.date else ibis.null().cast("date"),
    )
    # The explanation is built after the limit, from the table's own columns: the
    # limit's window then sorts no text.
    note = None
    if measure.limit is not None:
        table, note = _limit(ctx, table, measure, ns, path)
    table = table.mutate(explanation=_explanation(ctx, table, measure, note, known_rates))
    # The lines are the stage: the credits read nothing else, and a stored copy of the
    # lines' projection would be one more write of every line.
    lines = ctx.stage(f"{measure.id}__records", shape(
        table, LINE_SCHEMA, program=ctx.plan.program, measure=measure.id, seq=seq,
        budget=measure.budget, cut_by_cap=table["__cut"] if "__cut" in table.columns else None))
    credits = shape(lines, CREDIT_SCHEMA, value=money(lines["raw"].fill_null(0)),
                    counts=lines["eligible"])
    return BlockResult(lines=lines, credits=credits)


def _explanation(ctx: Context, table: ir.Table, measure: PerRecord, note, known_rates) -> ir.Value:
    """The caps' notes, the figures, and the limit's note, read from `table`'s columns."""
    refers = {r.measure: _refer_columns(table, r.measure) for r in measure.refers}
    ns = ctx.namespace(table, (measure.source,), **refers)
    # `earned` is the rounded `raw` already (the limit and budget have not touched it yet).
    raw_text = ibis.ifelse(table["raw"].isnull(), ibis.null().cast("string"),
                           table["earned"].cast("string"))
    if measure.amount is not None:
        figures = ibis.literal("amount ").concat(raw_text)
    else:
        band = table["band"]
        figures = ibis.literal(f"{measure.base_label} ").concat(
            explain(measure.base, ns), " = ", amount_text(table["base"]), "; ",
            percent(table["rate"], known_rates),
            ibis.ifelse(band.isnull(), "", ibis.literal(" band ").concat(band.fill_null(""))),
            " -> ", raw_text,
        )
    claimed = []
    if measure.claim is not None:
        # Which registration this sale closed: what a partner reads as "won".
        claimed = [ibis.ifelse(table["__claimed_by"].isnull(), ibis.null().cast("string"),
                               ibis.literal(f"{measure.claim.screening} ").concat(
                                   table["__claimed_by"].cast("string")))]
    explanation = join_text([*claimed, *_cap_notes(table, measure), figures])
    if note is None:
        return explanation
    return explanation.concat(ibis.ifelse(table["__over"], note, ""))


def _rate(ctx: Context, rate: object, ns, path: tuple) -> tuple[ir.Value, ir.Value, list]:
    """The rate, its band's label, and the literal rates it can take (for the text)."""
    if not isinstance(rate, RateTable):
        value = ctx.number(rate, ns, path).cast(WIDE)
        return value, ibis.null().cast("string"), _literals([value])
    cases, labels = [], []
    for i, band in enumerate(rate.bands):
        when = ctx.expr(band.when, ns, path + ("bands", i, "when"), "boolean").fill_null(False)
        cases.append((when, ctx.number(band.rate, ns, path + ("bands", i, "rate")).cast(WIDE)))
        labels.append((when, ibis.literal(band.label)))
    return (ibis.cases(*cases, else_=ibis.null().cast(WIDE)),
            ibis.cases(*labels, else_=ibis.null().cast("string")),
            _literals([value for _, value in cases]))


def _literals(values: list[ir.Value]) -> list[Decimal]:
    found = (literal_decimal(v) for v in values)
    return [v for v in found if v is not None]


def _apply_caps(ctx: Context, table: ir.Table, measure: PerRecord, names, path, refers):
    """Each cap's column, and its value and maximum as columns for the explanation."""
    cut_total = None
    for i, cap in enumerate(measure.caps):
        ns = ctx.namespace(table, names, **refers)
        value = ctx.expr(cap.value, ns, path + ("caps", i, "value"), "numeric")
        limit = ctx.number(cap.max, ns, path + ("caps", i, "max"))
        capped = ibis.ifelse(value > limit, limit.cast(value.type()), value)
        cut = (value - capped).cast(WIDE)
        table = table.mutate(**{cap.name: capped, f"__capv{i}": value, f"__capm{i}": limit})
        cut_total = cut if cut_total is None else cut_total + cut
    if cut_total is not None:
        table = table.mutate(__cut=cut_total)
    return table


def _cap_notes(table: ir.Table, measure: PerRecord) -> list[ir.Value]:
    notes = []
    for i, cap in enumerate(measure.caps):
        value, limit = table[f"__capv{i}"], table[f"__capm{i}"]
        notes.append(ibis.ifelse(
            value > limit,
            ibis.literal(f"{cap.value} ").concat(text(value), " capped at ", text(limit)),
            ibis.null().cast("string"),
        ))
    return notes


def _limit(ctx: Context, table: ir.Table, measure: PerRecord, ns, path: tuple):
    """Only the first N eligible lines per group are paid; the rest get the limit's name.
    Returns the table (with `__over` and `__slot`) and the note the explanation gets.

    Only eligible lines are ranked (the others never count): the window sorts those, not
    every record."""
    limit = measure.limit
    count = ctx.number(limit.count, ns, path + ("limit", "count"))
    group = ["payee_id", "period"] if limit.per == "period" else ["payee_id"]
    table = table.mutate(__count=count)
    counted = table.filter(table["eligible"])
    counted = counted.mutate(__slot=ibis.row_number().over(
        group_by=group, order_by=natural_order(counted, limit.order_by)) + 1)
    others = table.filter(~table["eligible"])
    ranked = counted.union(others.mutate(__slot=ibis.null().cast("int64")))
    over = ranked["eligible"] & (ranked["__slot"] > ranked["__count"])
    ranked = ranked.mutate(
        __over=over,
        eligible=ranked["eligible"] & ~over,
        reason=ibis.ifelse(over, ibis.literal(limit.name), ranked["reason"]),
        cut_by_limit=ibis.ifelse(over, ranked["earned"], 0),
    )
    note = ibis.literal("; deal ").concat(ranked["__slot"].cast("string"), " of the month, only ",
                                          text(ranked["__count"]), " are paid")
    return ranked, note


def _claim(ctx: Context, table: ir.Table, measure: PerRecord) -> ir.Table:
    """Claimants take, in order, the earliest unclaimed record of the same keys dated on or
    after their own date. With claimant dates non-decreasing in claim order, the greedy
    choice is closed-form: j_i = i + max_{k<=i}(f_k - k), f_k = first record on or after
    claimant k's date. So no loop over records is needed."""
    claim = measure.claim
    claimants = ctx.results[claim.screening].accepted
    keys = claim.on
    records = table.mutate(
        __ridx=ibis.row_number().over(group_by=keys, order_by=natural_order(table, claim.order_by)) + 1
    )
    r = claimants.mutate(__cidx=ibis.row_number().over(group_by=keys, order_by="__order") + 1)
    found = records.select(*[records[k].name(f"__s_{k}") for k in keys],
                           __sdate=records["__date"], __sidx=records["__ridx"])
    pairs = r.inner_join(
        found, [r[k] == found[f"__s_{k}"] for k in keys] + [found["__sdate"] >= r["__claim_date"]]
    )
    first = pairs.group_by("__claimant").aggregate(__f=pairs["__sidx"].min())
    r = join_left(r, first.rename(__cl="__claimant"), [("__claimant", "__cl")])
    big = ibis.literal(1_000_000_000, type="int64")
    r = r.mutate(__gap=r["__f"].fill_null(big) - r["__cidx"])
    window = ibis.window(group_by=keys, order_by="__cidx", rows=(None, 0))
    r = r.mutate(__j=r["__cidx"] + r["__gap"].max().over(window))
    matched = r.select(*[r[k].name(f"__m_{k}") for k in keys], __m_j=r["__j"],
                       __claimed_by=r["__claimant"])
    joined = join_left(records, matched,
                       [(k, f"__m_{k}") for k in keys] + [("__ridx", "__m_j")])
    return joined.drop("__ridx")


def _attach_refers(ctx: Context, table: ir.Table, measure: PerRecord, path: tuple) -> ir.Table:
    for i, refer in enumerate(measure.refers):
        ns = ctx.namespace(table, (measure.source,))
        of = ctx.expr(refer.period_of, ns, path + ("refers", i, "period_of"), "date").cast("date")
        other = ctx.plan.measure(refer.measure)
        table = table.mutate(**{f"__rp_{refer.measure}": period_label(of, other.period)})
        lines = ctx.results[refer.measure].lines
        right = lines.select(
            **{f"__rk_{refer.measure}": lines["payee_id"], f"__rq_{refer.measure}": lines["period"],
               f"{refer.measure}__raw": lines["raw"], f"{refer.measure}__value": lines["value"],
               f"{refer.measure}__earned": lines["earned"],
               f"{refer.measure}__paid": lines["eligible"]}
        )
        table = join_left(table, right, [("payee_id", f"__rk_{refer.measure}"),
                                         (f"__rp_{refer.measure}", f"__rq_{refer.measure}")])
    return table


def _refer_columns(table: ir.Table, measure_id: str) -> dict[str, ir.Value]:
    prefix = f"{measure_id}__"
    return {c[len(prefix):]: table[c] for c in table.columns if c.startswith(prefix)}


def build_one_off(ctx: Context, measure: OneOff, path: tuple, seq: int) -> BlockResult:
    """A fixed bonus on each payee's first eligible line of measure `of`, if `when` holds."""
    lines = ctx.results[measure.of].lines
    eligible = lines.filter(lines["eligible"])
    first = eligible.mutate(
        __n=ibis.row_number().over(group_by="payee_id",
                                   order_by=natural_order(eligible, ["date", "source_id"]))
    ).filter(ibis._["__n"] == 0)
    first = ctx.with_version(first.drop("version"), "date")
    ns = ctx.namespace(first, ("line",))
    when = ctx.expr(measure.when, ns, path + ("when",), "boolean").fill_null(False)
    amount = ctx.number(measure.amount, ns, path + ("amount",)).cast(WIDE)
    chosen = first.filter(when).mutate(raw=amount)
    out = shape(
        chosen, LINE_SCHEMA, program=ctx.plan.program, measure=measure.id, seq=seq,
        earned=money(chosen["raw"]), eligible=True, reason=ibis.null().cast("string"),
        budget=measure.budget, base=None, rate=None, band=None, cut_by_cap=None,
        cut_by_limit=None, value=None, target=None,
        explanation=ibis.literal("one-off ").concat(amount_text(chosen["raw"]),
                                                   " on first paid line ", chosen["source_id"]),
    )
    return BlockResult(lines=out)
