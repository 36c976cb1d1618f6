"""Per-record measures (one line per source record) and once-per-payee bonuses."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from paymaster.engine.blocks.screening import unique_key
from paymaster.engine.context import BlockResult, Context, join_left
from paymaster.engine.groupchecks import held
from paymaster.engine.lines import CREDIT_SCHEMA, first_reason, money, natural_order, shape
from paymaster.engine.rules import materialize, rule_checks
from paymaster.plan.expressions import WIDE, multiply
from paymaster.plan.model import OneOff, PerRecord, RateTable
from paymaster.plan.periods import period_label
from paymaster.plan.trace import (
    CLAIM_CLOSED,
    CLAIM_PENDING,
    CLAIM_REJECTED,
    CLAIM_USED,
    ONE_OFF,
    RECORD_AMOUNT,
    RECORD_RATE,
    base_inputs,
    cap_columns,
    input_column,
)


def build_per_record(ctx: Context, measure: PerRecord, path: tuple, seq: int) -> BlockResult:
    table = ctx.source(measure, path)
    table = ctx.with_version(table, "__date" if measure.date else None)
    table = ctx.payee_period(table, measure, path)
    names = (measure.source,)
    ns = ctx.namespace(table, names)
    table = table.mutate(source_id=ctx.expr(measure.source_id, ns, path + ("source_id",)).cast("string"))
    # A row of a group that fails a `hold` check: first of all reasons.
    table, checks = held(ctx, table, measure.source)
    if measure.claim is not None:
        stored = ctx.stored_claims(table, measure)  # (a partial recalculation's, or None)
        table = ctx.claimed(_claim(ctx, table, measure) if stored is None else stored, measure)
        checks += _claim_checks(table, measure.claim)
    table = _attach_refers(ctx, table, measure, path)
    refer_names = {r.measure: _refer_columns(table, r.measure) for r in measure.refers}
    ns = ctx.namespace(table, names, **refer_names)
    rules = rule_checks(ctx, measure.rules, ns, path + ("rules",))
    if measure.duration is not None:
        d = measure.duration
        start = ctx.expr(d.start, ns, path + ("duration", "start"), "date")
        end = ctx.expr(d.end, ns, path + ("duration", "end"), "date")
        most = ctx.number(d.max_days, ns, path + ("duration", "max_days"))
        rules.append((d.name, end.cast("date").delta(start.cast("date"), unit="day") > most))
    table, rules = materialize(table, rules, "rule")
    cancelling = [r.name for r in measure.rules if r.cancels and not r.first_wins]
    checks += rules
    table = _apply_caps(ctx, table, measure, names, path, refer_names)
    ns = ctx.namespace(table, names, **refer_names)
    # The line's figures in steps, each a column the next reads: DuckDB evaluates an
    # expression again wherever it is written, and the rate's CASE was written in the
    # raw amount, the earned amount, the reason (twice) and the cancellation, the raw
    # amount's 128-bit product twice, the reason's CASE twice. (Names of our own until
    # the last step: a source may have a column called `rate` that a rule reads.)
    if measure.amount is not None:
        raw = ctx.expr(measure.amount, ns, path + ("amount",), "numeric").cast(WIDE)
        table = table.mutate(__raw=raw, __base=ibis.null().cast(WIDE),
                             __rate=ibis.null().cast(WIDE), __bandl=ibis.null().cast("string"))
    else:
        base = ctx.expr(measure.base, ns, path + ("base",), "numeric").cast(WIDE)
        table = _rate(ctx, table, measure.rate, ns, path + ("rate",), base)
        table = table.mutate(__raw=multiply(table["__base"], table["__rate"]))
        checks.append(("no_band", table["__rate"].isnull()))
    failed = first_reason(checks)
    # Closed but cancelled: every check passes but a cancelling rule (kept on record with
    # its reason; a bonus on the record is too).
    cancels = [c for c in checks if c[0] in cancelling and any(c is r for r in rules)]
    others = first_reason([c for c in checks if not any(c is x for x in cancels)])
    cancelled = (ibis.ifelse(others.isnull(), first_reason(cancels), ibis.null().cast("string"))
                 if cancels else ibis.null().cast("string"))
    table = table.mutate(__reason=failed, __cancelled=cancelled)
    table = table.mutate(
        raw=table["__raw"], earned=money(table["__raw"].fill_null(0), ctx.places),
        base=table["__base"], rate=table["__rate"], band=table["__bandl"],
        reason=table["__reason"], eligible=table["__reason"].isnull(),
        cancelled=table["__cancelled"],
        date=table["__date"] if measure.date else ibis.null().cast("date"),
    )
    if measure.limit is not None:
        table = _limit(ctx, table, measure, ns, path)
    # The lines are the stage: the credits read nothing else, and a stored copy of the
    # lines' projection would be one more write of every line.
    lines = ctx.stage(f"{measure.id}__records", shape(
        table, ctx.line_schema(), program=ctx.plan.program, measure=measure.id, seq=seq,
        budget=measure.budget, cut_by_cap=table["__cut"] if "__cut" in table.columns else None,
        **_trace(ctx, table, measure, path, refer_names)))
    credits = shape(lines, CREDIT_SCHEMA, value=money(lines["raw"].fill_null(0), ctx.places),
                    counts=lines["eligible"])
    return BlockResult(lines=lines, credits=credits)


def _trace(ctx: Context, table: ir.Table, measure: PerRecord, path: tuple, refers) -> dict:
    """The line's trace (docs/traces.md): the base's named inputs, each cap's value and
    maximum, the registration it closed (or the one that left it unclaimed), its slot
    under the limit. Figures only: the text is rendered where a person reads it."""
    trace: dict[str, ir.Value] = {
        "template": ibis.literal(RECORD_AMOUNT if measure.amount is not None else RECORD_RATE)}
    # The named inputs of the base, or of a formula amount (a chargeback's, a draw's).
    formula, key = (measure.base, "base") if measure.base is not None else (measure.amount, "amount")
    if formula is not None:
        ns = ctx.namespace(table, (measure.source,), **refers)
        for qualifier, name in base_inputs(formula):
            figure = ctx.expr(f"{qualifier}.{name}" if qualifier else name, ns,
                              path + (key,), "numeric")
            trace[input_column(qualifier, name)] = figure.cast(WIDE)
    for i in range(len(measure.caps)):
        value, maximum = cap_columns(i + 1)
        trace[value], trace[maximum] = table[f"__capv{i}"].cast(WIDE), table[f"__capm{i}"].cast(WIDE)
    if measure.claim is not None:
        trace.update(_claim_trace(table, measure.claim))
    if measure.limit is not None:
        trace.update(slot=table["__slot"], slot_limit=table["__count"])
    return trace


def _claim_trace(table: ir.Table, claim) -> dict[str, ir.Value]:
    """Which registration this sale closed: what a partner reads as "won"; or, left
    unclaimed, which one of its keys was rejected, is pending or was already used."""
    closed = table["__claimed_by"]
    none = ibis.null().cast("string")
    if not _explains(claim):
        return {"claim": closed.cast("string"),
                "claim_status": ibis.ifelse(closed.isnull(), none, ibis.literal(CLAIM_CLOSED))}
    via = table["__via"]
    status = ibis.cases(
        (closed.notnull(), ibis.literal(CLAIM_CLOSED)),
        (via.isnull(), none),
        (table["__via_ok"].fill_null(False), ibis.literal(CLAIM_USED)),
        (table["__via_pending"].fill_null(False), ibis.literal(CLAIM_PENDING)),
        else_=ibis.literal(CLAIM_REJECTED))
    unclaimed = closed.isnull()
    return {
        "claim": ibis.ifelse(unclaimed, via, closed.cast("string")),
        "claim_status": status,
        "claim_reason": ibis.ifelse(unclaimed, table["__via_reason"], none),
        "claim_note": ibis.ifelse(unclaimed, table["__via_note"], none),
        "claim_sale": ibis.ifelse(unclaimed, table["__via_sale"], none),
    }


def _rate(ctx: Context, table: ir.Table, rate: object, ns, path: tuple,
          base: ir.Value) -> ir.Table:
    """The base (`__base`), the rate (`__rate`) and its band's label (`__bandl`): the
    bands' conditions are evaluated once, as the band's number (`__band`), which the
    rate and the label read."""
    if not isinstance(rate, RateTable):
        return table.mutate(__base=base, __rate=ctx.number(rate, ns, path).cast(WIDE),
                            __bandl=ibis.null().cast("string"))
    whens, rates = [], []
    for i, band in enumerate(rate.bands):
        when = ctx.expr(band.when, ns, path + ("bands", i, "when"), "boolean").fill_null(False)
        whens.append((when, ibis.literal(i, type="int16")))
        rates.append(ctx.number(band.rate, ns, path + ("bands", i, "rate")).cast(WIDE))
    table = table.mutate(__base=base, __band=ibis.cases(*whens, else_=ibis.null().cast("int16")))
    number = table["__band"]
    labels = [ibis.literal(b.label) for b in rate.bands]
    return table.mutate(
        __rate=ibis.cases(*[(number == i, r) for i, r in enumerate(rates)],
                          else_=ibis.null().cast(WIDE)),
        __bandl=ibis.cases(*[(number == i, label) for i, label in enumerate(labels)],
                           else_=ibis.null().cast("string")))


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


def _limit(ctx: Context, table: ir.Table, measure: PerRecord, ns, path: tuple):
    """Only the first N eligible lines per group are paid; the rest get the limit's name.
    Each counted line keeps its slot (`__slot`) and the count (`__count`) in its trace.

    Only eligible lines are ranked (the others never count): the window sorts those, not
    every record."""
    limit = measure.limit
    count = ctx.number(limit.count, ns, path + ("limit", "count"))
    group = ["payee_id", "period"] if limit.per == "period" else ["payee_id"]
    table = table.mutate(__count=count)
    counted = table.filter(table["eligible"])
    counted = counted.mutate(__slot=ibis.row_number().over(
        group_by=group, order_by=natural_order(counted, limit.order_by, ctx.once)) + 1)
    others = table.filter(~table["eligible"])
    ranked = counted.union(others.mutate(__slot=ibis.null().cast("int64")))
    over = ranked["eligible"] & (ranked["__slot"] > ranked["__count"])
    ranked = ranked.mutate(
        eligible=ranked["eligible"] & ~over,
        reason=ibis.ifelse(over, ibis.literal(limit.name), ranked["reason"]),
        cut_by_limit=ibis.ifelse(over, ranked["earned"], 0),
    )
    return ranked


def _claim(ctx: Context, table: ir.Table, measure: PerRecord) -> ir.Table:
    """Claimants take, in order, the earliest unclaimed record of the same keys dated on or
    after their own date. With claimant dates non-decreasing in claim order, the greedy
    choice is closed-form: j_i = i + max_{k<=i}(f_k - k), f_k = first record on or after
    claimant k's date. So no loop over records is needed."""
    claim = measure.claim
    screened = ctx.results[claim.screening].verdicts
    claimants = screened.filter(screened["__accepted"])
    keys = claim.on
    # Only records of a key some accepted record has can be claimed: only those are
    # numbered (a window sorting every record was the largest part of the stage); the
    # rest join them unclaimed. (A NULL key matches nothing, as in the joins below.)
    claimed_keys = claimants.select(*[claimants[k].name(f"__ck_{k}") for k in keys]).distinct()
    ids = _record_id(ctx, measure)
    if ids is not None and ctx.narrow_claims:
        return _claim_narrow(ctx, table, measure, claimants, claimed_keys, ids)
    same_key = [table[k] == claimed_keys[f"__ck_{k}"] for k in keys]
    rest = table.anti_join(claimed_keys, same_key)
    table = table.semi_join(claimed_keys, same_key)
    records = table.mutate(
        __ridx=ibis.row_number().over(group_by=keys, order_by=natural_order(table, claim.order_by, ctx.once)) + 1
    )
    matched = _matched(claimants, records, keys)
    joined = join_left(records, matched,
                       [(k, f"__m_{k}") for k in keys] + [("__ridx", "__m_j")]).drop("__ridx")
    joined = joined.union(rest.mutate(__claimed_by=ibis.null().cast(joined["__claimed_by"].type()))
                          .select(*joined.columns))
    if _explains(claim):
        joined = _why_unclaimed(joined, screened, keys)
    return joined


def _record_id(ctx: Context, measure: PerRecord) -> list[str] | None:
    """Columns naming one record of the measure's source: its key, when the input's check
    proves it unique (`screening.unique_key`) and present in every row (not optional: a
    NULL would match nothing in a join). None when that cannot be shown."""
    key = unique_key(ctx.plan, measure)
    spec = ctx.plan.inputs.get(measure.source)
    if key is None or spec is None:
        return None
    columns = spec.columns
    if any(k not in columns or getattr(columns[k], "optional", False) for k in key):
        return None
    return key


def _claim_narrow(ctx: Context, table: ir.Table, measure: PerRecord, claimants: ir.Table,
                  claimed_keys: ir.Table, ids: list[str]) -> ir.Table:
    """The claims over narrow rows, the records' other columns joined back once.

    At 10M records the numbering's window, and the union of numbered and other records
    that "why unclaimed" read three times, carried every column of every record and
    spilled under the memory limit. With a column set naming one record (`ids`), only the
    columns the claims read are numbered and matched; each record then meets its claim
    (few rows) by its id, and the latest registration before it by its keys and day:
    the wide rows go through two hash joins and nothing else."""
    claim = measure.claim
    keys = claim.on
    wanted = {*keys, *ids, *claim.order_by, "__date", "source_id"}
    narrow = table.select(*[c for c in table.columns if c in wanted])
    candidates = narrow.semi_join(claimed_keys, [narrow[k] == claimed_keys[f"__ck_{k}"] for k in keys])
    records = candidates.mutate(__ridx=ibis.row_number().over(
        group_by=keys, order_by=natural_order(candidates, claim.order_by, ctx.once)) + 1)
    matched = _matched(claimants, records, keys)
    pairs = records.inner_join(matched, [records[k] == matched[f"__m_{k}"] for k in keys]
                               + [records["__ridx"] == matched["__m_j"]])
    claims = pairs.select(*[pairs[i].name(f"__id_{i}") for i in ids],
                          *[pairs[k].name(f"__c_{k}") for k in keys],
                          __claimed_by=pairs["__claimed_by"], __via_sale=pairs["source_id"])
    joined = join_left(table, claims.drop(*[f"__c_{k}" for k in keys], "__via_sale"),
                       [(i, f"__id_{i}") for i in ids])
    if not _explains(claim):
        return joined
    screened = ctx.results[claim.screening].verdicts
    # The unclaimed records' keys and days: every record but the claimed ones, narrow.
    open_ = narrow.anti_join(claims, [narrow[i] == claims[f"__id_{i}"] for i in ids])
    used = claims.select(*[claims[f"__c_{k}"] for k in keys],
                         __uc=claims["__claimed_by"].cast("string"), __via_sale=claims["__via_sale"])
    latest = _latest_before(open_, used, screened, keys)
    return join_left(joined, latest, [(k, f"__u_{k}") for k in keys] + [("__date", "__u_date")])


def _matched(claimants: ir.Table, records: ir.Table, keys: list[str]) -> ir.Table:
    """Each claimant's record number (`__m_j`) among its keys' numbered records
    (`__ridx`), beside its keys (`__m_<key>`) and itself (`__claimed_by`)."""
    # Only the columns the numbering reads go through its windows and joins: a window
    # carries every column of its input (the verdicts have some thirty).
    r = claimants.select(*keys, "__order", "__claim_date", "__claimant")
    r = r.mutate(__cidx=ibis.row_number().over(group_by=keys, order_by="__order") + 1)
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
    return r.select(*[r[k].name(f"__m_{k}") for k in keys], __m_j=r["__j"],
                    __claimed_by=r["__claimant"])


def _explains(claim) -> bool:
    return any((claim.rejected_reason, claim.pending_reason, claim.used_reason))


def _claim_checks(table: ir.Table, claim) -> list[tuple[str, ir.Value]]:
    """The claim's reasons, most telling first: the record's registration already used,
    still pending or rejected (each when the plan names a reason for it), else none."""
    unclaimed = table["__claimed_by"].isnull()
    checks = []
    if _explains(claim):
        found = unclaimed & table["__via"].notnull()
        accepted = table["__via_ok"].fill_null(False)
        pending = table["__via_pending"].fill_null(False)
        for reason, failed in ((claim.used_reason, found & accepted),
                               (claim.pending_reason, found & pending),
                               (claim.rejected_reason, found & ~accepted & ~pending)):
            if reason is not None:
                checks.append((reason, failed))
    return [*checks, (claim.reason, unclaimed)]


def _why_unclaimed(joined: ir.Table, screened: ir.Table, keys: list[str]) -> ir.Table:
    """For each unclaimed record: the latest screened record (in screening order) of the
    same keys dated on or before it, its verdict, and the record it claimed if accepted.
    (An accepted one dated on or before an unclaimed record always claimed an earlier
    record: this one was still free when its turn came.)

    That latest record depends only on the keys and the date, so it is found per key and
    day and joined back on them: no record needs a number for it (only the records of a
    key with a claimant are numbered). A claimed record of the same key and day gets the
    same columns; they are read only where the record is unclaimed."""
    open_ = joined.filter(joined["__claimed_by"].isnull())
    used = joined.filter(joined["__claimed_by"].notnull())
    used = used.select(*[used[k].name(f"__c_{k}") for k in keys],
                       __uc=used["__claimed_by"].cast("string"), __via_sale=used["source_id"])
    latest = _latest_before(open_, used, screened, keys)
    return join_left(joined, latest, [(k, f"__u_{k}") for k in keys] + [("__date", "__u_date")])


def _latest_before(open_: ir.Table, used: ir.Table, screened: ir.Table, keys: list[str]) -> ir.Table:
    """Per keys and day of the unclaimed records (`open_`), the latest screened record
    dated on or before it, its verdict, and the record it claimed (`used`: keys as
    `__c_<key>`, the claimant as `__uc`, the record as `__via_sale`); keyed `__u_<key>`,
    `__u_date`."""
    open_ = open_.select(*[open_[k].name(f"__u_{k}") for k in keys], __u_date=open_["__date"])
    regs = screened.select(*[screened[k].name(f"__g_{k}") for k in keys],
                           __g_order=screened["__order"], __g_date=screened["__claim_date"])
    pairs = open_.inner_join(regs, [open_[f"__u_{k}"] == regs[f"__g_{k}"] for k in keys]
                             + [regs["__g_date"] <= open_["__u_date"]])
    latest = pairs.group_by([*[f"__u_{k}" for k in keys], "__u_date"]).aggregate(
        __w=pairs["__g_order"].max())
    # `__order` is unique within a key group only (a partial recalculation screens part
    # of the records): matched with the keys.
    info = screened.select(*[screened[k].name(f"__i_{k}") for k in keys],
                           __wo=screened["__order"], __via=screened["__claimant"].cast("string"),
                           __via_ok=screened["__accepted"], __via_pending=screened["__pending"],
                           __via_reason=screened["__reason"], __via_note=screened["__note"])
    latest = join_left(latest, info, [(f"__u_{k}", f"__i_{k}") for k in keys] + [("__w", "__wo")])
    return join_left(latest, used, [(f"__u_{k}", f"__c_{k}") for k in keys]
                     + [("__via", "__uc")]).drop("__w")


def _attach_refers(ctx: Context, table: ir.Table, measure: PerRecord, path: tuple) -> ir.Table:
    for i, refer in enumerate(measure.refers):
        ns = ctx.namespace(table, (measure.source,))
        of = ctx.expr(refer.period_of, ns, path + ("refers", i, "period_of"), "date").cast("date")
        other = ctx.plan.measure(refer.measure)
        table = table.mutate(**{f"__rp_{refer.measure}": period_label(of, other.period)})
        lines = ctx.results[refer.measure].lines
        # One row per payee and period, whatever the measure: a per_record measure has a
        # line per record, and joining those would repeat this measure's record once per
        # line. Its figures are then the sums over the payee's lines of the period.
        right = lines.group_by(
            **{f"__rk_{refer.measure}": lines["payee_id"], f"__rq_{refer.measure}": lines["period"]}
        ).aggregate(
            **{f"{refer.measure}__raw": lines["raw"].sum().cast(WIDE),
               f"{refer.measure}__value": lines["value"].sum().cast(WIDE),
               f"{refer.measure}__earned": lines["earned"].sum().cast(WIDE),
               f"{refer.measure}__paid": lines["eligible"].any()}
        )
        table = join_left(table, right, [("payee_id", f"__rk_{refer.measure}"),
                                         (f"__rp_{refer.measure}", f"__rq_{refer.measure}")])
    return table


def _refer_columns(table: ir.Table, measure_id: str) -> dict[str, ir.Value]:
    prefix = f"{measure_id}__"
    return {c[len(prefix):]: table[c] for c in table.columns if c.startswith(prefix)}


def build_one_off(ctx: Context, measure: OneOff, path: tuple, seq: int) -> BlockResult:
    """A fixed bonus on each payee's first eligible line of measure `of`, if `when` holds.
    A line closed but cancelled (see Rule.cancels) counts as well: its bonus is kept on
    record, unpaid, with the same reason."""
    lines = ctx.results[measure.of].lines
    eligible = lines.filter(lines["eligible"] | lines["cancelled"].notnull())
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
        chosen, ctx.line_schema(), program=ctx.plan.program, measure=measure.id, seq=seq,
        earned=money(chosen["raw"], ctx.places), eligible=chosen["cancelled"].isnull(),
        reason=chosen["cancelled"],
        budget=measure.budget, base=None, rate=None, band=None, cut_by_cap=None,
        cut_by_limit=None, value=None, target=None, template=ONE_OFF,
    )
    return BlockResult(lines=out)
