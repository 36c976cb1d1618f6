"""The few figures `paymaster run` prints about a result: small queries over the payout
lines, so a run that streams its tables to files never needs them in memory; over the
Parquet file of payouts DuckDB has just written, when there is one (`from_file`), rather
than calculating every line a second time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from paymaster import duckdb_config
from paymaster.sqlnames import literal

if TYPE_CHECKING:
    import ibis.expr.types as ir

# Ibis is imported by the functions that build expressions, not here: a run of cached SQL
# (backends/duckstages.py) makes its figures from recorded queries (`from_rows`) and
# imports no Ibis at all (0.6 s of CPU).


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
    asked = queries(payouts)
    return from_rows(fetch(asked["totals"]).to_pylist(), fetch(asked["reasons"]).to_pylist(),
                     effect)


def queries(payouts: ir.Table) -> dict[str, ir.Table]:
    """The two queries of the figures: totals (one row) and unpaid lines by reason."""
    import ibis

    payouts = unordered(payouts)
    totals = payouts.aggregate(
        payees=payouts["payee_id"].nunique(),
        lines=payouts.count(),
        paid=payouts["paid"].sum(),
        total=payouts["amount"].sum(),
    )
    unpaid = payouts.filter(~payouts["paid"])
    reasons = unpaid.group_by("reason").aggregate(lines=unpaid.count())
    return {"totals": totals, "reasons": reasons.order_by([ibis.desc("lines"), "reason"])}


def from_rows(totals: list[dict], by_reason: list[dict], effect: pa.Table) -> Figures:
    """The figures from the rows of `queries` (fetched now, or run from the SQL cache)."""
    totals = totals[0]
    return Figures(
        payees=totals["payees"], lines=totals["lines"], paid=totals["paid"] or 0,
        unpaid=sum(row["lines"] for row in by_reason), total=totals["total"] or Decimal(0),
        unpaid_by_reason=[(row["reason"], row["lines"]) for row in by_reason],
        effect=effect.to_pylist(),
    )


def from_file(con: duckdb.DuckDBPyConnection, payouts: Path, effect: pa.Table) -> Figures:
    """The figures of a Parquet file of payouts (its four columns read, no line calculated
    again): the same queries as `queries`."""
    lines = f"read_parquet({literal(str(payouts))})"
    totals = con.sql(f"SELECT count(DISTINCT payee_id) AS payees, count(*) AS lines, "
                     f"count(*) FILTER (WHERE paid) AS paid, sum(amount) AS total FROM {lines}")
    reasons = con.sql(f"SELECT reason, count(*) AS lines FROM {lines} WHERE NOT paid "
                      f"GROUP BY reason ORDER BY lines DESC, reason")
    return from_rows(_rows(totals), _rows(reasons), effect)


def _rows(relation: duckdb.DuckDBPyRelation) -> list[dict]:
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def unordered(table: ir.Table) -> ir.Table:
    """`table` without the sorts that order it (also below the columns chosen from them):
    totals need no order, but DuckDB, which keeps insertion order, would still sort every
    payout line before counting them."""
    import ibis.expr.operations as ops

    op = table.op()
    if isinstance(op, ops.Sort):
        return unordered(op.parent.to_expr())

    def column(value):  # a column of the parent, or one cast (the payouts' money places)
        return value.arg if isinstance(value, ops.Cast) else value

    if isinstance(op, ops.Project) and all(
            isinstance(column(v), ops.Field) and column(v).rel == op.parent
            for v in op.values.values()):
        below = unordered(op.parent.to_expr())
        if below.op() != op.parent:
            return below.select(**{
                name: below[v.arg.name].cast(v.to) if isinstance(v, ops.Cast) else below[v.name]
                for name, v in op.values.items()})
    return table


def in_memory(tables: dict[str, pa.Table]) -> Figures:
    """The figures of tables already fetched (an incremental run's), by the same queries."""
    import ibis

    con = ibis.duckdb.connect()
    duckdb_config.seal(con.con)  # (it reads only the tables fetched into memory)
    try:
        return figures(ibis.memtable(tables["payouts"]), tables["effect"], con.to_pyarrow)
    finally:
        con.disconnect()
