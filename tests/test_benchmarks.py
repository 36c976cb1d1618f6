"""The benchmark harness runs (at a tiny size: it is not a timed test; its cost is the
child processes it starts, 7 per row, hardly the data)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

# Without the session's SQL cache (tests/conftest.py): times the stages of a run as a user's
# first run has them.
pytestmark = pytest.mark.no_sql_cache


def test_harness_prints_ratios_for_each_program_and_all_three(tmp_path: Path) -> None:
    # The SQL cache on, in tmp_path (as a user's runs have it): the "all three" row's
    # engine runs the plans the rows before it compiled.
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--lines", "300",
         "--reference-lines", "100", "--work", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "PAYMASTER_SQL_CACHE": str(tmp_path / "sql-cache")},
    )
    assert run.returncode == 0, run.stderr
    rows = run.stdout.strip().splitlines()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run as harness

    handsql = harness.find_handsql()
    if handsql is None:
        assert rows[0].startswith("note: no hand SQL found")
        rows = rows[1:]
    assert len(rows) == 4
    for program, row in zip(("generuj-leady", "trade-in-accelerator", "sales-team", "all three"),
                            rows, strict=True):
        assert row.startswith(program)
        assert re.search(r"= +[0-9.]+x floor", row), row
        assert re.search(r"traced floor [0-9.]+s = +[0-9.]+x floor", row), row
        assert "engine speed-up" in row, row
        assert re.search(r"traced floor on the CSV [0-9.]+s = at most [0-9.]+x speed-up", row), row
        if handsql:  # the yardstick beside the project: measured in the same run
            assert re.search(r"hand SQL [0-9.]+s \(peak [0-9,]+ MiB\): engine [0-9.]+x hand SQL", row), row


def test_harness_compares_with_the_hand_sql_by_medians(tmp_path: Path, monkeypatch) -> None:
    """The hand-SQL yardstick is found beside the project (or named), skipped when absent,
    measured in the same rounds as the engine, and its ratio printed with the load."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run

    monkeypatch.setenv(run.HANDSQL_ENV, str(tmp_path))
    assert run.find_handsql() is None  # named but absent: skipped (main prints a note)
    (tmp_path / "handsql.py").write_text("")
    assert run.find_handsql() == tmp_path
    rounds = [{"seconds": s, "peak_mib": 100.0 + s, "load_average": [s, 1.0, 1.0]} for s in (3.0, 1.0, 2.0)]
    middle = run._median(rounds)
    assert middle["seconds"] == 2.0 and middle["peak_mib"] == 102.0
    assert middle["load_average"] == [3.0, 1.0, 1.0]  # the worst load of the rounds
    assert "error" in run._median([*rounds, {"error": "boom", "load_average": [0, 0, 0]}])
    row = {"program": "generuj-leady", "lines": 1000,
           "floor": {"seconds": 0.5, "peak_mib": 50.0},
           "engine": {"seconds": 3.0, "peak_mib": 300.0, "load_average": [4.5, 1.0, 1.0]},
           "handsql": {"seconds": 1.5, "peak_mib": 150.0}}
    line = run._line(row)
    assert "engine 2.00x hand SQL" in line and "hand SQL 1.50s" in line and "load 4.5" in line
    assert "6.0x floor" in line
    assert "hand SQL: error x" in run._line({**row, "handsql": {"error": "x"}})
    assert run._size(1_000_000) == "1m" and run._size(3000) == "3k" and run._size(1234) == "1234"
