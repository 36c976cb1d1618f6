"""Interactive latency: `paymaster run` on the three examples, each in a fresh process.

    python benchmarks/latency.py [--rounds 5] [--json benchmarks/results/DATE-latency.json]
                                 [--examples NAME ...] [--runs-only] [--old SRC]
                                 [--no-compiled]

For each example, alternating within each round: the run compiling its plan (the SQL
cache off, PAYMASTER_SQL_CACHE=off) and the run reusing the plan's compiled SQL (a cache
folder warmed by one run first); and, as the floor under both, the interpreter alone and
importing what a run needs, library by library (FLOOR: DuckDB, pyarrow, pydantic with the
plan's models, Typer and Rich, Ibis; `import paymaster.runs`, `import paymaster.cli`).
With --old SRC (the `src` folder of another checkout, e.g. a detached worktree of main),
each round also runs that code's cached `paymaster run` (its own cache folder, warmed the
same way, through its `paymaster` entry point: launch.py where it has one, else the command
line), alternating with this code's: old and new in the same minutes. Each example's
floor is measured beside them: the interpreter, DuckDB's engine module and the example's
CSV files read into tables, with none of the plan's SQL. --no-compiled
leaves out the runs that compile (10-20 s each on a shared machine).
Prints the medians of wall time and of CPU time (user + system: what the run itself costs on a shared
machine) and the load average; --json keeps every round (and the load average at the
end). Target (issue 16): under 0.5 s wall each. Run it with bytecode written (no
PYTHONDONTWRITEBYTECODE), as an installed package is.

Then, in one warm process (imports done, as in a running portal whose registration check
runs the engine on the store's tables), `runs.calculate` on each example again and again,
compiled and cached alternating: what a check or a what-if costs once the server is up.

Then, in the same process, where DuckDB spends a cached run's SQL (`planning`): the stages'
statements and the outputs' queries parsed, planned (EXPLAIN) and run, each apart: for 31
lines of input, parsing and planning the statements cost more than running them.

Last, in a workspace of the Generuj Leady example's master data (benchmarks/registrations.py),
in the same warm process with the SQL cache on: one registration submitted and checked
(`registrations.register`, a new lead each time: export, check, store), the check alone
(the screening run on the exported inputs), and a partner's status page
(`status.payee_status`, from the program's last result while the data is unchanged).
Targets: a check under 50 ms, a status page under 100 ms (p50).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ("generuj-leady", "trade-in-accelerator", "sales-team")
PAYMASTER = Path(sys.executable).parent / "paymaster"


def timed(command: list[str], env: dict[str, str]) -> dict:
    """Wall and CPU seconds of one fresh process."""
    load = os.getloadavg()
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    error = child.stderr.read().decode() if child.stderr else ""
    child.stderr.close()
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{error}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "load_average": load}


# The floor under a cached run, each in a fresh process: the interpreter, then what a run
# imports, library by library (each line includes the ones above it that it names).
FLOOR = {
    "python -c pass": "pass",
    "import _duckdb (the engine module alone)": "import _duckdb",
    "import duckdb": "import duckdb",
    "import duckdb, pyarrow": "import duckdb, pyarrow",
    "import pydantic and the plan's models": "import paymaster.plan",
    "import typer, rich": "import typer, rich.console, rich.table",
    "import ibis, duckdb": "import ibis, duckdb",
    "import paymaster.runs": "import paymaster.runs",
    "import paymaster.cli": "import paymaster.cli",
    "import paymaster.fastrun (a fast run's imports)": "import paymaster.fastrun",
}


# The floor under an example's fast run, in a fresh process: the interpreter, DuckDB's
# engine module, a connection as a small fast run makes it, and the example's CSV files
# read into tables as the fast path reads them (`python FLOOR_READ FOLDER`); no plan SQL.
FLOOR_READ = """
import sys, pathlib, _duckdb
con = _duckdb.connect(config={"threads": "1", "async_threads": "0"})
for i, path in enumerate(sorted(pathlib.Path(sys.argv[1]).glob("*.csv"))):
    con.execute(f"CREATE TEMP TABLE t{i} AS SELECT row_number() OVER () + 1 AS __line, * "
                "FROM read_csv(?, all_varchar = true, header = true)", [str(path)])
con.close()
"""


def planning(examples: list[str], rounds: int) -> dict[str, list[dict]]:
    """Where DuckDB spends a cached run's SQL, in this warm process: each statement parsed
    alone (`extract_statements`), parsed and planned (EXPLAIN: bound, optimized, physical
    plan), and run; the stages' statements and the outputs' and figures' queries apart.
    The SQL cache must hold the examples' entries (`warm` ran first, same folder)."""
    import duckdb

    from paymaster import asof, credits, duckdb_config, runcache
    from paymaster.backends import sqlcache
    from paymaster.backends.duckstages import DuckDBStages, cache_key
    from paymaster.datafiles import find_files, load_folder

    measured: dict[str, list[dict]] = {}
    for example in examples:
        folder = ROOT / "examples" / example
        cached = runcache.load_plan(folder / "plan.yaml")
        for _ in range(rounds):
            con = duckdb.connect(config=duckdb_config.config())
            files = {item.table: item.path for item in find_files(cached.loaded.plan, folder / "data")}
            load_folder(cached.loaded.plan, folder / "data", con,
                        verdicts=runcache.Verdicts(cached.digest, files))
            # (and the run's as-of day, for a plan that depends on it: asof.py)
            names = list(cached.loaded.plan.inputs) + asof.register(con, cached.loaded.plan, None)
            entry = sqlcache.load(cache_key(con, cached.digest, names, credits.DEFAULT))
            if entry is None:
                raise SystemExit(f"{example}: no cached SQL to measure")
            DuckDBStages().bind(con, names)
            for name, table in entry.memtables.items():
                con.register(name, table)
            for name, parts in _split(con, entry).items():
                measured.setdefault(f"{example}: {name}", []).append(parts)
            con.close()
    return measured


def _split(con, entry) -> dict[str, dict]:
    """One cached run's statements on `con` parsed, planned and run, each apart (`planning`)."""
    spent: dict[str, dict] = {}

    def timed_sql(name: str, call) -> None:
        load, wall, cpu = os.getloadavg(), time.perf_counter(), time.process_time()
        call()
        parts = spent.setdefault(name, {"wall": 0.0, "cpu": 0.0, "load_average": load})
        parts["wall"] += time.perf_counter() - wall
        parts["cpu"] += time.process_time() - cpu

    stages = [sql for stage in entry.stages for sql in stage["statements"]]
    queries = [query["sql"] for query in (*entry.outputs.values(), *entry.figures.values())]
    for kind, statements in (("stages", stages), ("outputs and figures", queries)):
        label = f"the {kind} ({len(statements)}, {sum(map(len, statements)) // 1000} KB)"
        for sql in statements:
            timed_sql(f"parse {label}", lambda sql=sql: con.extract_statements(sql))
            if not sql.startswith("CREATE"):  # (EXPLAIN of a CREATE creates nothing)
                timed_sql(f"plan {label}", lambda sql=sql: con.execute(f"EXPLAIN {sql}").fetchall())
            timed_sql(f"run {label}", lambda sql=sql: con.execute(sql).fetchall())
    return spent


def warm(examples: list[str], rounds: int, cache: Path) -> dict[str, list[dict]]:
    """`runs.calculate` in this (warm) process, compiled and cached alternating."""
    from paymaster.backends import sqlcache
    from paymaster.runs import calculate

    measured: dict[str, list[dict]] = {}
    for example in examples:
        folder = ROOT / "examples" / example
        for round_ in range(rounds + 1):
            for mode, setting in (("compiled", "off"), ("cached SQL", str(cache))):
                os.environ[sqlcache.CACHE_ENV] = setting
                load, wall, cpu = os.getloadavg(), time.perf_counter(), time.process_time()
                calculate(folder / "plan.yaml", folder / "data")
                if round_:  # the first round warms the process and the cache
                    measured.setdefault(f"{example}: warm process, {mode}", []).append(
                        {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                         "load_average": load})
    return measured


def workspace_latency(rounds: int, work: Path) -> dict[str, list[dict]]:
    """A registration's submission and check, and a partner's status page, in this warm
    process (module docstring)."""
    import csv

    from registrations import PROGRAM, registrations_file, timer, workspace

    from paymaster.services import registrations as regs
    from paymaster.services import status

    ws = workspace(work / "ws", None, False)
    with registrations_file(work / "regs.csv", rounds + 2).open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    setup = regs.setup(ws, PROGRAM)
    check = regs._Check.of(ws, PROGRAM, setup)
    measured: dict[str, list[dict]] = {}
    timed_call = timer(measured)

    for i, row in enumerate(rows):
        fields = {k: v for k, v in row.items() if k not in ("submitted_at", "decision",
                                                           "decision_reason")}
        reg = timed_call("registration: submitted and checked (register)", lambda fields=fields:
                         regs.register(ws, PROGRAM, fields, actor="bench"))
        with tempfile.TemporaryDirectory() as tmp, ws.store.reading() as session:
            check.export(session, reg, Path(tmp))
            timed_call("registration: the check alone (screening run)",
                       lambda tmp=tmp, reg=reg: check.verdict(Path(tmp), reg))
        if i == 0:  # the first of each warms the process and the cache
            measured.clear()
    partner = rows[0]["partner_id"]
    status.payee_status(ws, PROGRAM, partner)  # the program's result, calculated once
    for _ in range(rounds * 4):
        timed_call("status page: payee_status (warm, data unchanged)",
                   lambda: status.payee_status(ws, PROGRAM, partner))
    ws.close()
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--examples", nargs="*", default=list(EXAMPLES))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--runs-only", action="store_true",
                        help="the fresh processes alone (no warm process, no workspace)")
    parser.add_argument("--no-compiled", action="store_true",
                        help="only the cached runs (no run compiling its plan)")
    parser.add_argument("--old", type=Path, help="the src folder of older code to run "
                        "alternating with this code (its cached runs)")
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="paymaster-latency-") as work:
        cache = Path(work) / "cache"
        plain = {**os.environ, "PAYMASTER_SQL_CACHE": "off"}
        cached = {**os.environ, "PAYMASTER_SQL_CACHE": str(cache)}
        imports = {name: [sys.executable, "-c", code] for name, code in FLOOR.items()}
        commands = {}
        for example in args.examples:
            folder = ROOT / "examples" / example
            run = [str(PAYMASTER), "run", str(folder / "plan.yaml"), "--data", str(folder / "data"),
                   "--out", str(Path(work) / example)]
            if not args.no_compiled:
                commands[f"{example}: compiled"] = (run, plain)
            commands[f"{example}: cached SQL"] = (run, cached)
            timed(run, cached)  # warms the cache
            timed(run, cached)  # (and the fast path's entry, written after a cached run)
            imports[f"{example}: floor (python, _duckdb, its CSVs read, no plan SQL)"] = [
                sys.executable, "-c", FLOOR_READ, str(folder / "data")]
            if args.old:
                old_env = {**os.environ, "PAYMASTER_SQL_CACHE": str(cache) + "-old"}
                # (its `paymaster` entry point: the fast path's launcher where it has one)
                entry = "launch" if (args.old / "paymaster" / "launch.py").exists() else "cli"
                old = [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv.pop(1)); "
                       f"from paymaster.{entry} import main; main()", str(args.old.resolve()),
                       *run[1:-1], str(Path(work) / f"{example}-old")]
                commands[f"{example}: cached SQL, old code"] = (old, old_env)
                timed(old, old_env)
                timed(old, old_env)  # (its fast entry too, as for this code)
        for _ in range(args.rounds):
            for name, command in imports.items():
                runs.setdefault(name, []).append(timed(command, plain))
            for name, (command, env) in commands.items():
                runs.setdefault(name, []).append(timed(command, env))
        if not args.runs_only:
            runs.update(warm(args.examples, args.rounds, Path(work) / "warm-cache"))
            os.environ["PAYMASTER_SQL_CACHE"] = str(Path(work) / "warm-cache")
            runs.update(planning(args.examples, args.rounds))
            runs.update(workspace_latency(args.rounds, Path(work)))
    rows = []
    for name, measured in runs.items():
        wall = statistics.median(m["wall"] for m in measured)
        cpu = statistics.median(m["cpu"] for m in measured)
        load = max(m["load_average"][0] for m in measured)
        rows.append({"name": name, "wall": wall, "cpu": cpu, "load_average_max": load,
                     "rounds": measured,
                     "wall_p90": statistics.quantiles([m["wall"] for m in measured], n=10)[-1]
                     if len(measured) > 1 else wall})
        print(f"{name:40} wall {wall:6.2f} s  cpu {cpu:5.2f} s  (median of {len(measured)}; "
              f"load average up to {load:.1f} on {os.cpu_count()} cores)", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"load_average_at_end": os.getloadavg(),
                                         "cores": os.cpu_count(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
