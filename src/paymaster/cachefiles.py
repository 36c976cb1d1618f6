"""Where the caches of a run live, how their keys are made and how an entry is stored:
the part of the SQL cache (backends/sqlcache.py), the run cache (runcache.py) and the
fast path of `paymaster run` (fastrun.py) that needs nothing but the standard library, so
that the fast path can ask "was this run before?" before importing anything large.

Entries are trusted as docs/security.md ("Cached SQL is only ever ours") says: read only
from a private folder and file of this user (owned by them, writable by nobody else),
only when they name their key and their body matches its hash; written whole or not at
all (a temporary file renamed into place).
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import sys
import tempfile
from pathlib import Path

CACHE_ENV = "PAYMASTER_SQL_CACHE"
KEEP = 256  # SQL cache entries kept (each plan, input shape and engine version has its own)
RUN_FORMAT = 1  # of the run cache's keys (plans, verdicts)
LIMITS = ("MAX_BYTES", "MAX_DEPTH", "MAX_NODES")  # plan/yamlsource.py's settings
PACKAGE = Path(__file__).resolve().parent


def folder() -> Path | None:
    """The SQL cache's folder (the run cache's and the fast path's are inside it)."""
    given = os.environ.get(CACHE_ENV, "")
    if given.lower() == "off":
        return None
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "paymaster" / "sql"


def kind_folder(kind: str) -> Path | None:
    """The folder of one kind of run-cache entry (plans, verdicts, fast)."""
    base = folder()
    return None if base is None else base / kind


@functools.cache
def engine_version() -> str:
    """The code that writes the SQL: every source file of the package (its name, size and
    modification time: an edited, reinstalled or checked-out file has a new one), and the
    libraries. Reading and hashing the 2 MB of sources cost a cached run 6 ms of CPU, five
    times the stat calls; a changed time with unchanged content is only a miss."""
    digest = hashlib.sha256()
    for root, folders, files in os.walk(PACKAGE):
        folders.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(root, name)
                info = os.stat(path)
                digest.update(f"{os.path.relpath(path, PACKAGE)}:{info.st_size}:"
                              f"{info.st_mtime_ns}\n".encode())
    for library in ("ibis-framework", "sqlglot", "duckdb"):
        digest.update(f"{library}={library_version(library)}".encode())
    return digest.hexdigest()


def library_version(name: str) -> str:
    """An installed library's version, from the name of its .dist-info folder (what an
    installer writes: NAME-VERSION.dist-info); importlib.metadata's answer otherwise.
    Reading the folder's name spares a fast run the parsing of three METADATA files."""
    prefix = name.replace("-", "_").lower() + "-"
    for entry in sys.path:
        found = [n for n in _listing(entry) if n.lower().startswith(prefix) and n.endswith(".dist-info")]
        if len(found) == 1:
            return found[0][len(prefix):-len(".dist-info")]
        if found:
            break  # (two versions side by side: the installer's own answer)
    # (imported here, where it is needed, which a fast run never is: importlib.metadata
    # brings the email package with it, 15 ms of a fast run's imports)
    from importlib.metadata import version

    return version(name)


@functools.cache
def _listing(folder: str) -> tuple[str, ...]:
    try:
        return tuple(os.listdir(folder or "."))
    except OSError:
        return ()


def plan_key(path: Path) -> str | None:
    """The run cache's key of a plan file: its bytes and path, the plan limits' settings
    and the engine (None: the file cannot be read, which the loader says, located)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    digest = hashlib.sha256(data)
    limits = {name: os.environ.get(f"PAYMASTER_PLAN_{name}", "") for name in LIMITS}
    digest.update(repr((RUN_FORMAT, str(path), limits, engine_version())).encode())
    return digest.hexdigest()


def verdict_key(plan_digest: str, what: str, files: list[tuple[str, str]]) -> str:
    """The key of an input verdict: the plan, what passed ("table" or "references") and
    the (table, SHA-256 of its file) it passed on."""
    text = repr((RUN_FORMAT, engine_version(), plan_digest, what, files))
    return hashlib.sha256(text.encode()).hexdigest()


def private(path: Path) -> bool:
    """Owned by this user, and neither its group nor others may write it."""
    try:
        info = path.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def read(where: Path, key: str) -> bytes | None:
    """The body of the run-cache entry `key` in `where` (a kind's folder), or None when it
    is absent, not private, or its body does not match its hash."""
    path = where / key
    if not (private(where.parent) and private(where) and path.is_file() and private(path)):
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    digest, _, body = data.partition(b"\n")
    return body if digest == hashlib.sha256(body).hexdigest().encode() else None


def write(where: Path, key: str, body: bytes) -> None:
    """`body` as the run-cache entry `key` in `where`, with its hash in front."""
    try:
        where.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # (the SQL cache's)
        where.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return  # a cache that cannot be written is only slower
    if not (private(where.parent) and private(where)):
        return
    write_entry(where, key, hashlib.sha256(body).hexdigest().encode() + b"\n" + body, KEEP * 4)


def write_entry(where: Path, name: str, data: bytes, keep: int, entries: str = "*") -> None:
    """`data` as the entry `name` of the private folder `where`, whole or not at all; then
    only the `keep` most recently written entries (files matching `entries`) stay: an
    edited engine or plan leaves its old entries unread for ever."""
    handle, temp = tempfile.mkstemp(dir=where, prefix=".entry-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, where / name)
    finally:
        Path(temp).unlink(missing_ok=True)
    kept = sorted((p for p in where.glob(entries) if not p.name.startswith(".")),
                  key=written, reverse=True)
    for old in kept[keep:]:
        old.unlink(missing_ok=True)


def written(path: Path) -> float:
    """When an entry was written; one another process pruned meanwhile is oldest (a run
    beside another that shares the folder must not fail on the other's pruning)."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
