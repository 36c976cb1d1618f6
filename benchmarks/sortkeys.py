"""What a narrower sort key saves when DuckDB writes a big output in the files' order.

    python benchmarks/sortkeys.py OUT [--rounds 2] [--json F] [--memory 3GB]

OUT is the folder of a run's Parquet outputs (`paymaster run ... --format parquet`, or
benchmarks/run.py's engine with its outputs kept). Each of its big tables (payouts,
credits) is stored once in a DuckDB database of its own, in the order the stages give
the rows (their source ids ascending, as the generated inputs are), and then written
back to Parquet, alternating, each time with the process's CPU time around it:

- `unsorted`: the rows as stored, no ORDER BY (what the writing costs without a sort);
- `files`: ORDER BY the file's own keys, as `engine/build.py` compiles them;
- `narrow`: the same order on a narrower key: the payee's and the period's (and for
  credits the measure's) rank among their few distinct values, joined on and packed
  into one BIGINT with the date's day number, then the source id (text) and seq;
- `integer`: one integer alone (the stored row number): the least any sort costs with
  this payload, a floor no key of the files' order can go under.

Every variant writes the same rows; `files` and `narrow` the same order (checked).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

KEYS = {  # table: (the file's ORDER BY, columns ranked, packed key)
    "payouts": ("payee_id, period, date, source_id",
                ("payee_id", "period"),
                "((r_payee_id.r::BIGINT << 16) + r_period.r) * 1000000 + coalesce(x.date - DATE '1970-01-01', 999999), "
                "x.source_id"),
    "credits": ("payee_id, period, measure, source_id",
                ("payee_id", "period", "measure"),
                "(r_payee_id.r::BIGINT << 32) + (r_period.r << 16) + r_measure.r, x.source_id"),
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def queries(table: str) -> dict[str, str]:
    order, ranked, packed = KEYS[table]
    ranks = ", ".join(
        f"r_{c} AS (SELECT {c} AS k, dense_rank() OVER (ORDER BY {c})::INTEGER AS r "
        f"FROM (SELECT DISTINCT {c} FROM t))" for c in ranked)
    joins = " ".join(f"JOIN r_{c} ON x.{c} IS NOT DISTINCT FROM r_{c}.k" for c in ranked)
    return {
        "unsorted": "SELECT * EXCLUDE (n) FROM t",
        "files": f"SELECT * EXCLUDE (n) FROM t ORDER BY {order}",
        "narrow": f"WITH {ranks} SELECT x.* EXCLUDE (n) FROM t AS x {joins} ORDER BY {packed}",
        "integer": "SELECT * EXCLUDE (n) FROM t ORDER BY n",
    }


def measure(out: Path, table: str, rounds: int, memory: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="paymaster-sortkeys-") as work:
        con = duckdb.connect(str(Path(work) / "t.db"))
        con.sql(f"SET memory_limit = '{memory}'")
        con.sql(f"CREATE TABLE t AS SELECT *, row_number() OVER () AS n FROM "
                f"read_parquet('{out / f'{table}.parquet'}') ORDER BY source_id")
        rows = con.sql("SELECT count(*) FROM t").fetchall()[0][0]
        asked = queries(table)
        same = con.sql(f"SELECT count(*) FROM (SELECT *, row_number() OVER () AS i FROM "
                       f"({asked['files']})) a JOIN (SELECT *, row_number() OVER () AS i FROM "
                       f"({asked['narrow']})) b ON a.i = b.i AND a.source_id IS NOT DISTINCT "
                       f"FROM b.source_id AND a.payee_id = b.payee_id").fetchall()[0][0]
        timings: dict[str, list[dict]] = {name: [] for name in asked}
        for _ in range(rounds):
            for name, sql in asked.items():
                load = os.getloadavg()[0]
                cpu, wall = _cpu(), time.perf_counter()
                con.sql(f"COPY ({sql}) TO '{Path(work) / 'o.parquet'}' (FORMAT parquet)")
                timings[name].append({"wall": round(time.perf_counter() - wall, 2),
                                      "cpu": round(_cpu() - cpu, 2), "load_average": load})
        con.close()
    return {"rows": rows, "same_order_rows": same, "rounds": timings,
            "median_cpu": {n: statistics.median(r["cpu"] for r in t) for n, t in timings.items()},
            "median_wall": {n: statistics.median(r["wall"] for r in t) for n, t in timings.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="+", help="folders of a run's Parquet outputs")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--memory", default="3GB")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    for out in args.out:
        for table in KEYS:
            if (out / f"{table}.parquet").exists():
                found = measure(out, table, args.rounds, args.memory)
                results[f"{out.name}/{table}"] = found
                print(f"{out.name}/{table}: {found['rows']} rows, CPU s (median) "
                      + ", ".join(f"{n} {s:.2f}" for n, s in found["median_cpu"].items()),
                      flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
