"""Run a plan on DuckDB and on Spark and compare every output table to the cent.

    python benchmarks/compare_backends.py --program generuj-leady --lines 1000000
    python benchmarks/compare_backends.py --plan examples/sales-team/plan.yaml \\
        --data examples/sales-team/data

Each table is compared row by row after sorting, Decimals exactly; exits 1 on any
difference and prints both runs' stage timings.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]


def _key(row: dict) -> tuple:
    return tuple((value is None, str(value)) for value in row.values())


def differences(expected: dict[str, pa.Table], actual: dict[str, pa.Table],
                show: int = 3) -> list[str]:
    """What differs between two runs' output tables (empty when they are equal)."""
    found = []
    for name in expected:
        left, right = expected[name], actual.get(name)
        if right is None:
            found.append(f"{name}: missing")
            continue
        if left.schema != right.schema:
            found.append(f"{name}: schema {left.schema} != {right.schema}")
            continue
        rows_left = sorted(left.to_pylist(), key=_key)
        rows_right = sorted(right.to_pylist(), key=_key)
        if len(rows_left) != len(rows_right):
            found.append(f"{name}: {len(rows_left)} rows != {len(rows_right)} rows")
        unequal = [(a, b) for a, b in zip(rows_left, rows_right, strict=False) if a != b]
        for a, b in unequal[:show]:
            found.append(f"{name}: {a} != {b}")
        if len(unequal) > show:
            found.append(f"{name}: ... {len(unequal)} rows differ")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--program", help="generate data for this example program")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--plan", type=Path)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--spark-master", default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from paymaster.runs import calculate

    plan, data = args.plan, args.data
    if args.program:
        import generate

        plan = plan or ROOT / "examples" / args.program / "plan.yaml"
        data = data or generate.generate(args.program, args.lines,
                                         Path(tempfile.mkdtemp(prefix="pm-compare-")))
    runs = {}
    for backend in ("duckdb", "spark"):
        started = time.perf_counter()
        runs[backend] = calculate(plan, data, backend=backend, spark_master=args.spark_master)
        print(f"{backend}: {time.perf_counter() - started:.1f}s {runs[backend].timings}")
    found = differences(runs["duckdb"].tables, runs["spark"].tables)
    for line in found:
        print(line)
    counts = {name: table.num_rows for name, table in runs["duckdb"].tables.items()}
    print("equal to the cent" if not found else f"{len(found)} difference(s)", counts)
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
