"""The affected payees: every payee whose results may differ after the changed rows."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from paymaster.engine.context import Context
from paymaster.errors import Collector
from paymaster.incremental.base import GLOBAL, Fallback
from paymaster.incremental.links import analyse, global_reads
from paymaster.incremental.state import Diff
from paymaster.plan import LoadedPlan
from paymaster.plan.expressions import Compiler


def _context(loaded: LoadedPlan, tables: dict[str, ir.Table]) -> Context:
    return Context(loaded=loaded, tables=tables, compiler=Compiler(loaded.source, Collector()))


def _records(ctx: Context, measure) -> ir.Table:
    """The measure's records with lookups and fields, and their payee (no filter: every
    record that could count)."""
    table = ctx.apply_lookups(ctx.tables[measure.source], measure.lookups)
    path = ("measures", measure.id)
    names = (measure.source,)
    for name, text in measure.fields.items():
        table = table.mutate(**{name: ctx.expr(text, ctx.namespace(table, names), path)})
    payee = ctx.expr(measure.payee, ctx.namespace(table, names), path + ("payee",))
    return table.mutate(payee_id=payee.cast("string"))


def affected_payees(loaded: LoadedPlan, backend, new: dict[str, ir.Table],
                    diffs: dict[str, Diff]) -> set[str]:
    """Every payee whose results may differ after the change (raises Fallback)."""
    plan = loaded.plan
    usages = analyse(loaded)
    changed = {t for t, d in diffs.items() if d.old_count or d.new_count}
    if not changed:
        return set()
    fetch = lambda expr: backend.to_pyarrow(expr)  # noqa: E731
    # One pass over every version of every row: each changed table as its new rows plus
    # the old versions of its changed rows. A lookup then meets both versions of a changed
    # row too, so payees, keys and groups of both states are found (a superset, at most).
    both = {t: new[t].union(backend.table(f"old_{t}").select(*new[t].columns))
            if t in changed else new[t] for t in new}
    rows_old = {t: backend.table(f"old_{t}") for t in diffs}
    rows_new = {t: backend.table(f"new_{t}") for t in diffs}
    states = {"both": (both, {t: rows_new[t].select(*new[t].columns).union(
        rows_old[t].select(*new[t].columns)) for t in diffs})}
    used: set[str] = set()
    payees: set[str] = set()

    def values(table: str, column: str) -> list:
        out = set()
        for rows in (rows_old[table], rows_new[table]):
            out |= set(fetch(rows.select(column).distinct())[column].to_pylist())
        return [v for v in out if v is not None]

    for measure in plan.measures:
        usage = usages[measure.id]
        if measure.type in GLOBAL:
            used |= global_reads(measure)
            continue
        bad = usage.opaque & changed
        if bad:
            raise Fallback(f"table {sorted(bad)[0]} changed and measure '{measure.id}' reads "
                           "it without a link to a payee")
        if measure.type == "one_off":
            for link in usage.links:
                used.add(link.table)
                if link.table in changed:
                    payees |= {str(v) for v in values(link.table, link.column)}
            continue
        source = measure.source
        used.add(source)
        touched: list[tuple[str, ir.Table]] = []
        group_values: dict[str, set] = {}
        for state, (tables, rows) in states.items():
            ctx = _context(loaded, tables)
            if source in changed:
                touched.append((state, _records(_context(loaded, {**tables, source: rows[source]}),
                                                measure)))
            records = _records(ctx, measure)
            for link in usage.links:
                used.add(link.table)
                if link.table not in changed:
                    continue
                vals = values(link.table, link.column)
                if link.kind == "payee":
                    payees |= {str(v) for v in vals}
                elif link.kind == "group":
                    group_values.setdefault(link.target, set()).update(vals)
                elif link.more:
                    pairs = [(link.column, link.target), *link.more]
                    wanted = pa.concat_tables([
                        fetch(rows.select(**{t: rows[c] for c, t in pairs}).distinct())
                        for rows in (rows_old[link.table], rows_new[link.table])])
                    touched.append((state, records.semi_join(ibis.memtable(wanted),
                                                             [t for _, t in pairs])))
                elif vals:
                    touched.append((state, records.filter(records[link.target].isin(vals))))
        for _, frame in touched:
            payees |= set(fetch(frame.select("payee_id").distinct())["payee_id"].to_pylist())
        for columns in usage.couplings:
            keys = [fetch(frame.select(*columns).distinct()) for _, frame in touched]
            if len(columns) == 1 and columns[0] in group_values:
                extra = sorted(group_values[columns[0]], key=str)
                keys.append(pa.table({columns[0]: pa.array(extra, type=keys[0].schema.field(0).type)
                                      if keys else pa.array(extra)}))
            keys = [k for k in keys if k.num_rows]
            if not keys:
                continue
            wanted = ibis.memtable(pa.concat_tables(keys, promote_options="permissive"))
            for tables, _ in states.values():
                records = _records(_context(loaded, tables), measure)
                hit = records.semi_join(wanted, columns)
                payees |= set(fetch(hit.select("payee_id").distinct())["payee_id"].to_pylist())
        spec = getattr(measure, "payees_from", None)
        if spec is not None:
            used.add(spec.table)
            if spec.table in changed:
                for tables, rows in states.values():
                    ctx = _context(loaded, tables)
                    ns = ctx.namespace(rows[spec.table], (spec.table,))
                    payee = ctx.expr(spec.payee, ns, ("payees_from",)).cast("string")
                    payees |= set(fetch(rows[spec.table].select(p=payee))["p"].to_pylist())
        screening = getattr(getattr(measure, "claim", None), "screening", None)
        if screening:
            used.add(plan.measure(screening).source)
    if plan.effect is not None:
        used.add(plan.effect.source)
    payees.discard(None)
    return payees
