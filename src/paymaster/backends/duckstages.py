"""DuckDB stages without Ibis: where a run's stages are stored, the memory-limit retry, and
running a plan's cached SQL (backends/sqlcache.py) to Arrow.

A run whose plan was compiled before needs no expression at all: its stages are SQL
statements and its outputs SQL queries with the Arrow types the compiled run gave them.
This module imports neither Ibis nor pandas (0.6 s of CPU before a run starts, more than
the whole cached run of an example); `backends/duck.py` builds on it when a plan must be
compiled.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from paymaster.backends import arithmetic_errors, sqlcache
from paymaster.duckdb_config import (
    large_input_limit,
    lock,
    memory_bytes,
    narrow_claims,
    out_of_memory,
    retry_limit,
    some_stages_on_disk,
    stages_file,
    stages_on_disk,
)
from paymaster.errors import ResourceError
from paymaster.sqlnames import literal, quote

# A stage's table as the compiled SQL names it ("stage_<name>", quoted, its quotes doubled).
_STAGE_TABLE = re.compile(r'"stage_((?:[^"]|"")+)"')
FIGURES = "figures"  # the reader that is the printed figures' queries (run last)


def stages_read(sql: str) -> set[str]:
    """The stages a statement reads, by name. A name that only looks like a stage's keeps
    that stage longer, never shorter."""
    return {name.replace('""', '"') for name in _STAGE_TABLE.findall(sql)}


def input_rows(con: duckdb.DuckDBPyConnection, names: list[str]) -> int:
    """The input tables' rows, counted in one statement (a statement per table cost a
    cached run of an example more than the counting)."""
    counts = " + ".join(f"(SELECT count(*) FROM {quote(name)})" for name in names)
    return int(con.execute(f"SELECT {counts or 0}").fetchall()[0][0])


def cache_key(con: duckdb.DuckDBPyConnection, plan: str, names: list[str],
              credits: str) -> str:
    """The key of a run's SQL (backends/sqlcache.py): the plan (the digest of its validated
    content, runcache.plan_digest), the input columns' DuckDB types (Ibis's follow from
    them), where the stages are kept, which credits the run writes (paymaster.credits:
    `all` compiles stages and a query that `records` does not), and whether the claims are
    numbered over narrow rows (duckdb_config.narrow_claims: other SQL)."""
    schemas = {}
    for name in names:
        relation = con.table(quote(name))
        schemas[name] = {c: str(t) for c, t in zip(relation.columns, relation.types, strict=True)}
    rows = input_rows(con, names)
    return sqlcache.key(plan, schemas,
                        {"stages_on_disk": stages_on_disk(rows), "credits": credits,
                         "narrow_claims": narrow_claims(rows)})


@dataclass(frozen=True)
class Query:
    """A cached output: its SQL and the Arrow schema the compiled run fetched it as."""

    sql: str
    schema: pa.Schema


@dataclass
class ReplayedOutputs:
    """The outputs of a cached run, as `engine.Outputs` has them (in the same order), and
    the two queries of the figures `paymaster run` prints."""

    queries: dict[str, Query]
    figures: dict[str, Query] = field(default_factory=dict)

    def tables(self) -> dict[str, Query]:
        return dict(self.queries)

    @property
    def payouts(self) -> Query:
        return self.queries["payouts"]

    @property
    def effect(self) -> Query:
        return self.queries["effect"]


class DuckDBStages:
    """A run's stages on its DuckDB connection: stored as temporary tables (or in a
    compressed file for a large input), each retried once with a larger memory limit."""

    name = "duckdb"

    def __init__(self, progress: Callable[[str], None] | None = None,
                 entry: sqlcache.Entry | None = None) -> None:
        self.con: duckdb.DuckDBPyConnection | None = None
        self.say = progress or (lambda _message: None)
        # seconds spent on a stage before it ran out of memory, by stage (run metadata)
        self.retried: dict[str, float] = {}
        # the database file the stages are stored in, when not in memory
        self.stages: Path | None = None
        # stage -> the readers (later stages, outputs, FIGURES) that have not run yet: a
        # stored stage is dropped once it has none left (`read`)
        self.readers: dict[str, set[str]] = {}
        self.created: list[str] = []  # the stages stored so far
        self.dropped: list[str] = []  # (in the order they were dropped)
        self.input_rows = 0
        # the attached file the stages kept to the outputs go to, when not all of them do
        self.file: Path | None = None
        self.compressed: set[str] = set()  # the stages stored in `file`, a view in temp
        # The cached run's stages kept to its outputs, stored in `file` for a large input:
        # known before `bind`, which attaches a file only for a stage stored in it (a run
        # compiled now keeps its stages in memory, unless all go to disk).
        self.kept = kept_to_the_outputs(entry) if entry is not None else set()

    def bind(self, con: duckdb.DuckDBPyConnection, names: list[str]):
        """Where the stages go and the memory limit, from the input's size."""
        self.con = con
        rows = self.input_rows = input_rows(con, names)
        every = stages_on_disk(rows)
        if every or (some_stages_on_disk(rows) and self.kept):  # (now: the run is sealed later)
            temp = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
            self.file = stages_file(temp)
            self.file.unlink(missing_ok=True)
            con.execute(f"ATTACH {literal(str(self.file))} AS stages")
        if every:
            self.stages = self.file
            self.say(f"stages stored compressed in {self.stages} ({rows:,} input rows)")
        larger = large_input_limit(rows)
        if larger is not None and memory_bytes(larger) > self._limit():
            con.execute(f"SET memory_limit = {literal(larger)}")
            self.say(f"DuckDB's memory limit raised to {larger} for {rows:,} input rows "
                     f"(PAYMASTER_DUCKDB_MEMORY_MAX)")
        return names

    def _run(self, statements: list[str]) -> None:
        for statement in statements:
            self.con.execute(statement).fetchall()

    def _stored(self, name: str, create: Callable[[], object]):
        larger = retry_limit()
        started = time.perf_counter()
        try:
            with out_of_memory(f"calculating {name}"), arithmetic_errors(name):
                stored = create()
            self.created.append(name)
            return stored
        except ResourceError:
            if larger is None or self._limit() >= memory_bytes(larger):
                raise
        # The table is created before it is filled: the failed one is dropped. The larger
        # limit stays for the rest of the run (later stages and outputs read this one).
        self.retried[name] = round(time.perf_counter() - started, 4)
        self._drop(name, dropped=False)
        self.con.execute(f"SET memory_limit = {literal(larger)}").fetchall()
        if not self._external_access():  # sealed by the run: the limit is final now, so
            lock(self.con)  # nothing needs to change a setting again (duckdb_config.seal)
        self.say(f"calculate {name} again: it needed more than DuckDB's memory limit, "
                 f"now {larger} (PAYMASTER_DUCKDB_MEMORY_MAX)")
        with out_of_memory(f"calculating {name} with the memory limit raised to {larger}"), \
                arithmetic_errors(name):
            stored = create()
        self.created.append(name)
        return stored

    # ------------------------------------------------------ stages' last readers

    def expect(self, readers: Iterable[tuple[str, str]]) -> None:
        """The readers still to run, as (reader, its SQL): each stage its SQL names is kept
        until all of them have `read` it. A stored stage of 10M rows holds gigabytes of
        DuckDB's memory (temporary tables are kept uncompressed); kept to the end of the
        run, the stages made the later ones spill under the memory limit."""
        for reader, sql in readers:
            for stage in stages_read(sql) - {reader.removeprefix("stage ")}:
                self.readers.setdefault(stage, set()).add(reader)
        # A stored stage nothing reads any more (the compiled run's stages, read by later
        # stages alone, when its outputs are known): dropped now.
        for stage in self.created:
            if not self.readers.get(stage) and stage not in self.dropped:
                self._drop(stage)

    def read(self, reader: str) -> None:
        """`reader` has run: drop each stage it was the last reader of."""
        for stage, pending in self.readers.items():
            if reader in pending:
                pending.discard(reader)
                if not pending:
                    self._drop(stage)

    def _drop(self, stage: str, dropped: bool = True) -> None:
        table = quote(f"stage_{stage}")
        if stage in self.compressed:
            self.con.execute(f"DROP VIEW IF EXISTS temp.main.{table}").fetchall()
        where = "temp" if self.stages is None and stage not in self.compressed else "stages"
        self.con.execute(f"DROP TABLE IF EXISTS {where}.main.{table}").fetchall()
        if dropped:
            self.dropped.append(stage)

    def _compress(self, name: str, statements: list[str]) -> list[str]:
        """A cached stage's statements storing it compressed in the attached file, read
        through a temporary view of its name (the later statements name it in temp);
        as they are when not the CREATE TEMP TABLE and INSERT this module compiles."""
        table = quote(f"stage_{name}")
        create, insert = f"CREATE TEMP TABLE {table} ", f"INSERT INTO {table} "
        if (self.file is None or self.stages is not None or len(statements) != 2
                or not statements[0].startswith(create) or not statements[1].startswith(insert)):
            return statements
        self.compressed.add(name)
        stored = f"stages.main.{table}"
        return [f"CREATE TABLE {stored} {statements[0][len(create):]}",
                f"INSERT INTO {stored} {statements[1][len(insert):]}",
                f"CREATE TEMP VIEW {table} AS SELECT * FROM {stored}"]

    def _external_access(self) -> bool:
        return bool(self.con.execute(
            "SELECT current_setting('enable_external_access')").fetchall()[0][0])

    def _limit(self) -> int:
        return memory_bytes(self.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])

    # ------------------------------------------------------------- the SQL cache

    def replay(self, entry: sqlcache.Entry,
               store: Callable[[str, Callable[[], object]], object],
               stored: Callable[[str], None] | None = None) -> ReplayedOutputs:
        """Run a cached entry's stages (each through `store`, which times it); its outputs'
        queries. Each stage is dropped once no later stage, output or figure reads it; an
        output the caller writes must be `read` by it (`readers`). `stored(name)` is called
        after each stage is stored (before the stages it was the last reader of are
        dropped): the caller may write an output whose stages are all there."""
        for name, table in entry.memtables.items():
            self.con.register(name, table)
        self.expect(readers(entry))
        kept = self.kept if self.file is not None else set()
        for stage in entry.stages:
            statements = (self._compress(stage["name"], stage["statements"])
                          if stage["name"] in kept else stage["statements"])
            store(stage["name"], lambda stage=stage, statements=statements: self._stored(
                stage["name"], lambda: self._run(statements)))
            if stored is not None:
                stored(stage["name"])
            self.read(f"stage {stage['name']}")
        return replayed_outputs(entry)

    def to_pyarrow(self, query: Query) -> pa.Table:
        with out_of_memory("writing the outputs"), arithmetic_errors("the outputs"):
            return typed(self.con.sql(query.sql).to_arrow_table(), query.schema)

    def to_pyarrow_batches(self, query: Query, chunk_rows: int) -> pa.RecordBatchReader:
        reader = self.con.sql(query.sql).to_arrow_reader(batch_size=chunk_rows)

        def batches():
            with reader, out_of_memory("writing the outputs"), arithmetic_errors("the outputs"):
                for batch in reader:
                    yield from typed(pa.Table.from_batches([batch]), query.schema).to_batches()

        return pa.RecordBatchReader.from_batches(query.schema, batches())

    def output_query(self, output: Query) -> Query:
        """An output's SQL and Arrow schema, for DuckDB to write it itself (`write`)."""
        return output

    def write(self, statement: str) -> int:
        """Run a COPY ... TO statement (outputs.copy_statement): the rows it wrote."""
        with out_of_memory("writing the outputs"), arithmetic_errors("the outputs"):
            return self.con.execute(statement).fetchall()[0][0]

    def close(self) -> None:
        """The connection goes with the run; so does the stages' file."""
        if self.file is None:
            return
        for view in self.compressed:
            self.con.execute(f"DROP VIEW IF EXISTS temp.main.{quote(f'stage_{view}')}")
        self.con.execute("DETACH stages")
        for path in (self.file, self.file.with_name(self.file.name + ".wal")):
            path.unlink(missing_ok=True)
        self.stages = self.file = None


def replayed_outputs(entry: sqlcache.Entry) -> ReplayedOutputs:
    """A cached entry's outputs' and figures' queries."""
    def queries(recorded: dict[str, dict]) -> dict[str, Query]:
        return {name: Query(output["sql"], sqlcache.schema_of(output["arrow"]))
                for name, output in recorded.items()}

    return ReplayedOutputs(queries(entry.outputs), queries(entry.figures))


def readers(entry: sqlcache.Entry) -> list[tuple[str, str]]:
    """A cached run's readers of stages and their SQL: each stage ("stage NAME"), each
    output ("output NAME") and the printed figures (FIGURES)."""
    found = [(f"stage {stage['name']}", "\n".join(stage["statements"][1:]))
             for stage in entry.stages]
    found += [(f"output {name}", output["sql"]) for name, output in entry.outputs.items()]
    found += [(FIGURES, output["sql"]) for output in entry.figures.values()]
    return found


def ready_outputs(entry: sqlcache.Entry) -> dict[str, list[str]]:
    """Stage -> the outputs whose stages are all stored once it is, for the stages before
    the last (an output written there lets the stages only it reads go early)."""
    order = [stage["name"] for stage in entry.stages]
    ready: dict[str, list[str]] = {}
    for name, output in entry.outputs.items():
        needed = stages_read(output["sql"]) & set(order)
        if needed:
            last = max(order.index(stage) for stage in needed)
            if last < len(order) - 1:
                ready.setdefault(order[last], []).append(name)
    return ready


def kept_to_the_outputs(entry: sqlcache.Entry) -> set[str]:
    """The stages of a cached run read by an output written once every stage is stored,
    or by the printed figures: kept through the outputs' sorts, which they would make
    spill (a temporary table is kept uncompressed), they are stored compressed in a file
    for a large input. The others go before the outputs, and are cheaper in memory."""
    early = {name for names in ready_outputs(entry).values() for name in names}
    late = [output["sql"] for name, output in entry.outputs.items() if name not in early]
    late += [output["sql"] for output in entry.figures.values()]
    return set().union(*(stages_read(sql) for sql in late))


def typed(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """DuckDB's Arrow result in the types the compiled run gave it (a count DuckDB sums to
    a decimal is an int64 there): what Ibis's DuckDBPyArrowData.convert_table does."""
    if table.schema == schema:
        return table
    columns = [pa.nulls(len(table), pa.null()) if wanted.type == pa.null()
               else table[wanted.name].cast(wanted.type) for wanted in schema]
    return pa.Table.from_arrays(columns, schema=schema)
