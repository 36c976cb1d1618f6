"""DuckDB in process: the input tables already live in the validating connection."""

from __future__ import annotations

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa

from paymaster.plan.decorrelate import decorrelate


class DuckDBBackend:
    name = "duckdb"

    def __init__(self) -> None:
        self.ibis = None

    def bind(self, con: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, ir.Table]:
        self.ibis = ibis.duckdb.from_connection(con)
        return {name: self.ibis.table(name) for name in names}

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        return self.ibis.create_table(f"stage_{name}", decorrelate(expr), temp=True)

    def to_pyarrow(self, expr: ir.Table) -> pa.Table:
        return self.ibis.to_pyarrow(decorrelate(expr))

    def close(self) -> None:
        """The connection goes with the run."""
