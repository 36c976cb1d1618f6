"""The splice: the build's scope (the affected payees' records) and its results written
into the stored result tables."""

from __future__ import annotations

import re

import ibis
import ibis.expr.types as ir

from paymaster.datafiles import sql_string
from paymaster.engine.context import BlockResult
from paymaster.incremental.base import ATTRS, GLOBAL
from paymaster.incremental.links import analyse, global_reads, upstream
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
    """The build's scope: records of each measure's affected payees; results spliced into
    the state."""

    def __init__(self, state: State, scopes: dict[str, set[str]], full: bool,
                 diffs: dict[str, Diff] | None = None):
        self.state = state
        self.full = full
        self.diffs = diffs or {}
        self.compacted: set[str] = set()
        plan = state.loaded.plan
        self.scopes = {m: sorted(p) for m, p in scopes.items() if p}
        # The payees each measure's results are read for, by the measures reading them.
        self.readers: dict[str, set[str]] = {}
        for measure in plan.measures:
            for name in upstream(measure):
                self.readers.setdefault(name, set()).update(self.scopes.get(measure.id, ()))
        self.lines: list[str] = []  # the stored lines tables, in plan order
        self.replaced: dict[str, list[str] | None] = {}  # measure: payees whose lines were
        #                                                  replaced (None: all of them)
        for index, measure in enumerate(plan.measures):
            payees = self.scopes.get(measure.id)
            if payees and len(payees) > LITERAL_LIST_MAX:
                state.con.execute(f"CREATE OR REPLACE TEMP TABLE __scope_{index} (payee_id VARCHAR)")
                state.con.execute(f"INSERT INTO __scope_{index} SELECT unnest(?)", [payees])

    def payees(self, measure) -> list[str]:
        return [] if self.full else self.scopes.get(measure.id, [])

    def scope_sql(self, measure) -> str:
        """The measure's payees as a SQL list (or a query)."""
        payees = self.payees(measure)
        if len(payees) > LITERAL_LIST_MAX:
            return f"(SELECT payee_id FROM __scope_{self._index(measure)})"
        return "(" + ", ".join(sql_string(p) for p in payees) + ")" if payees else "(NULL)"

    def _index(self, measure) -> int:
        return [m.id for m in self.state.loaded.plan.measures].index(measure.id)

    def in_scope(self, measure, payee: ir.Value) -> ir.Value:
        """Is `payee` one of the measure's affected payees?"""
        payees = self.payees(measure)
        if len(payees) > LITERAL_LIST_MAX:
            return payee.isin(self.state.backend.table(f"__scope_{self._index(measure)}")["payee_id"])
        return payee.isin(payees) if payees else ibis.literal(False)

    def member(self, measure, table: ir.Table, payees: list[str] | None = None) -> ir.Table:
        """The rows of `table` belonging to the measure's affected payees (or `payees`)."""
        if payees is None:
            return table.filter(self.in_scope(measure, table["payee_id"]))
        return table.filter(table["payee_id"].isin(payees) if payees else ibis.literal(False))

    def narrow(self, measure, table: ir.Table) -> ir.Table:
        if self.full or measure.type in GLOBAL:
            return table
        if not self.payees(measure):
            return table.filter(ibis.literal(False))  # none of its inputs changed
        couplings = []
        if measure.type == "screening":
            couplings = [r.first_wins.key for r in measure.rules if r.first_wins]
        elif measure.type == "aggregate" and measure.group is not None:
            couplings = [[measure.group.by]]
        if not couplings:
            return self.member(measure, table)
        # A window over a coupling group needs the whole group: widen to the groups of the
        # affected payees' records (their other members' rows are computed and dropped).
        # The groups are few: found first, then given as literals (a cheap filter).
        widened = None
        for cols in couplings:
            keys = self.state.backend.to_pyarrow(self.member(measure, table).select(*cols)
                                                  .distinct())
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
        payees = self.payees(measure)
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
                con.execute(f"DROP TABLE IF EXISTS {name}")
                stored = backend.create_table(name, table)
                setattr(whole, attr, stored)
                setattr(view, attr, stored)
                self.replaced[measure.id] = None
                continue
            if measure.type in GLOBAL or not payees:
                stored = backend.table(name)  # its inputs did not change: kept as it was
                setattr(whole, attr, stored)
                setattr(view, attr, stored if measure.type in GLOBAL
                        else self.member(measure, stored, readers))
                continue
            self.state.say(f"recalculate {measure.id} {attr}")
            con.execute(f'DROP TABLE IF EXISTS "part_{measure.id}__{attr}"')
            part = backend.create_table(f"part_{measure.id}__{attr}", self.member(measure, table),
                                        temp=True)
            con.execute(f"DELETE FROM {name} WHERE payee_id IN {self.scope_sql(measure)}")
            con.execute(f'INSERT INTO {name} BY NAME SELECT * FROM "part_{measure.id}__{attr}"')
            self.replaced[measure.id] = payees
            stored = backend.table(name)
            setattr(whole, attr, stored)
            # Its readers recompute its payees and maybe more (of other measures they read).
            setattr(view, attr, part if set(readers) <= set(payees)
                    else self.member(measure, stored, readers))
        return whole, view
