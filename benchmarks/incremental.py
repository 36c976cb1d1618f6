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
order of rows aside), which needs no sorted copies of tables of millions of rows.
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from generate import PROGRAMS, generate  # noqa: E402

from paymaster import incremental  # noqa: E402
from paymaster.changes import CHANGES, Folder  # noqa: E402
from paymaster.runs import calculate  # noqa: E402


def _fingerprints(tables: dict) -> dict[str, tuple]:
    """Per table: its schema, row count and the sum of its rows' hashes (exact values,
    decimals included), computed by DuckDB over the Arrow tables without copying them."""
    con = duckdb.connect()
    found = {}
    for name, table in tables.items():
        con.register("t", table)
        columns = ", ".join(f'"{c}"' for c in table.column_names)
        found[name] = (table.schema, *con.execute(
            f"SELECT count(*), sum(hash({columns})::HUGEINT) FROM t").fetchall()[0])
        con.unregister("t")
    con.close()
    return found


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
    applied = first.tables if args.verify else None
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
            applied = report.delta.apply(applied)
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
    if applied is not None and results:
        got = _fingerprints(applied)
        del applied
        same = got == _fingerprints(calculate(plan, data).tables)
        print(f"verify: first run + every delta == full for every table: {same}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    found = {"program": args.program, "lines": args.lines, "outputs": args.outputs,
             "full_seconds": round(full_seconds, 2), "full_cpu_seconds": round(full_cpu, 2),
             "full_load_average": full_load, "first_seconds": round(first_seconds, 2),
             "peak_gib": round(peak, 2), "load_average": list(os.getloadavg()),
             "changes": results}
    print(json.dumps(found))
    if args.json:
        args.json.write_text(json.dumps(found, indent=1) + "\n")


if __name__ == "__main__":
    main()
