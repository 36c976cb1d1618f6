"""The Spark backend gives the same cents as DuckDB: the three examples and a generated
case, on one local SparkSession for the module; and clear errors for a bad master URL
or a machine without Java."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import AS_OF, EXAMPLES, ROOT, SPARK_MASTER
from paymaster.backends import BackendError, check_choice
from paymaster.runs import calculate, calculate_into

sys.path.insert(0, str(ROOT / "benchmarks"))

import compare_backends  # noqa: E402
import generate  # noqa: E402

pytestmark = pytest.mark.spark
MASTER = SPARK_MASTER  # the session fixture `spark` is in conftest, shared by modules


def _same_on_both(plan: Path, data: Path, as_of: dt.date = AS_OF):
    """Both backends on one as-of day (conftest.AS_OF unless given): the same cents, the
    same fingerprint."""
    expected = calculate(plan, data, as_of=as_of)
    actual = calculate(plan, data, backend="spark", spark_master=MASTER, as_of=as_of)
    assert compare_backends.differences(expected.tables, actual.tables) == []
    assert actual.fingerprint == expected.fingerprint
    assert expected.tables["payouts"].num_rows > 0
    return actual


# sales-team (the longest on Spark) is compared table by table in the streamed-run test below
@pytest.mark.parametrize("program", ["generuj-leady", "trade-in-accelerator"])
def test_examples_equal_duckdb_to_the_cent(spark, program: str) -> None:
    _same_on_both(EXAMPLES / program / "plan.yaml", EXAMPLES / program / "data")


@pytest.mark.parametrize("case", ["currency-jpy", "currency-bhd"])
def test_minor_units_equal_duckdb(spark, case: str) -> None:
    """Yen rounded to 0 places, dinars to 3, a yen pool cut to whole yen: as on DuckDB."""
    folder = ROOT / "tests" / "cases" / case
    _same_on_both(folder / "plan.yaml", folder / "data")


def test_generated_case_equals_duckdb(spark, tmp_path: Path) -> None:
    data = generate.generate("generuj-leady", 3000, tmp_path / "data", seed=11)
    _same_on_both(EXAMPLES / "generuj-leady" / "plan.yaml", data)


def test_overdue_registrations_equal_duckdb(spark, tmp_path: Path) -> None:
    """The run's as-of day (a one-row table beside the input: asof.py) reaches Spark as it
    does DuckDB. On 2018-05-09 (tests/test_overdue.py, worked by hand): R01 (due 04-09) and
    R03 (due 04-10) overdue, R02 due that very day still awaiting the owner."""
    from test_overdue import scenario

    actual = _same_on_both(EXAMPLES / "generuj-leady" / "plan.yaml", scenario(tmp_path),
                           dt.date(2018, 5, 9))
    assert {r["subject"]: r["reason"] for r in actual.tables["evaluations"].to_pylist()} == {
        "R01": "overdue", "R02": "awaiting_decision", "R03": "overdue", "R04": None,
        "R05": None}


def test_streamed_run_writes_the_tables_duckdb_returns(spark, tmp_path: Path) -> None:
    """A run on Spark streams each table through Parquet part files to its own file: the
    files hold DuckDB's rows, the payouts in their order across the parts."""
    import pyarrow.parquet as pq

    plan = EXAMPLES / "sales-team"
    expected = calculate(plan / "plan.yaml", plan / "data").tables
    # Several partitions (no coalescing of small ones): the payouts come in several parts.
    spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
    try:
        done = calculate_into(plan / "plan.yaml", plan / "data", tmp_path, "parquet",
                              backend="spark", spark_master=MASTER, chunk_rows=100)
    finally:
        spark.conf.unset("spark.sql.adaptive.coalescePartitions.enabled")
    written = {name: pq.read_table(tmp_path / f"{name}.parquet") for name in expected}
    assert compare_backends.differences(expected, written) == []
    keys = ["payee_id", "period", "date", "source_id"]
    assert (written["payouts"].select(keys).to_pylist()
            == expected["payouts"].select(keys).to_pylist())
    assert done.rows == {name: table.num_rows for name, table in expected.items()}


def _run(*args: str) -> subprocess.CompletedProcess:
    plan = EXAMPLES / "trade-in-accelerator"
    return subprocess.run(
        [sys.executable, "-m", "paymaster.cli", "run", str(plan / "plan.yaml"),
         "--data", str(plan / "data"), "--out", "unused", *args],
        capture_output=True, text=True, timeout=120,
    )


def test_bad_master_url_is_refused_with_exit_code_2() -> None:
    done = _run("--backend", "spark", "--spark-master", "sparky://nowhere")
    assert done.returncode == 2
    assert "not a Spark master URL: 'sparky://nowhere'" in done.stderr


def test_bad_backend_and_master_without_spark_are_refused() -> None:
    done = _run("--backend", "postgres")
    assert done.returncode == 2
    assert "unknown backend 'postgres'" in done.stderr
    with pytest.raises(BackendError, match="only used with --backend spark"):
        check_choice("duckdb", "local[2]")


def test_missing_java_is_a_clear_error(monkeypatch, tmp_path: Path) -> None:
    from paymaster.backends import spark

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(BackendError, match="Spark needs Java") as raised:
        spark.session(MASTER)
    assert raised.value.exit_code == 2


def test_exists_rewrites_on_spark_give_duckdbs_own_exists(spark) -> None:
    """An earlier row of the group from its least values, as Spark runs it: ties, natural id
    order ("9" before "10") and NULLs give the rows DuckDB's correlated EXISTS gives."""
    import ibis
    import pyarrow as pa

    from paymaster.backends.spark import SparkBackend
    from test_decorrelate import (EDGE_HOLDINGS, EDGE_ROWS, FIRST_IN_ORDER, HOLDINGS, SALES,
                                  flags)

    con = ibis.duckdb.connect()
    for name, schema, rows in (("sales", SALES, EDGE_ROWS), ("h", HOLDINGS, EDGE_HOLDINGS)):
        arrow = pa.Table.from_pylist([{c: r.get(c) for c in schema} for r in rows],
                                     schema=ibis.schema(schema).to_pyarrow())
        con.con.register("incoming", arrow)
        con.con.execute(f"CREATE TABLE {name} AS SELECT * FROM incoming")
        con.con.unregister("incoming")

    def expr(sales, h):
        outer = sales.filter(sales.shown).mutate(extra=sales.qty + 1)
        return flags(FIRST_IN_ORDER, outer, sales, h)

    native = con.to_pyarrow(expr(con.table("sales"), con.table("h")))
    backend = SparkBackend(MASTER)
    try:
        tables = backend.bind(con.con, ["sales", "h"])
        actual = backend.to_pyarrow(expr(tables["sales"], tables["h"]))
    finally:
        backend.close()
    assert actual.to_pylist() == native.to_pylist()
