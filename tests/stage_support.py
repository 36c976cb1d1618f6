"""An example's plan built on a DuckDB backend over its own data, keeping what each stage
stored: for the tests that read a stage's columns or statements (what is stored and read
is the point of those tests, not only the outputs)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb

from conftest import EXAMPLES


@dataclass
class Built:
    con: duckdb.DuckDBPyConnection
    backend: Any
    outputs: Any
    stored: dict[str, list[str]] = field(default_factory=dict)  # stage -> its columns


@contextmanager
def built_example(program: str, *, record: bool = False,
                  credits: str = "records") -> Iterator[Built]:
    """The example `program` built, its backend open until the block ends; with `record`,
    `backend.recording.stages` holds each stage's statements as they ran; `credits` as
    `paymaster run --credits` has it."""
    from paymaster import asof
    from paymaster.backends import open_backend, sqlcache
    from paymaster.datafiles import load_folder
    from paymaster.engine import build
    from paymaster.plan import load_plan

    loaded = load_plan(EXAMPLES / program / "plan.yaml")
    con = duckdb.connect()
    load_folder(loaded.plan, EXAMPLES / program / "data", con)
    backend = open_backend("duckdb", None, None)
    tables = backend.bind(con, list(loaded.plan.inputs) + asof.register(con, loaded.plan, None))
    if record:
        backend.recording = sqlcache.Entry()
    stored: dict[str, list[str]] = {}

    def materialize(name, expr):
        table = backend.materialize(name, expr)
        stored[name] = list(table.columns)
        return table

    try:
        outputs = build(loaded, tables, materialize, credits=credits)
        yield Built(con, backend, outputs, stored)
    finally:
        backend.close()
