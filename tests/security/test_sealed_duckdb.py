"""Defence in depth: once a run has read its input, its DuckDB connection reaches no file.

Even SQL that got past the plan checks (a future bug) cannot read /etc/hostname, write a
file, ATTACH a database, INSTALL or LOAD an extension, or switch any of that back on.
Spilling to the temp directory and the stages' database file still work, as does the
out-of-memory retry with its larger limit.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from conftest import EXAMPLES
from paymaster import asof, duckdb_config
from paymaster.runs import _built
from paymaster.stageclock import StageClock

PLAN = EXAMPLES / "generuj-leady" / "plan.yaml"

ESCAPES = [
    "SELECT content FROM read_text('/etc/hostname')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_blob('/etc/hostname')",
    "SELECT * FROM glob('/etc/*')",
    "COPY (SELECT 1 AS x) TO '{out}/x.csv' (FORMAT csv)",
    "COPY (SELECT 1 AS x) TO 'x.csv' (FORMAT csv)",
    "ATTACH '{out}/other.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET allowed_directories = ['/']",
    "SET allowed_paths = ['/etc/hostname']",
    "SET temp_directory = '{out}'",
]


def assert_sealed(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    for statement in ESCAPES:
        with pytest.raises(duckdb.Error) as refused:
            con.execute(statement.format(out=folder)).fetchall()
        assert isinstance(refused.value, (duckdb.PermissionException,
                                          duckdb.InvalidInputException)), statement
    assert list(folder.iterdir()) == []


@pytest.mark.no_sql_cache  # (reads the compiled outputs' expressions: a cache hit has none)
def test_a_runs_connection_reads_its_input_and_nothing_else(
        data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)
    monkeypatch.setenv("PAYMASTER_DUCKDB_MEMORY", "1GB")  # (the limit is final: locked)
    with _built(PLAN, data, lambda _: None, StageClock(), "duckdb", None) as (_, engine, outputs):
        con = engine.con
        assert_sealed(con, out)
        with pytest.raises(duckdb.InvalidInputException, match="locked"):
            con.execute("SET threads = 1")
        # what the run needs still works: its tables, the outputs it fetches
        assert engine.to_pyarrow(outputs.summary).num_rows > 0


def test_a_stage_out_of_memory_still_gets_its_larger_limit_then_the_lock(
        data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paymaster.backends import open_backend
    from paymaster.datafiles import find_files, load_folder
    from paymaster.engine import build
    from paymaster.plan import load_plan
    from paymaster.runs import calculate

    monkeypatch.delenv("PAYMASTER_DUCKDB_MEMORY", raising=False)
    monkeypatch.setenv("PAYMASTER_DUCKDB_MEMORY_MAX", "1GB")
    monkeypatch.setenv("PAYMASTER_DUCKDB_TEMP", str(tmp_path / "spill"))
    loaded = load_plan(PLAN)
    con = duckdb.connect(config=duckdb_config.config())
    load_folder(loaded.plan, data, con)
    backend = open_backend("duckdb")
    # (the plan's screening has `answer_within`: the run's as-of day is a table too)
    tables = backend.bind(con, list(loaded.plan.inputs) + asof.register(con, loaded.plan, None))
    con.execute("SET memory_limit = '2MB'")
    duckdb_config.seal(con, [f.path for f in find_files(loaded.plan, data)])
    con.execute("SET threads = 1")  # not locked yet: the limit may still be raised

    outputs = build(loaded, tables, backend.materialize)
    assert len(backend.retried) == 1
    with pytest.raises(duckdb.InvalidInputException, match="locked"):
        con.execute("SET memory_limit = '10GB'")
    out = tmp_path / "out"
    out.mkdir()
    assert_sealed(con, out)
    payouts = backend.to_pyarrow(outputs.tables()["payouts"])
    backend.close()
    assert payouts.equals(calculate(PLAN, data).tables["payouts"])


def test_spilling_and_stages_on_disk_work_when_sealed(data: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from paymaster.runs import calculate

    expected = calculate(PLAN, data).tables
    monkeypatch.setenv("PAYMASTER_DUCKDB_STAGES", "disk")
    monkeypatch.setenv("PAYMASTER_DUCKDB_TEMP", str(tmp_path / "spill"))
    said: list[str] = []
    on_disk = calculate(PLAN, data, said.append).tables
    assert any(message.startswith("stages stored compressed in ") for message in said)
    for name, table in expected.items():  # (credits come in no set order)
        assert on_disk[name].sort_by([(c, "ascending") for c in table.column_names]).equals(
            table.sort_by([(c, "ascending") for c in table.column_names])), name

    # a sealed connection with a small limit spills a sort of ~150 MB to its temp directory
    monkeypatch.setenv("PAYMASTER_DUCKDB_MEMORY", "64MB")
    monkeypatch.setenv("PAYMASTER_DUCKDB_THREADS", "1")
    con = duckdb.connect(config=duckdb_config.config())
    duckdb_config.seal(con)
    assert con.execute("SELECT current_setting('lock_configuration')").fetchall() == [(True,)]
    con.execute("CREATE TEMP TABLE big AS SELECT range AS i, md5(range::VARCHAR) || "
                "md5((range + 1)::VARCHAR) AS s FROM range(1500000)")
    assert con.execute("SELECT count(*), count(DISTINCT s) FROM (SELECT s FROM big ORDER BY s)"
                       ).fetchall() == [(1500000, 1500000)]
    spilled = con.execute("SELECT count(*) FROM duckdb_temporary_files()").fetchall()[0][0]
    assert spilled > 0 and any((tmp_path / "spill").iterdir())
    con.close()


def test_analytics_connections_are_sealed(data: Path) -> None:
    import pyarrow as pa

    from paymaster.analytics.effect import effect_report
    from paymaster.runs import calculate

    tables = calculate(PLAN, data).tables
    assert effect_report(tables)  # works on memory alone ...
    con = duckdb.connect()
    duckdb_config.seal(con)
    con.register("t", pa.table({"x": [1]}))
    assert con.execute("SELECT * FROM t").fetchall() == [(1,)]
    with pytest.raises(duckdb.PermissionException):  # ... and reaches no file
        con.execute("SELECT * FROM read_text('/etc/hostname')")
    assert os.path.exists("/etc/hostname")


def test_an_incremental_runs_connection_is_sealed_once_its_input_is_read(
        data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways: a full run (the state is new), then an incremental one (a row changed)."""
    from paymaster.incremental import run as incremental

    out = tmp_path / "out"
    out.mkdir()
    calculated = []
    build = incremental.build

    def sealed_build(loaded, tables, materialize, scope, credits):
        assert_sealed(scope.state.con, out)  # (then calculated as ever)
        calculated.append(scope.full)
        return build(loaded, tables, materialize, scope=scope, credits=credits)

    monkeypatch.setattr(incremental, "build", sealed_build)
    first, _ = incremental.calculate(PLAN, data, tmp_path / "state.duckdb")
    sales = data / "sales.csv"
    sales.write_text(sales.read_text(encoding="utf-8").replace(",10,20.00,", ",12,20.00,"),
                     encoding="utf-8")
    second, report = incremental.calculate(PLAN, data, tmp_path / "state.duckdb")
    assert calculated == [True, False] and report.mode == "incremental"
    assert first.tables["payouts"].num_rows == second.tables["payouts"].num_rows


@pytest.mark.no_sql_cache  # (the compiled outputs, as the first test)
def test_a_run_writing_its_outputs_reaches_its_staging_folder_alone(
        data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB writes the output files itself (outputs.copy_statement) into the run's fresh
    staging folder: that folder is writable, nothing else is, not even the output folder
    around it, a sibling named like it, or a path that climbs out of it."""
    from paymaster.outputs import Staging

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("PAYMASTER_DUCKDB_MEMORY", "1GB")
    out = tmp_path / "out"
    with Staging(out) as staging, _built(PLAN, data, lambda _: None, StageClock(), "duckdb",
                                         None, writable=staging.folder) as (_, engine, outputs):
        con = engine.con
        assert_sealed(con, elsewhere)
        folder = staging.folder
        for target in (out / "x.csv", folder / ".." / "x.csv", Path(f"{folder}-x.csv"),
                       Path(f"{folder}x") / "x.csv"):
            with pytest.raises(duckdb.PermissionException):
                con.execute(f"COPY (SELECT 1 AS x) TO '{target}' (FORMAT csv)").fetchall()
        for statement in ("SET allowed_directories = ['/']", f"SET allowed_directories = "
                          f"['{folder}/', '{out}/']", "SET enable_external_access = true"):
            with pytest.raises(duckdb.Error):
                con.execute(statement).fetchall()
        query = engine.output_query(outputs.summary)
        assert staging.copied("summary.csv", "csv", query.sql, query.schema, engine.write) > 0
        assert [p.name for p in out.iterdir()] == [folder.name]
    assert sorted(p.name for p in out.iterdir()) == ["summary.csv"]
    assert list(elsewhere.iterdir()) == []
