"""The splice: the build's scope (the affected payees' records) and its results written
into the stored result tables."""

from __future__ import annotations

import re

import ibis
import ibis.expr.types as ir

from paymaster.engine.context import BlockResult
from paymaster.incremental.base import ATTRS, GLOBAL
from paymaster.incremental.links import analyse, global_reads
from paymaster.incremental.state import Diff, State
from paymaster.plan import LoadedPlan

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
    """The build's scope: records of the affected payees; results spliced into the state."""

    def __init__(self, state: State, payees: set[str], full: bool,
                 diffs: dict[str, Diff] | None = None):
        self.state = state
        self.full = full
        self.diffs = diffs or {}
        self.compacted: set[str] = set()
        self.payees = sorted(payees)
        state.con.execute("CREATE OR REPLACE TEMP TABLE __affected (payee_id VARCHAR)")
        if self.payees:
            state.con.execute("INSERT INTO __affected SELECT unnest(?)", [self.payees])

    def member(self, table: ir.Table) -> ir.Table:
        if not self.payees:
            return table.filter(ibis.literal(False))
        if len(self.payees) <= LITERAL_LIST_MAX:
            return table.filter(table["payee_id"].isin(self.payees))
        affected = self.state.backend.table("__affected")
        return table.semi_join(affected, "payee_id")

    def narrow(self, measure, table: ir.Table) -> ir.Table:
        if self.full or measure.type in GLOBAL:
            return table
        couplings = []
        if measure.type == "screening":
            couplings = [r.first_wins.key for r in measure.rules if r.first_wins]
        elif measure.type == "aggregate" and measure.group is not None:
            couplings = [[measure.group.by]]
        if not couplings:
            return self.member(table)
        # A window over a coupling group needs the whole group: widen to the groups of the
        # affected payees' records (their other members' rows are computed and dropped).
        # The groups are few: found first, then given as literals (a cheap filter).
        widened = None
        for cols in couplings:
            keys = self.state.backend.to_pyarrow(self.member(table).select(*cols).distinct())
            if len(cols) == 1:
                values = [v for v in keys[cols[0]].to_pylist() if v is not None]
                part = table.filter(table[cols[0]].isin(values) if values else ibis.literal(False))
            else:
                part = table.semi_join(ibis.memtable(keys), cols)
            widened = part if widened is None else widened.union(part)
        return widened

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
        values = self.payees or [None]
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
            summed = (lambda rows, sign: f'SELECT "{payee}", "{day}", {sign}sum("{value}") AS '  # noqa: E731
                      f'"{value}", {sign}count(*) AS __n FROM {rows} GROUP BY ALL')
            if self.full or name not in self.state.names():
                self.state.say(f"calculate {name}")
                con.execute(f'CREATE OR REPLACE TABLE {name} AS {summed(f"in_{table}" if not self.full else chr(34) + table + chr(34), "")}')
            elif self.diffs[table].old_count or self.diffs[table].new_count:
                self.state.say(f"recalculate {name}")
                keys = f'"{payee}", "{day}"'
                con.execute(f'CREATE OR REPLACE TEMP TABLE "d_{name}" AS SELECT {keys}, '
                            f'sum("{value}") AS "{value}", sum(__n) AS __n FROM '
                            f'({summed(f"new_{table}", "")} UNION ALL '
                            f'{summed(f"old_{table}", "-")}) GROUP BY ALL')
                match = " AND ".join(f'c."{k}" IS NOT DISTINCT FROM d."{k}"' for k in (payee, day))
                con.execute(f'UPDATE {name} c SET "{value}" = c."{value}" + d."{value}", '
                            f'__n = c.__n + d.__n FROM "d_{name}" d WHERE {match}')
                con.execute(f'INSERT INTO {name} BY NAME SELECT * FROM "d_{name}" d WHERE NOT EXISTS '
                            f"(SELECT 1 FROM {name} c WHERE {match})")
                con.execute(f"DELETE FROM {name} WHERE __n = 0")
        return self.state.backend.table(name)

    def splice(self, measure, result: BlockResult) -> tuple[BlockResult, BlockResult]:
        whole, view = BlockResult(), BlockResult()
        backend, con = self.state.backend, self.state.con
        for attr in ATTRS:
            table = getattr(result, attr)
            if table is None:
                continue
            name = f"st_{measure.id}__{attr}"
            if not self.full and measure.type in GLOBAL and not self._reads_changes(measure):
                stored = backend.table(name)  # its inputs did not change: kept as it was
                setattr(whole, attr, stored)
                setattr(view, attr, stored)
                continue
            if self.full or measure.type in GLOBAL:
                self.state.say(f"calculate {measure.id} {attr}")
                con.execute(f"DROP TABLE IF EXISTS {name}")
                stored = backend.create_table(name, table)
                setattr(whole, attr, stored)
                setattr(view, attr, stored)
                continue
            self.state.say(f"recalculate {measure.id} {attr}")
            con.execute(f'DROP TABLE IF EXISTS "part_{measure.id}__{attr}"')
            part = backend.create_table(f"part_{measure.id}__{attr}", self.member(table), temp=True)
            con.execute(f"DELETE FROM {name} WHERE payee_id IN (SELECT payee_id FROM __affected)")
            con.execute(f'INSERT INTO {name} BY NAME SELECT * FROM "part_{measure.id}__{attr}"')
            setattr(whole, attr, backend.table(name))
            setattr(view, attr, part)
        return whole, view

