"""Screening: records (lead registrations) checked in order; first failing rule is the reason.

A `first_wins` rule blocks a record when an earlier *accepted* record with the same key
by another payee exists. Accepted means passing every other rule and not rejected by the
owner; so the first such record of a key (the winner) decides: later records of the key
by other payees are blocked, later ones by the winner's payee are not.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from paymaster.engine.context import BlockResult, Context
from paymaster.engine.lines import (
    EVALUATION_SCHEMA,
    first_reason,
    join_text,
    natural_order,
    shape,
)
from paymaster.engine.rules import TAX_ID_CHECKS, rule_checks
from paymaster.plan.model import Rule, Screening


def build_screening(ctx: Context, measure: Screening, path: tuple, seq: int) -> BlockResult:
    table = ctx.source(measure, path)
    table = ctx.with_version(table, "__date" if measure.date else None)
    table = ctx.payee_period(table, measure, path)
    names = (measure.source,)
    ns = ctx.namespace(table, names)
    table = table.mutate(
        source_id=ctx.expr(measure.source_id, ns, path + ("source_id",)).cast("string"),
        __order=ibis.row_number().over(order_by=natural_order(table, measure.order_by)),
    )
    ns = ctx.namespace(table, names)
    checks: list[tuple[str, ir.Value]] = []
    missing = _missing(table, measure.required)
    if measure.required:
        checks.append(("missing_field", missing.notnull()))
    if measure.tax_ids:
        bad = ibis.literal(False)
        for column, kind in measure.tax_ids.items():
            bad = bad | ~TAX_ID_CHECKS[kind](table[column]).fill_null(False)
        checks.append(("invalid_nip", bad))
    rule_flags = rule_checks(ctx, measure.rules, ns, path + ("rules",))
    decision = _decision(table, measure, measure.decision.rejected_value if measure.decision else None)
    pending = _decision(table, measure, measure.decision.pending_value if measure.decision else None)
    # Materialise every flag as a column first, so the first-wins step can see them.
    flag_columns = {f"__fail_{name}": failed for name, failed in checks + rule_flags}
    if decision is not None:
        flag_columns["__fail_decision"] = decision
    if pending is not None:
        flag_columns["__fail_pending"] = pending
    table = table.mutate(__missing=missing, **flag_columns)
    table = table.mutate(__candidate=~_any([table[c] for c in flag_columns]))
    ordered: list[tuple[str, ir.Value]] = [(name, table[f"__fail_{name}"]) for name, _ in checks]
    for rule in measure.rules:
        if rule.first_wins is not None:
            table = _first_wins(table, rule)
            ordered.append((rule.name, table[f"__blocked_{rule.name}"]))
        else:
            ordered.append((rule.name, table[f"__fail_{rule.name}"]))
    if decision is not None:
        ordered.append((measure.decision.reason, table["__fail_decision"]))
    if pending is not None:
        ordered.append((measure.decision.pending_reason, table["__fail_pending"]))
    reason = first_reason(ordered)
    table = ctx.stage(f"{measure.id}__screened",
                      table.mutate(__reason=reason, __accepted=reason.isnull()))
    explanation = join_text([
        ibis.ifelse(table["__missing"].isnull(), ibis.null().cast("string"),
                    ibis.literal("missing: ").concat(table["__missing"])),
        ibis.ifelse(table["__accepted"], ibis.literal("accepted: passes every check"),
                    ibis.literal("rejected: ").concat(table["__reason"])),
    ])
    evaluations = shape(
        table, EVALUATION_SCHEMA, program=ctx.plan.program, subject=table["source_id"],
        evaluation=measure.id, as_of=table["__date"], passed=table["__accepted"],
        reason=table["__reason"], explanation=explanation,
    )
    accepted = table.filter(table["__accepted"]).mutate(
        __claim_date=table["__date"], __claimant=table["source_id"]
    )
    return BlockResult(evaluations=evaluations, accepted=accepted)


def _missing(table: ir.Table, required: list[str]) -> ir.Value:
    parts = [
        ibis.ifelse(
            table[c].isnull() | (table[c].cast("string").strip() == ""),
            ibis.literal(c), ibis.null().cast("string"),
        )
        for c in required
    ]
    return join_text(parts, ", ")


def _decision(table: ir.Table, measure: Screening, value: str | None) -> ir.Value | None:
    """Does the owner's decision column hold `value` (any letter case)?"""
    if measure.decision is None or value is None:
        return None
    column = table[measure.decision.column]
    return (column.strip().lower() == value.lower()).fill_null(False)


def _any(values: list[ir.Value]) -> ir.Value:
    out = ibis.literal(False)
    for value in values:
        out = out | value
    return out


def _first_wins(table: ir.Table, rule: Rule) -> ir.Table:
    spec = rule.first_wins
    window = ibis.window(group_by=spec.key)
    win_order = ibis.ifelse(table["__candidate"], table["__order"], ibis.null()).min().over(window)
    table = table.mutate(__win_order=win_order)
    winner_payee = ibis.ifelse(
        table["__order"] == table["__win_order"], table[spec.other].cast("string"), ibis.null()
    ).max().over(window)
    table = table.mutate(__win_payee=winner_payee)
    blocked = (
        table["__win_order"].notnull()
        & (table["__win_order"] < table["__order"])
        & (table[spec.other].cast("string") != table["__win_payee"])
    )
    return table.mutate(**{f"__blocked_{rule.name}": blocked.fill_null(False)})
