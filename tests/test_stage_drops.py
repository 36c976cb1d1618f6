"""A run drops each stored stage as soon as its last reader has run, and a cached run over
a large input writes an output as soon as the stages it reads are stored (issue 16,
seventh round: at 10M lines the registrations' stages, kept to the end, made the deal
records spill under DuckDB's memory limit)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path


from paymaster import duckdb_config, runs
from paymaster.backends.duckstages import DuckDBStages, stages_read
from paymaster.outputs import Staging

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "generuj-leady"


def _files(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in out.iterdir() if p.name != "run.json"}


def test_stages_go_after_their_last_reader(tmp_path, monkeypatch, shared_sql_cache) -> None:
    assert stages_read('SELECT * FROM "temp"."main"."stage_a""b" JOIN "stage_c" JOIN '
                       '"stages_d"') == {'a"b', "c"}
    # (the session's SQL cache: the spy below watches the stages, changes no SQL)
    stored: list[tuple[str, set[str]]] = []  # (stage about to be stored, stages there)
    compressed: set[str] = set()  # (the stages seen stored in the attached file)
    store = DuckDBStages._stored

    def watched(self, name, create):
        there = self.con.execute("SELECT database_name, table_name FROM duckdb_tables() "
                                 "WHERE table_name LIKE 'stage%'").fetchall()
        stored.append((name, {table.removeprefix("stage_") for _db, table in there}))
        compressed.update(table.removeprefix("stage_") for db, table in there if db == "stages")
        return store(self, name, create)

    monkeypatch.setattr(DuckDBStages, "_stored", watched)
    plan, data = EXAMPLE / "plan.yaml", EXAMPLE / "data"
    said: dict[str, list[str]] = {"compiled": [], "cached": [], "early": []}
    runs.calculate_into(plan, data, tmp_path / "compiled", progress=said["compiled"].append)
    stored.clear()  # (compiled, or a hit of an earlier test's run)
    runs.calculate_into(plan, data, tmp_path / "cached", progress=said["cached"].append)
    cached = list(stored)
    stored.clear()
    monkeypatch.setattr(duckdb_config, "EARLY_OUTPUT_ROWS", 0)  # (as a large input)
    monkeypatch.setenv("PAYMASTER_DUCKDB_TEMP", str(tmp_path / "spill"))
    runs.calculate_into(plan, data, tmp_path / "early", progress=said["early"].append)

    # The plan: the registrations are checked, then screened (read by the evaluations
    # output and, as the verdicts, a projection of its columns, by the deal records: no
    # copy of it is stored); the deal records, the bonus lines and the pool are read by
    # the payouts.
    before = dict(cached)
    assert before["registration__screened"] == {"registration__checked"}
    assert "registration__verdicts" not in before
    # the screened registrations stay for the evaluations, written after the stages
    # (and the sale ids' shape check, stored once for the deal records' two windows)
    assert before["deal__records"] == {"registration__screened", "once_1"}
    assert before["new_partner_bonus__lines"] == {"registration__screened", "deal__records"}
    # Written as soon as the screening is stored: the evaluations, then the checked
    # registrations dropped before the deal records, the screened ones (the verdicts)
    # after them; the stages the payouts read, kept to the end, stored compressed in a file.
    early = dict(stored)
    assert compressed == {"deal__records", "new_partner_bonus__lines"}  # (seen before the pool)
    assert early["deal__records"] == {"registration__screened", "once_1"}
    assert early["new_partner_bonus__lines"] == {"deal__records"}
    assert early["budget_fund"] == {"deal__records", "new_partner_bonus__lines"}
    lines = [line for line in said["early"] if line.startswith(("write", "calculate"))]
    assert lines[:3] == ["calculate registration__checked", "calculate registration__screened",
                         "write evaluations"]
    assert sorted(lines) == sorted(line for line in said["cached"]
                                   if line.startswith(("write", "calculate")))
    assert list(tmp_path.glob("*stages*")) == []  # (the file went with the run)
    # the same files, byte for byte, whichever way
    assert _files(tmp_path / "early") == _files(tmp_path / "cached") == _files(
        tmp_path / "compiled")


def test_which_runs_store_some_stages_compressed(monkeypatch) -> None:
    from paymaster.duckdb_config import EARLY_OUTPUT_ROWS, some_stages_on_disk

    monkeypatch.delenv("PAYMASTER_DUCKDB_STAGES", raising=False)
    assert not some_stages_on_disk(EARLY_OUTPUT_ROWS - 1)
    assert some_stages_on_disk(EARLY_OUTPUT_ROWS)
    monkeypatch.setenv("PAYMASTER_DUCKDB_STAGES", "memory")  # (every stage where it says)
    assert not some_stages_on_disk(100 * EARLY_OUTPUT_ROWS)


def test_only_a_stage_stored_in_it_attaches_the_stages_file(tmp_path, monkeypatch) -> None:
    """From EARLY_OUTPUT_ROWS input rows a cached run stores the stages its last outputs
    read compressed in a file; the run compiling the plan keeps its stages in memory, so
    it attaches no such file. An output the cached run writes early is a write in the
    run's timings (run.json's): its seconds are `execute`'s, not `calculate`'s."""
    monkeypatch.setattr(duckdb_config, "EARLY_OUTPUT_ROWS", 0)  # (as a large input)
    monkeypatch.setenv("PAYMASTER_SQL_CACHE", str(tmp_path / "sql-cache"))  # (compiled here)
    monkeypatch.setenv("PAYMASTER_DUCKDB_TEMP", str(tmp_path / "spill"))
    attached: dict[str, set[str]] = {"compiled": set(), "cached": set()}
    run = "compiled"
    store = DuckDBStages._stored

    def watched(self, name, create):
        attached[run].update(row[0] for row in self.con.execute(
            "SELECT database_name FROM duckdb_databases() WHERE NOT internal").fetchall())
        return store(self, name, create)

    monkeypatch.setattr(DuckDBStages, "_stored", watched)
    plan, data = EXAMPLE / "plan.yaml", EXAMPLE / "data"
    said: list[str] = []
    compiled = runs.calculate_into(plan, data, tmp_path / "compiled", progress=said.append)
    assert "run the plan's compiled SQL (cached)" not in said  # (it compiled the plan)
    run, said = "cached", []
    # The evaluations, written as soon as the screening is stored, take half a second more.
    copied = Staging.copied
    pause = 0.5

    def slow(self, name, *args, **kwargs):
        if name.startswith("evaluations."):
            time.sleep(pause)
        return copied(self, name, *args, **kwargs)

    monkeypatch.setattr(Staging, "copied", slow)
    cached = runs.calculate_into(plan, data, tmp_path / "cached", progress=said.append)
    assert "run the plan's compiled SQL (cached)" in said
    assert said.index("write evaluations") < said.index("calculate deal__records")
    assert "stages" not in attached["compiled"] and "stages" in attached["cached"]
    assert "write evaluations" in compiled.timings
    timings = cached.timings
    assert timings["write evaluations"] >= pause
    assert timings["execute"] >= timings["write evaluations"]
    # (what the stages took is `calculate`'s: each is within it)
    assert timings["calculate"] >= sum(v for k, v in timings.items() if k.startswith("stage "))
    assert list(tmp_path.glob("*stages*")) == []
