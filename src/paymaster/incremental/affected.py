"""The affected payees: every payee whose results may differ after the changed rows (for
a per-record measure, where it can tell, only some periods of a payee)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from paymaster.engine.context import Context
from paymaster.errors import Collector
from paymaster.incremental.base import GLOBAL, Affected, Fallback, group_key
from paymaster.incremental.links import (
    analyse,
    by_group,
    by_period,
    global_reads,
    in_date_order,
    upstream,
)
from paymaster.incremental.state import Diff
from paymaster.plan import LoadedPlan
from paymaster.plan.expressions import Compiler


def _context(loaded: LoadedPlan, tables: dict[str, ir.Table]) -> Context:
    return Context(loaded=loaded, tables=tables, compiler=Compiler(loaded.source, Collector()))


def _records(ctx: Context, measure) -> ir.Table:
    """The measure's records with lookups and fields, and their payee (no filter: every
    record that could count), and their period when the measure is recomputed by period."""
    table = ctx.apply_lookups(ctx.tables[measure.source], measure.lookups)
    path = ("measures", measure.id)
    names = (measure.source,)
    for name, text in measure.fields.items():
        table = table.mutate(**{name: ctx.expr(text, ctx.namespace(table, names), path)})
    payee = ctx.expr(measure.payee, ctx.namespace(table, names), path + ("payee",))
    table = table.mutate(payee_id=payee.cast("string"))
    if not by_period(measure):
        return table
    day = ctx.expr(measure.date, ctx.namespace(table, names), path + ("date",), "date")
    return ctx.with_period(table.mutate(__date=day.cast("date")), measure.period, "__date")


def _found(frame: ir.Table, measure, fetch) -> Affected:
    """The payees (or payee-periods) of the records in `frame`."""
    if not by_period(measure):
        return Affected(payees=set(fetch(frame.select("payee_id").distinct())["payee_id"]
                                   .to_pylist()) - {None})
    found = Affected()
    rows = fetch(frame.select("payee_id", "period").distinct())
    for payee, period in zip(rows["payee_id"].to_pylist(), rows["period"].to_pylist(),
                             strict=True):
        if payee is None:
            continue
        if period is None:
            found.payees.add(payee)  # (no date: not in any period, recomputed whole)
        else:
            found.periods.add((payee, period))
    return found


def affected_payees(loaded: LoadedPlan, backend, new: dict[str, ir.Table],
                    diffs: dict[str, Diff]) -> dict[str, Affected]:
    """Per per-payee measure, the part whose results may differ after the change (raises
    Fallback): payees, payee-periods (`by_period`) or first-wins groups (`by_group`). A
    measure reading another's results (claims, `of`, `refers`) does so by payee: it is
    recomputed for the payees of the measures it reads, too (for claims on a screening
    recomputed by groups, the payee-periods of the claim groups those groups reach); a
    measure none of whose inputs changed is not recomputed at all (e.g. the screening of
    registrations after a sales line changed)."""
    plan = loaded.plan
    usages = analyse(loaded)
    changed = {t for t, d in diffs.items() if d.old_count or d.new_count}
    scopes: dict[str, Affected] = {}
    if not changed:
        return scopes
    for measure in plan.measures:
        if measure.type == "balance":
            raise Fallback(f"measure '{measure.id}' carries a balance from period to period: "
                           "a change in one period moves every later one")
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
    versions = {t: (rows_old[t].select(*new[t].columns), rows_new[t].select(*new[t].columns))
                for t in changed}

    def values(table: str, column: str) -> list:
        out = set()
        for rows in (rows_old[table], rows_new[table]):
            out |= set(fetch(rows.select(column).distinct())[column].to_pylist())
        return [v for v in out if v is not None]

    for measure in plan.measures:
        if measure.type in GLOBAL:
            if any(t in changed for t in global_reads(measure)):
                scopes[measure.id] = Affected()  # recomputed whole
            continue
        found = Affected()
        kept = [False]  # (set by _direct: no claim input of a record moved)
        for name in upstream(measure):
            if plan.measure(name).type in GLOBAL and name in scopes:
                raise Fallback(f"measure '{measure.id}' reads '{name}', whose inputs changed "
                               "and which is recalculated whole")
            claim = getattr(measure, "claim", None)
            if name in scopes and scopes[name].groups and by_period(measure) \
                    and claim is not None and claim.screening == name:
                # A screening recomputed by groups: the deals whose claims may change.
                found.update(_claims_of(loaded, measure, scopes[name], states, fetch))
            elif name in scopes:  # read by payee: whole payees
                found.payees |= scopes[name].everyone()
        upstream_found = bool(found)
        found.update(_direct(loaded, measure, usages[measure.id], changed, states, values,
                             fetch, versions, kept))
        found.claims_kept = kept[0] and not upstream_found and not found.payees
        if found:
            scopes[measure.id] = found
    return {m: p for m, p in scopes.items() if plan.measure(m).type not in GLOBAL}


def _direct(loaded: LoadedPlan, measure, usage, changed: set[str], states, values,
            fetch, versions, kept: list[bool]) -> Affected:
    """The payees (or payee-periods) of a measure's records that read a changed row, or
    share a coupling key with one. `kept[0]` is set when the measure claims and only its
    source changed, none of its records' claim inputs (`_claims_moved`): every record
    keeps the claim it had."""
    bad = usage.opaque & changed
    if bad:
        raise Fallback(f"table {sorted(bad)[0]} changed and measure '{measure.id}' reads "
                       "it without a link to a payee")
    found = Affected()
    payees = found.payees
    if measure.type == "one_off":
        for link in usage.links:
            if link.table in changed:
                payees |= {str(v) for v in values(link.table, link.column)}
        return found
    source = measure.source
    touched: list[tuple[str, ir.Table]] = []
    group_values: dict[str, set] = {}
    claim_keys: list[pa.Table] = []  # claim groups whose claims may change (by period)
    for state, (tables, rows) in states.items():
        ctx = _context(loaded, tables)
        if source in changed:
            touched.append(("source", _records(_context(loaded, {**tables, source: rows[source]}),
                                               measure)))
            if by_period(measure) and measure.claim is not None:
                claim_keys.append(_claims_moved(loaded, measure, tables, *versions[source],
                                                fetch))
        records = _records(ctx, measure)
        for link in usage.links:
            if link.table not in changed:
                continue
            vals = values(link.table, link.column)
            if link.kind == "payee":
                payees |= {str(v) for v in vals}
            elif link.kind == "group":
                group_values.setdefault(link.target, set()).update(vals)
            elif link.more:
                pairs = [(link.column, link.target), *link.more]
                part = rows[link.table]
                wanted = fetch(part.select(**{t: part[c] for c, t in pairs}).distinct())
                touched.append((state, records.semi_join(ibis.memtable(wanted),
                                                         [t for _, t in pairs])))
            elif vals:
                touched.append((state, records.filter(records[link.target].isin(vals))))
    group = by_group(loaded.plan, measure)
    if group is not None and usage.couplings == [group]:
        for tables, _ in states.values() if payees else ():  # linked straight to a payee
            records = _records(_context(loaded, tables), measure)
            touched.append(("", records.filter(records["payee_id"].isin(sorted(payees)))))
        return _groups(loaded, measure, group, [frame for _, frame in touched], states, fetch)
    for _, frame in touched:
        found.update(_found(frame, measure, fetch))
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
            found.update(_found(hit, measure, fetch))
    if by_period(measure) and measure.claim is not None:
        # A claim group (its keys carry the payee) may span periods: it is recomputed from
        # the earliest record whose claim inputs changed (`_claims_moved`; a record linked
        # to a changed row of another table: the whole group). A corrected amount changes
        # no claim: only its own period is recomputed.
        on = list(measure.claim.on)
        linked = [fetch(frame.select(*on, __from=ibis.null("date")).distinct())
                  for state, frame in touched if state != "source"]
        keys = [k for k in claim_keys + linked if k.num_rows]
        kept[0] = (not keys and bool(claim_keys) and changed == {source}
                   and loaded.plan.inputs[source].key == [measure.source_id])
        if keys:
            wanted = ibis.memtable(pa.concat_tables(keys, promote_options="permissive")
                                   .rename_columns([*(f"__w_{c}" for c in on), "__from"]))
            for tables, _ in states.values():
                records = _records(_context(loaded, tables), measure)
                hit = records.inner_join(wanted, [records[c] == wanted[f"__w_{c}"] for c in on])
                hit = hit.filter(hit["__from"].isnull() | (hit["__date"] >= hit["__from"]))
                found.update(_found(hit, measure, fetch))
    spec = getattr(measure, "payees_from", None)
    if spec is not None and spec.table in changed:
        for tables, rows in states.values():
            ctx = _context(loaded, tables)
            ns = ctx.namespace(rows[spec.table], (spec.table,))
            payee = ctx.expr(spec.payee, ns, ("payees_from",)).cast("string")
            payees |= set(fetch(rows[spec.table].select(p=payee))["p"].to_pylist())
    payees.discard(None)
    return found


def _claims_moved(loaded: LoadedPlan, measure, tables: dict[str, ir.Table], old: ir.Table,
                  new: ir.Table, fetch) -> pa.Table:
    """The claim keys of the changed source rows whose claim inputs differ between their old
    and new versions. A record's claim depends on the claimants of its keys and, of the
    records of its keys, only on which are there (the source's filter), their dates and
    claim order (`order_by`), ids and payee: the old versions and the new ones compared on
    those as multisets leave the keys of a row added, removed or moved. Everything else of
    a record (its amount, a rule's column) meets other records only in its period's limit."""
    ctx = _context(loaded, tables)
    spec = loaded.plan.inputs[measure.source]
    claim = measure.claim
    names = (measure.source,)
    path = ("measures", measure.id)

    def signature(rows: ir.Table) -> ir.Table:
        records = _records(_context(loaded, {**tables, measure.source: rows}), measure)
        ns = ctx.namespace(records, names)
        kept = (ctx.expr(measure.filter, ns, path + ("filter",), "boolean")
                if measure.filter is not None else ibis.literal(True))
        ident = ctx.expr(measure.source_id, ns, path + ("source_id",)).cast("string")
        columns = {**{f"__k_{c}": records[c] for c in claim.on},
                   **{f"__o_{c}": records[c] for c in claim.order_by},
                   "__d": records["__date"], "__i": ident, "__p": records["payee_id"],
                   "__q": records["period"], "__f": kept.fill_null(False)}
        return records.select(**columns)

    if any(c.action == "hold" for c in spec.checks):  # a group check reads other rows
        moved = signature(old).union(signature(new))
    else:
        a, b = signature(old), signature(new)
        moved = a.difference(b, distinct=False).union(b.difference(a, distinct=False))
    # Claims go in claim order: with that order by date first, a record's claim depends
    # only on the records before it, and a change reaches the group from its date on.
    # (A record without a date is numbered last, after every dated one: its whole group.)
    keys = [moved[f"__k_{c}"].name(c) for c in claim.on]
    if not in_date_order(loaded, measure):
        return fetch(moved.select(*keys, __from=ibis.null("date")).distinct())
    since = ibis.ifelse(moved["__d"].isnull().any(), ibis.null("date"), moved["__d"].min())
    return fetch(moved.group_by(keys).aggregate(__from=since))


def _groups(loaded: LoadedPlan, measure, columns: list[str], frames: list[ir.Table], states,
            fetch) -> Affected:
    """A screening recomputed by first-wins groups: the groups of the touched records, with
    the ids and payees of every record in them, old or new."""
    found = Affected()
    for frame in frames:
        found.groups |= set(fetch(frame.select(k=group_key(frame, columns)).distinct())["k"]
                            .to_pylist())
    if not found.groups:
        return found
    wanted = ibis.memtable(pa.table({"k": pa.array(sorted(found.groups), pa.string())}))
    for tables, _ in states.values():
        records = _records(_context(loaded, tables), measure)
        rows = fetch(records.filter(group_key(records, columns).isin(wanted["k"]))
                     .select(i=records[measure.source_id].cast("string"), p="payee_id")
                     .distinct())
        found.ids |= set(rows["i"].to_pylist()) - {None}
        found.others |= set(rows["p"].to_pylist()) - {None}
    return found


def _claims_of(loaded: LoadedPlan, measure, screened: Affected, states, fetch) -> Affected:
    """The payee-periods of a per-record measure's records whose claimants may have
    changed: those sharing claim keys with a record of the rescreened groups."""
    screening = loaded.plan.measure(measure.claim.screening)
    columns = by_group(loaded.plan, screening)
    keys = list(measure.claim.on)
    wanted = ibis.memtable(pa.table({"k": pa.array(sorted(screened.groups), pa.string())}))
    found = Affected()
    for tables, _ in states.values():
        ctx = _context(loaded, tables)
        claimants = _records(ctx, screening)
        claimants = claimants.filter(group_key(claimants, columns).isin(wanted["k"]))
        claimed = fetch(claimants.select(*keys).distinct())
        records = _records(ctx, measure)
        found.update(_found(records.semi_join(ibis.memtable(claimed), keys), measure, fetch))
    return found
