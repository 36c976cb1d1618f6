"""The splice: the build's scope (the affected payees' records) and its results written
into the stored result tables."""

from __future__ import annotations

import re

import duckdb
import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from paymaster.engine.context import BlockResult
from paymaster.incremental.claims import with_stored_claims
from paymaster.incremental.base import ATTRS, GLOBAL, SEP, Affected, group_key
from paymaster.incremental.links import analyse, by_group, global_reads, in_date_order, upstream
from paymaster.incremental.state import IN, Diff, State, table_name
from paymaster.plan import LoadedPlan
from paymaster.sqlnames import literal, quote, quote_all

LITERAL_LIST_MAX = 5000
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def compactable(loaded: LoadedPlan, measure) -> tuple[str, str, str, str] | None:
    """(table, payee, date, value) when a global measure only sums one column of its source
    per payee and day: then the source can be pre-summed per payee and day, exactly."""
    if measure.type not in GLOBAL or measure.lookups or measure.fields or measure.filter:
        return None
    spec = loaded.plan.inputs[measure.source]
    names = (measure.payee, measure.date, measure.value)
    if not all(isinstance(n, str) and IDENTIFIER.match(n) and n in spec.columns for n in names):
        return None
    value = spec.columns[measure.value]
    if value.type not in ("decimal", "integer") or value.optional:
        return None
    if spec.columns[measure.date].type not in ("date", "timestamp"):
        return None
    return (measure.source, *names)


class Splice:
    """The build's scope: records of each measure's affected payees; results spliced into
    the state."""

    def __init__(self, state: State, scopes: dict[str, Affected], full: bool,
                 diffs: dict[str, Diff] | None = None):
        self.state = state
        self.full = full
        self.diffs = diffs or {}
        self.compacted: set[str] = set()
        # (payee, period) whose results changed beyond the recomputed ones (a global
        # measure's, charged budgets'; period None: every period), for the delta; None:
        # any payee's may have.
        self.changed: set[tuple[str, str | None]] | None = set()
        plan = state.loaded.plan
        self.scopes = {m: affected for m, affected in scopes.items() if affected}
        # The payees each measure's results are read for, by the measures reading them.
        self.readers: dict[str, set[str]] = {}
        for measure in plan.measures:
            for name in upstream(measure):
                self.readers.setdefault(name, set()).update(self.scope(measure).everyone())
        self.lines: list[str] = []  # the stored lines tables, in plan order
        # How each stored lines table changed this run, for the kept budget candidates
        # (budget.py): (scope SQL, table of the part's new rows), or None: written whole.
        # A table not named here is as it was.
        self.rewritten: dict[str, tuple[str, str] | None] = {}
        self.lists: dict[str, list[str]] = {}  # long lists of values, as temp tables
        for index, measure in enumerate(plan.measures):
            affected = self.scope(measure)
            for name, values in ((f"__scope_{index}", sorted(affected.payees)),
                                 (f"__scope_{index}_periods", affected.partial()),
                                 (f"__scope_{index}_all", sorted(affected.everyone())),
                                 (f"__scope_{index}_groups", sorted(affected.groups)),
                                 (f"__scope_{index}_ids", sorted(affected.ids))):
                if len(values) > LITERAL_LIST_MAX:
                    state.con.execute(f"CREATE OR REPLACE TEMP TABLE {quote(name)} (v VARCHAR)")
                    state.con.execute(f"INSERT INTO {quote(name)} SELECT unnest(?)", [values])
                    self.lists[name] = values

    def scope(self, measure) -> Affected:
        return Affected() if self.full else self.scopes.get(measure.id, Affected())

    def kept(self, stage: str) -> bool:
        """Is `stage` (`<measure>__<what>`) part of a per-payee measure none of whose inputs
        changed? Its result is not used: the stored one is."""
        if self.full:
            return False
        ids = [m.id for m in self.state.loaded.plan.measures if stage.startswith(f"{m.id}__")]
        measure = self.state.loaded.plan.measure(max(ids, key=len)) if ids else None
        return measure is not None and measure.type not in GLOBAL and not self.scope(measure)

    def payees(self, measure) -> list[str]:
        """Every payee the measure is recomputed for (some only for some periods)."""
        return sorted(self.scope(measure).everyone())

    def _index(self, measure) -> int:
        return [m.id for m in self.state.loaded.plan.measures].index(measure.id)

    def _isin(self, value: ir.Value, values: list[str], name: str) -> ir.Value:
        if name in self.lists:
            return value.isin(self.state.backend.table(name)["v"])
        return value.isin(values) if values else ibis.literal(False)

    def _isin_sql(self, value: str, values: list[str], name: str) -> str:
        if name in self.lists:
            return f"{value} IN (SELECT v FROM {quote(name)})"
        return f"{value} IN ({', '.join(literal(v) for v in values)})" if values else "FALSE"

    def in_scope(self, measure, table: ir.Table) -> ir.Value:
        """Is the row (with its payee_id, and period) in the measure's part to recompute?"""
        affected, index = self.scope(measure), self._index(measure)
        test = self._isin(table["payee_id"], sorted(affected.payees), f"__scope_{index}")
        if affected.groups:
            key = group_key(table, by_group(self.state.loaded.plan, measure))
            test |= self._isin(key, sorted(affected.groups), f"__scope_{index}_groups")
        partial = affected.partial()
        if partial:
            key = table["payee_id"].concat(SEP, table["period"])
            test |= self._isin(key, partial, f"__scope_{index}_periods")
            # The payees first: a filter a scan applies by row group (tables are by payee).
            test = self._isin(table["payee_id"], self.payees(measure), f"__scope_{index}_all") & test
        return test

    def scope_sql(self, measure, attr: str) -> str:
        """`in_scope` in SQL, for the stored result table `attr` (a group's records by their
        source id)."""
        affected, index = self.scope(measure), self._index(measure)
        test = self._isin_sql("payee_id", sorted(affected.payees), f"__scope_{index}")
        if affected.ids:
            column = "subject" if attr == "evaluations" else "source_id"
            test += " OR " + self._isin_sql(column, sorted(affected.ids), f"__scope_{index}_ids")
        partial = affected.partial()
        if partial:
            test += " OR " + self._isin_sql(f"(payee_id || {literal(SEP)} || period)", partial,
                                            f"__scope_{index}_periods")
            test = (self._isin_sql("payee_id", self.payees(measure), f"__scope_{index}_all")
                    + f" AND ({test})")
        return test

    def member(self, measure, table: ir.Table, payees: list[str] | None = None) -> ir.Table:
        """The rows of `table` in the measure's part to recompute (or of `payees`)."""
        if payees is None:
            return table.filter(self.in_scope(measure, table))
        return table.filter(table["payee_id"].isin(payees) if payees else ibis.literal(False))

    def narrow(self, measure, table: ir.Table) -> ir.Table:
        if self.full or measure.type in GLOBAL:
            return table
        affected = self.scope(measure)
        if not affected:
            return table.filter(ibis.literal(False))  # none of its inputs changed
        if affected.groups:  # whole first-wins groups
            return self.member(measure, table)
        if affected.claims_kept:  # its claims are read from its stored lines: no widening
            return self.member(measure, table)
        if measure.type == "per_record" and measure.claim is not None and affected.partial():
            # Some periods of a payee: their records' claim groups, whole (all within the
            # payee, across periods); the extra records are computed and dropped.
            rows = table.filter(self._isin(table["payee_id"], self.payees(measure),
                                           f"__scope_{self._index(measure)}_all"))
            return self._widened(measure, rows, [list(measure.claim.on)],
                                 bounded=in_date_order(self.state.loaded, measure))
        couplings = []
        if measure.type == "screening":
            couplings = [r.first_wins.key for r in measure.rules if r.first_wins]
        elif measure.type == "aggregate" and measure.group is not None:
            couplings = [[measure.group.by]]
        if not couplings:
            return self.member(measure, table)
        return self._widened(measure, table, couplings)

    def stored_claims(self, measure, table: ir.Table, claimant: dt.DataType) -> ir.Table | None:
        """The part's records with the claims their stored lines show, when no claim can
        have moved (`Affected.claims_kept`); None: computed."""
        if self.full or not self.scope(measure).claims_kept:
            return None
        lines = self.state.backend.table(f"st_{measure.id}__lines")
        return with_stored_claims(table, self.member(measure, lines), measure.claim, claimant)

    def claimed(self, measure, table: ir.Table) -> ir.Table:
        """Records taken only for their claim groups (see `narrow`) are dropped once the
        claims are known: the limit, rules and explanations are for the part only."""
        if self.full or not self.scope(measure).partial():
            return table
        return self.member(measure, table)

    def _widened(self, measure, table: ir.Table, couplings: list[list[str]],
                 bounded: bool = False) -> ir.Table:
        """The part to recompute, widened to whole coupling groups: a window over a group
        needs all of it (its other members' rows are computed and dropped). The groups
        are found first, then given as literals (a cheap filter). A group is compared
        as the engine's windows and first-wins do: NULL is one value. `bounded` (claims
        taken in date order): a claim group's records dated after the part's last one
        are left out, as no earlier record's claim depends on them."""
        member = self.in_scope(measure, table)
        test = member
        for cols in couplings:
            key = group_key(table, cols)
            part = table.filter(member)
            rows = self.state.backend.to_pyarrow(
                part.group_by(k=key).aggregate(d=part["__date"].max()) if bounded
                else part.select(k=key).distinct())
            found = rows["k"].to_pylist()
            if len(found) > LITERAL_LIST_MAX:
                wider = key.isin(ibis.memtable(pa.table({"k": pa.array(found, pa.string())}))["k"])
            else:
                wider = key.isin(found) if found else ibis.literal(False)
            last = pc.max(rows["d"]).as_py() if bounded and rows.num_rows else None
            if last is not None:
                wider &= (table["__date"] <= ibis.literal(last, type="date")) \
                    | table["__date"].isnull()
            test |= wider
        return table.filter(test)

    def tables(self, measure, tables: dict[str, ir.Table]) -> dict[str, ir.Table]:
        """A population table (`payees_from`) read only through links to the payee is
        narrowed to the affected payees' rows: the same results for them, far less work
        (e.g. no certification intervals of every partner)."""
        spec = getattr(measure, "payees_from", None)
        if self.full or spec is None or spec.table == measure.source:
            return tables
        payee = measure.payee if IDENTIFIER.match(str(measure.payee)) else None
        links = [link for link in analyse(self.state.loaded)[measure.id].links
                 if link.table == spec.table]
        if not all(link.kind == "payee" or (link.kind == "row" and not link.more
                                            and link.target == payee) for link in links):
            return tables
        columns = {link.column for link in links}
        if not IDENTIFIER.match(spec.payee) or columns - {spec.payee}:
            return tables
        narrowed = tables[spec.table]
        values = self.payees(measure) or [None]
        narrowed = narrowed.filter(narrowed[spec.payee].cast("string").isin(values))
        return {**tables, spec.table: narrowed}

    def _reads_changes(self, measure) -> bool:
        return any(self.diffs[t].old_count or self.diffs[t].new_count
                   for t in global_reads(measure))

    def compact(self, measure) -> ir.Table | None:
        """Global measures (rankings, streaks, titles) read their source pre-summed per payee
        and day (`cp_...` in the state), kept up to date from the changed rows."""
        found = compactable(self.state.loaded, measure)
        if found is None:
            return None
        table, payee, day, value = found
        name = f"cp_{table}__{payee}__{day}__{value}"
        con = self.state.con
        if name not in self.compacted:
            self.compacted.add(name)
            keys, total, stored = quote_all([payee, day]), quote(value), quote(name)
            summed = (lambda rows, sign: f"SELECT {keys}, {sign}sum({total}) AS "  # noqa: E731
                      f"{total}, {sign}count(*) AS __n FROM {rows} GROUP BY ALL")
            if self.full or name not in self.state.names():
                self.state.say(f"calculate {name}")
                rows = quote(table) if self.full else table_name(IN, table)
                con.execute(f"CREATE OR REPLACE TABLE {stored} AS {summed(rows, '')}")
            elif self.diffs[table].old_count or self.diffs[table].new_count:
                self.state.say(f"recalculate {name}")
                delta = quote(f"d_{name}")
                con.execute(f"CREATE OR REPLACE TEMP TABLE {delta} AS SELECT {keys}, "
                            f"sum({total}) AS {total}, sum(__n) AS __n FROM "
                            f"({summed(table_name('new', table), '')} UNION ALL "
                            f"{summed(table_name('old', table), '-')}) GROUP BY ALL")
                match = " AND ".join(f"c.{quote(k)} IS NOT DISTINCT FROM d.{quote(k)}"
                                     for k in (payee, day))
                con.execute(f"UPDATE {stored} c SET {total} = c.{total} + d.{total}, "
                            f"__n = c.__n + d.__n FROM {delta} d WHERE {match}")
                con.execute(f"INSERT INTO {stored} BY NAME SELECT * FROM {delta} d WHERE NOT "
                            f"EXISTS (SELECT 1 FROM {stored} c WHERE {match})")
                con.execute(f"DELETE FROM {stored} WHERE __n = 0")
        return self.state.backend.table(name)

    def _replaced(self, name: str, table: ir.Table) -> ir.Table:
        """A global measure's stored results replaced by `table`, noting whose differ."""
        con, fresh = self.state.con, f"new_{name}"
        con.execute(f"DROP TABLE IF EXISTS {quote(fresh)}")
        self.state.backend.create_table(fresh, _clustered(table))
        self.changed = note_changes(con, name, fresh, self.changed)
        con.execute(f"DROP TABLE IF EXISTS {quote(name)}")
        con.execute(f"ALTER TABLE {quote(fresh)} RENAME TO {quote(name)}")
        return self.state.backend.table(name)

    def splice(self, measure, result: BlockResult) -> tuple[BlockResult, BlockResult]:
        whole, view = BlockResult(), BlockResult()
        backend, con = self.state.backend, self.state.con
        affected = self.scope(measure)
        readers = sorted(self.readers.get(measure.id, ()))
        for attr in ATTRS:
            table = getattr(result, attr)
            if table is None:
                continue
            name = f"st_{measure.id}__{attr}"
            if attr == "lines":
                self.lines.append(name)
            if self.full or measure.type in GLOBAL and self._reads_changes(measure):
                self.state.say(f"calculate {measure.id} {attr}")
                if self.full:
                    con.execute(f"DROP TABLE IF EXISTS {quote(name)}")
                    stored = backend.create_table(name, _clustered(table))
                else:
                    stored = self._replaced(name, table)
                self.rewritten[name] = None
                setattr(whole, attr, stored)
                setattr(view, attr, stored)
                continue
            if measure.type in GLOBAL or not affected:
                stored = backend.table(name)  # its inputs did not change: kept as it was
                setattr(whole, attr, stored)
                setattr(view, attr, stored if measure.type in GLOBAL
                        else self.member(measure, stored, readers))
                continue
            self.state.say(f"recalculate {measure.id} {attr}")
            con.execute(f"DROP TABLE IF EXISTS {quote(f'part_{measure.id}__{attr}')}")
            # (Recomputed by groups, every row is part of them: nothing was widened.)
            rows = table if affected.groups else self.member(measure, table)
            part = backend.create_table(f"part_{measure.id}__{attr}", _clustered(rows), temp=True)
            scope = self.scope_sql(measure, attr)
            replace_part(con, name, f"part_{measure.id}__{attr}", scope)
            self.rewritten[name] = (scope, f"part_{measure.id}__{attr}")
            stored = backend.table(name)
            setattr(whole, attr, stored)
            # Its readers recompute its payees and maybe more (of other measures they read).
            setattr(view, attr, part if set(readers) <= affected.payees
                    else self.member(measure, stored, readers))
        return whole, view


def replace_part(con, name: str, part: str, scope: str, note: bool = False
                 ) -> list[tuple] | None:
    """The stored rows of the part (`scope`, SQL) replaced by the table `part`: only the
    rows that differ are deleted and inserted (a corrected record rewrites its line, not
    every line of its payee's month: writing rows is what a rewrite costs). Rows are
    matched by two 64-bit hashes of all their values, numbered among equal ones (a
    multiset difference); equal rows always match, two different rows of one part could
    only match by a collision of both hashes (odds about n^2/2^128, as the input rows').
    `note`: also return the (payee_id, period) of the rows deleted and inserted."""
    stored, fresh = quote(name), quote(part)
    columns = [r[0] for r in con.execute(f"DESCRIBE {stored}").fetchall()]
    cols = quote_all(columns)
    ident = f"hash({cols}) AS __h1, hash({quote_all(reversed(columns))}, 1) AS __h2"

    def numbered(table: str, where: str) -> str:
        return (f"SELECT __r, __h1, __h2, row_number() OVER (PARTITION BY __h1, __h2) AS __n "
                f"FROM (SELECT rowid AS __r, {ident} FROM {table} WHERE {where})")

    con.execute(f"CREATE OR REPLACE TEMP TABLE __part_old AS {numbered(stored, f'({scope})')}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE __part_new AS {numbered(fresh, 'TRUE')}")
    differ = "SELECT __r FROM {a} a ANTI JOIN {b} b USING (__h1, __h2, __n)"
    found = None
    if note:
        period = "period" if "period" in columns else "NULL"
        found = con.execute(
            f"SELECT DISTINCT payee_id, {period} FROM {stored} WHERE ({scope}) AND rowid IN "
            f"({differ.format(a='__part_old', b='__part_new')}) UNION "
            f"SELECT DISTINCT payee_id, {period} FROM {fresh} WHERE rowid IN "
            f"({differ.format(a='__part_new', b='__part_old')})").fetchall()
    con.execute(f"DELETE FROM {stored} WHERE ({scope}) AND rowid IN "
                f"({differ.format(a='__part_old', b='__part_new')})")
    con.execute(f"INSERT INTO {stored} ({cols}) SELECT {cols} FROM {fresh} WHERE rowid IN "
                f"({differ.format(a='__part_new', b='__part_old')})")
    con.execute("DROP TABLE __part_old; DROP TABLE __part_new")
    return found


def note_changes(con, old: str, new: str, changed: set | None) -> set | None:
    """`changed` with the (payee, period) whose rows differ between the tables `old` and
    `new` (period None: the whole payee; `changed` None: any payee, as when the tables
    have no payee_id or `old` is missing)."""
    columns = [r[0] for r in con.execute(f"DESCRIBE {quote(new)}").fetchall()]
    if changed is None or "payee_id" not in columns:
        return None
    try:
        before = [r[0] for r in con.execute(f"DESCRIBE {quote(old)}").fetchall()]
    except duckdb.CatalogException:
        return None
    if before != columns:
        return None
    a, b = quote(old), quote(new)
    period = "period" if "period" in columns else "NULL"
    found = con.execute(f"SELECT DISTINCT payee_id, {period} FROM ((SELECT * FROM {a} EXCEPT ALL "
                        f"SELECT * FROM {b}) UNION ALL (SELECT * FROM {b} EXCEPT ALL "
                        f"SELECT * FROM {a}))").fetchall()
    if any(r[0] is None for r in found):
        return None
    return changed | {(r[0], r[1]) for r in found}


def _clustered(table: ir.Table) -> ir.Table:
    """Rows stored by payee: a payee's rows replaced later are whole row groups, which a
    checkpoint drops, instead of a few rows out of each, which it rewrites (all of them).
    Within a payee, in the payouts' order: sorting rows that are nearly in order is about
    twice as fast."""
    return table.order_by([c for c in ("payee_id", "period", "date", "source_id")
                           if c in table.columns])

