"""The state file: the stored inputs with their row hashes, each file's digest, the plan's
hash, and whether the last run finished."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from paymaster import duckdb_config
from paymaster.credits import DEFAULT as DEFAULT_CREDITS
from paymaster.datafiles import find_files, load_folder
from paymaster.incremental import compiled
from paymaster.incremental.base import Progress
from paymaster.plan import LoadedPlan
from paymaster.sqlnames import quote, quote_all

# The state's own tables of an input table: its rows with their hashes (in_), the file's
# hashes in its order (fh_).
IN, FH = "in", "fh"


def table_name(prefix: str, table: str) -> str:
    """`prefix_table`, quoted: a table of the state (or a temporary one) for an input."""
    return quote(f"{prefix}_{table}")


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


@dataclass(frozen=True)
class RowGroup:
    """One row group of a Parquet input file: the same digest at the same place holds the
    same rows (its column chunks' bytes, under the same schema), so their hashes need not
    be computed again."""

    first_line: int  # the __line of its first row
    rows: int
    digest: str


@dataclass
class Diff:
    table: str
    old_count: int  # changed rows as they were (temp table old_<table>)
    new_count: int  # changed rows as they are (temp table new_<table>)
    read_rows: int = 0  # rows of the file read and hashed (the others kept their hashes)


class State:
    def __init__(self, path: Path, loaded: LoadedPlan, progress: Progress):
        self.path = path
        self.loaded = loaded
        self.say = progress
        path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(path), config=duckdb_config.config())
        self.backend = compiled.connect(self.con)  # (its SQL kept between runs)
        self.plan_hash = _plan_hash(loaded)
        self.digests: dict[Path | None, str] = {}
        self.groups: dict[Path, list[RowGroup]] = {}
        self.as_of = ""  # the run's as-of day, when the plan depends on it (asof.py)
        self.credits = DEFAULT_CREDITS  # which credits the run writes (paymaster.credits)

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
        if meta.get("as_of", "") != self.as_of:  # (what is overdue: in untouched records too)
            return "the as-of day changed"
        if meta.get("credits") != self.credits:  # (the stored credits are of the other choice)
            return (f"the credits asked for changed (the state holds --credits "
                    f"{meta.get('credits')}, this run --credits {self.credits})")
        missing = [t for t in self.loaded.plan.inputs if f"in_{t}" not in names]
        return f"no stored input {missing[0]}" if missing else None

    def mark(self, complete: bool) -> None:
        self.con.execute("CREATE OR REPLACE TABLE pm_meta (key VARCHAR, value VARCHAR)")
        self.con.executemany("INSERT INTO pm_meta VALUES (?, ?)", [
            ("version", STATE_VERSION), ("plan", self.plan_hash),
            ("complete", "yes" if complete else "no"), ("as_of", self.as_of),
            ("credits", self.credits)])

    def columns(self, table: str) -> list[str]:
        return list(self.loaded.plan.inputs[table].columns)

    def hashes(self, raw: str, table: str) -> str:
        """Two 64-bit hashes of each raw row's declared columns: its identity."""
        columns = self.columns(table)
        return (f"hash({quote_all(columns)}) AS __h1, "
                f"hash({quote_all(reversed(columns))}, 1) AS __h2")

    # -- a full load: every file read and validated by datafiles.load_folder
    def load_all(self, folder: Path) -> None:
        # Digests first: a file replaced while its rows are read is read again next time.
        for item in find_files(self.loaded.plan, folder):
            self.digest(item.path)  # (a Parquet file's is that of its row groups)
        for table in self.loaded.plan.inputs:
            self.con.execute(f"DROP VIEW IF EXISTS {quote(table)}")
        load_folder(self.loaded.plan, folder, self.con, keep_raw=True)

    def save_all(self, folder: Path) -> None:
        for table in self.loaded.plan.inputs:
            stored, raw = table_name(IN, table), table_name("raw", table)
            self.con.execute(
                f"CREATE OR REPLACE TABLE {stored} AS SELECT t.*, r.__h1, r.__h2 "
                f"FROM {quote(table)} t JOIN (SELECT __line, {self.hashes(raw, table)} "
                f"FROM {raw}) r USING (__line)")
            self.con.execute(f"CREATE OR REPLACE TABLE {table_name(FH, table)} AS "
                             f"SELECT __line, __h1, __h2 FROM {stored} ORDER BY __line")
        self.save_digests(folder)

    def save_digests(self, folder: Path) -> None:
        items = find_files(self.loaded.plan, folder)
        self.con.execute("CREATE OR REPLACE TABLE pm_files (tab VARCHAR, digest VARCHAR)")
        self.con.executemany("INSERT INTO pm_files VALUES (?, ?)", [
            (item.table, self.digest(item.path)) for item in items])
        self.con.execute("CREATE OR REPLACE TABLE pm_row_groups (tab VARCHAR, rg INTEGER, "
                         "first_line BIGINT, nrows BIGINT, digest VARCHAR)")
        rows = [(item.table, index, group.first_line, group.rows, group.digest)
                for item in items for index, group in enumerate(self.row_groups(item.path))]
        if rows:  # one statement: executemany runs one per row
            self.con.execute("INSERT INTO pm_row_groups VALUES "
                             + ", ".join(["(?, ?, ?, ?, ?)"] * len(rows)),
                             [value for row in rows for value in row])

    def stored_row_groups(self, table: str) -> list[RowGroup]:
        if "pm_row_groups" not in self.names():
            return []
        return [RowGroup(*row) for row in self.con.execute(
            "SELECT first_line, nrows, digest FROM pm_row_groups WHERE tab = ? ORDER BY rg",
            [table]).fetchall()]

    def row_groups(self, path: Path | None) -> list[RowGroup]:
        """The row groups of a Parquet file (none for other files), read once per run."""
        if path is None or path.suffix.lower() != ".parquet":
            return []
        if path not in self.groups:
            self.groups[path] = _row_groups(path)
        return self.groups[path]

    def digest(self, path: Path | None) -> str:
        """The file's SHA-256, read once per run (before its rows: a file replaced during
        the run is read again by the next one)."""
        if path not in self.digests:
            if path is not None and path.suffix.lower() == ".parquet":
                # Its rows are its row groups' bytes: their digests, read once, say the same.
                groups = "\n".join(f"{g.first_line}:{g.rows}:{g.digest}"
                                   for g in self.row_groups(path))
                self.digests[path] = f".parquet:{hashlib.sha256(groups.encode()).hexdigest()}"
            else:
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


def _row_groups(path: Path) -> list[RowGroup]:
    meta = pq.read_metadata(path)
    columns = [meta.schema.column(i) for i in range(meta.num_columns)]
    schema = "|".join(f"{c.path}:{c.physical_type}:{c.logical_type}:{c.max_definition_level}"
                      for c in columns).encode()
    groups, line = [], 2  # lines as the full load numbers them (file_row_number + 2)
    with open(path, "rb") as handle:
        for index in range(meta.num_row_groups):
            group = meta.row_group(index)
            hasher = hashlib.sha256(schema)
            hasher.update(str(group.num_rows).encode())
            for column in range(group.num_columns):
                chunk = group.column(column)
                start = chunk.data_page_offset
                if chunk.has_dictionary_page and chunk.dictionary_page_offset:
                    start = min(start, chunk.dictionary_page_offset)
                handle.seek(start)
                left = chunk.total_compressed_size
                while left > 0 and (piece := handle.read(min(left, 1 << 22))):
                    hasher.update(piece)
                    left -= len(piece)
            groups.append(RowGroup(line, group.num_rows, hasher.hexdigest()))
            line += group.num_rows
    return groups


def _plan_hash(loaded: LoadedPlan) -> str:
    path = Path(loaded.path)
    text = path.read_bytes() if path.is_file() else loaded.plan.model_dump_json().encode()
    return hashlib.sha256(text).hexdigest()



def delete_rows(con, table: str, gone: str, where: str = "TRUE", params=None) -> None:
    """Delete from the stored `table` the rows equal to those of the relation `gone` (its
    columns, NULL equal to NULL), as many of each as `gone` holds: a multiset difference,
    by rowid among equal rows. `where` (SQL with bound `params`) narrows the stored rows
    looked at (e.g. to some payees: a scan skips the other payees' row groups). Writing
    rows is most of the cost of a rewrite: deleting and inserting only the rows that
    differ keeps a one-line change one row, not every row of its payee's period."""
    columns = [r[0] for r in con.execute(f"DESCRIBE {gone}").fetchall()]
    cols = quote_all(columns)
    same = " AND ".join(f"s.{c} IS NOT DISTINCT FROM g.{c}" for c in map(quote, columns))
    con.execute(
        f"DELETE FROM {table} WHERE rowid IN (SELECT __rowid FROM ("
        f"SELECT __rowid, {cols}, row_number() OVER (PARTITION BY {cols}) AS __n FROM ("
        f"SELECT rowid AS __rowid, {cols} FROM {table} s WHERE ({where})"
        f" AND EXISTS (SELECT 1 FROM {gone} g WHERE {same}))) s"
        f" WHERE EXISTS (SELECT 1 FROM (SELECT {cols}, count(*) AS __k FROM {gone}"
        f" GROUP BY ALL) g WHERE {same} AND s.__n <= g.__k))", params or None)
