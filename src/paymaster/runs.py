"""Running a plan on a data folder: load, check, compile, execute, write — timed stages."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from paymaster import duckdb_config
from paymaster.backends import open_backend
from paymaster.datafiles import find_files, load_folder
from paymaster.engine import Outputs, build
from paymaster.plan import LoadedPlan, load_plan

Progress = Callable[[str], None]


@dataclass
class RunResult:
    loaded: LoadedPlan
    tables: dict[str, pa.Table]
    fingerprint: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def program(self) -> str:
        return self.loaded.plan.program


def fingerprint(loaded: LoadedPlan, folder: Path) -> str:
    """Plan text + input files' bytes: the same fingerprint means the same result."""
    digest = hashlib.sha256(Path(loaded.path).read_bytes() if Path(loaded.path).is_file() else b"")
    for item in find_files(loaded.plan, folder):
        if item.path is not None:
            digest.update(item.table.encode())
            digest.update(item.path.read_bytes())
    return digest.hexdigest()[:16]


class StageClock:
    """Seconds per stage of a run: `done(name)` records the time since the previous stage
    ended; each stored pipeline stage is also timed on its own (`stage <name>`)."""

    def __init__(self, timings: dict[str, float] | None = None) -> None:
        self.timings = {} if timings is None else timings
        self._last = time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._last, 4)
        self._last = now

    def materializer(self, store: Callable, say: Progress) -> Callable:
        """The engine's `materialize` callback: store a stage, say so, time it."""
        def materialize(name: str, expr):
            say(f"calculate {name}")
            started = time.perf_counter()
            table = store(name, expr)
            self.timings[f"stage {name}"] = round(time.perf_counter() - started, 4)
            return table
        return materialize


def calculate(plan: LoadedPlan | str | Path, data: Path, progress: Progress | None = None, *,
              backend: str = "duckdb", spark_master: str | None = None) -> RunResult:
    """Run `plan` on the input folder `data`, on DuckDB (the default) or Spark."""
    say = progress or (lambda _stage: None)
    clock = StageClock()
    stage = clock.done

    loaded = plan if isinstance(plan, LoadedPlan) else load_plan(plan)
    say("load plan")
    stage("load_plan")
    if backend != "duckdb":
        say(f"start {backend}")
    engine = open_backend(backend, spark_master)
    if backend != "duckdb":
        stage(f"start_{backend}")
    try:
        con = duckdb.connect(config=duckdb_config.config())
        say("read and validate input")
        load_folder(loaded.plan, Path(data), con)
        tables = engine.bind(con, list(loaded.plan.inputs))
        stage("read_input")

        outputs: Outputs = build(loaded, tables, clock.materializer(engine.materialize, say))
        stage("calculate")
        results = execute(outputs, engine.to_pyarrow, say)
        stage("execute")
    finally:
        engine.close()
    return RunResult(loaded, results, fingerprint(loaded, Path(data)), clock.timings)


def execute(outputs: Outputs, to_pyarrow: Callable[[object], pa.Table],
            say: Progress) -> dict[str, pa.Table]:
    """Fetch each output table, saying which."""
    results = {}
    for name, expr in outputs.tables().items():
        say(f"execute {name}")
        results[name] = to_pyarrow(expr)
    return results
