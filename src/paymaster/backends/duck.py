"""DuckDB in process: the input tables already live in the validating connection."""

from __future__ import annotations


import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.duckdb.converter import DuckDBPyArrowData

from paymaster.duckdb_config import out_of_memory
from paymaster.plan.decorrelate import decorrelate


class DuckDBBackend:
    name = "duckdb"

    def __init__(self) -> None:
        self.ibis = None

    def bind(self, con: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, ir.Table]:
        self.ibis = ibis.duckdb.from_connection(con)
        return {name: self.ibis.table(name) for name in names}

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        with out_of_memory(f"calculating {name}"):
            return self.ibis.create_table(f"stage_{name}", decorrelate(expr), temp=True)

    def to_pyarrow(self, expr: ir.Table) -> pa.Table:
        with out_of_memory("writing the outputs"):
            return self.ibis.to_pyarrow(decorrelate(expr))

    def to_pyarrow_batches(self, expr: ir.Table, chunk_rows: int) -> pa.RecordBatchReader:
        # Ibis 12's own to_pyarrow_batches calls a cursor method DuckDB 2.0 no longer has;
        # this is its to_pyarrow on a streaming reader (a sort or a join inside the query
        # still spills to disk within DuckDB's memory limit).
        expr = decorrelate(expr)
        schema = expr.schema()
        reader = self.ibis._to_duckdb_relation(expr).to_arrow_reader(batch_size=chunk_rows)

        def batches():
            with reader, out_of_memory("writing the outputs"):
                for batch in reader:
                    # DuckDB's own types (a decimal for a count cast to int64, say) made
                    # Ibis's, as to_pyarrow makes them.
                    yield from DuckDBPyArrowData.convert_table(
                        pa.Table.from_batches([batch]), schema).to_batches()

        return pa.RecordBatchReader.from_batches(schema.to_pyarrow(), batches())

    def close(self) -> None:
        """The connection goes with the run."""

