"""The state file: the stored inputs with their row hashes, each file's digest, the plan's
hash, and whether the last run finished."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import ibis

from paymaster import duckdb_config
from paymaster.datafiles import find_files, load_folder
from paymaster.incremental.base import Progress
from paymaster.plan import LoadedPlan



def _code_digest() -> str:
    # Stored stages are spliced with freshly computed ones, so both must come from the
    # same engine: a state written by any other code (an upgrade that narrows a stage,
    # say) is refused and the run falls back to a full one.
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


STATE_VERSION = f"3-{_code_digest()}"


@dataclass
class Diff:
    table: str
    old_count: int  # changed rows as they were (temp table old_<table>)
    new_count: int  # changed rows as they are (temp table new_<table>)


class State:
    def __init__(self, path: Path, loaded: LoadedPlan, progress: Progress):
        self.path = path
        self.loaded = loaded
        self.say = progress
        path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(path), config=duckdb_config.config())
        self.backend = ibis.duckdb.from_connection(self.con)
        self.plan_hash = _plan_hash(loaded)
        self.digests: dict[Path | None, str] = {}

    def names(self) -> set[str]:
        return {r[0] for r in self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            " AND table_catalog = current_database()").fetchall()}

    def usable(self) -> str | None:
        """Why the stored state cannot be used (None when it can)."""
        names = self.names()
        if "pm_meta" not in names:
            return "no stored state"
        meta = dict(self.con.execute("SELECT key, value FROM pm_meta").fetchall())
        if meta.get("version") != STATE_VERSION:
            return "state written by another version of Paymaster"
        if meta.get("plan") != self.plan_hash:
            return "the plan changed"
        if meta.get("complete") != "yes":
            return "the previous run did not finish"
        missing = [t for t in self.loaded.plan.inputs if f"in_{t}" not in names]
        return f"no stored input {missing[0]}" if missing else None

    def mark(self, complete: bool) -> None:
        self.con.execute("CREATE OR REPLACE TABLE pm_meta (key VARCHAR, value VARCHAR)")
        self.con.executemany("INSERT INTO pm_meta VALUES (?, ?)", [
            ("version", STATE_VERSION), ("plan", self.plan_hash),
            ("complete", "yes" if complete else "no")])

    def columns(self, table: str) -> list[str]:
        return list(self.loaded.plan.inputs[table].columns)

    def hashes(self, raw: str, table: str) -> str:
        """Two 64-bit hashes of each raw row's declared columns: its identity."""
        quoted = [f'"{c}"' for c in self.columns(table)]
        return (f'hash({", ".join(quoted)}) AS __h1, '
                f'hash({", ".join(reversed(quoted))}, 1) AS __h2')

    # -- a full load: every file read and validated by datafiles.load_folder
    def load_all(self, folder: Path) -> None:
        for table in self.loaded.plan.inputs:
            self.con.execute(f'DROP VIEW IF EXISTS "{table}"')
        load_folder(self.loaded.plan, folder, self.con, keep_raw=True)

    def save_all(self, folder: Path) -> None:
        for table in self.loaded.plan.inputs:
            self.con.execute(
                f'CREATE OR REPLACE TABLE in_{table} AS SELECT t.*, r.__h1, r.__h2 FROM "{table}" t '
                f'JOIN (SELECT __line, {self.hashes(f"raw_{table}", table)} FROM "raw_{table}") r '
                f"USING (__line)")
            self.con.execute(f"CREATE OR REPLACE TABLE fh_{table} AS SELECT __line, __h1, __h2 "
                             f"FROM in_{table} ORDER BY __line")
        self.save_digests(folder)

    def save_digests(self, folder: Path) -> None:
        self.con.execute("CREATE OR REPLACE TABLE pm_files (tab VARCHAR, digest VARCHAR)")
        self.con.executemany("INSERT INTO pm_files VALUES (?, ?)", [
            (item.table, self.digest(item.path))
            for item in find_files(self.loaded.plan, folder)])

    def digest(self, path: Path | None) -> str:
        """The file's SHA-256, read once per run (before its rows: a file replaced during
        the run is read again by the next one)."""
        if path not in self.digests:
            self.digests[path] = _digest(path)
        return self.digests[path]


def _digest(path: Path | None) -> str:
    if path is None:
        return "missing"
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            hasher.update(chunk)
    return f"{path.suffix}:{hasher.hexdigest()}"


def _plan_hash(loaded: LoadedPlan) -> str:
    path = Path(loaded.path)
    text = path.read_bytes() if path.is_file() else loaded.plan.model_dump_json().encode()
    return hashlib.sha256(text).hexdigest()

