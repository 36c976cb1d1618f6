"""The plan's compiled SQL is cached: an unchanged plan runs it again without building
Ibis expressions, with the very same outputs; an entry that is not intact or not private
is never run (issue 16)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import ROOT

from paymaster.backends import sqlcache
from paymaster.runs import calculate_into

# Without the session's SQL cache (tests/conftest.py): tests the SQL cache itself, in
# folders of its own.
pytestmark = pytest.mark.no_sql_cache

EXAMPLE = ROOT / "examples" / "trade-in-accelerator"
CACHED = "run the plan's compiled SQL (cached)"


def _run(out: Path, figures: list | None = None) -> tuple[dict[str, bytes], list[str]]:
    said: list[str] = []
    result = calculate_into(EXAMPLE / "plan.yaml", EXAMPLE / "data", out, "csv", said.append)
    if figures is not None:
        figures.append(result.figures)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name != "run.json"}, said


def test_cached_sql_gives_the_same_outputs_and_a_bad_entry_is_compiled_again(
        tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv(sqlcache.CACHE_ENV, str(cache))
    figures: list = []
    compiled, said = _run(tmp_path / "a", figures)
    assert CACHED not in said
    entries = list(cache.glob("*.json"))
    assert len(entries) == 1 and oct(cache.stat().st_mode & 0o777) == "0o700"
    again, said = _run(tmp_path / "b", figures)
    assert CACHED in said and again == compiled
    # the printed figures, from the recorded queries: those of the example's checked payouts
    with (EXAMPLE / "expected" / "payouts.csv").open() as handle:
        expected = list(csv.DictReader(handle))
    assert figures[1] == figures[0]
    assert (figures[1].lines, figures[1].payees, figures[1].total) == (
        len(expected), len({row["payee_id"] for row in expected}),
        sum(Decimal(row["amount"]) for row in expected))
    assert figures[1].paid == sum(row["paid"] == "true" for row in expected)
    assert any(s.startswith("calculate ") for s in said)  # its stages still ran, timed
    # An edited entry (its hash no longer matches) is a miss: compiled, then rewritten.
    stored = json.loads(entries[0].read_text())
    stored["body"] = stored["body"].replace("INSERT INTO", "INSERT  INTO", 1)
    entries[0].write_text(json.dumps(stored))
    third, said = _run(tmp_path / "c")
    assert CACHED not in said and third == compiled
    # An entry others may write is never read, even when intact.
    os.chmod(entries[0], 0o666)
    assert sqlcache.load(entries[0].stem) is None
    os.chmod(entries[0], 0o600)
    assert sqlcache.load(entries[0].stem) is not None
    monkeypatch.setenv(sqlcache.CACHE_ENV, "off")
    assert sqlcache.folder() is None and sqlcache.load(entries[0].stem) is None


def test_the_key_is_the_content_of_what_the_sql_depends_on() -> None:
    plan, schemas = "digest-of-the-plan", {"sales": {"id": "string"}}
    base = sqlcache.key(plan, schemas, {"stages_on_disk": False})
    assert base == sqlcache.key(plan, dict(schemas), {"stages_on_disk": False})
    assert base != sqlcache.key("another-plan", schemas, {"stages_on_disk": False})
    assert base != sqlcache.key(plan, {"sales": {"id": "int64"}}, {"stages_on_disk": False})
    assert base != sqlcache.key(plan, schemas, {"stages_on_disk": True})


def test_only_the_newest_entries_are_kept(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(sqlcache.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(sqlcache, "KEEP", 2)
    for i in range(4):
        sqlcache.save(f"k{i}", sqlcache.Entry())
        os.utime(tmp_path / "cache" / f"k{i}.json", (1000 + i, 1000 + i))
    sqlcache.save("k4", sqlcache.Entry())
    assert sorted(p.stem for p in (tmp_path / "cache").glob("*.json")) == ["k3", "k4"]
    assert sqlcache.load("k4") == sqlcache.Entry()


def test_a_cached_run_imports_neither_ibis_nor_pandas(tmp_path: Path) -> None:
    """What makes `paymaster run` of an example fast (issue 16): its cached SQL runs on
    DuckDB and Arrow alone (importing Ibis with pandas costs more than the whole run)."""
    cache = tmp_path / "cache"
    script = ("import sys\nfrom paymaster.cli import main\ntry:\n    main()\nfinally:\n"
              "    print('imported', sorted({m.split('.')[0] for m in sys.modules} & "
              "{'ibis', 'pandas'}))\n"
              # nor reads the plan's YAML again, nor sqlglot, nor Parquet for a CSV run,
              # nor Babel's catalogs (a run checks its --locale, translates nothing)
              "    print('also', sorted(set(sys.modules) & {'ruamel.yaml', 'sqlglot', "
              "'paymaster.plan.loader', 'pyarrow.parquet', 'ssl', 'babel.messages', "
              "'babel.support'}))")
    command = [sys.executable, "-c", script, "run", str(EXAMPLE / "plan.yaml"), "--data",
               str(EXAMPLE / "data"), "--out"]
    env = {**os.environ, sqlcache.CACHE_ENV: str(cache)}
    first = subprocess.run([*command, str(tmp_path / "a")], env=env, capture_output=True,
                           text=True, check=False)
    assert first.returncode == 0, first.stderr
    second = subprocess.run([*command, str(tmp_path / "b")], env=env, capture_output=True,
                            text=True, check=False)
    assert second.returncode == 0, second.stderr
    assert "imported ['ibis', 'pandas']" in first.stdout  # (compiled: the test can tell)
    assert "imported []" in second.stdout
    assert "also []" in second.stdout, second.stdout
