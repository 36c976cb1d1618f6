"""Budget pools: eligible lines charged in date order; the crossing line gets what remains."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from decimal import Decimal

from paymaster.engine.context import union_all
from paymaster.engine.lines import money, natural_order
from paymaster.money import minor_units
from paymaster.plan.exact import multiply
from paymaster.plan.expressions import WIDE
from paymaster.plan.model import Plan


def apply_budgets(plan: Plan, parts: list[ir.Table], number, stage=None) -> ir.Table:
    """Add `amount`, `paid`, `cut_by_budget` to the union of `parts` (each measure's
    lines); lines in no pool are paid what they earned. `number(value, table)` compiles a
    budget's amount over the lines it charges.

    The parts stay apart until the end: each is split into the lines a pool charges and
    the rest straight from its own stored table, so the union of every line is never
    stored twice (a table read by both branches would be materialised whole).
    `stage(name, table)`, when given, stores each pool's charged lines: then only those
    (a few percent of the lines) are written, and the result is a union of stored tables
    that the outputs read without a copy of every line."""
    places = minor_units(plan.currency)
    zero = money(ibis.literal(0), places)
    parts = [p.mutate(amount=ibis.ifelse(p["eligible"], p["earned"], zero), cut_by_budget=zero)
             for p in parts]
    for budget in plan.budgets:
        parts = _charge(parts, budget.id, lambda t, b=budget: number(b.amount, t), budget.reason,
                        places)
        if stage is not None:
            parts[-1] = stage(f"budget_{budget.id}", parts[-1])
    lines = union_all(parts)
    return lines.mutate(
        paid=lines["eligible"],
        amount=ibis.ifelse(lines["eligible"], lines["amount"], zero),
    )


def _charge(parts: list[ir.Table], pool: str, limit, reason: str,
            places: int) -> list[ir.Table]:
    """Lines not charged to the pool pass through unchanged; only the others are sorted
    (a running sum over every line would sort them all)."""
    passing, charging = [], []
    for part in parts:
        passing.append(part.filter(~_charged(part, pool)))
        # The charged rows by the conditions themselves, each a filter of its own (a filter
        # drops NULL): DuckDB pushes them into the scan of the stored lines, so only the
        # few charged rows are read whole.
        charging.append(part.filter(_charge_conditions(part, pool)))
    charging_lines = union_all(charging)
    return [*passing, _charge_part(charging_lines, pool, limit(charging_lines), reason, places)]


def _charge_conditions(lines: ir.Table, pool: str) -> list[ir.BooleanValue]:
    """What makes a line charged to `pool`: eligible, in the pool, earning something."""
    return [lines["eligible"], lines["budget"] == pool, lines["earned"] > 0]


def _charged(lines: ir.Table, pool: str) -> ir.BooleanValue:
    """A line in no pool has a NULL budget: it is not charged (NULL would be neither, and
    a NULL flag once made such lines unpaid when their own running sum passed the pool)."""
    return ibis.and_(*_charge_conditions(lines, pool)).fill_null(False)


def _charge_part(lines: ir.Table, pool: str, limit: ir.Value, reason: str,
                 places: int) -> ir.Table:
    charged = _charged(lines, pool)
    order = natural_order(lines, ["date", "source_id", "seq", "payee_id"])
    window = ibis.window(group_by=charged, order_by=order, rows=(None, 0))
    # A column first: every figure below reads it, and an expression would be a window
    # (a sort) of its own each time.
    lines = lines.mutate(__spent=(lines["earned"].sum().over(window) - lines["earned"]).cast(WIDE))
    charged = _charged(lines, pool)
    spent_before = lines["__spent"]
    remaining = ibis.greatest(limit.cast(WIDE) - spent_before, 0).cast(WIDE)
    # What remains of a pool given in fractions of a minor unit (100.005, or a third of
    # a parameter) is cut down to whole minor units, never rounded up: half-up rounding
    # of the crossing line would pay up to half a cent more than the pool holds.
    unit = Decimal(1).scaleb(-places)
    scaled = multiply(remaining, ibis.literal(Decimal(10) ** places, type=WIDE))
    whole_units = multiply(scaled.floor().cast(WIDE), ibis.literal(unit, type=WIDE))
    pay = money(ibis.least(lines["earned"].cast(WIDE), whole_units), places)
    exhausted = charged & (pay <= 0)
    return lines.mutate(
        amount=ibis.ifelse(charged, pay, lines["amount"]),
        cut_by_budget=ibis.ifelse(charged, money(lines["earned"] - pay, places), lines["cut_by_budget"]),
        eligible=lines["eligible"] & ~exhausted,
        reason=ibis.ifelse(exhausted, ibis.literal(reason), lines["reason"]),
        # What the pool had left before this line: its explanation's "pays only the
        # remaining", and an auditor's check that it got min(earned, left).
        budget_left=ibis.ifelse(charged, money(whole_units, places), lines["budget_left"]),
    ).drop("__spent")
