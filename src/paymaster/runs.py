"""Running a plan on a data folder: load, check, compile, execute, write — timed stages.

`calculate` returns the output tables in memory; `calculate_into` has DuckDB write each
one to its file itself (outputs.copy_statement), or streams it from the backend (Spark,
Excel), so a run of any size holds no more than a batch of rows in Python.

A plan compiled before on inputs of the same columns runs its cached SQL
(backends/sqlcache.py) on DuckDB alone: such a run imports neither Ibis nor pandas (0.6 s
of CPU, more than the rest of an example's run), so the engine, the Ibis backend and the
explanations are imported where a run needs them, not here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from paymaster import asof, duckdb_config, runcache
from paymaster.backends import Backend, open_backend, sqlcache
from paymaster.backends.duckstages import (
    FIGURES,
    DuckDBStages,
    ReplayedOutputs,
    cache_key,
    ready_outputs,
    replayed_outputs,
)
from paymaster.credits import DEFAULT as DEFAULT_CREDITS
from paymaster.credits import check as _check_credits
from paymaster.datafiles import find_files, load_folder
from paymaster.digests import run_fingerprint
from paymaster.figures import Figures, figures, from_file, from_rows, queries
from paymaster.outputs import Staging, check_format
from paymaster.plan import LoadedPlan
from paymaster.plan.narrowing import Narrowing
from paymaster.runcache import CachedPlan
from paymaster.stageclock import StageClock

if TYPE_CHECKING:
    from paymaster.engine import Outputs

Progress = Callable[[str], None]


@dataclass
class RunResult:
    loaded: LoadedPlan
    tables: dict[str, pa.Table]
    fingerprint: str
    timings: dict[str, float] = field(default_factory=dict)
    as_of: dt.date | None = None  # (set when the result depends on it: asof.py)
    credits: str = DEFAULT_CREDITS  # which credits it holds (paymaster.credits)

    @property
    def program(self) -> str:
        return self.loaded.plan.program

    @property
    def rows(self) -> dict[str, int]:
        return {name: table.num_rows for name, table in self.tables.items()}

    def explained(self, name: str, locale: str = "en") -> list[dict]:
        """A table's rows (payouts or evaluations) with their explanation rendered from
        the trace, in `locale`."""
        from paymaster.explanations import explain_rows  # (Ibis: see the module's docstring)

        rows = self.tables[name].to_pylist()
        texts = explain_rows(self.loaded.plan, rows, name, locale)
        return [{**row, "explanation": text} for row, text in zip(rows, texts, strict=True)]


@dataclass
class WrittenRun:
    """A run whose output tables went to files: what they were made from, how many rows
    each has, and the figures `paymaster run` prints."""

    loaded: LoadedPlan
    fingerprint: str
    timings: dict[str, float]
    figures: Figures | None  # (known once the payouts are written)
    rows: dict[str, int] = field(default_factory=dict)
    paths: list[Path] = field(default_factory=list)
    as_of: dt.date | None = None  # (set when the result depends on it: asof.py)
    credits: str = DEFAULT_CREDITS  # which credits were written (paymaster.credits)

    @property
    def program(self) -> str:
        return self.loaded.plan.program


def fingerprint(loaded: LoadedPlan, folder: Path, as_of: dt.date | None = None) -> str:
    """Plan text + input files' bytes (+ the as-of day, for a plan whose result depends on
    it: asof.py): the same fingerprint means the same result."""
    found = run_fingerprint(Path(loaded.path), ((item.table, item.path)
                                                for item in find_files(loaded.plan, folder)
                                                if item.path is not None))
    return asof.fingerprint(found, asof.resolve(as_of) if asof.needed(loaded.plan) else None)


def calculate(plan: LoadedPlan | CachedPlan | str | Path, data: Path, progress: Progress | None = None, *,
              backend: str = "duckdb", spark_master: str | None = None,
              only: Collection[str] | None = None,
              narrow: Narrowing | None = None, as_of: dt.date | None = None,
              credits: str = DEFAULT_CREDITS) -> RunResult:
    """Run `plan` on the input folder `data`, on DuckDB (the default) or Spark, and fetch
    every output table into memory (`only` those named: a registration check reads the
    evaluations alone; `narrow`: of its source table the records its subjects' verdicts
    depend on, plan/narrowing.py; `as_of`: the day what is overdue is judged on, today
    when not given: asof.py; `credits`: `all` for every record an aggregate summed too,
    paymaster.credits)."""
    _check_credits(credits)
    say = progress or (lambda _stage: None)
    clock = StageClock()
    as_of = asof.resolve(as_of)
    with _built(plan, data, say, clock, backend, spark_master, narrow, as_of=as_of,
                credits=credits) as (loaded, engine, outputs):
        results = execute(outputs, engine.to_pyarrow, say, only)
        clock.done("execute")
    return RunResult(loaded, results, fingerprint(loaded, Path(data), as_of), clock.timings,
                     as_of if asof.needed(loaded.plan) else None, credits)


CHUNK_ROWS = 100_000  # rows per batch written: a few tens of MB of payout lines


def calculate_into(plan: LoadedPlan | CachedPlan | str | Path, data: Path, out: Path, fmt: str = "csv",
                   progress: Progress | None = None, *, backend: str = "duckdb",
                   spark_master: str | None = None,
                   metadata: Callable[[WrittenRun], dict] | None = None,
                   chunk_rows: int = CHUNK_ROWS, explanations: str = "none",
                   locale: str = "en", as_of: dt.date | None = None,
                   credits: str = DEFAULT_CREDITS) -> WrittenRun:
    """Run `plan` on `data` and write each output table to `out` in `fmt` as it streams
    from the backend, all or nothing (outputs.Staging). `metadata(result)`, called once the
    tables are written (their rows and times known), goes beside them as run.json.
    `explanations="text"` adds each payout line's and evaluation's explanation, rendered
    from its trace in `locale` (the trace alone otherwise); `as_of` and `credits` as
    `calculate` has them."""
    check_format(fmt)
    _check_credits(credits)
    say = progress or (lambda _stage: None)
    clock = StageClock()
    as_of = asof.resolve(as_of)
    # The staging folder first: the run's DuckDB may write into it once sealed, nowhere else.
    with Staging(out) as staging:
        writer = _Writer(staging, fmt, clock, say, chunk_rows, explanations, locale)
        with _built(plan, data, say, clock, backend, spark_master,
                    writable=staging.folder if backend == "duckdb" else None,
                    writer=writer, as_of=as_of, credits=credits) as (loaded, engine, outputs):
            # The effect is one row: fetched once, printed and written from memory.
            effect = engine.to_pyarrow(outputs.effect)
            clock.done("effect")
            if isinstance(engine, DuckDBStages) and not isinstance(outputs, ReplayedOutputs):
                engine.expect(_compiled_readers(engine, outputs))
            result = WrittenRun(loaded, fingerprint(loaded, Path(data), as_of), clock.timings, None,
                                as_of=as_of if asof.needed(loaded.plan) else None,
                                credits=credits)
            for name, expr in outputs.tables().items():
                if name not in writer.rows:  # (unless written as soon as it could be)
                    writer.write(name, expr, effect)
            result.rows = {name: writer.rows[name] for name in outputs.tables()}
            clock.done("execute")
            say("summarize")
            if writer.payouts_copied and fmt == "parquet":  # (what was written: no line again)
                result.figures = from_file(engine.con, staging.folder / "payouts.parquet", effect)
            else:
                result.figures = _figures(outputs, effect, engine.to_pyarrow)
            clock.done("summarize")
            if metadata is not None:
                staging.metadata(metadata(result))
    result.paths = staging.paths
    return result


class _Writer:
    """Writes an output table to the staging folder: by DuckDB itself (outputs.copy_statement)
    when it can, else streamed through Arrow; an output whose stages are all stored may be
    written before the later stages run (`_built`), so that what only it read is dropped."""

    def __init__(self, staging: Staging, fmt: str, clock: StageClock, say: Progress,
                 chunk_rows: int, explanations: str, locale: str) -> None:
        self.staging, self.fmt, self.clock, self.say = staging, fmt, clock, say
        self.chunk_rows, self.explanations, self.locale = chunk_rows, explanations, locale
        self.loaded: LoadedPlan | None = None
        self.engine: Backend | None = None
        self.rows: dict[str, int] = {}
        self.payouts_copied = False  # (then the printed figures are read from its file)

    def write(self, name: str, expr, effect: pa.Table | None = None,
              early: bool = False) -> None:
        """Write output `name`; `early`: while the stages are still calculated (its time is
        the `execute` stage's all the same)."""
        engine, fmt = self.engine, self.fmt
        self.say(f"write {name}")
        with self.clock.part(f"write {name}", counted_in="execute" if early else None):
            explained = False
            if self.explanations == "text":  # (imports Ibis: see the module's docstring)
                from paymaster.explanations import EXPLAINED, with_explanations

                explained = name in EXPLAINED
            rows = None
            if isinstance(engine, DuckDBStages) and name != "effect" and not explained:
                query = engine.output_query(expr)  # (no row through Python)
                rows = self.staging.copied(f"{name}.{fmt}", fmt, query.sql, query.schema,
                                           engine.write)
                self.payouts_copied |= name == "payouts" and rows is not None
            if rows is None:
                stream = effect if name == "effect" else engine.to_pyarrow_batches(
                    expr, self.chunk_rows)
                if explained:
                    stream = with_explanations(stream, self.loaded.plan, name, self.locale)
                rows = self.staging.table(f"{name}.{fmt}", fmt, stream)
            self.rows[name] = rows
        if isinstance(engine, DuckDBStages):
            engine.read(f"output {name}")  # (drops the stages only it still read)


def _compiled_readers(engine: DuckDBStages, outputs: Outputs) -> list[tuple[str, str]]:
    """The outputs' and the printed figures' SQL, for the stages of a run compiled now to
    be dropped as soon as their last reader is written."""
    found = [(f"output {name}", engine.output_query(expr).sql)
             for name, expr in outputs.tables().items()]
    found += [(FIGURES, engine.output_query(expr).sql)
              for expr in queries(_totals(outputs)).values()]
    return found


@contextmanager
def _built(plan: LoadedPlan | CachedPlan | str | Path, data: Path, say: Progress, clock: StageClock,
           backend: str, spark_master: str | None, narrow: Narrowing | None = None,
           writable: Path | None = None, writer: _Writer | None = None,
           as_of: dt.date | None = None,
           credits: str = DEFAULT_CREDITS) -> Iterator[tuple[LoadedPlan, Backend, Outputs]]:
    """Load the plan and the input, build the outputs on an open backend; the backend (and
    what it stored) closes when the block ends. The connection, once it has read the input,
    reaches no file but the input's and the folder `writable`. A cached run over a large
    input has `writer` write each output as soon as the stages it reads are stored."""
    stage = clock.done
    cached = cached_plan(plan)
    loaded = cached.loaded
    say("load plan")
    stage("load_plan")
    engine: Backend | None = None
    if backend != "duckdb":
        say(f"start {backend}")
        engine = open_backend(backend, spark_master, say)
        stage(f"start_{backend}")
    con = duckdb.connect(config=duckdb_config.config())
    try:
        say("read and validate input")
        verdicts = None
        if cached.digest is not None:
            files = {item.table: item.path for item in find_files(loaded.plan, Path(data))}
            verdicts = runcache.Verdicts(cached.digest, files)
        with duckdb_config.out_of_memory("reading the input"):
            load_folder(loaded.plan, Path(data), con, verdicts=verdicts)
        if narrow is not None and narrow.apply(con):
            say(f"screen {narrow.table} of {', '.join(narrow.subjects)}'s groups alone")
        # (the as-of day a value in a table beside the input's: the SQL is the same each day)
        names = list(loaded.plan.inputs) + asof.register(con, loaded.plan, as_of)
        key = entry = None
        if backend == "duckdb":
            key = cache_key(con, cached.digest, names, credits) if cached.digest else None
            entry = sqlcache.load(key) if key else None
            # The plan's cached SQL needs no expressions, hence no Ibis (DuckDBStages).
            engine = (DuckDBStages(say, entry) if entry is not None
                      else open_backend(backend, None, say))
        tables = engine.bind(con, names)
        if writer is not None:
            writer.loaded, writer.engine = loaded, engine
        # From here on the connection reads the input files only (its Parquet views).
        duckdb_config.seal(con, [item.path for item in find_files(loaded.plan, Path(data))],
                           writable)
        stage("read_input")

        if entry is not None:
            say("run the plan's compiled SQL (cached)")
            outputs = engine.replay(entry, clock.materializer(lambda _name, run: run(), say),
                                    _early(entry, engine, writer))
        else:
            outputs = _outputs(loaded, engine, tables, clock, say, key, credits)
        stage("calculate")
        for name, seconds in engine.retried.items():
            clock.timings[f"stage {name} ran out of memory"] = seconds
        yield loaded, engine, outputs
    finally:
        # Dropping the stored stages and their spill files takes seconds at 10M lines:
        # done here, said, rather than whenever the connection is collected.
        say("close")
        if engine is not None:
            engine.close()
        con.close()


def _early(entry: sqlcache.Entry, engine: DuckDBStages, writer: _Writer | None) -> Callable[[str], None] | None:
    """What writes, once a stage is stored, the outputs that need no later stage (for a
    large input: this changes the order of the printed lines, which the fast path of a
    small one keeps as it is)."""
    if writer is None or engine.input_rows < duckdb_config.EARLY_OUTPUT_ROWS:
        return None
    ready, replayed = ready_outputs(entry), replayed_outputs(entry)

    def stored(stage: str) -> None:
        for name in ready.get(stage, ()):
            writer.write(name, replayed.queries[name], early=True)
    return stored


def cached_plan(plan: LoadedPlan | CachedPlan | str | Path) -> CachedPlan:
    """The plan with the digest of its content (None: no cache, nothing to key); a plan
    file from the run cache when the file and the engine are unchanged."""
    if isinstance(plan, CachedPlan):
        return plan
    if sqlcache.folder() is None:
        if isinstance(plan, LoadedPlan):
            return CachedPlan(plan, None)
        from paymaster.plan import load_plan  # (the loader's cost: paymaster.runcache)

        return CachedPlan(load_plan(plan), None)
    if isinstance(plan, LoadedPlan):
        return runcache.with_digest(plan)
    return runcache.load_plan(plan)


def _outputs(loaded: LoadedPlan, engine: Backend, tables: dict, clock: StageClock,
             say: Progress, key: str | None, credits: str) -> Outputs:
    """The plan's outputs built from Ibis expressions; on DuckDB (`key`), the SQL it
    executed recorded for the next run of the same plan on inputs of the same columns
    (backends/sqlcache.py)."""
    from paymaster.engine import build  # (imports Ibis: see the module's docstring)

    if key:
        engine.recording = sqlcache.Entry()
    # (DuckDB chooses by the input's size, as its SQL cache key does; other backends narrow)
    narrow = engine.name != "duckdb" or duckdb_config.narrow_claims(engine.input_rows)
    outputs: Outputs = build(loaded, tables, clock.materializer(engine.materialize, say),
                             credits=credits, narrow_claims=narrow)
    if key:
        engine.record_outputs(outputs.tables(), queries(_totals(outputs)))
        sqlcache.save(key, engine.recording)
        engine.recording = None
    return outputs


def _totals(outputs: Outputs):
    return outputs.payouts if outputs.totals is None else outputs.totals


def _figures(outputs: Outputs | ReplayedOutputs, effect: pa.Table, fetch) -> Figures:
    """The figures `paymaster run` prints: queried now, or by the cached run's recorded
    queries."""
    if isinstance(outputs, ReplayedOutputs):
        return from_rows(fetch(outputs.figures["totals"]).to_pylist(),
                         fetch(outputs.figures["reasons"]).to_pylist(), effect)
    return figures(_totals(outputs), effect, fetch)


def execute(outputs: Outputs, to_pyarrow: Callable[[object], pa.Table],
            say: Progress, only: Collection[str] | None = None) -> dict[str, pa.Table]:
    """Fetch each output table (`only` those named), saying which."""
    results = {}
    for name, expr in outputs.tables().items():
        if only is not None and name not in only:
            continue
        say(f"execute {name}")
        results[name] = to_pyarrow(expr)
    return results
