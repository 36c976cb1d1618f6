"""DuckDB in process: the input tables already live in the validating connection."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import ibis
import ibis.expr.operations as ops
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
from paymaster.backends import arithmetic_errors, sqlcache
from paymaster.errors import ResourceError
from paymaster.plan.decorrelate import decorrelate
from paymaster.plan.model import Plan
from paymaster.sqlnames import literal, quote, quote_all


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
        # what this run executes, kept for the SQL cache (backends/sqlcache.py), or None
        self.recording: sqlcache.Entry | None = None

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
        """CREATE and INSERT as Ibis's create_table writes them, run here so that the
        statements can be recorded for the SQL cache."""
        table = f"stage_{name}"
        target = quote(table) if self.stages is None else f"stages.main.{quote(table)}"
        self.ibis._run_pre_execute_hooks(expr)  # (registers the in-memory tables it reads)
        query = self.ibis.compiler.to_sqlglot(expr).sql(dialect="duckdb")
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

    def _run(self, statements: list[str]) -> None:
        for statement in statements:
            self.con.execute(statement).fetchall()

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        expr = decorrelate(expr)
        return self._stored(name, lambda: self._create(name, expr))

    def _stored(self, name: str, create: Callable[[], ir.Table]) -> ir.Table:
        larger = retry_limit()
        started = time.perf_counter()
        try:
            with out_of_memory(f"calculating {name}"), arithmetic_errors(name):
                return create()
        except ResourceError:
            if larger is None or self._limit() >= memory_bytes(larger):
                raise
        # The table is created before it is filled: the failed one is dropped. The larger
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
            return create()

    # ------------------------------------------------------------- the SQL cache

    def cache_key(self, plan: Plan, tables: dict[str, ir.Table]) -> str:
        """The key of this run's SQL (backends/sqlcache.py): the plan, the input columns'
        types, where the stages are kept."""
        schemas = {name: {c: str(t) for c, t in table.schema().items()}
                   for name, table in tables.items()}
        return sqlcache.key(plan.model_dump(mode="json"), schemas,
                            {"stages_on_disk": self.stages is not None})

    def record_outputs(self, outputs: dict[str, ir.Table]) -> None:
        for name, expr in outputs.items():
            expr = decorrelate(expr)
            self.recording.outputs[name] = {
                "sql": self.ibis.compiler.to_sqlglot(expr).sql(dialect="duckdb"),
                "schema": {c: str(t) for c, t in expr.schema().items()}}
            for memtable in expr.op().find(ops.InMemoryTable):
                self.recording.memtables[memtable.name] = memtable.data.to_pyarrow(memtable.schema)

    def replay(self, entry: sqlcache.Entry,
               store: Callable[[str, Callable[[], ir.Table]], ir.Table]) -> dict[str, ir.Table]:
        """Run a cached entry's stages (each through `store`, which times it) and return
        its outputs as views with the column types the compiled run gave them."""
        for name, table in entry.memtables.items():
            self.con.register(name, table)
        for stage in entry.stages:
            store(stage["name"], lambda stage=stage: self._stored(
                stage["name"], lambda: self._run(stage["statements"])))
        outputs = {}
        for name, output in entry.outputs.items():
            view = f"cached_{name}"
            self.con.execute(f"CREATE TEMP VIEW {quote(view)} AS {output['sql']}").fetchall()
            table = self.ibis.table(view)
            same = {c: str(t) for c, t in table.schema().items()} == output["schema"]
            # (parsing the types is slow: only when DuckDB's differ from Ibis's)
            outputs[name] = table if same else table.cast(ibis.schema(output["schema"]))
        return outputs

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


