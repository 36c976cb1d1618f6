"""Gated rebates: rate x qualifying value per payee and phase, paid at the first of the
phase's evaluation dates at which every gate passes; a pass is final."""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, field, fields
from decimal import Decimal

import ibis
import ibis.expr.types as ir

from paymaster.engine.context import BlockResult, Context
from paymaster.engine.lines import (
    CREDIT_SCHEMA,
    EVALUATION_SCHEMA,
    all_reasons,
    first_reason,
    join_text,
    money,
    shape,
)
from paymaster.engine.rules import materialize, rule_checks, shared_parts
from paymaster.money import money_type
from paymaster.plan.expressions import WIDE, Namespace, divide, multiply
from paymaster.plan.model import Cover, GatedRebate
from paymaster.plan.periods import PERIOD_PREFIX
from paymaster.plan.trace import GATE, REBATE_FAILED, REBATE_PASSED


def build_gated_rebate(ctx: Context, measure: GatedRebate, path: tuple, seq: int) -> BlockResult:
    lines = ctx.payee_period(ctx.source(measure, path), measure, path)
    ns = ctx.namespace(lines, (measure.source,))
    lines = lines.mutate(
        source_id=ctx.expr(measure.source_id, ns, path + ("source_id",)).cast("string"),
        __value=_narrow(ctx.expr(measure.value, ns, path + ("value",), "numeric")),
    )
    ns = ctx.namespace(lines, (measure.source,))
    joins = ctx.expr(measure.population_when, ns, path + ("population_when",), "boolean")
    checks = rule_checks(ctx, measure.rules, ns, path + ("rules",))
    checks = [*checks, ("joins", joins.fill_null(False))]
    lines, values = shared_parts(lines, [value for _, value in checks])
    lines, flags = materialize(lines, [(name, value) for (name, _), value in zip(checks, values, strict=True)],
                               "rule")
    checks, lines = flags[:-1], lines.mutate(__joins=flags[-1][1])
    # Qualifying is "no rule failed": the flags' OR, not the reason's CASE a second time.
    failed = [flag for _, flag in checks]
    qualifies = ~functools.reduce(operator.or_, failed) if failed else ibis.literal(True)
    lines = lines.mutate(__reason=first_reason(checks), __qualifies=qualifies)
    lines = _stage_records(ctx, lines, measure)
    payees = _population(ctx, lines, measure, path)
    members = payees.select(__mp="payee_id", __mq="period")
    in_population = lines.semi_join(
        members, [lines["payee_id"] == members["__mp"], lines["period"] == members["__mq"]])
    credits = shape(in_population, CREDIT_SCHEMA, program=ctx.plan.program, measure=measure.id,
                    value=_money(in_population["__value"], ctx.places), counts=in_population["__qualifies"],
                    reason=in_population["__reason"])
    payees = _eligibility(ctx, payees, measure, path)
    evaluations = ctx.stage(f"{measure.id}__evaluated", _evaluate(ctx, payees, measure, path))
    outcome = _outcome(ctx, evaluations, measure, path, seq)
    evaluation_rows = shape(
        evaluations.filter(evaluations["__shown"]), EVALUATION_SCHEMA,
        program=ctx.plan.program, subject="", value=money(evaluations["qualifying"], ctx.places),
        threshold=money(evaluations["minimum"], ctx.places), template=GATE, missing=None, note=None,
    )
    return BlockResult(lines=outcome, evaluations=evaluation_rows, credits=credits)


def _narrow(value: ir.Value) -> ir.Value:
    """A line's value in its own type when the wide one holds it exactly (a DECIMAL of at
    most 18 digits and 8 places: an input's decimal column is DECIMAL(18, 4)), else wide.
    Each of millions of records stores 8 bytes instead of 16, and the credits round it
    with 64-bit arithmetic: rounding DECIMAL(38, 8) cost 0.7 s of CPU per 1M lines, 40
    times DECIMAL(18, 4)'s. Sums and products take it wide (`_population`)."""
    dtype = value.type()
    if dtype.is_decimal() and dtype.precision is not None and dtype.precision <= 18 \
            and dtype.scale is not None and dtype.scale <= WIDE.scale:
        return value
    return value.cast(WIDE)


def _money(value: ir.Value, places: int) -> ir.Value:
    """`money` of a `_narrow` value: rounded in its own type, which holds it exactly, so
    the cents are those of rounding it wide (half away from zero in both)."""
    if value.type() == WIDE:
        return money(value, places)
    return value.round(places).cast(money_type(places))


def _dates(ctx: Context) -> int:
    """How many evaluation dates the phase with the most has."""
    return max((len(p.evaluations) for p in ctx.plan.phases), default=0)


def _at_dates(ctx: Context, lines: ir.Table, measure: GatedRebate, path: tuple) -> ir.Table:
    """Each line's `counts_when` (`__c{k}`) and `counts_when AND returned_when` (`__r{k}`)
    at the k-th evaluation date of its phase, as flags: one pass per line. The conditions
    are compiled once per date with `as_of` bound to that date of the line's phase (the
    plan knows how many dates a phase has); pairing every line with every date would
    write each line once per date."""
    flags: dict[str, ir.Value] = {}
    for k in range(_dates(ctx)):
        ns = _at_date(ctx, lines, measure, k)
        counts = ctx.expr(measure.counts_when, ns, path + ("counts_when",), "boolean").fill_null(False)
        returned = ctx.expr(measure.returned_when, ns, path + ("returned_when",),
                            "boolean").fill_null(False)
        flags[f"__c{k}"] = counts
        flags[f"__r{k}"] = counts & returned
    return lines.mutate(**flags) if flags else lines


def _stage_records(ctx: Context, lines: ir.Table, measure: GatedRebate) -> ir.Table:
    """Stored with the columns the population, credits and evaluations read: the gates'
    conditions name a few source columns, the rest would only be written and scanned."""
    name = f"{measure.id}__records"
    probe = lines.mutate(as_of=ibis.null().cast("date"), evaluation=ibis.null().cast("int64"))
    read = ctx.reads(probe, [measure.counts_when, measure.returned_when], (measure.source,))
    if read is None:
        return ctx.stage(name, lines)
    keep = {"payee_id", "period", "source_id", "__value", "__reason", "__qualifies", "__joins"}
    return ctx.stage_narrow(name, lines, keep | read)


def _population(ctx: Context, lines: ir.Table, measure: GatedRebate, path: tuple) -> ir.Table:
    """Payees with a record that joins the population, or listed by `payees_from`, with
    their qualifying (`__q{k}`) and returned (`__t{k}`) value at each evaluation date.

    The qualifying lines are read once (their conditions at every date, `_at_dates`,
    summed per payee in one aggregate); the gates are judged on these per-payee sums, and
    the small stage that holds them serves the evaluations and the credits (which would
    otherwise each find the population among every record again)."""
    zero = ibis.literal(0, type=lines["__value"].type())
    joined = lines.group_by(["payee_id", "period"]).aggregate(__in=lines["__joins"].any())
    found = joined.filter(joined["__in"]).select("payee_id", "period")
    if measure.payees_from is not None:
        spec = measure.payees_from
        table = ctx.tables[spec.table]
        ns = ctx.namespace(table, (spec.table,))
        extra = table.select(
            payee_id=ctx.expr(spec.payee, ns, path + ("payees_from", "payee")).cast("string"),
            period=ctx.expr(spec.period, ns, path + ("payees_from", "period")).cast("string"),
        )
        found = found.union(extra)
    found = found.distinct()
    if _dates(ctx):
        at = _at_dates(ctx, lines.filter(lines["__qualifies"]), measure, path)
        sums = {}
        for k in range(_dates(ctx)):
            for flag, name in ((f"__c{k}", f"__q{k}"), (f"__r{k}", f"__t{k}")):
                sums[name] = ibis.ifelse(at[flag], at["__value"], zero).sum().cast(WIDE)
        figures = at.group_by(["payee_id", "period"]).aggregate(**sums)
        figures = figures.rename(__sp="payee_id", __sq="period")
        found = found.left_join(figures, [found["payee_id"] == figures["__sp"],
                                          found["period"] == figures["__sq"]]).drop("__sp", "__sq")
        found = found.mutate(**{name: found[name].fill_null(ibis.literal(0, type=WIDE)) for name in sums})
    found = ctx.stage(f"{measure.id}__payees", found)
    phases = ctx.phases_table()
    return found.inner_join(phases, found["period"] == phases[PERIOD_PREFIX + "id"])


def _eligibility(ctx: Context, payees: ir.Table, measure: GatedRebate, path: tuple) -> ir.Table:
    ns = ctx.namespace(payees, ("payee",))
    checks = []
    for i, gate in enumerate(measure.eligibility):
        ok = ctx.expr(gate.require, ns, path + ("eligibility", i, "require"), "boolean")
        checks.append((gate.name, ~ok.fill_null(False)))
    payees, checks = materialize(payees, checks, "gate")
    if measure.cover is not None:
        payees = _cover(ctx, payees, measure.cover, path + ("cover",))
        checks.append((measure.cover.name, ~payees["__covered"]))
    payees, checks = materialize(payees, checks, "static")
    return payees.mutate(__static=all_reasons(checks))


def _cover(ctx: Context, payees: ir.Table, cover: Cover, path: tuple) -> ir.Table:
    """Does the union of the payee's matching intervals cover every day of the period?
    Intervals are merged into islands (gaps-and-islands), then one island must span it."""
    intervals = ctx.tables[cover.table]
    pairs = payees.select("payee_id", "period", __ps=payees[PERIOD_PREFIX + "start"],
                          __pe=payees[PERIOD_PREFIX + "end"])
    joined = pairs.inner_join(intervals, [])
    ns = ctx.namespace(joined, (cover.table,), payee={"payee_id": joined["payee_id"]})
    # A filter keeps only the rows where `match` is TRUE, NULL or not: left bare, its
    # `certifications.partner_id = payee.payee_id` is a join key to DuckDB, where wrapped
    # in COALESCE(..., FALSE) it made every payee meet every interval (payees x intervals).
    match = ctx.expr(cover.match, ns, path + ("match",), "boolean")
    spans = joined.filter(match).select(
        "payee_id", "period", "__ps", "__pe",
        __from=joined[cover.start].cast("date"), __to=joined[cover.end].cast("date"),
    )
    order = ["__from", "__to"]
    reach = spans["__to"].max().over(ibis.window(group_by=["payee_id", "period"], order_by=order,
                                                 rows=(None, -1)))
    spans = spans.mutate(__new=(reach.isnull() | (spans["__from"] > (reach + ibis.interval(days=1))))
                         .cast("int64"))
    spans = spans.mutate(__island=spans["__new"].sum().over(
        ibis.window(group_by=["payee_id", "period"], order_by=order, rows=(None, 0))))
    islands = spans.group_by(["payee_id", "period", "__island", "__ps", "__pe"]).aggregate(
        __lo=spans["__from"].min(), __hi=spans["__to"].max())
    covered = islands.filter((islands["__lo"] <= islands["__ps"]) & (islands["__hi"] >= islands["__pe"]))
    covered = covered.select(__cp=covered["payee_id"], __cq=covered["period"],
                             __covered=ibis.literal(True)).distinct()
    out = payees.left_join(covered, [payees["payee_id"] == covered["__cp"],
                                     payees["period"] == covered["__cq"]])
    return out.drop("__cp", "__cq").mutate(__covered=ibis._["__covered"].fill_null(False))


def _evaluate(ctx: Context, payees: ir.Table, measure, path: tuple) -> ir.Table:
    """Qualifying value and returned value per payee, phase and evaluation date: the
    payee's sums (`_population`) at the date's number."""
    dates = payees.select("payee_id", "period", __dates=payees[PERIOD_PREFIX + "evaluations"])
    dates = dates.mutate(as_of=dates["__dates"].unnest()).drop("__dates")
    dates = dates.mutate(
        evaluation=(ibis.row_number().over(group_by=["payee_id", "period"], order_by="as_of") + 1)
    )
    zero = ibis.literal(0, type=WIDE)
    n = _dates(ctx)
    figures = [f"{p}{k}" for p in ("__q", "__t") for k in range(n)]
    carried = [c for c in payees.columns if c.startswith(PERIOD_PREFIX) or c == "__static"]
    static = payees.select(*carried, *figures, __pp="payee_id", __pq="period")
    evals = dates.inner_join(
        static, [dates["payee_id"] == static["__pp"], dates["period"] == static["__pq"]]
    ).drop("__pp", "__pq")
    pick = {
        name: (ibis.cases(*((evals["evaluation"] == k + 1, evals[f"{prefix}{k}"]) for k in range(n)),
                          else_=zero) if n else zero)
        for name, prefix in (("qualifying", "__q"), ("returned", "__t"))
    }
    evals = evals.mutate(**pick)
    return _gates(ctx, evals.drop(*figures) if figures else evals, measure, path)


@dataclass
class _AtDate(Namespace):
    """A line's namespace in which `as_of` and `evaluation` are the k-th evaluation date
    of its phase and its number (the plan's expressions read them as columns)."""

    at: dict[str, ir.Value] = field(default_factory=dict)

    def column(self, name: str) -> ir.Value | None:
        return self.at[name] if name in self.at else super().column(name)


def _at_date(ctx: Context, lines: ir.Table, measure, k: int) -> Namespace:
    # the k-th in date order, as `dates` numbers them
    day = ibis.cases(*((lines["period"] == p.id, ibis.literal(sorted(p.evaluations)[k], type="date"))
                       for p in ctx.plan.phases if len(p.evaluations) > k),
                     else_=ibis.null().cast("date"))
    ns = ctx.namespace(lines, (measure.source,))
    values = {f.name: getattr(ns, f.name) for f in fields(ns)}
    return _AtDate(**values, at={"as_of": day, "evaluation": ibis.literal(k + 1, type="int64")})


def _gates(ctx: Context, evals: ir.Table, measure: GatedRebate, path: tuple) -> ir.Table:
    ns = ctx.namespace(evals, ("evaluation",))
    minimum = ctx.number(measure.minimum.threshold, ns, path + ("minimum", "threshold")).cast(WIDE)
    required = ctx.number(measure.ratio.required, ns, path + ("ratio", "required")).cast(WIDE)
    ratio = ibis.ifelse(evals["qualifying"] > 0, divide(evals["returned"], evals["qualifying"]),
                        ibis.null()).cast(WIDE)
    evals = evals.mutate(minimum=minimum, ratio=ratio, required_ratio=required)
    below_minimum = evals["qualifying"] < evals["minimum"]
    low_returns = evals["ratio"].notnull() & (evals["returned"] < evals["required_ratio"] * evals["qualifying"])
    gates = join_text([evals["__static"], all_reasons([
        (measure.minimum.name, below_minimum), (measure.ratio.name, low_returns)])])
    evals = evals.mutate(reason=gates, passed=gates.isnull(), __low=low_returns)
    # The ratio is shown to 4 places (a percent to 2); a failing one is cut, not rounded,
    # so that 84.99995% never reads as the 85% it falls short of.
    rounded = evals["ratio"].round(4)
    evals = evals.mutate(ratio=ibis.ifelse(
        evals["__low"] & (rounded >= evals["required_ratio"]),
        multiply((evals["ratio"] * 10000).floor(), ibis.literal(Decimal("0.0001"), type=WIDE)),
        rounded).cast(WIDE)).drop("__low")
    first_pass = ibis.ifelse(evals["passed"], evals["evaluation"], ibis.null()).min().over(
        ibis.window(group_by=["payee_id", "period"]))
    evals = evals.mutate(__first_pass=first_pass)
    shown = evals["__first_pass"].isnull() | (evals["evaluation"] <= evals["__first_pass"])
    return evals.mutate(__shown=shown, evaluation=evals["evaluation"].cast("string"))


def _outcome(ctx: Context, evals: ir.Table, measure: GatedRebate, path: tuple, seq: int):
    shown = evals.filter(evals["__shown"])
    last = shown.mutate(__n=ibis.row_number().over(group_by=["payee_id", "period"],
                                                   order_by=ibis.desc("as_of")))
    last = last.filter(last["__n"] == 0)
    ns = ctx.namespace(last, ("evaluation",))
    rate = ctx.number(measure.rate, ns, path + ("rate",)).cast(WIDE)
    raw = ibis.ifelse(last["passed"], multiply(last["qualifying"], rate), ibis.literal(0, type=WIDE))
    return shape(last, ctx.line_schema(), program=ctx.plan.program, measure=measure.id,
                 seq=seq, source_id="", raw=raw, earned=money(raw, ctx.places), eligible=last["passed"],
                 reason=ibis.ifelse(last["passed"], ibis.null().cast("string"), last["reason"]),
                 budget=measure.budget, base=last["qualifying"], rate=rate,
                 value=last["qualifying"], date=last["as_of"], version="v1",
                 band=ibis.literal("evaluation ").concat(last["evaluation"]),
                 template=ibis.ifelse(last["passed"], ibis.literal(REBATE_PASSED),
                                      ibis.literal(REBATE_FAILED)),
                 evaluation=last["evaluation"], threshold=last["minimum"], ratio=last["ratio"],
                 required_ratio=last["required_ratio"])
