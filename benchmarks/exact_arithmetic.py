"""What exact division and cut products cost (issue 19): the same run before and after, in
one session, alternating, each in a fresh child process; medians.

    python benchmarks/exact_arithmetic.py --before COMMIT [--lines 1000000]
        [--programs generuj-leady sales-team] [--rounds 3] [--work /tmp/paymaster-exact]

`--before` is the commit whose `src/` is the old engine (extracted with `git archive`
into the work folder); the new engine is this checkout's `src/`. Both run on the same
generated Parquet input with `calculate_into(..., "parquet")`, as `paymaster run` does.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

CHILD = """
import sys, time, tempfile
from pathlib import Path
from paymaster.runs import calculate_into
plan, data = Path(sys.argv[1]), Path(sys.argv[2])
with tempfile.TemporaryDirectory() as out:
    started = time.perf_counter()
    calculate_into(plan, data, Path(out), "parquet")
    print(time.perf_counter() - started)
"""


def _run(src: Path, plan: Path, data: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(plan), str(data)], env=env,
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--programs", nargs="+", default=["generuj-leady"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/paymaster-exact"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    old = args.work / "before"
    if not (old / "src").is_dir():
        old.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before, "src"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    engines = {"before": old / "src", "after": ROOT / "src"}
    report = {"before": args.before, "lines": args.lines, "rounds": args.rounds, "programs": {}}
    for program in args.programs:
        data = args.work / f"{program}-{args.lines}"
        if not data.is_dir():
            generate(program, args.lines, data)
        plan = ROOT / "examples" / program / "plan.yaml"
        times: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.rounds):
            for name, src in engines.items():
                times[name].append(round(_run(src, plan, data), 3))
                print(program, name, times[name][-1], flush=True)
        before, after = statistics.median(times["before"]), statistics.median(times["after"])
        report["programs"][program] = {"seconds": times, "median_before": before,
                                       "median_after": after,
                                       "cost_percent": round(100 * (after - before) / before, 1)}
    report["measured_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
