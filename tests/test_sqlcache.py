"""The plan's compiled SQL is cached: an unchanged plan runs it again without building
Ibis expressions, with the very same outputs; an entry that is not intact or not private
is never run (issue 16)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import ROOT

from paymaster.backends import sqlcache
from paymaster.runs import calculate_into

EXAMPLE = ROOT / "examples" / "trade-in-accelerator"
CACHED = "run the plan's compiled SQL (cached)"


def _run(out: Path) -> tuple[dict[str, bytes], list[str]]:
    said: list[str] = []
    calculate_into(EXAMPLE / "plan.yaml", EXAMPLE / "data", out, "csv", said.append)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name != "run.json"}, said


def test_cached_sql_gives_the_same_outputs_and_a_bad_entry_is_compiled_again(
        tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv(sqlcache.CACHE_ENV, str(cache))
    compiled, said = _run(tmp_path / "a")
    assert CACHED not in said
    entries = list(cache.glob("*.json"))
    assert len(entries) == 1 and oct(cache.stat().st_mode & 0o777) == "0o700"
    again, said = _run(tmp_path / "b")
    assert CACHED in said and again == compiled
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
    plan, schemas = {"program": "p", "measures": [1]}, {"sales": {"id": "string"}}
    base = sqlcache.key(plan, schemas, {"stages_on_disk": False})
    assert base == sqlcache.key(dict(plan), dict(schemas), {"stages_on_disk": False})
    assert base != sqlcache.key({**plan, "measures": [2]}, schemas, {"stages_on_disk": False})
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
