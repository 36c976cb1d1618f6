"""The few figures `paymaster run` prints about a result: small queries over the payout
lines, so a run that streams its tables to files never needs them in memory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

from paymaster import duckdb_config


@dataclass
class Figures:
    payees: int
    lines: int
    paid: int
    unpaid: int
    total: Decimal
    unpaid_by_reason: list[tuple[str | None, int]]  # most lines first
    effect: list[dict]


def figures(payouts: ir.Table, effect: pa.Table, fetch: Callable[[ir.Table], pa.Table]) -> Figures:
    """Totals over `payouts` and its unpaid lines by reason, each fetched by `fetch` (a
    backend's to_pyarrow); `effect` is the (one-row) effect table."""
    payouts = unordered(payouts)
    totals = fetch(payouts.aggregate(
        payees=payouts["payee_id"].nunique(),
        lines=payouts.count(),
        paid=payouts["paid"].sum(),
        total=payouts["amount"].sum(),
    )).to_pylist()[0]
    unpaid = payouts.filter(~payouts["paid"])
    reasons = unpaid.group_by("reason").aggregate(lines=unpaid.count())
    by_reason = fetch(reasons.order_by([ibis.desc("lines"), "reason"])).to_pylist()
    return Figures(
        payees=totals["payees"], lines=totals["lines"], paid=totals["paid"] or 0,
        unpaid=sum(row["lines"] for row in by_reason), total=totals["total"] or Decimal(0),
        unpaid_by_reason=[(row["reason"], row["lines"]) for row in by_reason],
        effect=effect.to_pylist(),
    )


def unordered(table: ir.Table) -> ir.Table:
    """`table` without the sorts that order it (also below the columns chosen from them):
    totals need no order, but DuckDB, which keeps insertion order, would still sort every
    payout line before counting them."""
    op = table.op()
    if isinstance(op, ops.Sort):
        return unordered(op.parent.to_expr())
    if isinstance(op, ops.Project) and all(isinstance(v, ops.Field) and v.rel == op.parent
                                           for v in op.values.values()):
        below = unordered(op.parent.to_expr())
        if below.op() != op.parent:
            return below.select(**{name: below[v.name] for name, v in op.values.items()})
    return table


def in_memory(tables: dict[str, pa.Table]) -> Figures:
    """The figures of tables already fetched (an incremental run's), by the same queries."""
    con = ibis.duckdb.connect()
    duckdb_config.seal(con.con)  # (it reads only the tables fetched into memory)
    try:
        return figures(ibis.memtable(tables["payouts"]), tables["effect"], con.to_pyarrow)
    finally:
        con.disconnect()
