"""Incremental recalculation against a full run, after each kind of small change, in one run.

    python benchmarks/incremental.py --program sales-team --lines 10000000 \\
                                     [--work /tmp/paymaster-incr] [--verify]

Generates (or reuses) seeded Parquet input with benchmarks/generate.py, copies it to a
working folder, then times in one process: the full run (`paymaster.runs.calculate`), the
first incremental run (a full run that also writes the state), and an incremental run
after each kind of small change of the program (`paymaster.changes.CHANGES`), each as a
ratio to the full run. Each incremental run returns only its delta (`outputs="delta"`;
`--outputs all` fetches every table as well). Each run also reports its CPU seconds (all
threads): on a shared machine they vary less than the wall clock. With --verify, the
first run's tables with every delta applied are compared with a fresh full run, table by
table: same schema, same number of rows and the same sum of row hashes (as multisets: the
order of rows aside). The applied tables are kept as Parquet files and each delta applied
by DuckDB under a memory limit (`Applied`), so at 10M lines the harness holds no table
beside the runs' own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from generate import PROGRAMS, generate  # noqa: E402

from paymaster import incremental  # noqa: E402
from paymaster.changes import CHANGES, Folder  # noqa: E402
from paymaster.runs import calculate  # noqa: E402
from paymaster.sqlnames import quote_all  # noqa: E402


class Applied:
    """The first run's tables with every delta applied so far, kept as Parquet files in
    `folder` (one per table) and updated by DuckDB under a memory limit: at 10M lines the
    tables no longer fit in memory as Arrow beside the runs (the harness was killed at
    18.7 GB applying deltas to sorted Arrow copies). Rows are multisets here, as the
    comparison is: a delta's changed payee-periods are dropped (an anti-join) and its
    new rows appended, in no particular order."""

    def __init__(self, folder: Path, tables: dict):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder = folder
        self.schemas = {}
        for name, table in tables.items():
            self.schemas[name] = table.schema
            pq.write_table(table, self._path(name))
        self.con = duckdb.connect(config={"memory_limit": "1GB", "threads": "2",
                                          "temp_directory": str(folder / "spill")})

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.parquet"

    def _write(self, name: str, sql: str, params: list | None = None) -> None:
        """The rows of `sql` (reading the table's file) as the table's new file, in its
        schema (DuckDB's Arrow types cast back to the run's), batch by batch."""
        new = self.folder / f"{name}.new.parquet"
        reader = self.con.sql(sql, params=params or []).to_arrow_reader(100_000)
        with pq.ParquetWriter(new, self.schemas[name]) as writer:
            for batch in reader:
                writer.write_table(pa.Table.from_batches([batch]).cast(self.schemas[name]))
        new.replace(self._path(name))

    def apply(self, delta) -> None:
        if delta.full:
            for name, table in delta.rows.items():
                self.schemas[name] = table.schema
                pq.write_table(table, self._path(name))
            return
        units = pa.table({"payee": pa.array([p for p, _ in delta.units], pa.string()),
                          "period": pa.array([q for _, q in delta.units], pa.string())})
        payees = pa.table({"payee": pa.array(list(delta.payees), pa.string())})
        self.con.register("units", units)
        self.con.register("payees", payees)
        for name in self.schemas:
            path = str(self._path(name))
            if name == "effect":
                if delta.effect is not None:
                    pq.write_table(delta.effect.cast(self.schemas[name]), path)
                continue
            if name not in delta.rows:
                continue
            self.con.register("rows", delta.rows[name])
            # (payee and period compared as text, NULL equal to NULL: Delta.apply's keys)
            if name == "summary":
                gone = ("SELECT 1 FROM payees u WHERE "
                        "CAST(t.payee_id AS VARCHAR) IS NOT DISTINCT FROM u.payee")
            else:
                gone = ("SELECT 1 FROM units u WHERE "
                        "CAST(t.payee_id AS VARCHAR) IS NOT DISTINCT FROM u.payee "
                        "AND CAST(t.period AS VARCHAR) IS NOT DISTINCT FROM u.period")
            self._write(name, f"SELECT * FROM read_parquet(?) t WHERE NOT EXISTS ({gone}) "
                              "UNION ALL BY NAME SELECT * FROM rows", [path])
            self.con.unregister("rows")
        self.con.unregister("units")
        self.con.unregister("payees")

    def same_as(self, tables: dict) -> dict[str, bool]:
        """Per table: the same schema, number of rows and sum of row hashes (exact values,
        decimals included) as `tables` (a full run's), each written to a file first and
        dropped, so that no two sets of tables are in memory at once."""
        found = {}
        for name in list(tables):
            other = self.folder / f"{name}.full.parquet"
            pq.write_table(tables.pop(name), other)
            mine = self._path(name)
            found[name] = (pq.read_schema(mine) == pq.read_schema(other)
                           and _fingerprint(self.con, mine) == _fingerprint(self.con, other))
            other.unlink()
        return found

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _fingerprint(con, path: Path) -> tuple:
    """A Parquet file's row count and the sum of its rows' hashes (a multiset's digest)."""
    columns = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)",
                                         [str(path)]).fetchall()]
    return con.execute(f"SELECT count(*), sum(hash({quote_all(columns)})::HUGEINT) "
                       "FROM read_parquet(?)",
                       [str(path)]).fetchone()


def _recorder(steps: list[tuple[float, float, str]]):
    """A progress callback noting when each step starts (wall clock and CPU seconds)."""
    return lambda step: steps.append((time.perf_counter(), _cpu(), step))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--program", choices=PROGRAMS, default="sales-team")
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/paymaster-incr"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--changes", nargs="*", help="kinds of change (default: all)")
    parser.add_argument("--verify", action="store_true",
                        help="compare the last incremental result with a fresh full run")
    parser.add_argument("--outputs", choices=("delta", "all"), default="delta",
                        help="what each incremental run returns")
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    parser.add_argument("--steps", action="store_true",
                        help="print each step of an incremental run taking 0.2 s (or 0.1 s CPU) or more")
    args = parser.parse_args()
    plan = ROOT / "examples" / args.program / "plan.yaml"
    base = args.work / f"{args.program}-{args.lines}"
    if not (base / "_done").exists():
        print(f"generating {args.lines:,} lines of {args.program} into {base}", flush=True)
        generate(args.program, args.lines, base, args.seed)
        (base / "_done").write_text("ok")
    data = args.work / f"{args.program}-{args.lines}-current"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(base, data, ignore=shutil.ignore_patterns("_done"))
    state = args.work / f"{args.program}-{args.lines}.state.duckdb"
    state.unlink(missing_ok=True)

    started, cpu = time.perf_counter(), _cpu()
    full = calculate(plan, data)
    full_seconds, full_cpu = time.perf_counter() - started, _cpu() - cpu
    rows = full.tables["payouts"].num_rows
    full_load = list(os.getloadavg())
    print(f"{args.program}, {args.lines:,} lines: full run {full_seconds:.2f} s, "
          f"{full_cpu:.1f} s CPU ({rows:,} payout lines); stages: {full.timings}", flush=True)
    del full

    started = time.perf_counter()
    first, report = incremental.calculate(plan, data, state)
    applied = Applied(args.work / f"{args.program}-{args.lines}-verify",
                      first.tables) if args.verify else None
    del first
    first_seconds = time.perf_counter() - started
    print(f"first incremental run (full + state): {first_seconds:.2f} s "
          f"({first_seconds / full_seconds:.0%} of full)", flush=True)

    folder = Folder(data, seed=args.seed)
    results = []
    for kind, change in CHANGES[args.program].items():
        if args.changes and kind not in args.changes:
            continue
        what = change(folder)
        steps: list[tuple[float, float, str]] = []
        started, cpu = time.perf_counter(), _cpu()
        _, report = incremental.calculate(plan, data, state, progress=_recorder(steps),
                                          outputs=args.outputs)
        seconds, cpu = time.perf_counter() - started, _cpu() - cpu
        steps.append((time.perf_counter(), _cpu(), "end"))
        ratio = seconds / full_seconds
        if applied is not None:
            applied.apply(report.delta)
        delta = {k: v.num_rows for k, v in report.delta.lines().items()}
        timed = [(step, round(after - at, 2), round(cpu_after - cpu_at, 2))
                 for (at, cpu_at, step), (after, cpu_after, _) in zip(steps, steps[1:], strict=False)]
        results.append({"change": kind, "what": what, "seconds": round(seconds, 2),
                        "ratio": round(ratio, 4), "cpu_seconds": round(cpu, 2),
                        "cpu_ratio": round(cpu / full_cpu, 4), "mode": report.mode,
                        "affected": len(report.affected), "payees": report.payees,
                        "delta_payees": len(report.delta.payees), "delta_lines": delta,
                        "stages": report.seconds, "load_average": list(os.getloadavg()),
                        "steps": [list(t) for t in timed if t[1] >= 0.2 or t[2] >= 0.1]})
        print(f"{kind}: {seconds:.2f} s = {ratio:.1%} of full; {cpu:.1f} s CPU = "
              f"{cpu / full_cpu:.1%} of full; {what}", flush=True)
        for line in report.lines():
            print(f"    {line[:160]}")
        print(f"    stages: {report.seconds}", flush=True)
        if args.steps:  # (CPU seconds: on a shared machine the wall clock is mostly waiting)
            print("    steps (wall, CPU): " + ", ".join(
                f"{step} {wall:.1f} s, {cpu:.2f} s CPU" for step, wall, cpu in results[-1]["steps"]),
                flush=True)
    verified = None
    if applied is not None and results:
        tables = calculate(plan, data).tables
        same = applied.same_as(tables)
        del tables
        verified = same
        print(f"verify: first run + every delta == full for every table: "
              f"{all(same.values())} {same}", flush=True)
    if applied is not None:
        applied.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    found = {"program": args.program, "lines": args.lines, "outputs": args.outputs,
             "full_seconds": round(full_seconds, 2), "full_cpu_seconds": round(full_cpu, 2),
             "full_load_average": full_load, "first_seconds": round(first_seconds, 2),
             "peak_gib": round(peak, 2), "load_average": list(os.getloadavg()),
             "verified": verified, "changes": results}
    print(json.dumps(found))
    if args.json:
        args.json.write_text(json.dumps(found, indent=1) + "\n")


if __name__ == "__main__":
    main()
