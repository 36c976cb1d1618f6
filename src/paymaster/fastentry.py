"""The fast path's entry (fastrun.py), written after a full `paymaster run` of a plan
whose SQL is in the SQL cache: the same SQL, in a form DuckDB runs without pyarrow, the
plan's models or the command line's framework.

Written only when every part of the run has a plain form (CSV inputs, outputs DuckDB
writes itself, in-memory tables of plain columns); otherwise there is no entry and every
run takes the full path. Rewritten when an input's header is not the one the entry was
made for; an edited plan or engine has another key (cachefiles.plan_key).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa

from paymaster import asof, cachefiles, duckdb_config, fastrun, runcache
from paymaster.backends import sqlcache
from paymaster.backends.duckstages import cache_key
from paymaster.digests import file_sha256
from paymaster.errors import PaymasterError
from paymaster.datafiles import find_files, load_folder, read_raw, typed_columns
from paymaster.inputchecks import raw_types
from paymaster.money import minor_units
from paymaster.outputs import copy_statement, csv_header
from paymaster.sqlnames import literal, quote

# The columns a plan's in-memory table may have in an entry: values JSON can carry, or a
# list of them (a period's evaluation dates).
_PLAIN = re.compile(r"(VARCHAR|BIGINT|INTEGER|SMALLINT|HUGEINT|BOOLEAN|DOUBLE|DATE|TIMESTAMP"
                    r"|DECIMAL\(\d+,\d+\))(\[\])?")
_SENTINEL = Path("/fast-entry-output-path")
# The outputs a fast run keeps as tables while it writes them: the effect (printed, then
# written) and the payout lines (written, then counted for the printed figures).
KEPT = {"payouts": "__fast_payouts", "effect": "__fast_effect"}
INERT = "__fast_inert"  # the macro of a CSV cell made inert (_inert_cell)


def record(plan: Path, data: Path, fmt: str, choice: str) -> None:
    """After a full run of `plan` on `data` in `fmt` with the credits `choice`
    (paymaster.credits): its fast entry, unless it has one
    for these inputs' headers already (or the run has no plain form). A cache that cannot
    be written, or input that changed since the run read it, leaves no entry: the run's
    outputs stand, and the next run takes the full path (and says what is wrong)."""
    try:
        _record(plan, data, fmt, choice)
    except (OSError, duckdb.Error, PaymasterError):
        return


def _record(plan: Path, data: Path, fmt: str, choice: str) -> None:
    where = cachefiles.kind_folder("fast")
    key = fastrun.entry_key(plan, fmt, choice)
    if where is None or key is None or fmt != "csv":
        return
    cached = runcache.load_plan(plan)  # (from the run cache: the full run just kept it)
    spec = cached.loaded.plan
    files = find_files(spec, data)
    if cached.digest is None or any(f.path is None or f.path.suffix != ".csv" for f in files):
        return
    if sum(f.path.stat().st_size for f in files) > fastrun.MAX_INPUT_BYTES:
        return  # (the fast path takes no such run: hashing and reading it all again is waste)
    known = fastrun.read_entry(key)
    if known is not None and known.get("clocks") and (
            dt.date.today().isoformat() not in known.get("schedule", {})):
        known = None  # (its as-of days run out: made again, with today's schedule)
    digests = {f.table: file_sha256(f.path) for f in files}
    if known is not None and known.get("recorded") == digests:
        return  # (made from these very files: nothing to read)
    con = duckdb.connect(config=duckdb_config.config())
    try:
        tables = [_table(con, spec.inputs[f.table], f.table, f.path) for f in files]
        if known is not None and [t["header"] for t in known["tables"]] == [
                t["header"] for t in tables]:
            return
        for f in files:
            con.execute(f"DROP TABLE {quote('raw_' + f.table)}")
        verdicts = runcache.Verdicts(cached.digest, {f.table: f.path for f in files})
        load_folder(spec, data, con, verdicts=verdicts)
        names = list(spec.inputs) + asof.register(con, spec, None)  # (as the full path: runs.py)
        entry = sqlcache.load(cache_key(con, cached.digest, names, choice))
        compact = None if entry is None else _compact(con, entry)
    finally:
        con.close()
    if compact is None:
        return
    budget = spec.annual_budget
    clocks = asof.clocks(spec)
    compact.update(format=fastrun.FORMAT, plan_digest=cached.digest, tables=tables,
                   recorded=digests,
                   program=spec.program, currency=spec.currency,
                   places=minor_units(spec.currency),
                   clocks=clocks,  # (the run table's: fastrun makes it each run)
                   schedule=asof.schedule(clocks, dt.date.today()) if clocks else {},
                   budget=str(budget) if budget else None)
    cachefiles.write(where, key, json.dumps(compact).encode())


def _table(con: duckdb.DuckDBPyConnection, spec, name: str, path: Path) -> dict:
    """An input table as the fast path loads it: the header it expects, and the statement
    that types it (datafiles.load_typed's, for a CSV file)."""
    raw = f"raw_{name}"
    read_raw(con, path, raw)
    types = raw_types(con, raw)
    typed = (f"CREATE OR REPLACE TEMP TABLE {quote(name)} AS SELECT __line, "
             f"{typed_columns(spec, types)} FROM {quote(raw)}")
    return {"name": name, "header": list(types), "typed": typed}


def _compact(con: duckdb.DuckDBPyConnection, entry: sqlcache.Entry) -> dict | None:
    memtables = {}
    for name, table in entry.memtables.items():
        con.register(name, table)
        columns = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {quote(name)}").fetchall()]
        if not all(_PLAIN.fullmatch(t.replace(" ", "")) for _c, t in columns):
            return None
        rows = con.execute(f"SELECT * FROM {quote(name)}").fetchall()
        memtables[name] = {"columns": columns, "rows": [[_tagged(v) for v in r] for r in rows]}
    if not {"payouts", "effect"} <= set(entry.outputs) or "totals" not in entry.figures:
        return None
    outputs = []
    inert = _inert_cell()
    for name, output in entry.outputs.items():
        schema = sqlcache.schema_of(output["arrow"])
        item = {"name": name, "header": csv_header(schema)}
        source = output["sql"]
        if name in KEPT:  # (its rows once, as a table: the figures and the file read it)
            item["keep"] = f"CREATE TEMP TABLE {quote(KEPT[name])} AS {source}"
            source = f"SELECT * FROM {quote(KEPT[name])}"
        statement = copy_statement(source, schema, _SENTINEL, "csv")
        if statement is not None and inert is not None:
            for field in schema:
                value = f"CAST(q.{quote(field.name)} AS VARCHAR)"
                statement = statement.replace(inert[1](value), f"{INERT}({value})")
        item["copy"] = None if statement is None else statement.split(literal(str(_SENTINEL)))
        if item["copy"] is None or len(item["copy"]) != 2:
            return None
        outputs.append(item)
    effect = [(f.name, _sql_type(f.type)) for f in sqlcache.schema_of(
        entry.outputs["effect"]["arrow"])]
    total = sqlcache.schema_of(entry.figures["totals"]["arrow"]).field("total").type
    if any(t is None for _c, t in effect) or _sql_type(total) is None:
        return None
    return {"memtables": memtables, "outputs": outputs, "effect": effect,
            "macros": [] if inert is None else [inert[0]],
            "total": _sql_type(total), "stages": [
                {"name": s["name"], "statements": s["statements"]} for s in entry.stages]}


def _inert_cell() -> tuple[str, Callable[[str], str]] | None:
    """A CSV output's text cell made inert (outputs.copy_statement's expression, the same
    for every text column) as one macro, and the expression it stands for, given a
    column's value: a COPY naming the macro once per column is a fifth of the text DuckDB
    parses (parsing the repeated expression was half of writing an example's outputs).
    None when the expression cannot be found in copy_statement's text."""
    probe = copy_statement("SELECT 1", pa.schema([("v", pa.string())]), _SENTINEL, "csv")
    value = 'CAST(q."v" AS VARCHAR)'
    start, end = "COPY (SELECT ", ' AS "v" FROM (SELECT 1) AS q)'
    if probe is None or not probe.startswith(start) or end not in probe:
        return None
    template = probe[len(start):probe.index(end)]
    if value not in template:
        return None
    return (f"CREATE TEMP MACRO {INERT}(v) AS {template.replace(value, 'v')}",
            lambda column: template.replace(value, column))


def _tagged(value):
    if isinstance(value, list):
        return {"list": [_tagged(v) for v in value]}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    return value


def _sql_type(arrow: pa.DataType) -> str | None:
    """The DuckDB type a printed figure is fetched as (the full path casts DuckDB's Arrow
    to the compiled run's types; the fast path casts in SQL)."""
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return "VARCHAR"
    if pa.types.is_decimal128(arrow):
        return f"DECIMAL({arrow.precision}, {arrow.scale})"
    return {pa.bool_(): "BOOLEAN", pa.int64(): "BIGINT", pa.int32(): "INTEGER",
            pa.date32(): "DATE", pa.float64(): "DOUBLE"}.get(arrow)
