"""The delta of an incremental run: only the output rows that changed.

The state keeps the previous run's output tables (`out_<table>`). After a change, only
the rows that may differ are compared: those of the *candidates*, whole payees or some
periods of a payee (what a measure recomputed, the payee-periods whose budget-charged
lines or global results (rankings, titles) changed, the payees a changed roster row
names). They are computed from the engine's outputs (a filter on the payee, which DuckDB
pushes down to the stored results' row groups) and compared with the stored ones as
multisets. The (payee, period) pairs with a row added or removed in any table are the
*changed* units; the delta holds their new rows (payouts, titles, evaluations and
credits are ordered by payee and period first, so these row ranges splice into the
previous tables exactly, order included), the rows added and removed, the changed
payees' summary rows (the stored ones plus the lines added, minus those removed: no line
of a payee is read again to total it) and the new `effect` row. The stored outputs are
updated the same way: only the changed rows are rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from paymaster.engine import Outputs
from paymaster.incremental.base import Progress
from paymaster.incremental.state import delete_rows
from paymaster.sqlnames import literal, quote, quote_all

# The output tables by payee and period (each ordered by them first); `summary` is one
# row per payee, `effect` one row.
BY_PERIOD = ("payouts", "titles", "evaluations", "credits")
BY_PAYEE = (*BY_PERIOD, "summary")
# What identifies a line across two runs (for `changed`: a removed and an added row with
# the same key are one line changed).
LINE_KEY = ["payee_id", "period", "measure", "source_id"]
LITERAL_MAX = 2000
SEP = "\x1f"
NUL = "\x00"  # a NULL payee or period in a unit's key (in neither)
WHOLE, UNITS, PAYEES = "__delta_whole", "__delta_units", "__delta_payees"


def out_name(table: str) -> str:
    return f"out_{table}"


@dataclass
class Candidates:
    """The rows that may have changed: every row of `payees`, the rows of `periods`, and
    the rows of a measure (`measures`: measure id -> payees) that recomputed them."""

    payees: set[str] = field(default_factory=set)
    periods: set[tuple[str, str]] = field(default_factory=set)
    measures: dict[str, set[str]] = field(default_factory=dict)

    def units(self) -> list[str]:
        return sorted(unit_key(p, q) for p, q in self.periods if p not in self.payees)

    def everyone(self) -> list[str]:
        return sorted(self.payees | {p for p, _ in self.periods}
                      | {p for found in self.measures.values() for p in found})


def unit_key(payee: str | None, period: str | None) -> str:
    return f"{NUL if payee is None else payee}{SEP}{NUL if period is None else period}"


def payee_key(payee: str | None) -> str:
    return f"{NUL if payee is None else payee}{SEP}"


@dataclass
class Delta:
    """What an incremental run changed in the output tables.

    `full`: the run was a full one and `rows` holds every table whole. Otherwise `units`
    are the changed (payee, period) pairs, `payees` their payees, `rows[table]` their new
    rows (in the table's order; `summary`: the changed payees' rows), `added[table]` /
    `removed[table]` the rows added and removed (a changed row is in both), and `effect`
    the new effect table when it changed."""

    full: bool
    units: list[tuple[str | None, str | None]] = field(default_factory=list)
    payees: list[str | None] = field(default_factory=list)
    candidates: int = 0  # payees compared (-1: all)
    rows: dict[str, pa.Table] = field(default_factory=dict)
    added: dict[str, pa.Table] = field(default_factory=dict)
    removed: dict[str, pa.Table] = field(default_factory=dict)
    effect: pa.Table | None = None

    def apply(self, previous: dict[str, pa.Table]) -> dict[str, pa.Table]:
        """The previous run's tables with this delta applied: the changed row ranges
        replaced by their new rows (the same rows, in the same order, as a full run)."""
        if self.full:
            return dict(self.rows)
        keys = pa.array([unit_key(p, q) for p, q in self.units], pa.string())
        out = {}
        for name, table in previous.items():
            if name == "effect":
                out[name] = self.effect if self.effect is not None else table
            elif name == "summary":
                payees = pa.array([payee_key(p) for p in self.payees], pa.string())
                out[name] = _splice(table, self.rows[name], payees, ["payee_id"])
            elif name in self.rows:
                out[name] = _splice(table, self.rows[name], keys, ["payee_id", "period"])
            else:
                out[name] = table
        return out

    def payouts_changed(self) -> pa.Table:
        """The changed payees' new summary rows (a payee with no lines left has none)."""
        return self.rows["summary"]

    def lines(self) -> dict[str, pa.Table]:
        """Payout lines added (a key not there before), removed (a key gone) and changed
        (the new version of a line whose key stays), with their trace columns."""
        if self.full:
            return {"lines_added": self.rows["payouts"]}
        added, removed = self.added["payouts"], self.removed["payouts"]
        was, now = _keys(removed, LINE_KEY), _keys(added, LINE_KEY)
        return {"lines_added": added.filter(pc.invert(pc.is_in(now, value_set=was))),
                "lines_removed": removed.filter(pc.invert(pc.is_in(was, value_set=now))),
                "lines_changed": added.filter(pc.is_in(now, value_set=was))}

    def write(self, folder: Path, write_tables) -> list[Path]:
        """OUT/delta/: lines_added, lines_removed, lines_changed, payouts_changed (the
        changed payees' summary rows), and effect when it changed."""
        tables = dict(self.lines())
        if not self.full:
            tables["payouts_changed"] = self.payouts_changed()
            if self.effect is not None:
                tables["effect"] = self.effect
        return write_tables(tables, folder)


def _keys(table: pa.Table, columns: list[str]) -> pa.Array:
    """Each row's `columns` as one text, NULL as NUL (`unit_key` for payee and period)."""
    parts = [pc.fill_null(pc.cast(table[c], pa.string()), NUL) for c in columns]
    if table.num_rows == 0:
        return pa.array([], pa.string())
    if len(parts) == 1:
        return pc.binary_join_element_wise(parts[0], pa.scalar("", pa.string()), SEP)
    return pc.binary_join_element_wise(*parts, SEP)


def _splice(table: pa.Table, rows: pa.Table, keys: pa.Array, by: list[str]) -> pa.Table:
    gone = pc.is_in(_keys(table, by), value_set=keys) if table.num_rows else pa.array([], pa.bool_())
    kept = table.filter(pc.invert(gone)) if table.num_rows else table
    both = pa.concat_tables([kept, rows.cast(kept.schema)])
    # A stable sort on the range's columns (NULLs last, as DuckDB orders them): each
    # range's rows come whole from one side, in their own order.
    return both.take(pc.sort_indices(both, [(c, "ascending", "at_end") for c in by]))


def store_outputs(con, results: dict[str, pa.Table]) -> None:
    """After a full run: the output tables, for the next run's delta."""
    for name, table in results.items():
        con.register("__out", table)
        con.execute(f"CREATE OR REPLACE TABLE {quote(out_name(name))} AS SELECT * FROM __out")
        con.unregister("__out")


def _sql_key(by: list[str]) -> str:
    parts = [f"coalesce(CAST({quote(c)} AS VARCHAR), {literal(NUL)})" for c in by]
    return f" || {literal(SEP)} || ".join(parts) if len(by) > 1 else f"{parts[0]} || {literal(SEP)}"


# Temporary tables of the candidates: every payee (a prefilter), whole payees, payee-period
# keys, measure-payee keys, and per table without a measure column its measures' payees.
MEASURES = "__delta_measures"


def _measured(name: str) -> str:
    return f"__delta_of_{name}"


def _in(value: ir.Value, values: list[str], name: str, backend) -> ir.Value:
    """`value` in `values`: a literal list when short (a filter DuckDB pushes below the
    outputs' sort to the scans), else the temporary table `name` holding them."""
    if len(values) <= LITERAL_MAX:
        return value.isin(values) if values else ibis.literal(False)
    return value.isin(backend.table(name)["v"])


def _member(expr: ir.Table, name: str, found: Candidates | None, backend,
            measured: dict[str, list[str]]) -> ir.Table:
    """The candidates' rows of an output table."""
    if found is None:
        return expr
    payee = expr["payee_id"]
    key = payee.fill_null(NUL) + SEP + expr["period"].cast("string").fill_null(NUL)
    test = (_in(payee, sorted(found.payees), WHOLE, backend)
            | _in(key, found.units(), UNITS, backend))
    if "measure" in expr.columns:
        test |= _in(expr["measure"] + SEP + payee, measured[MEASURES], MEASURES, backend)
    else:
        test |= _in(payee, measured[_measured(name)], _measured(name), backend)
    # Conjuncts: each is pushed below the sort on its own (an OR of them would not be).
    first = _in(payee, found.everyone(), PAYEES, backend)
    return expr.filter(first | payee.isnull(), test | payee.isnull())


def _where(name: str, columns: list[str], found: Candidates | None) -> str:
    if found is None:
        return "TRUE"
    tests = [f"payee_id IN (SELECT v FROM {quote(WHOLE)})",
             f"{_sql_key(['payee_id', 'period'])} IN (SELECT v FROM {quote(UNITS)})"]
    if "measure" in columns:
        tests.append(f"measure || {literal(SEP)} || payee_id IN (SELECT v FROM {quote(MEASURES)})")
    else:
        tests.append(f"payee_id IN (SELECT v FROM {quote(_measured(name))})")
    first, _ = _payees_sql(found.everyone())
    return f"({first} OR payee_id IS NULL) AND ({' OR '.join(tests)} OR payee_id IS NULL)"


def _where_params(found: Candidates | None) -> list[str]:
    """The bound values of `_where` (the payees, when listed)."""
    return [] if found is None else _payees_sql(found.everyone())[1]


def _payees_sql(payees: list[str | None]) -> tuple[str, list[str | None]]:
    """SQL true on a row whose `payee_id` is among `payees`, with its bound values: a list
    of values when short (a scan skips the row groups of other payees), else the
    temporary table PAYEES holding them (`_temp`)."""
    if len(payees) > LITERAL_MAX:
        return f"payee_id IN (SELECT v FROM {quote(PAYEES)})", []
    if not payees:
        return "FALSE", []
    return f"payee_id IN ({', '.join('?' * len(payees))})", list(payees)


def _changed_rows(expr: ir.Table, units: list[tuple[str | None, str | None]],
                  payees: list[str | None], backend) -> ir.Table:
    """The rows of the changed units (keys in UNITS) of an output table. Their payees and
    periods first, each a filter of its own: a scan of rows stored by payee and period
    skips the row groups of other payees and of the payees' other periods."""
    payee, period = expr["payee_id"], expr["period"]
    known = [p for p in payees if p is not None]
    first = _in(payee, known, PAYEES, backend)
    periods = sorted({q for _, q in units if q is not None})
    if len(periods) > LITERAL_MAX:  # (the keys below still select them exactly)
        when = ibis.literal(True)
    else:
        when = period.cast("string").isin(periods) if periods else ibis.literal(False)
    if any(q is None for _, q in units):
        when |= period.isnull()
    key = payee.fill_null(NUL) + SEP + period.cast("string").fill_null(NUL)
    return expr.filter(first | payee.isnull(), when, key.isin(backend.table(UNITS)["v"]))


def _temp(con, name: str, values: list[str]) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {quote(name)} (v VARCHAR)")
    if values:
        con.execute(f"INSERT INTO {quote(name)} SELECT unnest(?::VARCHAR[])", [values])


def compute_delta(state, outputs: Outputs, found: Candidates | None, say: Progress) -> Delta:
    """Compare the candidates' rows (None: every row) of each output table with the
    stored ones, keep the differences and rewrite the changed rows of the stored ones."""
    con, backend = state.con, state.backend
    measured: dict[str, list[str]] = {}
    if found is not None:
        _temp(con, PAYEES, found.everyone())
        _temp(con, WHOLE, sorted(found.payees))
        _temp(con, UNITS, found.units())
        measured[MEASURES] = sorted(f"{m}{SEP}{p}" for m, ps in found.measures.items()
                                    for p in ps)
        names = state.names()
        for name in ("titles", "evaluations"):
            measured[_measured(name)] = sorted({p for m, ps in found.measures.items()
                                                if f"st_{m}__{name}" in names for p in ps})
        for name, values in measured.items():
            _temp(con, name, values)
    delta = Delta(full=False, candidates=-1 if found is None else len(found.everyone()))
    fetched: dict[str, pa.Table] = {}
    for name in BY_PERIOD:
        say(f"compare {name}")
        expr = getattr(outputs, name)
        table = fetched[name] = backend.to_pyarrow(_member(expr, name, found, backend, measured))
        where = f"({_where(name, table.column_names, found)})"
        delta.removed[name], delta.added[name] = _differences(
            con, quote(out_name(name)), where, _where_params(found), table)
    units = set()
    for name in BY_PERIOD:
        for part in (delta.removed[name], delta.added[name]):
            units.update(zip(part["payee_id"].to_pylist(), part["period"].to_pylist(),
                             strict=True))
    delta.units = sorted(units, key=lambda u: (u[0] is None, u[0] or "", u[1] is None, u[1] or ""))
    delta.payees = sorted({p for p, _ in units}, key=lambda p: (p is None, p or ""))
    _temp(con, UNITS, [unit_key(p, q) for p, q in delta.units])
    _temp(con, PAYEES, [p for p in delta.payees if p is not None])
    keys = pa.array([unit_key(p, q) for p, q in delta.units], pa.string())
    whole = _covered(found, delta.units)
    for name in BY_PERIOD:
        # The changed units whole (their rows that were no candidates are the same as
        # before, but a unit's rows are given together, in the table's order): when every
        # changed unit was a candidate whole, its rows are among those fetched already.
        say(f"execute {name} of the changed periods")
        expr = getattr(outputs, name)
        if whole or not delta.units:
            table = fetched[name]
            delta.rows[name] = table.filter(pc.is_in(_keys(table, ["payee_id", "period"]),
                                                     value_set=keys))
        else:
            delta.rows[name] = backend.to_pyarrow(_changed_rows(expr, delta.units,
                                                                delta.payees, backend))
        _replace_rows(con, name, delta.removed[name], delta.added[name], delta.payees)
    say("compare summary")
    delta.rows["summary"] = _summary(con, delta)
    if delta.payees:
        _temp(con, UNITS, [payee_key(p) for p in delta.payees])
        _rewrite(con, "summary", delta.rows["summary"], ["payee_id"], delta.payees)
    say("execute effect")
    effect = backend.to_pyarrow(outputs.effect)
    con.register("__new", effect)
    stored = quote(out_name("effect"))
    differs = con.execute(f"SELECT count(*) FROM ((SELECT * FROM {stored} EXCEPT ALL SELECT * "
                          f"FROM __new) UNION ALL (SELECT * FROM __new EXCEPT ALL SELECT * "
                          f"FROM {stored}))").fetchall()[0][0]
    if differs:
        delta.effect = effect
        con.execute(f"CREATE OR REPLACE TABLE {stored} AS SELECT * FROM __new")
    con.unregister("__new")
    return delta


def _differences(con, stored: str, where: str, params: list, table: pa.Table
                 ) -> tuple[pa.Table, pa.Table]:
    """The rows of `stored` meeting `where` (with bound `params`) that are not in `table`,
    and those of `table` not in them, as multisets. The rows are first matched by two
    64-bit hashes of all their values, numbered among equal ones (narrow tables: far
    cheaper than a set difference of rows of 40-odd columns); the few left over on either
    side are then compared exactly, so a row never differs by a hash (two different rows
    of one candidate set would have to collide in both hashes to seem equal: odds about
    n^2/2^128, as for the input rows)."""
    columns = table.column_names
    cols = quote_all(columns)
    ident = f"hash({cols}) AS __h1, hash({quote_all(reversed(columns))}, 1) AS __h2"

    def numbered(rows: str) -> str:
        return (f"SELECT __r, __h1, __h2, row_number() OVER (PARTITION BY __h1, __h2) AS __n "
                f"FROM ({rows})")

    con.register("__new", table.append_column("__i", pa.array(range(table.num_rows), pa.int64())))
    con.execute(f"CREATE OR REPLACE TEMP TABLE __cmp_old AS "
                f"{numbered(f'SELECT rowid AS __r, {ident} FROM {stored} WHERE {where}')}",
                params or None)
    con.execute(f"CREATE OR REPLACE TEMP TABLE __cmp_new AS "
                f"{numbered(f'SELECT __i AS __r, {ident} FROM __new')}")
    differ = "SELECT __r FROM {a} a ANTI JOIN {b} b USING (__h1, __h2, __n)"
    gone = con.sql(f"SELECT {cols} FROM {stored} WHERE {where} AND rowid IN "
                   f"({differ.format(a='__cmp_old', b='__cmp_new')})",
                   params=params or None).to_arrow_table()
    came = con.sql(f"SELECT {cols} FROM __new WHERE __i IN "
                   f"({differ.format(a='__cmp_new', b='__cmp_old')}) ORDER BY __i").to_arrow_table()
    con.unregister("__new")
    con.execute("DROP TABLE __cmp_old; DROP TABLE __cmp_new")
    if not gone.num_rows or not came.num_rows:
        return gone, came
    con.register("__gone", gone)
    con.register("__came", came)
    removed = con.sql("SELECT * FROM __gone EXCEPT ALL SELECT * FROM __came").to_arrow_table()
    added = con.sql("SELECT * FROM __came EXCEPT ALL SELECT * FROM __gone").to_arrow_table()
    con.unregister("__gone")
    con.unregister("__came")
    return removed, added


def _covered(found: Candidates | None, units: list[tuple[str | None, str | None]]) -> bool:
    """Were all rows of each of `units` candidates (a whole payee, a payee-period, or a
    NULL payee: every row of those is fetched), not only a measure's rows of it?"""
    if found is None:
        return True
    periods = set(found.units())
    return all(p is None or p in found.payees or unit_key(p, q) in periods for p, q in units)


def _summary(con, delta: Delta) -> pa.Table:
    """The changed payees' summary rows: their stored rows, plus the payout lines added,
    minus those removed (exact: counts and sums of Decimals)."""
    stored = quote(out_name("summary"))
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = ? AND table_catalog = current_database()",
                             [out_name("summary")]).fetchall())
    con.register("__added", delta.added["payouts"])
    con.register("__removed", delta.removed["payouts"])
    _temp(con, PAYEES, [p for p in delta.payees if p is not None])
    counted = ", ".join([
        "program", "payee_id", "{sign}count(*) AS lines",
        "{sign}sum(CASE WHEN paid THEN 1 ELSE 0 END) AS paid_lines",
        "{sign}sum(CASE WHEN NOT paid THEN 1 ELSE 0 END) AS unpaid_lines",
        "{sign}sum(earned) AS earned", "{sign}sum(amount) AS amount"])
    totals = ", ".join(f"CAST(sum({quote(c)}) AS {types[c]}) AS {quote(c)}"
                       for c in ("lines", "paid_lines", "unpaid_lines", "earned", "amount"))
    table = con.sql(
        f"SELECT program, payee_id, {totals} FROM ("
        f"SELECT program, payee_id, lines, paid_lines, unpaid_lines, earned, amount FROM {stored}"
        f" WHERE payee_id IN (SELECT v FROM {quote(PAYEES)})"
        f" UNION ALL SELECT {counted.format(sign='')} FROM __added GROUP BY ALL"
        f" UNION ALL SELECT {counted.format(sign='-')} FROM __removed GROUP BY ALL)"
        f" GROUP BY program, payee_id HAVING sum(lines) <> 0 ORDER BY payee_id").to_arrow_table()
    con.unregister("__added")
    con.unregister("__removed")
    return table


def _replace_rows(con, name: str, removed: pa.Table, added: pa.Table,
                  payees: list[str | None]) -> None:
    """The stored output `name` (a multiset of rows: only compared, never read in order)
    without the rows `removed` and with those `added`: one corrected line rewrites one
    row, not every row of its payee's period (writing rows is most of the cost)."""
    stored = quote(out_name(name))
    if removed.num_rows:
        first, params = _payees_sql([p for p in payees if p is not None])
        con.register("__removed", removed)
        delete_rows(con, stored, "__removed", f"{first} OR payee_id IS NULL", params)
        con.unregister("__removed")
    if added.num_rows:
        con.register("__rows", added)
        con.execute(f"INSERT INTO {stored} BY NAME SELECT * FROM __rows")
        con.unregister("__rows")


def _rewrite(con, name: str, rows: pa.Table, by: list[str], payees: list[str | None]) -> None:
    """The changed ranges (the keys in UNITS) of a stored output replaced by `rows`. The
    payees first, as bound values: a scan skips the row groups of other payees instead of
    building every row's key."""
    stored = quote(out_name(name))
    first, params = _payees_sql([p for p in payees if p is not None])
    con.execute(f"DELETE FROM {stored} WHERE ({first} OR payee_id IS NULL) AND "
                f"{_sql_key(by)} IN (SELECT v FROM {quote(UNITS)})", params or None)
    con.register("__rows", rows)
    con.execute(f"INSERT INTO {stored} BY NAME SELECT * FROM __rows")
    con.unregister("__rows")
