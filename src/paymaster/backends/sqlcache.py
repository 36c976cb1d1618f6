"""A plan's compiled SQL, kept so that an unchanged plan runs without building Ibis
expressions (what a plan compiler does: compile once, run many times).

Building and compiling the expressions of a plan costs seconds of Python for 31 lines of
input, the same for every run of the same plan on inputs of the same shape. A DuckDB
run that built them records what it executed (each stage's CREATE and INSERT, the output
tables' queries, the small in-memory tables the plan itself defines: phases, parameters)
under a key; the next run with the same key executes that SQL directly.

The key is a content hash of everything the SQL depends on: the plan as validated (every
value, after the environment's substitutions), the input tables' column types, whether
the stages live in a file, and the engine (its own source files, by name, size and
modification time, and the versions of Ibis, sqlglot and DuckDB). The data never enters the SQL (the inputs are tables by name),
so a hit is the SQL that run would have compiled.

The cache runs SQL, so it must be ours: its folder is created private (0700), an entry
is read only from a folder and a file owned by this user that nobody else may write, and
only when it names its own key and its body's hash matches (a torn or edited entry is a
miss, compiled again and rewritten). PAYMASTER_SQL_CACHE names the folder (default
$XDG_CACHE_HOME/paymaster/sql, else ~/.cache/paymaster/sql); `off` disables it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field

import pyarrow as pa

# Where entries live, the engine's version and how an entry is written: shared with the run
# cache and the fast path of `paymaster run`, which must not import pyarrow (cachefiles.py).
from paymaster.cachefiles import (  # noqa: F401 - names of this module's interface
    CACHE_ENV,
    KEEP,
    engine_version,
    folder,
    private,
    write_entry,
    written,
)

FORMAT = 3  # 2: input types as DuckDB has them, outputs with Arrow schemas, figures;
# 3: the plan by the digest of its validated content (runcache.plan_digest)


@dataclass
class Entry:
    """What a run executed: stages in order (each a list of statements), the in-memory
    tables they read, and each output table's query and column types."""

    stages: list[dict] = field(default_factory=list)  # {"name", "statements", "table"}
    memtables: dict[str, pa.Table] = field(default_factory=dict)
    outputs: dict[str, dict] = field(default_factory=dict)  # name: {"sql", "arrow"}
    figures: dict[str, dict] = field(default_factory=dict)  # the printed figures' queries


def key(plan: str, schemas: dict[str, dict[str, str]], settings: dict) -> str:
    text = json.dumps({"format": FORMAT, "engine": engine_version(), "plan": plan,
                       "schemas": schemas, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def load(entry_key: str) -> Entry | None:
    """The entry stored under `entry_key`, or None (absent, not ours, or not intact)."""
    where = folder()
    if where is None:
        return None
    path = where / f"{entry_key}.json"
    if not (private(where) and path.is_file() and private(path)):
        return None
    try:
        stored = json.loads(path.read_text())
        body = stored["body"]
        if stored.get("key") != entry_key or stored.get("sha256") != _hash(body):
            return None
        data = json.loads(body)
        return Entry(stages=data["stages"], outputs=data["outputs"], figures=data["figures"],
                     memtables={name: _table(text) for name, text in data["memtables"].items()})
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        return None  # a miss: compiled again, and the entry rewritten


def save(entry_key: str, entry: Entry) -> None:
    where = folder()
    if where is None:
        return
    where.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not private(where):
        return  # someone else's or shared folder: never written (nor read)
    body = json.dumps({"stages": entry.stages, "outputs": entry.outputs, "figures": entry.figures,
                       "memtables": {n: _text(t) for n, t in entry.memtables.items()}})
    stored = json.dumps({"key": entry_key, "sha256": _hash(body), "body": body})
    write_entry(where, f"{entry_key}.json", stored.encode(), KEEP, "*.json")


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _text(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return base64.b64encode(sink.getvalue().to_pybytes()).decode()


def _table(text: str) -> pa.Table:
    return pa.ipc.open_stream(base64.b64decode(text)).read_all()


def schema_text(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def schema_of(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))
