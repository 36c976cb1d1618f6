"""A registration check on a warm connection: the screening's tables loaded once, its
statements prepared once, each check loading only the rows that changed.

A check (services/registrations.py) exports the program's inputs and screens the new
registration against them. Run from scratch, most of its time is opening a DuckDB
connection, loading and typing the exported tables, and planning the screening's SQL
(27 KB for the first stage of Generuj Leady), none of which depends on the new row. So
the process that runs checks (the engine pool's worker under `paymaster serve`, or the
process itself) keeps, per (workspace and program, plan digest, master-data digest), a
connection holding the typed tables, sealed against reading files, with the screening's
cached SQL (backends/sqlcache.py) prepared: its stage tables created empty, their
INSERTs and the evaluations' query as prepared statements, which DuckDB plans once and
re-plans only when the catalog changes (a check changes only rows).

Never stale, by content: the master data (every exported table but the registrations)
is keyed by the SHA-256 of its files, so an edited file is a new state; the plan by its
digest. The registrations' file is compared with the rows the state holds, line by
line: changed, added or removed lines are loaded again (as Arrow, a raw text table, checked as `datafiles.load_folder` checks a file, typed by the same SELECT), so
the state holds exactly the exported file, whatever changed it (this check, another
process, an import). Then, in a transaction rolled back afterwards, the other groups are
deleted where the narrowing is proven (plan/narrowing.py) and worth it (`NARROW_FROM`),
the stages run and the verdicts are read.

Whatever the warm path cannot do exactly as a whole run would (no compiled SQL yet, an
input row that fails a check, a large input whose stages go to disk, a DuckDB error),
it declines (`screened` returns None) and the caller runs the whole check, which gives
the verdict or the error as before; a failed state is dropped. One lock per state: the
portal's threads take turns on its connection.
"""

from __future__ import annotations

import csv
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from paymaster import asof, credits, duckdb_config, runcache
from paymaster.backends import sqlcache
from paymaster.backends.duckstages import cache_key, input_rows, typed
from paymaster.datafiles import InputFile, find_files, load_folder, typed_columns
from paymaster.digests import files_digest
from paymaster.errors import DataError
from paymaster.inputchecks import check_references, check_table, raw_types
from paymaster.plan.model import Plan
from paymaster.plan.narrowing import Narrowing, narrowing
from paymaster.runcache import CachedPlan
from paymaster.sqlnames import quote

ENABLED = True  # False: every check runs whole (benchmarks/registrations.py compares)
MAX_STATES = 8  # programs (and workspaces) kept warm in one process
# Narrowed from this many registrations on: deleting the other groups costs about 6 ms of
# CPU, more than screening a few hundred rows more (the example's 35: 45 ms either way).
NARROW_FROM = 1000
# Our names on the connection match sqlnames.NAME, so quote() writes them without sqlglot
# (a name starting with "__" costs it 4 ms a check in check_table's statements).
EVALUATIONS = "warm_evaluations"  # prepared: the evaluations' query
RAW = "warm_lines"  # the changed lines of the registrations, as read (text)
Row = tuple[str | None, ...]
TYPED = "warm_typed"  # prepared: the changed lines parsed into the source table
_states: OrderedDict[str, _State] = OrderedDict()
_built: dict[str, int] = {}  # name -> states built for it (loaded from the files)
_guard = threading.Lock()


@dataclass
class _State:
    key: tuple
    con: duckdb.DuckDBPyConnection
    header: list[str]
    rows: list[bytes]              # the digests of the source's lines as loaded (line:
                                   # index + 2), not the lines: a large table stays small
    stages: list[str]              # prepared INSERTs of the stages, in order
    schema: pa.Schema              # the evaluations' Arrow types, as the compiled run's
    lock: threading.RLock = field(default_factory=threading.RLock)


def screened(cached: CachedPlan, folder: Path, measure_id: str, subjects: list[str],
             name: str) -> dict[str, tuple[bool, str | None]] | None:
    """(passed, reason) of each subject the screening gave a verdict, as the whole check
    would answer on the exported `folder`; None when the warm path declines (module
    docstring). `name` tells workspaces and programs apart."""
    if cached.digest is None or not ENABLED:
        return None
    plan = cached.loaded.plan
    measure = plan.measure(measure_id)
    files = {item.table: item.path for item in find_files(plan, folder)}
    source = files.get(measure.source)
    if source is None or source.suffix.lower() != ".csv" or plan.inputs[measure.source].checks \
            or RAW in plan.inputs:
        return None
    key = (cached.digest, _master_digest(files, measure.source))
    header, rows = _read(source)
    if header is None:
        return None
    with _guard:
        state = _states.get(name)
        if state is not None:
            _states.move_to_end(name)
    digests = _digests(rows)
    if state is None or state.key != key or state.header != header or _far(state, digests):
        _forget(name, state)
        state = _build(cached, folder, measure.source, files, key, header, digests)
        if state is None:
            return None
        _keep(name, state)
    with state.lock:
        try:
            if not _follow(state, cached, measure.source, source, rows, digests):
                return None
            narrowed = narrowing(plan, measure, subjects) if len(rows) >= NARROW_FROM else None
            return _verdicts(state, narrowed, measure_id, subjects)
        except duckdb.Error:
            # The whole check runs next and reports what went wrong as a run does.
            _forget(name, state)
            return None


def builds(name: str) -> int:
    """How many states were built for `name` (each loading every file): a check that
    reused the warm state built none."""
    with _guard:
        return _built.get(name, 0)


def drop(name: str | None = None) -> None:
    """Close the state `name` (None: every state)."""
    with _guard:
        names = list(_states) if name is None else [name]
        closing = [_states.pop(n) for n in names if n in _states]
    for state in closing:
        _close(state)


def _keep(name: str, state: _State) -> None:
    with _guard:
        closing = [_states.pop(name)] if name in _states else []  # a thread built it too
        _states[name] = state
        _built[name] = _built.get(name, 0) + 1
        while len(_states) > MAX_STATES:
            closing.append(_states.popitem(last=False)[1])
    for old in closing:
        _close(old)


def _forget(name: str, state: _State | None) -> None:
    if state is None:
        return
    with _guard:
        if _states.get(name) is state:
            del _states[name]
    _close(state)


def _close(state: _State) -> None:
    with state.lock:  # (reentrant: a failed check forgets its own state)
        state.con.close()


def _master_digest(files: dict[str, Path | None], source: str) -> str:
    """The master data's files (every input but the screened `source`), by table."""
    return files_digest((table if path is None else f"{table}\0{path.name}", path)
                        for table, path in sorted(files.items()) if table != source)


def _read(path: Path) -> tuple[list[str] | None, list[Row]]:
    """The exported CSV's header and rows, empty cells as NULL (as DuckDB reads them);
    no header when a row's width differs (the whole run reports such a file)."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        rows = [tuple(cell if cell != "" else None for cell in row) for row in reader]
    if header is None or any(len(row) != len(header) for row in rows):
        return None, []
    return header, rows


def _build(cached: CachedPlan, folder: Path, table: str, files: dict[str, Path | None],
           key: tuple, header: list[str], digests: list[bytes]) -> _State | None:
    """Load the folder as a run does and prepare the screening's cached SQL."""
    plan = cached.loaded.plan
    con = duckdb.connect(config=duckdb_config.config())
    try:
        try:
            load_folder(plan, folder, con, verdicts=runcache.Verdicts(cached.digest, files))
        except DataError:
            con.close()
            return None
        # (today's: a check screens undecided registrations, which are never overdue)
        names = list(plan.inputs) + asof.register(con, plan, None)
        views = con.execute("SELECT count(*) FROM duckdb_views() "
                            "WHERE temporary AND NOT internal").fetchall()
        entry = None
        if not views[0][0] and not duckdb_config.stages_on_disk(input_rows(con, names)):
            entry = sqlcache.load(cache_key(con, cached.digest, names,
                                                credits.DEFAULT))
        if entry is None or "evaluations" not in entry.outputs:
            con.close()  # compiled by the whole check, which records it for the next one
            return None
        for memtable, rows_ in entry.memtables.items():
            con.register(memtable, rows_)
        con.register(RAW, _lines(header, [], []))
        duckdb_config.seal(con)  # every table is loaded: no file is read again
        columns = typed_columns(plan.inputs[table], raw_types(con, RAW))
        _prepare(con, TYPED, f"INSERT INTO {quote(table)} SELECT __line, {columns} "
                             f"FROM {quote(RAW)}")
        stages = []
        for stage in entry.stages:
            create, *inserts = stage["statements"]
            if not create.startswith("CREATE TEMP TABLE ") or len(inserts) != 1 \
                    or not inserts[0].startswith("INSERT INTO "):
                con.close()
                return None
            con.execute(create)
            stages.append(_prepare(con, f"warm_stage{len(stages)}", inserts[0]))
        _prepare(con, EVALUATIONS, entry.outputs["evaluations"]["sql"])
        return _State(key, con, header, digests, stages,
                      sqlcache.schema_of(entry.outputs["evaluations"]["arrow"]))
    except BaseException:
        con.close()
        raise


def _prepare(con: duckdb.DuckDBPyConnection, name: str, sql: str) -> str:
    con.execute(f"PREPARE {quote(name)} AS {sql}")
    return name


def _follow(state: _State, cached: CachedPlan, table: str, path: Path, rows: list[Row],
            digests: list[bytes]) -> bool:
    """Bring the state's `table` to the file's `rows`: the changed lines parsed and checked
    as a run checks them. False (the state unchanged) when a changed line fails a check
    (the caller then runs the whole check, which reports it)."""
    changed, removed = _changes(state, digests)
    if not changed and not removed:
        return True
    spec = cached.loaded.plan.inputs[table]
    if spec.key and not _unique(state.header, rows, spec.key):
        return False  # the whole run names the duplicate
    con = state.con
    con.execute("BEGIN TRANSACTION")
    try:
        # The changed lines as Arrow (a view replaced each time: DuckDB binds a prepared
        # statement again on every EXECUTE anyway, so a catalog change costs nothing more).
        con.register(RAW, _lines(state.header, rows, changed))
        if check_table(con, RAW, InputFile(table, path), spec):
            con.execute("ROLLBACK")
            return False
        lines = [i + 2 for i in changed + removed]
        con.execute(f"DELETE FROM {quote(table)} WHERE __line IN "
                    f"(SELECT unnest(?::BIGINT[]))", [lines])
        con.execute(f"EXECUTE {quote(TYPED)}")
        files = [InputFile(t, None) for t in cached.loaded.plan.inputs]
        if check_references(con, _touching(cached.loaded.plan, table), files):
            con.execute("ROLLBACK")
            return False
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    state.rows = digests
    return True


def _lines(header: list[str], rows: list[Row], changed: list[int]) -> pa.Table:
    """The `changed` lines as read from the file: text, and their line numbers."""
    return pa.table([pa.array([i + 2 for i in changed], pa.int64())]
                    + [pa.array([rows[i][c] for i in changed], pa.string())
                       for c in range(len(header))], names=["__line", *header])


def _changes(state: _State, digests: list[bytes]) -> tuple[list[int], list[int]]:
    """The indexes of the changed (or added) lines and of the removed ones."""
    old = state.rows
    changed = [i for i, d in enumerate(digests) if i >= len(old) or old[i] != d]
    return changed, list(range(len(digests), len(old)))


def _far(state: _State, digests: list[bytes]) -> bool:
    """Is the file so changed that loading it whole costs less than following it?"""
    changed, removed = _changes(state, digests)
    return len(changed) + len(removed) > max(64, len(digests) // 4)


def _digests(rows: list[Row]) -> list[bytes]:
    return [hashlib.blake2b(repr(row).encode(), digest_size=16).digest() for row in rows]


def _touching(plan: Plan, table: str) -> Plan:
    """The plan with only the tables whose references a change of `table` can break: it,
    and the tables referring to it (the others were checked when the state was loaded)."""
    inputs = {name: spec for name, spec in plan.inputs.items() if name == table or any(
        (col.references or "").partition(".")[0] == table for col in spec.columns.values())}
    return plan.model_copy(update={"inputs": inputs})


def _unique(header: list[str], rows: list[Row], key: list[str]) -> bool:
    at = [header.index(k) for k in key if k in header]
    seen = {tuple(row[i] for i in at) for row in rows}
    return len(seen) == len(rows)


def _verdicts(state: _State, narrowed: Narrowing | None, measure_id: str,
              subjects: list[str]) -> dict[str, tuple[bool, str | None]]:
    con = state.con
    con.execute("BEGIN TRANSACTION")
    try:
        if narrowed is not None:
            narrowed.apply(con)
        for stage in state.stages:
            con.execute(f"EXECUTE {quote(stage)}")
        table = typed(con.sql(f"EXECUTE {quote(EVALUATIONS)}").to_arrow_table(), state.schema)
    finally:
        con.execute("ROLLBACK")
    wanted = set(subjects)
    return {ev["subject"]: (bool(ev["passed"]), ev["reason"])
            for ev in table.to_pylist()
            if ev["evaluation"] == measure_id and ev["subject"] in wanted}

