"""Benchmark harness: each program's full calculation against the physical floor, in one run.

    python benchmarks/run.py --lines 10000000 [--programs generuj-leady sales-team]
                             [--reference-lines 1000000] [--work /tmp/paymaster-bench]

For each program it generates (or reuses) seeded Parquet input, then measures, side by
side in this one run:

- floor: DuckDB scanning the transaction table once (SUM of the amount GROUP BY payee);
- traced floor: the least a traced result costs: DuckDB writing one Parquet row per
  transaction line with its payee, amount and a one-line explanation, nothing computed
  (a lower bound for any engine that explains every amount, as the issue asks);
- engine: the full run as `paymaster run` makes it (`paymaster.runs.calculate_into`):
  the calculation with traces and every output table streamed to Parquet files in a
  temporary folder, as a ratio to the floor;
- reference (with --reference-lines, 1M by default): the per-record Python reference of
  benchmarks/reference/ (Decimal, loops) on that many lines, read from CSV, against the
  engine on the very same CSV files (so both parse the same text): the engine's speed-up;
  and the traced floor on the same CSV, the most any traced engine could gain on it.

- hand SQL: the programs written by hand in DuckDB SQL, the yardstick outside the project
  (`../shared/anchors/handsql/`, found in a parent folder of the project or named by
  --handsql / PAYMASTER_HANDSQL; skipped with a note when absent), run as its README says
  (`python handsql.py PROGRAM --data DIR --out OUT`, from its folder): the engine's
  time over the hand SQL's, beside the floor ratios.

Then the row "all three": the three floors in one process, the three calculations one
after another in one process, the three references likewise. Every measurement runs in
a fresh child process, so each peak memory (maximum resident set) is its own. With
--rounds N the floor, traced floor, engine and hand SQL are each measured N times,
alternating (floor, traced, engine, hand SQL, floor, ...), and the medians are printed;
every round is kept in the JSON (--json, or --save for benchmarks/results/DATE-...json)
with the load average before each measurement.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from generate import PROGRAMS, generate  # noqa: E402

FLOOR = {  # table, payee column, amount expression
    "generuj-leady": ("sales", "partner_id", "unit_price * licences"),
    "trade-in-accelerator": ("orders", "partner_id", "trade_in_credit"),
    "sales-team": ("sales", "rep_id", "amount"),
}
REFERENCE = {
    "generuj-leady": "generuj_leady",
    "trade-in-accelerator": "trade_in_accelerator",
    "sales-team": "sales_team",
}
TRACE = {  # line id, explanation of the line's amount (the traced floor's one text)
    "generuj-leady": ("sale_id", "format('{} x {} = {}', licences, unit_price, unit_price * licences)"),
    "trade-in-accelerator": ("line_id", "format('credit {}, ordered {}', trade_in_credit, order_date)"),
    "sales-team": ("sale_id", "format('{} sold {} on {}', rep_id, amount, order_date)"),
}
ALL = "all three"
HANDSQL_ENV = "PAYMASTER_HANDSQL"
HANDSQL_PLACE = Path("shared") / "anchors" / "handsql"


def find_handsql(given: Path | None = None) -> Path | None:
    """The hand-SQL yardstick's folder: --handsql, else $PAYMASTER_HANDSQL, else
    shared/anchors/handsql beside the project or beside one of its parent folders (a
    worktree sits deeper than the main checkout); None when it is not there."""
    named = given or (Path(os.environ[HANDSQL_ENV]) if os.environ.get(HANDSQL_ENV) else None)
    if named is not None:
        return named if (named / "handsql.py").is_file() else None
    for parent in ROOT.parents:
        if (parent / HANDSQL_PLACE / "handsql.py").is_file():
            return parent / HANDSQL_PLACE
    return None


def measure(kind: str, programs: list[str], folders: list[Path], handsql: Path | None = None) -> dict:
    """Run one measurement in a child process; returns seconds, peak memory and the
    load average just before it."""
    load = os.getloadavg()
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import run; "
            f"run._child({kind!r}, {programs!r}, {[str(f) for f in folders]!r}, "
            f"{str(handsql) if handsql else None!r})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed",
                "load_average": load}
    # (DuckDB's progress bar, on a long query, may share the child's last line)
    return {**json.loads(done.stdout[done.stdout.rindex('{"seconds"'):]), "load_average": load}


def _handsql(folder: str, program: str, data: str) -> None:
    """The hand SQL as its README runs it: from its own folder, a process of its own (its
    peak memory is then this child's RUSAGE_CHILDREN). With `--tables all` it writes the
    tables the engine's run writes (evaluations and credits too), so both do the same work."""
    with tempfile.TemporaryDirectory(prefix="paymaster-handsql-") as out:
        subprocess.run([sys.executable, "handsql.py", program, "--data", str(Path(data).resolve()),
                        "--out", out, "--quiet", "--tables", "all"], cwd=folder, check=True)


def _child(kind: str, programs: list[str], folders: list[str], handsql: str | None = None) -> None:
    """One measurement: `kind` for each program on its folder, one after another."""
    started = time.perf_counter()
    stages: dict[str, float] = {}
    for program, data in zip(programs, folders, strict=True):
        if kind == "floor":
            import duckdb

            table, payee, amount = FLOOR[program]
            duckdb.connect().sql(
                f"SELECT {payee}, SUM({amount}) FROM read_parquet('{data}/{table}.parquet') "
                f"GROUP BY {payee}").fetchall()
        elif kind == "traced":
            import duckdb

            table, payee, amount = FLOOR[program]
            line, explanation = TRACE[program]
            # The reference's CSV copy is read as CSV: the same text the reference parses.
            source = (f"read_parquet('{data}/{table}.parquet')" if Path(data, f"{table}.parquet").exists()
                      else f"read_csv('{data}/{table}.csv')")
            with tempfile.TemporaryDirectory(prefix="paymaster-bench-") as out:
                duckdb.connect().sql(
                    f"COPY (SELECT {line}, {payee}, {amount} AS amount, {explanation} AS explanation "
                    f"FROM {source}) TO '{out}/lines.parquet'")
        elif kind == "engine":
            from paymaster.runs import calculate_into

            # The outputs are written, not kept: a user's run holds a batch of rows at a
            # time, and so must its measurement (the files go with the folder).
            with tempfile.TemporaryDirectory(prefix="paymaster-bench-") as out:
                result = calculate_into(ROOT / "examples" / program / "plan.yaml", Path(data),
                                        Path(out), "parquet")
            for name, seconds in result.timings.items():
                stages[f"{program}: {name}"] = seconds
        elif kind == "handsql":
            _handsql(handsql, program, data)
        else:
            import importlib

            sys.path.insert(0, str(HERE / "reference"))
            importlib.import_module(REFERENCE[program]).run(Path(data))
    seconds = time.perf_counter() - started
    peak_mib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib, "stages": stages}))


def csv_copy(parquet: Path, out: Path) -> Path:
    """The references read CSV; write the Parquet input as CSV for them (once)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    done = out / ".complete"
    if done.exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    for file in parquet.glob("*.parquet"):
        pacsv.write_csv(pq.read_table(file), out / f"{file.stem}.csv")
    done.touch()
    return out


def dataset(work: Path, program: str, lines: int) -> Path:
    """Generated input, reused when a previous run completed it."""
    data = work / f"{program}-{lines}"
    if not (data / ".complete").exists():
        generate(program, lines, data)
        (data / ".complete").touch()
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--reference-lines", type=int, default=1_000_000,
                        help="lines for the per-record reference comparison (0: skip it)")
    parser.add_argument("--programs", nargs="*", default=list(PROGRAMS))
    parser.add_argument("--work", type=Path, default=Path("/tmp/paymaster-bench"))
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    parser.add_argument("--save", action="store_true",
                        help="also write every measurement to benchmarks/results/DATE-LINES-handsql.json")
    parser.add_argument("--no-all", action="store_true", help="skip the 'all three' row")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure floor, traced floor, engine and hand SQL this many times, "
                             "alternating; print the medians")
    parser.add_argument("--handsql", type=Path, help=f"the hand-SQL folder (default: ${HANDSQL_ENV}, "
                        f"else {HANDSQL_PLACE} in a parent folder of the project)")
    args = parser.parse_args()
    handsql = find_handsql(args.handsql)
    if handsql is None:
        print(f"note: no hand SQL found ({args.handsql or os.environ.get(HANDSQL_ENV) or HANDSQL_PLACE}"
              "): its comparison is skipped", flush=True)
    if args.save and not args.json:
        args.json = HERE / "results" / f"{datetime.date.today()}-{_size(args.lines)}-handsql.json"
    rows = []
    folders = {p: dataset(args.work, p, args.lines) for p in args.programs}
    small = {}
    if args.reference_lines:
        small = {p: csv_copy(dataset(args.work, p, args.reference_lines),
                             args.work / f"{p}-{args.reference_lines}-csv")
                 for p in args.programs}
    groups = [[p] for p in args.programs]
    if len(args.programs) > 1 and not args.no_all:
        groups.append(list(args.programs))
    kinds = ["floor", "traced", "engine"] + (["handsql"] if handsql else [])
    for group in groups:
        name = group[0] if len(group) == 1 else ALL
        rounds: dict[str, list[dict]] = {kind: [] for kind in kinds}
        for _ in range(max(1, args.rounds)):
            for kind in kinds:  # alternating: each round measures every kind once
                rounds[kind].append(measure(kind, group, [folders[p] for p in group], handsql))
        row = {"program": name, "lines": args.lines, "nproc": os.cpu_count(),
               **{kind: _median(runs) for kind, runs in rounds.items()}}
        if args.rounds > 1:
            row["rounds"] = rounds
        if small:
            row["reference_lines"] = args.reference_lines
            row["reference"] = measure("reference", group, [small[p] for p in group])
            row["engine_small"] = measure("engine", group, [small[p] for p in group])
            row["traced_small"] = measure("traced", group, [small[p] for p in group])
        rows.append(row)
        print(_line(row), flush=True)
        if args.json:  # after every row: a long run that is stopped keeps what it measured
            args.json.write_text(json.dumps(rows, indent=1))


def _size(lines: int) -> str:
    for unit, name in ((1_000_000, "m"), (1_000, "k")):
        if lines >= unit and lines % unit == 0:
            return f"{lines // unit}{name}"
    return str(lines)


def _median(runs: list[dict]) -> dict:
    """The run of median time (an actual run, so its peak and stages go with it); an
    error when any round failed."""
    failed = [r for r in runs if "error" in r]
    if failed:
        return failed[0]
    if len(runs) == 1:
        return runs[0]
    ordered = sorted(runs, key=lambda r: r["seconds"])
    middle = ordered[(len(ordered) - 1) // 2]
    return {**middle, "seconds": statistics.median(r["seconds"] for r in runs),
            "load_average": [max(r["load_average"][i] for r in runs) for i in range(3)]}


def _line(row: dict) -> str:
    floor, engine = row["floor"], row["engine"]
    if "error" in floor or "error" in engine:
        return f"{row['program']}: error {floor.get('error') or engine.get('error')}"
    text = (f"{row['program']:22} {row['lines']:>11,} lines  floor {floor['seconds']:7.2f}s  "
            f"engine {engine['seconds']:7.2f}s = {engine['seconds'] / floor['seconds']:6.1f}x floor  "
            f"peak {engine['peak_mib']:,.0f} MiB")
    traced = row.get("traced")
    if traced and "error" not in traced:
        text += (f"  | traced floor {traced['seconds']:.2f}s = "
                 f"{traced['seconds'] / floor['seconds']:.1f}x floor, "
                 f"engine {engine['seconds'] / traced['seconds']:.1f}x traced floor")
    elif traced:
        text += f"  | traced floor: error {traced['error']}"
    hand = row.get("handsql")
    if hand and "error" not in hand:
        text += (f"  | hand SQL {hand['seconds']:.2f}s (peak {hand['peak_mib']:,.0f} MiB): "
                 f"engine {engine['seconds'] / hand['seconds']:.2f}x hand SQL")
    elif hand:
        text += f"  | hand SQL: error {hand['error']}"
    load = engine.get("load_average")
    if load:
        text += f"  | load {load[0]:.1f}"
    reference, small = row.get("reference"), row.get("engine_small")
    if reference and small:
        if "error" in reference or "error" in small:
            text += f"  | reference: error {reference.get('error') or small.get('error')}"
        else:
            text += (f"  | at {row['reference_lines']:,} lines (CSV): per-record reference "
                     f"{reference['seconds']:.2f}s (peak {reference['peak_mib']:,.0f} MiB) vs engine "
                     f"{small['seconds']:.2f}s (peak {small['peak_mib']:,.0f} MiB): "
                     f"engine speed-up {reference['seconds'] / small['seconds']:.1f}x")
        traced_small = row.get("traced_small")
        if traced_small and "error" not in traced_small:
            # No engine that explains every line can beat the reference by more than this.
            text += (f"; traced floor on the CSV {traced_small['seconds']:.2f}s = at most "
                     f"{reference['seconds'] / traced_small['seconds']:.1f}x speed-up")
    return text


if __name__ == "__main__":
    main()
