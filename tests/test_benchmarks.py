"""The benchmark harness runs (at a tiny size: it is not a timed test)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_harness_prints_ratios_for_each_program_and_all_three(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--lines", "3000",
         "--reference-lines", "1000", "--work", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr
    rows = run.stdout.strip().splitlines()
    assert len(rows) == 4
    for program, row in zip(("generuj-leady", "trade-in-accelerator", "sales-team", "all three"),
                            rows, strict=True):
        assert row.startswith(program)
        assert re.search(r"= +[0-9.]+x floor", row), row
        assert re.search(r"traced floor [0-9.]+s = +[0-9.]+x floor", row), row
        assert "engine speed-up" in row, row
        assert re.search(r"traced floor on the CSV [0-9.]+s = at most [0-9.]+x speed-up", row), row
