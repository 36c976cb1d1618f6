"""What every block needs while building: tables, parameters and versions, periods, names.

Nothing here reads or writes data: it composes Ibis expressions over the input tables.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from paymaster.engine.lines import line_schema, memtable
from paymaster.errors import Collector
from paymaster.money import minor_units
from paymaster.plan.expressions import WIDE, Compiler, Namespace, literal_value
from paymaster.plan.loader import LoadedPlan
from paymaster.plan.model import Lookup, MeasureBase, Plan
from paymaster.plan.periods import (
    CALENDAR_KINDS,
    PERIOD_PREFIX,
    calendar_periods,
    period_label,
    period_start,
)
from paymaster.plan.trace import trace_columns

PERIOD_READ = re.compile(r"\bperiod\.[A-Za-z_]")
FAR_PAST = dt.date(1900, 1, 1)
FAR_FUTURE = dt.date(9999, 12, 31)
PARAM_PREFIX = "param__"


def store_varying(materialize: Any, name: str, table: ir.Table) -> ir.Table:
    """Store a stage without its constant columns, put back over the stored table.

    A column that is one literal for every row (a measure's name, its seq, the trace
    columns it never sets, NULL) is not written: a deal's line stores its ~25 figures, not
    48 columns mostly empty (writing the wide stage was the largest operator of a run)."""
    constant = constant_columns(table)
    if not constant:
        return materialize(name, table)
    stored = materialize(name, table.drop(*constant))
    return stored.select(*[constant[c].name(c) if c in constant else stored[c]
                           for c in table.columns])


def is_stored(table: ir.Table) -> bool:
    """A stored table, or one `store_varying` gave: its columns and literals over it."""
    node = table.op()
    if isinstance(node, ops.PhysicalTable):
        return True
    if not isinstance(node, ops.Project) or not isinstance(node.parent, ops.PhysicalTable):
        return False
    return all(_literal(value) or (isinstance(value, ops.Field) and value.rel == node.parent)
               for value in node.values.values())


def _literal(value: ops.Value) -> bool:
    while isinstance(value, ops.Cast):
        value = value.arg
    return isinstance(value, ops.Literal)


def constant_columns(table: ir.Table) -> dict[str, ir.Value]:
    """The columns that are one literal (maybe cast) on every row, by name (`literal_columns`);
    not all of them (a table needs one stored column)."""
    constant = literal_columns(table)
    return constant if len(constant) < len(table.columns) else {}


def literal_columns(table: ir.Table) -> dict[str, ir.Value]:
    """Every column of `table` that is one literal (maybe cast) on every row, by name.

    Seen through what keeps a column's values (a filter, a sort, a projection of the column
    itself, dropping other columns, a union whose parts all have the same literal): the
    union of a plan's lines has a literal where no measure sets a trace column (a deal's
    `place`, NULL on every line) and where every measure sets the same one (the program's
    name); a join's own literals too (a roster's empty lines). Anything else (a joined
    table's column, an aggregate, a stored table) is taken to vary."""
    found = _literals(table.op(), {})
    return {name: found[name].to_expr() for name in table.columns if name in found}


_KEEPING = (ops.Filter, ops.Sort, ops.Limit, ops.SelfReference, ops.Distinct)


def _literals(node: ops.Relation, seen: dict) -> dict[str, ops.Value]:
    # (`seen`: a part read by two branches, as a budget's charged and passing lines are,
    # is looked at once)
    if node in seen:
        return seen[node]
    found: dict[str, ops.Value] = {}
    if isinstance(node, ops.Project):
        below = None
        for name, value in node.values.items():
            if _literal(value):
                found[name] = value
            elif isinstance(value, ops.Field) and value.rel == node.parent:
                below = _literals(node.parent, seen) if below is None else below
                if value.name in below:
                    found[name] = below[value.name]
    elif isinstance(node, _KEEPING):
        found = _literals(node.parent, seen)
    elif isinstance(node, ops.JoinChain):  # (its own projection: a roster's empty lines)
        found = {name: value for name, value in node.values.items() if _literal(value)}
    elif isinstance(node, ops.DropColumns):
        found = {name: value for name, value in _literals(node.parent, seen).items()
                 if name in node.schema}
    elif isinstance(node, ops.Union):
        left, right = _literals(node.left, seen), _literals(node.right, seen)
        found = {name: value for name, value in left.items()
                 if name in right and right[name].equals(value)}
    seen[node] = found
    return found


@dataclass
class BlockResult:
    lines: ir.Table | None = None
    evaluations: ir.Table | None = None
    credits: ir.Table | None = None
    titles: ir.Table | None = None
    verdicts: ir.Table | None = None  # screening: every record and its verdict, for claims


@dataclass
class Context:
    loaded: LoadedPlan
    tables: dict[str, ir.Table]
    compiler: Compiler
    results: dict[str, BlockResult] = field(default_factory=dict)
    materialize: Any = None  # the caller's (name, table) -> stored table, or None
    # tables several measures read, by what they are (blocks/totals.py: shared totals);
    # None: nothing shared (a partial recalculation narrows each measure on its own)
    shared: dict[str, ir.Table] | None = field(default_factory=dict)
    # `once`'s stored tables, by the expression they store
    stored_once: dict[Any, ir.Table] = field(default_factory=dict)
    # an aggregate's credits (every record it summed) built too: `--credits all`
    # (paymaster.credits); otherwise neither they nor what only they read are built
    aggregate_credits: bool = True
    # claims numbered over narrow rows, the records joined back by their key (for large
    # inputs, where the wide windows spill: duckdb_config.narrow_claims)
    narrow_claims: bool = True

    def stage(self, name: str, table: ir.Table) -> ir.Table:
        """A table several outputs derive from: stored once when the caller allows it."""
        if self.materialize is None or self.compiler.collector:
            return table
        return store_varying(self.materialize, name, table)

    def once(self, table: ir.Table) -> ir.Table:
        """A small table several windows read (natural order's shape check of a column),
        stored once per run and the same stage for every reader: unstored in a partial
        recalculation, where nothing is shared."""
        if self.shared is None:
            return table
        done = self.stored_once
        if table.op() not in done:
            done[table.op()] = self.stage(f"once_{len(done) + 1}", table)
        return done[table.op()]

    def stage_narrow(self, name: str, table: ir.Table, keep: set[str]) -> ir.Table:
        """`stage` with only the columns later steps read: writing and re-reading every
        source column of millions of records costs more than computing the stage."""
        if self.materialize is None or self.compiler.collector:
            return table
        return self.stage(name, table.select(*[c for c in table.columns if c in keep]))

    def reads(self, table: ir.Table, texts: list[Any], names: tuple[str, ...]) -> set[str] | None:
        """The column names plan expressions read when compiled over `table` (of any table
        they touch: a superset is harmless), or None when one does not compile (the real
        build reports it)."""
        scratch = Compiler(self.loaded.source, Collector())
        ns = self.namespace(table, names)
        values = [scratch.compile(text, ns, ()) for text in texts]
        if scratch.collector:
            return None
        return set().union(*(_names_read(value.op()) for value in values))

    @property
    def plan(self) -> Plan:
        return self.loaded.plan

    @property
    def places(self) -> int:
        """The plan currency's minor-unit places: every amount is rounded to these."""
        return minor_units(self.plan.currency)

    def line_schema(self) -> dict[str, Any]:
        """Every line's columns: LINE_SCHEMA and the plan's own trace columns."""
        return line_schema(trace_columns(self.plan))

    # -- expressions
    def namespace(self, table: ir.Table, names: tuple[str, ...] = (), **qualified: Any) -> Namespace:
        scope = self.plan.scope
        groups: dict[str, dict[str, ir.Value]] = {
            "param": self.param_values(table),
            "scope": {"start": ibis.literal(scope.start, type="date"),
                      "end": ibis.literal(scope.end, type="date")},
        }
        period = {
            c[len(PERIOD_PREFIX):]: table[c] for c in table.columns if c.startswith(PERIOD_PREFIX)
        }
        if period:
            groups["period"] = period
        groups.update(qualified)
        return Namespace(table=table, names=names, qualified=groups, tables=self.tables)

    def expr(self, text: Any, ns: Namespace, path: tuple, expect: str | None = None) -> ir.Value:
        return self.compiler.compile(text, ns, path, expect)

    def number(self, value: Any, ns: Namespace, path: tuple) -> ir.Value:
        """A plan number: a literal, or `param.x` / any expression."""
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            return ibis.literal(Decimal(value), type=WIDE)
        try:
            return ibis.literal(Decimal(str(value)), type=WIDE)
        except ArithmeticError:
            return self.expr(value, ns, path, expect="numeric")

    # -- parameters and versions
    def param_values(self, table: ir.Table) -> dict[str, ir.Value]:
        values = {name: literal_value(_plain(v)) for name, v in self.plan.parameters.items()}
        for column in table.columns:
            if column.startswith(PARAM_PREFIX):
                values[column[len(PARAM_PREFIX):]] = table[column]
        return values

    def with_version(self, table: ir.Table, date_column: str | None) -> ir.Table:
        """Attach the version in force on each record's date, and its parameters."""
        if not self.plan.versions or date_column is None:
            return table.mutate(version=ibis.literal("v1"))
        versions = self.versions_table()
        joined = table.left_join(
            versions,
            [
                table[date_column].cast("date") >= versions["__v_from"],
                table[date_column].cast("date") < versions["__v_to"],
            ],
        )
        return joined.drop("__v_from", "__v_to")

    def versions_table(self) -> ir.Table:
        plan = self.plan
        rows = []
        current = dict(plan.parameters)
        starts = [FAR_PAST] + [v.effective_from for v in plan.versions]
        ends = [v.effective_from for v in plan.versions] + [FAR_FUTURE]
        labels = ["v1"] + [v.label or f"v{i + 2}" for i, v in enumerate(plan.versions)]
        overrides = [{}] + [v.parameters for v in plan.versions]
        for start, end, label, override in zip(starts, ends, labels, overrides, strict=True):
            current = {**current, **override}
            rows.append({"version": label, "__v_from": start, "__v_to": end,
                         **{PARAM_PREFIX + k: _plain(v) for k, v in current.items()}})
        schema = {"version": "string", "__v_from": "date", "__v_to": "date"}
        for key, value in rows[-1].items():
            if key.startswith(PARAM_PREFIX):
                schema[key] = _dtype(value)
        return memtable({k: [r.get(k) for r in rows] for k in schema}, schema)

    # -- periods
    def with_period(self, table: ir.Table, kind: str, date_column: str | None) -> ir.Table:
        if kind.startswith("column:"):
            return table.mutate(period=table[kind.split(":", 1)[1]].cast("string"))
        if kind == "phases":
            return self._with_phase(table, date_column)
        if date_column is None:
            raise ValueError(f"period '{kind}' needs a `date`")
        day = table[date_column].cast("date")
        return table.mutate(period=period_label(day, kind), __pstart=period_start(day, kind))

    def _with_phase(self, table: ir.Table, date_column: str | None) -> ir.Table:
        phases = self.phases_table()
        day = table[date_column].cast("date")
        joined = table.inner_join(
            phases, [day >= phases[PERIOD_PREFIX + "start"], day <= phases[PERIOD_PREFIX + "end"]]
        )
        return joined.mutate(period=joined[PERIOD_PREFIX + "id"])

    def phases_table(self) -> ir.Table:
        rows = [{PERIOD_PREFIX + k: _plain(v) for k, v in phase.model_dump().items()}
                for phase in self.plan.phases]
        schema = {k: _dtype(v) for k, v in rows[0].items()}
        return memtable({k: [r[k] for r in rows] for k in schema}, schema)

    # -- tables
    def source(self, measure: MeasureBase, path: tuple) -> ir.Table:
        """The measure's source with lookups, fields and filter applied, plus its date."""
        table = self.tables[measure.source]
        names = (measure.source,)
        table = self.apply_lookups(table, measure.lookups, names, path)
        for name, text in measure.fields.items():
            ns = self.namespace(table, names)
            before = len(self.compiler.collector.problems)
            table = table.mutate(**{name: self.expr(text, ns, path + ("fields", name))})
            if len(self.compiler.collector.problems) > before:
                self.compiler.failed.add(name)
        if measure.date is not None:
            ns = self.namespace(table, names)
            table = table.mutate(__date=self.expr(measure.date, ns, path + ("date",), "date").cast("date"))
        if measure.filter is not None:
            ns = self.namespace(table, names)
            table = table.filter(self.expr(measure.filter, ns, path + ("filter",), "boolean"))
        return table

    def in_scope(self, table: ir.Table) -> ir.Table:
        scope = self.plan.scope
        return table.filter(table["__date"].between(scope.start, scope.end))

    def apply_lookups(self, table: ir.Table, lookups: list[Lookup], names: tuple[str, ...] = (),
                      path: tuple = ()) -> ir.Table:
        """Join each lookup; our side of `on` is a column, or an expression over the
        record so far (`period_of(closed_on, 'month')` to meet a monthly FX table)."""
        for n, lookup in enumerate(lookups):
            right = self.tables[lookup.table]
            renamed = {f"__k{i}": right[theirs] for i, theirs in enumerate(lookup.on)}
            renamed.update({lookup.prefix + c: right[c] for c in lookup.columns})
            right = right.select(**renamed)
            computed = {}
            for i, (theirs, ours) in enumerate(lookup.on.items()):
                if ours not in table.columns:
                    at = path + ("lookups", n, "on", theirs)
                    value = self.expr(ours, self.namespace(table, names), at)
                    computed[f"__key{n}_{i}"] = value.cast(right[f"__k{i}"].type())
            table = table.mutate(**computed) if computed else table
            pairs = [(f"__key{n}_{i}" if f"__key{n}_{i}" in computed else o, f"__k{i}")
                     for i, o in enumerate(lookup.on.values())]
            table = join_left(table, right, pairs)
            table = table.drop(*computed) if computed else table
        return table

    def with_calendar(self, table: ir.Table, kind: str, label: str = "period") -> ir.Table:
        """`period.start`, `.end`, `.days`, `.business_days` of the calendar period whose
        label is in column `label`, as columns (read in expressions as period.x)."""
        scope = self.plan.scope
        periods = calendar_periods(kind, scope.start.replace(year=scope.start.year - 1),
                                   scope.end.replace(year=scope.end.year + 1), self.plan.country)
        table = table.drop(*[c for c in table.columns if c.startswith(PERIOD_PREFIX)])
        return join_left(table, periods, [(label, PERIOD_PREFIX + "label")])

    def claimed(self, table: ir.Table, measure: MeasureBase) -> ir.Table:
        """A per-record measure's records once their claims are known (a partial
        recalculation drops here the records it only needed for their claims)."""
        return table

    def stored_claims(self, table: ir.Table, measure: MeasureBase) -> ir.Table | None:
        """A per-record measure's records with the claims an earlier run gave them, when a
        partial recalculation knows they cannot have changed (None: compute them)."""
        return None

    def payee_period(self, table: ir.Table, measure: MeasureBase, path: tuple) -> ir.Table:
        ns = self.namespace(table, (measure.source,))
        payee = self.expr(measure.payee, ns, path + ("payee",)).cast("string")
        table = table.mutate(payee_id=payee)
        table = self.with_period(table, measure.period, "__date" if measure.date else None)
        if measure.period in CALENDAR_KINDS and reads_period(measure):
            table = self.with_calendar(table, measure.period)
        return table


def reads_period(measure: Any) -> bool:
    """Does any expression of the measure read `period.<attribute>`?"""
    return bool(PERIOD_READ.search(json.dumps(measure.model_dump(mode="json"))))


def _names_read(root: ops.Node) -> set[str]:
    """Column names a value reads: its fields, and those inside its EXISTS subqueries,
    without following a field into the table it belongs to (which names every column)."""
    names: set[str] = set()
    todo, seen = [root], set()
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        if isinstance(node, ops.Field):
            names.add(node.name)
        else:
            todo.extend(node.__children__)
    return names


def join_left(left: ir.Table, right: ir.Table, pairs: list[tuple[str, str]]) -> ir.Table:
    """Left join keeping the left's columns, plus the right's non-key columns."""
    joined = left.left_join(right, [left[a] == right[b] for a, b in pairs])
    return joined.drop(*[b for _, b in pairs if b in joined.columns and b not in left.columns])


def union_all(parts: list[ir.Table]) -> ir.Table:
    """The rows of every table of `parts` (at least one), duplicates kept, in their order."""
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def _dtype(value: Any) -> Any:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, Decimal):
        return WIDE
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, list):
        inner = _dtype(value[0]) if value else "string"
        return f"array<{inner}>" if isinstance(inner, str) else "array<decimal(38,10)>"
    return "string"
