"""DuckDB in process: the input tables already live in the validating connection."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.duckdb.converter import DuckDBPyArrowData

from paymaster.duckdb_config import (
    large_input_limit,
    lock,
    memory_bytes,
    out_of_memory,
    retry_limit,
    stages_file,
    stages_on_disk,
)
from paymaster.backends import arithmetic_errors
from paymaster.errors import ResourceError
from paymaster.plan.decorrelate import decorrelate
from paymaster.sqlnames import literal, quote


class DuckDBBackend:
    name = "duckdb"

    def __init__(self, progress: Callable[[str], None] | None = None) -> None:
        self.ibis = None
        self.con: duckdb.DuckDBPyConnection | None = None
        self.say = progress or (lambda _message: None)
        # seconds spent on a stage before it ran out of memory, by stage (run metadata)
        self.retried: dict[str, float] = {}
        # the database file the stages are stored in, when not in memory
        self.stages: Path | None = None

    def bind(self, con: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, ir.Table]:
        self.con = con
        self.ibis = ibis.duckdb.from_connection(con)
        rows = sum(con.execute(f"SELECT count(*) FROM {quote(name)}").fetchall()[0][0]
                   for name in names)
        if stages_on_disk(rows):
            temp = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
            self.stages = stages_file(temp)
            self.stages.unlink(missing_ok=True)
            con.execute(f"ATTACH {literal(str(self.stages))} AS stages")
            self.say(f"stages stored compressed in {self.stages} ({rows:,} input rows)")
        larger = large_input_limit(rows)
        if larger is not None and memory_bytes(larger) > self._limit():
            con.execute(f"SET memory_limit = {literal(larger)}")
            self.say(f"DuckDB's memory limit raised to {larger} for {rows:,} input rows "
                     f"(PAYMASTER_DUCKDB_MEMORY_MAX)")
        return {name: self.ibis.table(name) for name in names}

    def _create(self, name: str, expr: ir.Table) -> ir.Table:
        if self.stages is None:
            return self.ibis.create_table(f"stage_{name}", expr, temp=True)
        return self.ibis.create_table(f"stage_{name}", expr, database=("stages", "main"))

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        expr = decorrelate(expr)
        larger = retry_limit()
        started = time.perf_counter()
        try:
            with out_of_memory(f"calculating {name}"), arithmetic_errors(name):
                return self._create(name, expr)
        except ResourceError:
            if larger is None or self._limit() >= memory_bytes(larger):
                raise
        # Ibis creates the table before filling it: the failed one is dropped. The larger
        # limit stays for the rest of the run (later stages and outputs read this one).
        self.retried[name] = round(time.perf_counter() - started, 4)
        where = "temp" if self.stages is None else "stages"
        self.con.execute(f"DROP TABLE IF EXISTS {where}.main.{quote(f'stage_{name}')}").fetchall()
        self.con.execute(f"SET memory_limit = {literal(larger)}").fetchall()
        if not self._external_access():  # sealed by the run: the limit is final now, so
            lock(self.con)  # nothing needs to change a setting again (duckdb_config.seal)
        self.say(f"calculate {name} again: it needed more than DuckDB's memory limit, "
                 f"now {larger} (PAYMASTER_DUCKDB_MEMORY_MAX)")
        with out_of_memory(f"calculating {name} with the memory limit raised to {larger}"), \
                arithmetic_errors(name):
            return self._create(name, expr)

    def _external_access(self) -> bool:
        return bool(self.con.execute(
            "SELECT current_setting('enable_external_access')").fetchall()[0][0])

    def _limit(self) -> int:
        return memory_bytes(self.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])

    def to_pyarrow(self, expr: ir.Table) -> pa.Table:
        with out_of_memory("writing the outputs"), arithmetic_errors("the outputs"):
            return self.ibis.to_pyarrow(decorrelate(expr))

    def to_pyarrow_batches(self, expr: ir.Table, chunk_rows: int) -> pa.RecordBatchReader:
        # Ibis 12's own to_pyarrow_batches calls a cursor method DuckDB 2.0 no longer has;
        # this is its to_pyarrow on a streaming reader (a sort or a join inside the query
        # still spills to disk within DuckDB's memory limit).
        expr = decorrelate(expr)
        schema = expr.schema()
        reader = self.ibis._to_duckdb_relation(expr).to_arrow_reader(batch_size=chunk_rows)

        def batches():
            with reader, out_of_memory("writing the outputs"), arithmetic_errors("the outputs"):
                for batch in reader:
                    # DuckDB's own types (a decimal for a count cast to int64, say) made
                    # Ibis's, as to_pyarrow makes them.
                    yield from DuckDBPyArrowData.convert_table(
                        pa.Table.from_batches([batch]), schema).to_batches()

        return pa.RecordBatchReader.from_batches(schema.to_pyarrow(), batches())

    def close(self) -> None:
        """The connection goes with the run; so does the stages' file."""
        if self.stages is None:
            return
        self.con.execute("DETACH stages")
        for path in (self.stages, self.stages.with_name(self.stages.name + ".wal")):
            path.unlink(missing_ok=True)
        self.stages = None


