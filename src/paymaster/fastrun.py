"""`paymaster run` of a plan run before, on input checked before: DuckDB and SQL text alone.

A cached run of an example used to import 0.5-0.6 s of libraries before reading a byte
(pyarrow with numpy, pydantic and the plan's 43 models, Typer and Rich) to execute SQL
the run cache already held. What a hand-written SQL script needs is Python, DuckDB and
the SQL: so does this path. Its entry (written by `fastentry.record` after a full run of
the same plan) holds, in plain JSON, everything such a run does: each input table's
header and the SELECT that types it, the plan's in-memory tables as typed rows, the
stages' statements, each output's COPY around its file's path, the printed figures'
queries, and what the summary prints about the plan (program, currency, budget).

The entry is found by the run cache's key of the plan file (its bytes and path, the plan
limits, the engine's version) and the output format; a run takes this path only when
every input table is known clean by its file's SHA-256 (the run cache's verdicts) and its
header is the one the entry was made for. Anything else is a miss and the full path
runs, from the same argv, before anything is printed or left behind: an option this path
does not handle (`--backend`, `--incremental`, `--explanations`, another format than
CSV, `--help`), an input that is not CSV, a large input, an entry absent, foreign or
torn, or any error while running (the full path then says what is wrong, located).

The output files are the very bytes the full path writes (DuckDB's COPY of the same
queries; the effect's single row too, which the full path writes through Arrow) and the
printed lines the same text (runsummary.py draws the summary for both paths;
tests/test_fastrun.py compares files and lines for the three examples). The connection is sealed as the full path's is: it reads the input files and
writes the staging folder, nothing else. An entry is SQL that runs, so it is trusted
only as the SQL cache is (cachefiles.py, docs/security.md): a private file of this user
in their cache folder whose body matches its hash.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

# DuckDB's engine module itself, which the `duckdb` package re-exports: importing the
# package's Python layer (relations, expressions, types, its version from METADATA) cost
# a fast run 0.1 s of CPU, three times the engine's own import, for nothing it calls.
import _duckdb as duckdb

from paymaster import __version__, asof, cachefiles, credits, duckdb_config
from paymaster.digests import file_sha256, file_state, run_fingerprint
from paymaster.runsummary import summary_text
from paymaster.sqlnames import literal, quote
from paymaster.stageclock import StageClock, StageLines

FORMAT = 3  # 2: the payouts and the effect kept as tables while written; 3: macros
EXTENSIONS = (".csv", ".parquet", ".xlsx")  # datafiles.EXTENSIONS: the first found is read
# Inputs up to this size: a larger run spends its time calculating, not starting, and
# may need what the full path adds (stages on disk, a larger memory limit, its retry).
MAX_INPUT_BYTES = 64 << 20
# Inputs up to this size run on one thread with DuckDB's optimizer off. For an example's
# 31-42 lines, optimizing 50-100 KB of nested stage SQL cost more than it saved (10-15% of
# the run's CPU) and a second thread only its hand-offs; at 3,000 and 30,000 lines (up to
# 4.4 MB of CSV) both settings measured the same CPU as the defaults. The outputs are the
# same: every output is sorted by its own keys (docs/performance.md, seventh round).
SMALL_INPUT_BYTES = 1 << 20
CACHED = "run the plan's compiled SQL (cached)"
MEMTABLE_ROWS = 500  # rows of a plan's in-memory table per INSERT statement


class Miss(Exception):
    """This run is not one the fast path can make: the full path makes it."""


def entry_key(plan: Path, fmt: str, choice: str) -> str | None:
    """The entry of `plan` written as `fmt` with the credits `choice` (paymaster.credits:
    each choice runs its own SQL)."""
    key = cachefiles.plan_key(plan)
    return None if key is None else f"{key}-{fmt}-{choice}"


def read_entry(key: str) -> dict | None:
    where = cachefiles.kind_folder("fast")
    body = None if where is None else cachefiles.read(where, key)
    if body is None:
        return None
    try:
        entry = json.loads(body)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) and entry.get("format") == FORMAT else None


def main(argv: list[str]) -> int | None:
    """`paymaster run ARGV` on the fast path: its exit code, or None for the full path."""
    options = _options(argv)
    if options is None:
        return None
    plan, data, out, fmt, choice = options
    try:
        printed = run(plan, data, out, fmt, choice)
    except Miss:
        return None
    sys.stdout.write(printed)
    sys.stdout.flush()
    return 0


def _options(argv: list[str]) -> tuple[Path, Path, Path, str, str] | None:
    """PLAN --data DIR --out DIR [--format csv] [--credits records|all], in any order;
    anything else (an unknown credits choice too: the full path says what is wrong): None."""
    found: dict[str, str] = {}
    plans: list[str] = []
    args = iter(argv)
    for arg in args:
        name, equals, value = arg.partition("=")
        if name in ("--data", "--out", "--format", "--credits") and name not in found:
            if not equals:
                value = next(args, None)
                if value is None:
                    return None
            found[name] = value
        elif arg.startswith("-") or plans:
            return None
        else:
            plans.append(arg)
    if not plans or "--data" not in found or "--out" not in found:
        return None
    choice = found.get("--credits", credits.DEFAULT)
    if found.get("--format", "csv") != "csv" or choice not in credits.CHOICES \
            or not all((*plans, *found.values())):
        return None
    return Path(plans[0]), Path(found["--data"]), Path(found["--out"]), "csv", choice


def run(plan: Path, data: Path, out: Path, fmt: str, choice: str = credits.DEFAULT) -> str:
    """Run the entry of `plan` on `data` into `out` with the credits `choice`: the text
    `paymaster run` prints. Miss when the entry does not apply; any error is a Miss too,
    with nothing left."""
    clock, said = StageClock(), StageLines()
    key = entry_key(plan, fmt, choice)
    entry = None if key is None else read_entry(key)
    if entry is None or not data.is_dir():
        raise Miss
    files, stats = _input_files(entry, data)
    clock.done("load_plan")
    said("load plan")
    made = [f for f in (out, *out.parents) if not f.exists()]
    staging: Path | None = None
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out))
        day = dt.date.today() if entry.get("clocks") else None  # (as_of: asof.py)
        if day is not None and day.isoformat() not in entry.get("schedule", {}):
            raise Miss  # (a day past the entry's schedule: the full path records a new one)
        figures, rows = _calculate(entry, files, stats, staging, clock, said, day)
        fingerprint = asof.fingerprint(run_fingerprint(plan, files.items()), day)
        clock.done("summarize")
        metadata = {
            "program": entry["program"], "plan": str(plan),
            "plan_sha256": file_sha256(plan), "data": str(data),
            "fingerprint": fingerprint, **({"as_of": day.isoformat()} if day else {}),
            "backend": "duckdb", "credits": choice, "paymaster": __version__,
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "rows": rows, "timings": clock.timings}
        (staging / "run.json").write_text(json.dumps(metadata, indent=2) + "\n",
                                          encoding="utf-8")
        names = [f"{name}.{fmt}" for name in rows] + ["run.json"]
        for name in names:
            shutil.move(str(staging / name), out / name)
    except BaseException as err:
        _remove(staging, made)  # (interrupted too: nothing left behind)
        if isinstance(err, Exception):  # the full path runs instead, and says what is wrong
            raise Miss from err
        raise
    shutil.rmtree(staging, ignore_errors=True)
    said.finish()
    return said.text + summary_text(
        program=entry["program"], currency=entry["currency"], places=entry["places"],
        payees=figures["payees"], lines=figures["lines"], paid=figures["paid"],
        unpaid=figures["unpaid"], total=figures["total"],
        budget=None if entry["budget"] is None else Decimal(entry["budget"]),
        effect=figures["effect"], reasons=figures["reasons"], timings=clock.timings) + (
        f"wrote {len(names) - 1} tables and run.json to {out} (fingerprint {fingerprint})\n")


def _input_files(entry: dict, data: Path) -> tuple[dict[str, Path], dict[str, tuple]]:
    """Each input table's file (the first of its names found, as datafiles.find_files),
    checked clean before by its bytes, and its state when hashed (size, time, inode);
    else Miss."""
    files: dict[str, Path] = {}
    size = 0
    for table in entry["tables"]:
        path = next((p for p in (data / f"{table['name']}{ext}" for ext in EXTENSIONS)
                     if p.is_file()), None)
        if path is None or path.suffix != ".csv":  # (a missing or another kind of file)
            raise Miss
        files[table["name"]] = path
        size += path.stat().st_size
    if size > MAX_INPUT_BYTES or os.environ.get("PAYMASTER_DUCKDB_STAGES", "auto").strip()\
            .lower() not in ("auto", ""):
        raise Miss
    where = cachefiles.kind_folder("verdicts")
    stats = {name: file_state(path) for name, path in files.items()}
    digests = {name: file_sha256(path) for name, path in files.items()}
    marks = [(name, [(name, digests[name])], "table") for name in files]
    marks.append((None, sorted(digests.items()), "references"))
    for _table, states, what in marks:
        mark = cachefiles.verdict_key(entry["plan_digest"], what, states)
        if cachefiles.read(where, mark) != mark.encode():
            raise Miss
    return files, stats


def _calculate(entry: dict, files: dict[str, Path], stats: dict[str, tuple], staging: Path,
               clock: StageClock, said: StageLines,
               day: dt.date | None = None) -> tuple[dict, dict[str, int]]:
    con = _connect(sum(state[0] for state in stats.values()) <= SMALL_INPUT_BYTES)
    try:
        said("read and validate input")
        for table in entry["tables"]:
            raw = quote(f"raw_{table['name']}")
            con.execute(f"CREATE OR REPLACE TEMP TABLE {raw} AS SELECT row_number() OVER () + 1 "
                        f"AS __line, * FROM read_csv({literal(str(files[table['name']]))}, "
                        f"all_varchar = true, header = true)")
            header = [c[0] for c in con.execute(f"SELECT * FROM {raw} LIMIT 0").description]
            if header != ["__line", *table["header"]]:
                raise Miss  # (another shape than the entry's: the full path checks it)
            con.execute(table["typed"])
            con.execute(f"DROP TABLE {raw}")
        if any(file_state(path) != stats[name] for name, path in files.items()):
            raise Miss  # (a file rewritten since its hash: its verdict is not for these bytes)
        duckdb_config.seal(con, files.values(), staging)
        clock.done("read_input")
        for name, memtable in entry["memtables"].items():
            _memtable(con, name, memtable["columns"], memtable["rows"])
        clocks = entry.get("clocks") or []  # (the day as a value, as runs.py)
        asof.create(con, clocks, day, entry["schedule"][day.isoformat()] if clocks else None)
        said(CACHED)
        for stage in entry["stages"]:
            said(f"calculate {stage['name']}")
            with clock.part(f"stage {stage['name']}"):
                for statement in stage["statements"]:
                    con.execute(statement).fetchall()
        clock.done("calculate")
        rows: dict[str, int] = {}
        for macro in entry["macros"]:
            con.execute(macro)
        outputs = {output["name"]: output for output in entry["outputs"]}
        con.execute(outputs["effect"]["keep"])
        effect = _rows(con, '"__fast_effect"', entry["effect"])
        clock.done("effect")
        for output in entry["outputs"]:
            said(f"write {output['name']}")
            with clock.part(f"write {output['name']}"):
                if output["name"] == "payouts":
                    con.execute(output["keep"])
                path = staging / f"{output['name']}.csv"
                before, after = output["copy"]
                count = con.execute(before + literal(str(path)) + after).fetchall()[0][0]
                if count == 0:  # (the header alone, as outputs.Staging.copied writes it)
                    path.write_text(output["header"] + "\n", encoding="utf-8")
                rows[output["name"]] = count
        clock.done("execute")
        said("summarize")
        figures = _figures(con, entry["total"])
        figures["effect"] = effect
        said("close")
        return figures, rows
    finally:
        con.close()


def _connect(small: bool) -> duckdb.DuckDBPyConnection:
    """The run's connection (duckdb_config's settings); for a small input, one thread
    unless told otherwise, no I/O threads and no optimizer (SMALL_INPUT_BYTES)."""
    settings = duckdb_config.config()
    if small:
        settings.setdefault("threads", "1")
        settings["async_threads"] = "0"  # (DuckDB 2.0 starts 8 for asynchronous I/O)
    con = duckdb.connect(config=settings)
    if small:
        con.execute("PRAGMA disable_optimizer")
    return con


def _memtable(con: duckdb.DuckDBPyConnection, name: str, columns: list, rows: list) -> None:
    """A plan's in-memory table from its entry: its rows in one INSERT of bound values,
    each cast to its column's type (a statement per row cost sales-team's 73 rows 0.03 s)."""
    con.execute(f"CREATE TEMP TABLE {quote(name)} ("
                f"{', '.join(f'{quote(c)} {t}' for c, t in columns)})")
    row = "(" + ", ".join(f"CAST(? AS {t})" for _c, t in columns) + ")"
    for start in range(0, len(rows), MEMTABLE_ROWS):
        part = rows[start:start + MEMTABLE_ROWS]
        con.execute(f"INSERT INTO {quote(name)} VALUES {', '.join(row for _ in part)}",
                    [_value(v) for values in part for v in values])


def _rows(con: duckdb.DuckDBPyConnection, source: str, columns: list) -> list[dict]:
    """The rows of `source`, each column cast to the type the full path fetches it in."""
    cast = ", ".join(f"CAST(q.{quote(c)} AS {t}) AS {quote(c)}" for c, t in columns)
    names = [c for c, _t in columns]
    return [dict(zip(names, row, strict=True))
            for row in con.execute(f"SELECT {cast} FROM {source} AS q").fetchall()]


def _figures(con: duckdb.DuckDBPyConnection, total_type: str) -> dict:
    """What `paymaster run` prints about the payout lines: figures.from_file's queries
    over the lines kept while they were written (no line calculated again)."""
    totals = con.execute(
        f"SELECT count(DISTINCT payee_id), count(*), count(*) FILTER (WHERE paid), "
        f"CAST(sum(amount) AS {total_type}) FROM __fast_payouts").fetchall()[0]
    reasons = con.execute("SELECT reason, count(*) AS lines FROM __fast_payouts WHERE NOT paid "
                          "GROUP BY reason ORDER BY lines DESC, reason").fetchall()
    return {"payees": totals[0], "lines": totals[1], "paid": totals[2] or 0,
            "total": totals[3] if totals[3] is not None else Decimal(0),
            "unpaid": sum(lines for _reason, lines in reasons), "reasons": reasons}


def _value(value):
    """A memtable's value as stored by fastentry: tagged where JSON has no type for it."""
    if isinstance(value, dict):
        if "list" in value:
            return [_value(v) for v in value["list"]]
        if "decimal" in value:
            return Decimal(value["decimal"])
        if "date" in value:
            return dt.date.fromisoformat(value["date"])
        if "datetime" in value:
            return dt.datetime.fromisoformat(value["datetime"])
        raise ValueError(f"unknown value {value}")
    return value


def _remove(staging: Path | None, made: list[Path]) -> None:
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)
    for folder in made:  # (deepest first: the folders this run made, while empty)
        if not folder.is_dir() or any(folder.iterdir()):
            break
        folder.rmdir()
