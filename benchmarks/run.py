"""Benchmark harness: each program's full calculation against the physical floor, in one run.

    python benchmarks/run.py --lines 1000000 [--programs generuj-leady sales-team]
                             [--reference-lines 100000] [--work /tmp/paymaster-bench]

For each program it generates (or reuses) seeded Parquet input, then measures, side by
side: DuckDB scanning the transaction table once (SUM of the amount GROUP BY payee: the
floor), the full calculation with traces (`paymaster.runs.calculate`), and, when a
per-record Python reference exists in benchmarks/reference/, that reference on a
smaller slice, extrapolated linearly. It prints each as a ratio to the floor, with peak
memory (each measurement runs in a fresh process so peaks do not mix).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
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


def measure(kind: str, program: str, data: Path) -> dict:
    """Run one measurement in a child process; returns seconds and peak memory."""
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import run; run._child({kind!r}, {program!r}, {str(data)!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child(kind: str, program: str, data: str) -> None:
    started = time.perf_counter()
    if kind == "floor":
        import duckdb

        table, payee, amount = FLOOR[program]
        duckdb.sql(f"SELECT {payee}, SUM({amount}) FROM read_parquet('{data}/{table}.parquet') "
                   f"GROUP BY {payee}").fetchall()
    elif kind == "engine":
        from paymaster.runs import calculate

        calculate(ROOT / "examples" / program / "plan.yaml", Path(data))
    else:
        import importlib

        sys.path.insert(0, str(HERE / "reference"))
        module = importlib.import_module(REFERENCE[program])
        module.run(Path(data))
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib}))


def csv_copy(parquet: Path, out: Path) -> Path:
    """The references read CSV; write the Parquet slice as CSV for them."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    for file in parquet.glob("*.parquet"):
        pacsv.write_csv(pq.read_table(file), out / f"{file.stem}.csv")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--reference-lines", type=int, default=0,
                        help="lines for the per-record reference (0: skip it)")
    parser.add_argument("--programs", nargs="*", default=list(PROGRAMS))
    parser.add_argument("--work", type=Path, default=Path("/tmp/paymaster-bench"))
    args = parser.parse_args()
    rows = []
    for program in args.programs:
        data = args.work / f"{program}-{args.lines}"
        if not data.exists():
            generate(program, args.lines, data)
        floor = measure("floor", program, data)
        engine = measure("engine", program, data)
        row = {"program": program, "lines": args.lines, "floor": floor, "engine": engine}
        if args.reference_lines and (HERE / "reference" / f"{REFERENCE[program]}.py").exists():
            small = args.work / f"{program}-{args.reference_lines}"
            if not small.exists():
                generate(program, args.reference_lines, small)
            reference = measure("reference", program, csv_copy(small, small / "csv"))
            small_engine = measure("engine", program, small)
            row.update(reference=reference, engine_small=small_engine)
        rows.append(row)
        print(_line(row), flush=True)


def _line(row: dict) -> str:
    floor, engine = row["floor"], row["engine"]
    if "error" in floor or "error" in engine:
        return f"{row['program']}: error {floor.get('error') or engine.get('error')}"
    text = (f"{row['program']:22} {row['lines']:>11,} lines  floor {floor['seconds']:7.2f}s  "
            f"engine {engine['seconds']:7.2f}s = {engine['seconds'] / floor['seconds']:6.1f}x floor  "
            f"peak {engine['peak_mib']:,.0f} MiB")
    reference, small = row.get("reference"), row.get("engine_small")
    if reference and small and "error" not in reference and "error" not in small:
        text += (f"  | per-record reference {reference['seconds']:.2f}s vs engine "
                 f"{small['seconds']:.2f}s: engine speed-up {reference['seconds'] / small['seconds']:.1f}x")
    return text


if __name__ == "__main__":
    main()
