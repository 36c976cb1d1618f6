"""`paymaster run` of a plan run before, on input checked before, takes the fast path
(fastrun.py: DuckDB and the cached SQL alone) and gives the very files and printed lines
the full path gives; a changed plan, input or engine, or an entry not intact, is a miss
(issue 16: an example's run under 0.5 s)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import ROOT

from paymaster import asof, cachefiles, fastrun
from paymaster.cli import app

EXAMPLES = ("generuj-leady", "trade-in-accelerator", "sales-team")


def _full(plan: Path, data: Path, out: Path) -> str:
    done = CliRunner().invoke(app, ["run", str(plan), "--data", str(data), "--out", str(out)])
    assert done.exit_code == 0, done.output
    return done.output


def _full_cached(plan: Path, data: Path, out: Path) -> str:
    """A full run from cached SQL, which writes the fast entry: run again when this one
    compiled (the session's SQL cache was cold: this test ran first on its worker)."""
    printed = _full(plan, data, out)
    return printed if fastrun.CACHED in printed else _full(plan, data, out)


def _timeless(text: str) -> str:
    return re.sub(r"\d+\.\d\ds", "T", text)


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name != "run.json"}


def _metadata(out: Path) -> dict:
    data = json.loads((out / "run.json").read_text())
    data["timings"] = list(data["timings"])  # (the stages timed, in order: not their times)
    return {k: v for k, v in data.items() if k != "finished_at"}


def test_the_fast_path_gives_the_full_paths_files_and_lines(tmp_path: Path) -> None:
    for example in EXAMPLES:
        folder = ROOT / "examples" / example
        plan, data = folder / "plan.yaml", folder / "data"
        printed = _full_cached(plan, data, tmp_path / example / "full")
        fast = tmp_path / example / "fast" / "deeper"
        said = fastrun.run(plan, data, fast, "csv")
        assert _files(fast) == _files(tmp_path / example / "full"), example
        assert _metadata(fast) == _metadata(tmp_path / example / "full"), example
        assert _timeless(said) == _timeless(printed).replace("full", "fast/deeper"), example
        assert said.count(fastrun.CACHED) == 1 and "calculate " in said
        # Each text cell made inert by one macro, not its expression written out per column.
        entry = fastrun.read_entry(fastrun.entry_key(plan, "csv", "records"))
        copies = [" ".join(output["copy"]) for output in entry["outputs"]]
        assert all("__fast_inert(CAST(q." in copy and "regexp_matches" not in copy
                   for copy in copies), example
        if example == "sales-team":
            # Its payout lines are a union of 13 measures' lines: one branch pads the line
            # schema with typed NULLs, the others are by name (backends/duckunions.py;
            # padded, 427 typed NULLs, 30 KB of the 117 KB of stage SQL a run parses).
            union = {s["name"]: s["statements"] for s in entry["stages"]}["payout_lines"][-1]
            # (the first branch's padding is the line schema's; the stage stores only the
            # columns that vary, so its width is no bound on it: count by branch)
            first, *later = union.split("UNION ALL BY NAME")
            assert len(later) >= 13  # (12 measures, the roster's)
            assert "CAST(NULL AS " in first
            assert [branch.count("CAST(NULL AS ") for branch in later] == [0] * len(later)


def test_each_credits_choice_has_its_own_entry(tmp_path: Path) -> None:
    """`--credits all` runs other SQL than the default: each choice's fast run gives the
    files of a full run with the same choice (sales-team's aggregates' credits in one,
    not in the other), and run.json says which."""
    folder = ROOT / "examples" / "sales-team"
    plan, data = folder / "plan.yaml", folder / "data"
    for choice in ("all", "records"):
        argv = ["run", str(plan), "--data", str(data), "--credits", choice, "--out"]
        for out in ("full", "full-cached"):  # (the second from cached SQL: writes the entry)
            done = CliRunner().invoke(app, [*argv, str(tmp_path / choice / out)])
            assert done.exit_code == 0, done.output
        options = fastrun._options([*argv[1:], str(tmp_path / choice / "fast")])
        fastrun.run(*options)
        assert _files(tmp_path / choice / "fast") == _files(tmp_path / choice / "full")
        assert _metadata(tmp_path / choice / "fast")["credits"] == choice
    summed = {"ladder", "new_product", "new_customer", "team_member", "team_manager",
              "annual_bonus"}  # (the plan's aggregates)
    for choice in ("all", "records"):
        with (tmp_path / choice / "fast" / "credits.csv").open(encoding="utf-8") as handle:
            measures = {row["measure"] for row in csv.DictReader(handle)}
        assert (measures & summed == summed) if choice == "all" else not measures & summed


def test_a_fast_run_imports_no_framework_and_a_failed_one_leaves_nothing(
        tmp_path: Path) -> None:
    # (nor the duckdb package's Python layer, only its engine module _duckdb, nor
    # importlib.metadata with the email package: 0.1 s of a fast run's imports; nor the
    # holidays package for generuj-leady's as-of day: the entry knows its days)
    folder = ROOT / "examples" / "generuj-leady"
    _full_cached(folder / "plan.yaml", folder / "data", tmp_path / "full")
    script = ("import atexit, sys\n"
              "atexit.register(lambda: print('imported', sorted({m.split('.')[0] for m in "
              "sys.modules} & {'pyarrow', 'numpy', 'pydantic', 'typer', 'rich', 'ibis', "
              "'sqlglot', 'ruamel', 'duckdb', 'email', 'holidays'})))\n"
              "from paymaster.launch import main\nmain()\n")
    command = [sys.executable, "-c", script, "run", str(folder / "plan.yaml"), "--data",
               str(folder / "data"), "--out"]
    done = subprocess.run([*command, str(tmp_path / "fast")], capture_output=True, text=True,
                          check=False, env=os.environ)
    assert done.returncode == 0, done.stderr
    assert "imported []" in done.stdout and fastrun.CACHED in done.stdout
    assert _files(tmp_path / "fast") == _files(tmp_path / "full")
    # An option the fast path does not make goes to the full path, which says it.
    wrong = subprocess.run([*command, str(tmp_path / "x" / "y"), "--format", "pdf"],
                           capture_output=True, text=True, check=False, env=os.environ)
    assert wrong.returncode == 2 and "unknown format 'pdf'" in wrong.stdout
    assert not (tmp_path / "x").exists()


def test_an_entry_past_its_as_of_days_is_a_miss_and_made_again(tmp_path: Path, monkeypatch) -> None:
    """generuj-leady's run depends on its as-of day (overdue registrations): the entry
    holds the run table's row for a schedule of days from the day it was made; a day
    past it goes to the full path, which makes the entry again."""
    folder = tmp_path / "example"  # (a plan of its own path: an entry no other test makes)
    shutil.copytree(ROOT / "examples" / "generuj-leady", folder,
                    ignore=shutil.ignore_patterns("expected"))
    plan, data = folder / "plan.yaml", folder / "data"
    with monkeypatch.context() as patch:
        patch.setattr(asof, "SCHEDULE_DAYS", 0)  # (an entry whose days have all passed)
        _full_cached(plan, data, tmp_path / "full")
        with pytest.raises(fastrun.Miss):
            fastrun.run(plan, data, tmp_path / "past", "csv")
    _full(plan, data, tmp_path / "again")  # (made again, with today's schedule)
    fastrun.run(plan, data, tmp_path / "fast", "csv")
    assert _files(tmp_path / "fast") == _files(tmp_path / "full")
    today = dt.date.today()
    entry = fastrun.read_entry(fastrun.entry_key(plan, "csv", "records"))
    assert [d for d in entry["schedule"]][:2] == [
        today.isoformat(), (today + dt.timedelta(days=1)).isoformat()]
    # the row as counted with the holidays package: the same days
    assert entry["schedule"][today.isoformat()] == [
        asof.overdue_through(today, n, where).isoformat() for _c, n, where in entry["clocks"]]


def test_a_changed_plan_input_or_engine_or_a_bad_entry_is_a_miss(
        tmp_path: Path, monkeypatch) -> None:
    example = tmp_path / "example"
    shutil.copytree(ROOT / "examples" / "trade-in-accelerator", example,
                    ignore=shutil.ignore_patterns("expected"))
    plan, data = example / "plan.yaml", example / "data"
    with pytest.raises(fastrun.Miss):  # (never run in full: no entry)
        fastrun.run(plan, data, tmp_path / "none", "csv")
    assert not (tmp_path / "none").exists()
    _full(plan, data, tmp_path / "full")
    fastrun.run(plan, data, tmp_path / "hit", "csv")
    assert _files(tmp_path / "hit") == _files(tmp_path / "full")

    def misses(why: str) -> None:
        out = tmp_path / why
        with pytest.raises(fastrun.Miss):
            fastrun.run(plan, data, out, "csv")
        assert not out.exists(), why  # (nothing left behind: the full path runs instead)

    # The engine edited (its version is its sources' sizes and times): another key.
    with monkeypatch.context() as patch:
        patch.setattr(cachefiles, "engine_version", lambda: "another engine")
        misses("engine")
    # An input file changed: not known clean until a full run checked it.
    original = (data / "orders.csv").read_bytes()
    (data / "orders.csv").write_bytes(original + b"\n")
    misses("input")
    (data / "orders.csv").write_bytes(original)
    # The entry edited (its hash no longer matches), or writable by others: never run.
    entry = cachefiles.kind_folder("fast") / fastrun.entry_key(plan, "csv", "records")
    stored = entry.read_bytes()
    entry.write_bytes(stored.replace(b"CREATE", b"CREATE ", 1))
    misses("edited")
    entry.write_bytes(stored)
    os.chmod(entry, 0o664)
    misses("foreign")
    os.chmod(entry, 0o600)
    fastrun.run(plan, data, tmp_path / "again", "csv")
    # The plan edited (a comment is enough: its bytes key the entry).
    plan.write_text(plan.read_text() + "\n# edited\n")
    misses("plan")
    # The options the fast path makes, and those it leaves to the full path.
    assert fastrun._options(["p.yaml", "--data", "d", "--out=o"]) == (
        Path("p.yaml"), Path("d"), Path("o"), "csv", "records")
    assert fastrun._options(["p.yaml", "--credits", "all", "--data", "d", "--out=o"]) == (
        Path("p.yaml"), Path("d"), Path("o"), "csv", "all")
    for argv in (["p.yaml", "--data", "d"], ["p.yaml", "--data", "d", "--out", "o", "--help"],
                 ["p.yaml", "--data", "d", "--out", "o", "--format", "parquet"],
                 ["p.yaml", "--data", "d", "--out", "o", "--credits", "some"],
                 ["p.yaml", "q.yaml", "--data", "d", "--out", "o"],
                 ["p.yaml", "--data", "d", "--out", "o", "--backend", "duckdb"]):
        assert fastrun._options(argv) is None, argv


def test_a_small_runs_connection_and_a_plans_table_in_few_statements() -> None:
    """A small input runs on one thread, no I/O threads, no optimizer (the examples' bytes
    above are the full path's with these settings); a large one keeps DuckDB's defaults.
    A plan's in-memory table goes in by a few INSERTs of bound values, each value cast to
    its column's type, as many rows as it has."""
    small, large = fastrun._connect(True), fastrun._connect(False)
    try:
        setting = "SELECT current_setting('threads'), current_setting('async_threads')"
        assert small.execute(setting).fetchall() == [(1, 0)]
        assert large.execute(setting).fetchall() != [(1, 0)]
        plan = "EXPLAIN SELECT a FROM (SELECT 1 AS a, 2 AS b) WHERE a = 1"
        assert "Filter" in small.execute(plan).fetchall()[0][1]  # (not optimized away)
        assert "Filter" not in large.execute(plan).fetchall()[0][1]
        columns = [("d", "DECIMAL(18,2)"), ("day", "DATE"), ("days", "DATE[]"), ("n", "BIGINT"),
                   ("t", "VARCHAR")]
        rows = [[{"decimal": f"{i}.5"}, {"date": "2026-01-31"},
                 {"list": [{"date": "2026-02-28"}, {"date": "2026-03-31"}]},
                 None if i % 7 else i, f"'{i}"] for i in range(fastrun.MEMTABLE_ROWS * 2 + 1)]
        fastrun._memtable(small, "plan's table", columns, rows)
        got = small.execute('SELECT sum(d), count(*), count(n), min(day), max(days[2]), '
                            'max(length(t)), typeof(any_value(d)) FROM "plan\'s table"').fetchall()
        count = len(rows)
        assert got == [(Decimal(count * (count - 1) // 2) + Decimal("0.5") * count, count,
                        len(range(0, count, 7)), dt.date(2026, 1, 31), dt.date(2026, 3, 31),
                        5, "DECIMAL(18,2)")]
    finally:
        small.close()
        large.close()
