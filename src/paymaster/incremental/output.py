"""The output tables, fetched as Arrow: the payouts sorted a range of payees at a time.

The payouts are ordered by payee first. Sorting millions of lines with their
explanations at once exceeds the DuckDB memory limit, and the sort spills to disk (at
10M lines: ~12 s of a ~20 s incremental run). Sorted a range of payees at a time (each
range under CHUNK_ROWS lines, a scan of the range's row groups only: the stored results
are ordered by payee), the parts fit in memory and, put one after the other, are the
same order.
"""

from __future__ import annotations

import ibis.expr.types as ir
import pyarrow as pa

from paymaster.engine import Outputs
from paymaster.incremental.base import Progress
from paymaster.runs import execute

CHUNK_ROWS = 1_000_000


def fetch_outputs(outputs: Outputs, backend, say: Progress) -> dict[str, pa.Table]:
    def fetch(expr: ir.Table) -> pa.Table:
        if expr is outputs.payouts:
            return by_payee_ranges(expr, backend)
        return backend.to_pyarrow(expr)

    return execute(outputs, fetch, say)


def by_payee_ranges(expr: ir.Table, backend) -> pa.Table:
    """`expr` (ordered by payee_id first, NULLs last) fetched a range of payees at a time."""
    counts = backend.to_pyarrow(expr.group_by("payee_id").aggregate(n=expr.count()))
    counts = counts.sort_by("payee_id").to_pylist()
    ranges: list[tuple[str, str]] = []
    rows = 0
    for count in counts:
        payee, n = count["payee_id"], count["n"]
        if payee is None:
            continue
        if ranges and rows + n <= CHUNK_ROWS:
            ranges[-1] = (ranges[-1][0], payee)
            rows += n
        else:
            ranges.append((payee, payee))
            rows = n
    if len(ranges) <= 1:
        return backend.to_pyarrow(expr)
    parts = [backend.to_pyarrow(expr.filter(expr["payee_id"].between(low, high)))
             for low, high in ranges]
    if any(count["payee_id"] is None for count in counts):
        parts.append(backend.to_pyarrow(expr.filter(expr["payee_id"].isnull())))
    return pa.concat_tables(parts)
