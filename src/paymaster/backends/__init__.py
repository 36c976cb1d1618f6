"""Where a run executes: DuckDB in process (the default) or Apache Spark.

A backend binds the validated input tables, stores each stage of the pipeline and
executes the output tables to Arrow, whole or as a stream of batches. Input files are always read and validated by
DuckDB first (`datafiles.load_folder`); the Spark backend then reads those validated
tables as Parquet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

import duckdb
import pyarrow as pa

from paymaster.errors import ARITHMETIC_MARK as MARK
from paymaster.errors import EngineError, PaymasterError, Problem

if TYPE_CHECKING:  # (a run of cached SQL imports no Ibis: backends/duckstages.py)
    import ibis.expr.types as ir

BACKENDS = ("duckdb", "spark")


class Backend(Protocol):
    name: str
    # seconds a stage ran before it ran out of memory and was calculated again, by stage
    retried: dict[str, float]

    def bind(self, con: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, ir.Table]:
        """Ibis tables for the validated input tables held by `con`."""

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        """Store one stage and return a reference to it."""

    def to_pyarrow(self, expr: ir.Table) -> pa.Table:
        """Execute an output table."""

    def to_pyarrow_batches(self, expr: ir.Table, chunk_rows: int) -> pa.RecordBatchReader:
        """Execute an output table as a stream of record batches of about `chunk_rows`
        rows each, in order and of the types `to_pyarrow` gives, never held whole here.
        Read it to the end (or close it) before the next query."""

    def close(self) -> None:
        """Drop what this run stored."""


class BackendError(PaymasterError):
    """A backend that cannot be used as asked (a bad choice, no Java, a bad master URL)."""

    exit_code = 2


MASTER_PREFIXES = ("local", "spark://", "yarn", "k8s://", "mesos://")


def check_choice(name: str, spark_master: str | None = None) -> None:
    """Refuse a bad backend or master URL before any work is done."""
    if name not in BACKENDS:
        raise BackendError(Problem(f"unknown backend '{name}'", hint="use duckdb or spark"))
    if spark_master is None:
        return
    if name != "spark":
        raise BackendError(Problem("--spark-master is only used with --backend spark"))
    if not spark_master.startswith(MASTER_PREFIXES) or spark_master.rstrip("/").endswith("//"):
        raise BackendError(Problem(
            f"not a Spark master URL: '{spark_master}'",
            hint="use local[*], local[N], spark://host:7077, yarn or k8s://https://host:443",
        ))


def open_backend(name: str = "duckdb", spark_master: str | None = None,
                 progress: Callable[[str], None] | None = None) -> Backend:
    check_choice(name, spark_master)
    if name == "spark":
        from paymaster.backends.spark import SparkBackend

        return SparkBackend(spark_master)
    from paymaster.backends.duck import DuckDBBackend

    return DuckDBBackend(progress)


# What DuckDB and Spark (ANSI mode) say when a decimal leaves its type: a product or a sum
# beyond 38 digits, a quotient beyond DECIMAL(28, 8). Never a wrapped or rounded value.
_OVERFLOW_WORDS = ("Overflow in", "out of range", "Could not cast value", "cannot be represented",
                   "NUMERIC_VALUE_OUT_OF_RANGE", "ARITHMETIC_OVERFLOW", "DECIMAL_PRECISION")
MAGNITUDES_HINT = ("the engine computes exactly within DECIMAL(38, 8): products below 10^22, "
                   "numerators and divisors below 10^22, quotients below 10^20 (docs/plan-"
                   "language.md, Magnitudes); check the input for a misplaced decimal point, "
                   "or divide before multiplying")


@contextmanager
def arithmetic_errors(stage: str) -> Iterator[None]:
    """A number out of the engine's range, raised inside a query by the backend, as a
    located EngineError (the plan expression when the engine's own check caught it)."""
    try:
        yield
    except PaymasterError:
        raise
    except Exception as err:  # noqa: BLE001 - DuckDB's and Py4J's many kinds
        text = str(err)
        if MARK in text:
            detail = text[text.index(MARK) + len(MARK):].splitlines()[0]
        elif any(word in text for word in _OVERFLOW_WORDS):
            detail = "a number outside the engine's range: " + text.strip().splitlines()[0][:300]
        else:
            raise
        raise EngineError(Problem(f"calculating {stage}: {detail}", hint=MAGNITUDES_HINT)) from err
