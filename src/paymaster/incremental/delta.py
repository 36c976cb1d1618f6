"""The delta of an incremental run: only the output rows that changed.

The state keeps the previous run's output tables (`out_<table>`). After a change, only
the payees whose results may differ are compared (the *candidates*: the payees a measure
recomputed, those whose budget-charged lines or global results (rankings, titles)
changed, those a changed roster row names): their rows are computed from the engine's
outputs (a filter on the payee, which DuckDB pushes down to the stored results' row
groups) and compared with the stored ones as multisets. The payees whose rows differ in
any table are the *changed* payees; the delta holds their new rows (each table is
ordered by payee first, so their row ranges splice into the previous tables exactly,
order included), the rows added and removed, and the new `effect` row. The stored
outputs are updated the same way: only the changed payees' rows are rewritten.
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
from paymaster.sqlnames import quote, quote_all

# The output tables with a payee_id (ordered by it first); `effect` is one row, replaced.
BY_PAYEE = ("payouts", "summary", "titles", "evaluations", "credits")
# What identifies a line across two runs (for `changed`: a removed and an added row with
# the same key are one line changed).
LINE_KEY = ["payee_id", "period", "measure", "source_id"]
LITERAL_MAX = 2000
PAYEES = "__delta_payees"


def out_name(table: str) -> str:
    return f"out_{table}"


@dataclass
class Delta:
    """What an incremental run changed in the output tables.

    `full`: the run was a full one and `rows` holds every table whole. Otherwise `payees`
    are the changed payees, `rows[table]` their new rows (in the table's order),
    `added[table]` / `removed[table]` the rows added and removed (a changed row is in
    both), and `effect` the new effect table."""

    full: bool
    payees: list[str | None] = field(default_factory=list)
    candidates: int = 0  # payees compared
    rows: dict[str, pa.Table] = field(default_factory=dict)
    added: dict[str, pa.Table] = field(default_factory=dict)
    removed: dict[str, pa.Table] = field(default_factory=dict)
    effect: pa.Table | None = None

    def apply(self, previous: dict[str, pa.Table]) -> dict[str, pa.Table]:
        """The previous run's tables with this delta applied: the changed payees' row
        ranges replaced by their new rows (the same rows, in the same order, as a full
        run)."""
        if self.full:
            return dict(self.rows)
        out = {}
        for name, table in previous.items():
            if name == "effect":
                out[name] = self.effect if self.effect is not None else table
            elif name in self.rows:
                out[name] = _splice(table, self.rows[name], self.payees)
            else:
                out[name] = table
        return out

    def payouts_changed(self) -> pa.Table:
        """The changed payees' new summary rows (a payee with no lines left has none)."""
        return self.rows["summary"] if "summary" in self.rows else pa.table({})

    def lines(self) -> dict[str, pa.Table]:
        """Payout lines added (a key not there before), removed (a key gone) and changed
        (the new version of a line whose key stays), with their trace columns."""
        if self.full:
            return {"lines_added": self.rows["payouts"]}
        added, removed = self.added["payouts"], self.removed["payouts"]
        was, now = _keys(removed), _keys(added)
        return {"lines_added": added.filter(pc.invert(pc.is_in(now, value_set=was))),
                "lines_removed": removed.filter(pc.invert(pc.is_in(was, value_set=now))),
                "lines_changed": added.filter(pc.is_in(now, value_set=was))}

    def count(self) -> int:
        """Rows added and removed over every table."""
        return sum(t.num_rows for t in (*self.added.values(), *self.removed.values()))

    def write(self, folder: Path, write_tables) -> list[Path]:
        """OUT/delta/: lines_added, lines_removed, lines_changed, payouts_changed (the
        changed payees' summary rows), and effect."""
        tables = dict(self.lines())
        if not self.full:
            tables["payouts_changed"] = self.payouts_changed()
            if self.effect is not None:
                tables["effect"] = self.effect
        return write_tables(tables, folder)


def _keys(table: pa.Table) -> pa.Array:
    parts = [pc.fill_null(pc.cast(table[c], pa.string()), "\x00") for c in LINE_KEY
             if c in table.column_names]
    return pc.binary_join_element_wise(*parts, "\x1f") if parts else pa.array([], pa.string())


def _splice(table: pa.Table, rows: pa.Table, payees: list[str | None]) -> pa.Table:
    values = pa.array([p for p in payees if p is not None], pa.string())
    gone = pc.is_in(table["payee_id"], value_set=values)
    if None in payees:
        gone = pc.or_kleene(gone, pc.is_null(table["payee_id"]))
    kept = table.filter(pc.invert(pc.fill_null(gone, False)))
    both = pa.concat_tables([kept, rows.cast(kept.schema)])
    # A stable sort on the payee (NULLs last, as DuckDB orders them): each payee's rows
    # come whole from one side, in their own order.
    return both.take(pc.sort_indices(both, [("payee_id", "ascending", "at_end")]))


def store_outputs(con, results: dict[str, pa.Table]) -> None:
    """After a full run: the output tables, for the next run's delta."""
    for name, table in results.items():
        con.register("__out", table)
        con.execute(f"CREATE OR REPLACE TABLE {quote(out_name(name))} AS SELECT * FROM __out")
        con.unregister("__out")


def _member(expr: ir.Table, payees: list[str] | None, backend) -> ir.Table:
    if payees is None:
        return expr
    if len(payees) <= LITERAL_MAX:  # a literal list: a filter the scans apply
        test = expr["payee_id"].isin(payees) if payees else ibis.literal(False)
    else:
        test = expr["payee_id"].isin(backend.table(PAYEES)["v"])
    return expr.filter(test | expr["payee_id"].isnull())


def compute_delta(state, outputs: Outputs, candidates: set[str] | None,
                  say: Progress) -> Delta:
    """Compare the candidates' rows (None: every row) of each output table with the
    stored ones, keep the differences and rewrite the changed payees' stored rows."""
    con, backend = state.con, state.backend
    payees = sorted(candidates) if candidates is not None else None
    con.execute(f"CREATE OR REPLACE TEMP TABLE {quote(PAYEES)} (v VARCHAR)")
    if payees is not None and len(payees) > LITERAL_MAX:
        con.execute(f"INSERT INTO {quote(PAYEES)} SELECT unnest(?)", [payees])
    delta = Delta(full=False, candidates=-1 if payees is None else len(payees))
    new: dict[str, pa.Table] = {}
    changed: set[str | None] = set()
    for name in BY_PAYEE:
        say(f"compare {name}")
        table = new[name] = backend.to_pyarrow(_member(getattr(outputs, name), payees, backend))
        stored = quote(out_name(name))
        where = _where(payees)
        con.register("__new", table)
        columns = quote_all(table.column_names)
        old_rows = f"(SELECT {columns} FROM {stored} WHERE {where})"
        new_rows = f"(SELECT {columns} FROM __new)"
        delta.removed[name] = con.sql(
            f"SELECT * FROM {old_rows} EXCEPT ALL SELECT * FROM {new_rows}",
            params=_params(payees)).to_arrow_table()
        delta.added[name] = con.sql(
            f"SELECT * FROM {new_rows} EXCEPT ALL SELECT * FROM {old_rows}",
            params=_params(payees)).to_arrow_table()
        con.unregister("__new")
        for part in (delta.removed[name], delta.added[name]):
            changed.update(part["payee_id"].to_pylist())
    delta.payees = sorted(changed, key=lambda p: (p is None, p or ""))
    values = pa.array([p for p in delta.payees if p is not None], pa.string())
    for name in BY_PAYEE:
        table = new[name]
        mask = pc.is_in(table["payee_id"], value_set=values)
        if None in changed:
            mask = pc.or_kleene(mask, pc.is_null(table["payee_id"]))
        delta.rows[name] = table.filter(pc.fill_null(mask, False))
        if delta.payees:
            _rewrite(con, name, delta.payees, delta.rows[name])
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


def _params(payees: list[str] | None) -> list[str]:
    return payees if payees is not None and len(payees) <= LITERAL_MAX else []


def _where(payees: list[str] | None) -> str:
    if payees is None:
        return "TRUE"
    if len(payees) > LITERAL_MAX:
        test = f"payee_id IN (SELECT v FROM {quote(PAYEES)})"
    else:
        test = f"payee_id IN ({', '.join('?' * len(payees))})" if payees else "FALSE"
    return f"({test} OR payee_id IS NULL)"


def _rewrite(con, name: str, payees: list[str | None], rows: pa.Table) -> None:
    """The changed payees' stored rows replaced by their new ones."""
    known = [p for p in payees if p is not None]
    stored = quote(out_name(name))
    test = f"payee_id IN (SELECT unnest(?::VARCHAR[]))" if known else "FALSE"
    if None in payees:
        test += " OR payee_id IS NULL"
    con.execute(f"DELETE FROM {stored} WHERE {test}", [known] if known else [])
    con.register("__rows", rows)
    con.execute(f"INSERT INTO {stored} BY NAME SELECT * FROM __rows")
    con.unregister("__rows")
