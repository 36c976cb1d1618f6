"""Budget pools: eligible lines charged in date order; the crossing line gets what remains."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from paymaster.engine.lines import money, natural_order
from paymaster.plan.expressions import WIDE
from paymaster.plan.model import Plan


def apply_budgets(plan: Plan, lines: ir.Table, number) -> ir.Table:
    """Add `amount`, `paid`, `cut_by_budget`; lines in no pool are paid what they earned."""
    lines = lines.mutate(
        amount=ibis.ifelse(lines["eligible"], lines["earned"], money(ibis.literal(0))),
        cut_by_budget=money(ibis.literal(0)),
    )
    for budget in plan.budgets:
        lines = _charge(lines, budget.id, number(budget.amount), budget.reason)
    return lines.mutate(
        paid=lines["eligible"],
        amount=ibis.ifelse(lines["eligible"], lines["amount"], money(ibis.literal(0))),
    )


def _charge(lines: ir.Table, pool: str, limit: ir.Value, reason: str) -> ir.Table:
    """Lines not charged to the pool pass through unchanged; only the others are sorted
    (a running sum over every line would sort them all, explanations included)."""
    charged = lines["eligible"] & (lines["budget"] == pool) & (lines["earned"] > 0)
    flag = "__charged"
    lines = lines.mutate(**{flag: charged})
    passing = lines.filter(lines[flag].notnull() & ~lines[flag]).drop(flag)
    # (A NULL flag, e.g. a line in no pool, keeps its own running sum as it always had.)
    charging = lines.filter(lines[flag].isnull() | lines[flag])
    return passing.union(_charge_part(charging.drop(flag), pool, limit, reason))


def _charge_part(lines: ir.Table, pool: str, limit: ir.Value, reason: str) -> ir.Table:
    charged = lines["eligible"] & (lines["budget"] == pool) & (lines["earned"] > 0)
    order = natural_order(lines, ["date", "source_id", "seq", "payee_id"])
    window = ibis.window(group_by=charged, order_by=order, rows=(None, 0))
    spent_before = (lines["earned"].sum().over(window) - lines["earned"]).cast(WIDE)
    remaining = ibis.greatest(limit.cast(WIDE) - spent_before, 0)
    pay = money(ibis.least(lines["earned"].cast(WIDE), remaining))
    exhausted = charged & (pay <= 0)
    return lines.mutate(
        amount=ibis.ifelse(charged, pay, lines["amount"]),
        cut_by_budget=ibis.ifelse(charged, money(lines["earned"] - pay), lines["cut_by_budget"]),
        eligible=lines["eligible"] & ~exhausted,
        reason=ibis.ifelse(exhausted, ibis.literal(reason), lines["reason"]),
        explanation=ibis.cases(
            (exhausted, lines["explanation"].concat("; budget '", pool, "' exhausted")),
            (charged & (pay < lines["earned"]),
             lines["explanation"].concat("; budget '", pool, "' pays only the remaining ",
                                         pay.cast("string"))),
            else_=lines["explanation"],
        ),
    )
