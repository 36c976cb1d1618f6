"""DuckDB in process: the input tables already live in the validating connection; the
plan's Ibis expressions compiled to SQL and run on the stages of backends/duckstages.py."""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.duckdb.converter import DuckDBPyArrowData

from paymaster.backends import arithmetic_errors, duckunions, sqlcache
from paymaster.backends.duckstages import DuckDBStages, Query
from paymaster.duckdb_config import out_of_memory
from paymaster.plan.decorrelate import decorrelate
from paymaster.sqlnames import quote, quote_all


class DuckDBBackend(DuckDBStages):
    def __init__(self, progress: Callable[[str], None] | None = None) -> None:
        super().__init__(progress)
        self.ibis = None
        # what this run executes, kept for the SQL cache (backends/sqlcache.py), or None
        self.recording: sqlcache.Entry | None = None

    def bind(self, con: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, ir.Table]:
        super().bind(con, names)
        self.ibis = ibis.duckdb.from_connection(con)
        return {name: self.ibis.table(name) for name in names}

    def _create(self, name: str, expr: ir.Table) -> ir.Table:
        """CREATE and INSERT as Ibis's create_table writes them, run here so that the
        statements can be recorded for the SQL cache."""
        table = f"stage_{name}"
        target = quote(table) if self.stages is None else f"stages.main.{quote(table)}"
        self.ibis._run_pre_execute_hooks(expr)  # (registers the in-memory tables it reads)
        # (a union's typed NULL padding left out: into typed columns, the same rows)
        query = duckunions.compact(self.ibis.compiler.to_sqlglot(expr)).sql(dialect="duckdb")
        columns = ", ".join(c.sql(dialect="duckdb")
                            for c in expr.schema().to_sqlglot_column_defs("duckdb"))
        statements = [f"CREATE {'TEMP ' if self.stages is None else ''}TABLE {target} ({columns})",
                      f"INSERT INTO {target} ({quote_all(expr.columns)}) {query}"]
        self._run(statements)
        if self.recording is not None:  # (after it ran: a retried stage is recorded once)
            self.recording.stages.append({"name": name, "statements": statements})
            for memtable in expr.op().find(ops.InMemoryTable):
                self.recording.memtables[memtable.name] = memtable.data.to_pyarrow(memtable.schema)
        return self._table(table)

    def _table(self, table: str) -> ir.Table:
        return self.ibis.table(table, database=("temp", "main") if self.stages is None
                               else ("stages", "main"))

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        expr = decorrelate(expr)
        return self._stored(name, lambda: self._create(name, expr))

    # ------------------------------------------------------------- the SQL cache

    def record_outputs(self, outputs: dict[str, ir.Table], figures: dict[str, ir.Table]) -> None:
        """The output tables' and the printed figures' queries, with the Arrow types
        `to_pyarrow` gives them (a cached run fetches them without Ibis)."""
        for recorded, exprs in ((self.recording.outputs, outputs),
                                (self.recording.figures, figures)):
            for name, expr in exprs.items():
                expr = decorrelate(expr)
                recorded[name] = {
                    "sql": self.ibis.compiler.to_sqlglot(expr).sql(dialect="duckdb"),
                    "arrow": sqlcache.schema_text(expr.schema().to_pyarrow())}
                for memtable in expr.op().find(ops.InMemoryTable):
                    self.recording.memtables[memtable.name] = memtable.data.to_pyarrow(
                        memtable.schema)

    def output_query(self, expr: ir.Table) -> Query:
        expr = decorrelate(expr)
        self.ibis._run_pre_execute_hooks(expr)  # (registers the in-memory tables it reads)
        return Query(self.ibis.compiler.to_sqlglot(expr).sql(dialect="duckdb"),
                     expr.schema().to_pyarrow())

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
