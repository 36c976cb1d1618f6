"""Group checks with `action: hold`: a per_record line whose source row belongs to a
group that fails the check (a deal's split shares add up to 130%) is not paid, with the
check's name as its reason. `refuse` checks never reach the engine: the input is refused
when it is read (datafiles.check_groups)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from paymaster.engine.context import Context, join_left
from paymaster.plan.expressions import WIDE


def held(ctx: Context, table: ir.Table, source: str) -> tuple[ir.Table, list[tuple[str, ir.Value]]]:
    """The table with a flag per `hold` check of its input table, and (name, failed) per
    check. A group is the whole input table's rows with the same `by` values (not only
    the rows the measure's filter keeps)."""
    spec = ctx.plan.inputs.get(source)
    checks = [c for c in (spec.checks if spec else []) if c.action == "hold"]
    flags = []
    for i, check in enumerate(checks):
        rows = ctx.tables[source]
        total = rows[check.sum].cast(WIDE).sum().fill_null(0)
        groups = rows.group_by(check.by).aggregate(__total=total)
        off = (groups["__total"] - ibis.literal(check.equals, type=WIDE)).abs()
        flag = f"__held_{i}"
        failing = groups.filter(off > ibis.literal(check.tolerance, type=WIDE)).select(
            *[groups[c].name(f"__held_{i}_{c}") for c in check.by],
            **{flag: ibis.literal(True)})
        table = join_left(table, failing, [(c, f"__held_{i}_{c}") for c in check.by])
        flags.append((check.name, flag))
    return table, [(name, table[flag].fill_null(False)) for name, flag in flags]
