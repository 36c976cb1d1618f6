"""Apache Spark through Ibis's PySpark backend: `local[*]` by default, or a cluster.

The input folder is read and validated by DuckDB as for every run; the validated tables
are then written as Parquet to a staging folder that Spark reads (on a cluster it must
be a path every executor can read: set PAYMASTER_SPARK_STAGING). Each stage of the
pipeline is computed once and kept (a local checkpoint), as DuckDB keeps temp tables.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from paymaster.backends import BackendError, arithmetic_errors, check_choice
from paymaster.errors import Problem
from paymaster.plan.decorrelate import decorrelate
from paymaster.sqlnames import literal, quote

DEFAULT_MASTER = "local[*]"
# Exact decimals as DuckDB computes them: no silent rounding of a product's or a
# quotient's scale to fit 38 digits (an overflow is an error instead).
SESSION_CONF = {
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
}
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.memory": os.environ.get("PAYMASTER_SPARK_DRIVER_MEMORY", "2g"),
    "spark.driver.bindAddress": "127.0.0.1",
}
_runs = itertools.count(1)
_outputs = itertools.count(1)


def is_local(master: str) -> bool:
    return master == "local" or master.startswith("local[")


def session(master: str | None = None):
    """The SparkSession for `master` (an existing one is reused, as Spark allows one
    per process)."""
    master = master or DEFAULT_MASTER
    check_choice("spark", master)
    _check_java()
    if is_local(master):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName("paymaster")
    for key, value in {**(LOCAL_CONF if is_local(master) else {}), **SESSION_CONF}.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as err:  # noqa: BLE001 - Py4J and Spark raise many kinds
        raise BackendError(Problem(
            f"cannot start Spark with master '{master}': {_first_line(err)}",
            hint="check --spark-master (local[*], spark://host:7077, yarn, k8s://https://host:443) "
                 "and that the cluster is reachable",
        )) from err
    for key, value in SESSION_CONF.items():
        spark.conf.set(key, value)
    if is_local(master):
        spark.sparkContext.setLogLevel(os.environ.get("PAYMASTER_SPARK_LOG_LEVEL", "ERROR"))
    return spark


def _check_java() -> None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return
    if shutil.which("java") is None:
        raise BackendError(Problem(
            "Spark needs Java (17 or 21) and none was found",
            hint="install a JDK (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME",
        ))


def _typed(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Spark's Arrow or Parquet result with the names and types Ibis declares."""
    return table.rename_columns(schema.names).cast(schema)


def _part_number(path: Path) -> int:
    # part-00000-<uuid>.snappy.parquet: the number is the partition's place in the result.
    return int(path.name.split("-")[1])


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__


class SparkBackend:
    name = "spark"

    def __init__(self, master: str | None = None) -> None:
        self.retried: dict[str, float] = {}  # Spark spills on its own; never retried here
        self.spark = session(master)
        self.ibis = ibis.pyspark.connect(self.spark)
        self.prefix = f"pm{os.getpid()}_{next(_runs)}_"
        base = os.environ.get("PAYMASTER_SPARK_STAGING")
        if base:
            Path(base).mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=self.prefix, dir=base))
        self.views: list[str] = []

    def bind(self, con: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, ir.Table]:
        tables = {}
        for name in names:
            # (named input_*: Spark skips a file whose name starts with "_" or ".", as the
            # run's as-of table __run does: asof.py)
            path = self.staging / f"input_{name}.parquet"
            con.execute(f"COPY {quote(name)} TO {literal(str(path))} (FORMAT parquet)")
            tables[name] = self._view(name, self.spark.read.parquet(str(path)))
        return tables

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        with arithmetic_errors(name):
            frame = self._frame(expr).localCheckpoint(eager=True)
        return self._view(f"stage_{name}", frame)

    def to_pyarrow(self, expr: ir.Table) -> pa.Table:
        with arithmetic_errors("the outputs"):
            return _typed(self._frame(expr).toArrow(), expr.schema().to_pyarrow())

    def to_pyarrow_batches(self, expr: ir.Table, chunk_rows: int) -> pa.RecordBatchReader:
        # Spark collects a whole result to the driver (toArrow, and Ibis's PySpark
        # to_pyarrow_batches through pandas). Instead the executors write it as Parquet to
        # the staging folder, one file per partition numbered in the result's order, and
        # the driver reads those back a batch at a time.
        folder = self.staging / f"output{next(_outputs)}"
        with arithmetic_errors("the outputs"):
            self._frame(expr).write.parquet(str(folder))
        schema = expr.schema().to_pyarrow()

        def batches():
            try:
                for part in sorted(folder.glob("part-*"), key=_part_number):
                    for batch in pq.ParquetFile(part).iter_batches(batch_size=chunk_rows):
                        yield from _typed(pa.Table.from_batches([batch]), schema).to_batches()
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        return pa.RecordBatchReader.from_batches(schema, batches())

    def close(self) -> None:
        for view in self.views:
            self.spark.catalog.dropTempView(view)
        self.views.clear()
        shutil.rmtree(self.staging, ignore_errors=True)

    def _frame(self, expr: ir.Table):
        """The Spark DataFrame of `expr`, each column of the type Ibis declares: Spark's
        own rules give other decimal scales (a CASE of two decimals widens, a literal
        keeps its digits), and a stored stage must keep the engine's types."""
        from ibis.backends.pyspark.datatypes import PySparkType
        from pyspark.sql import functions as F

        expr = decorrelate(expr)
        self.ibis._run_pre_execute_hooks(expr)  # registers in-memory tables
        frame = self.spark.sql(self.ibis.compile(expr))
        wanted = {name: PySparkType.from_ibis(dtype) for name, dtype in expr.schema().items()}
        if all(field.dataType == wanted[field.name] for field in frame.schema.fields):
            return frame
        return frame.select(*[F.col("`" + name.replace("`", "``") + "`").cast(kind).alias(name)
                              for name, kind in wanted.items()])

    def _view(self, name: str, frame) -> ir.Table:
        view = self.prefix + name
        frame.createOrReplaceTempView(view)
        self.views.append(view)
        return self.ibis.table(view)
