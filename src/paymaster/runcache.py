"""What a run of an unchanged plan on unchanged input need not do again: validate the plan
and check the input.

A cached `paymaster run` of an example costs less than reading its plan (ruamel is pure
Python) and validating it (pydantic), and checking its input (a run of queries per
table) was the largest part of the rest. Both verdicts depend only on bytes we can hash:

- **The validated plan**, kept as a pickle under a key of the plan file's bytes and path,
  the plan limits' settings (PAYMASTER_PLAN_MAX_*) and the engine's code version
  (`cachefiles.engine_version`), with the digest of its validated content (the SQL cache's
  key, so a cached run never dumps the model either). Only a plan that loaded without a
  problem is kept.
- **A clean input table**: a marker under a key of the plan's digest, the table and its
  file's SHA-256, written once every check of that table passed; the references between
  tables likewise under all the files' digests. A table (or the references) with its
  marker is loaded without its checks (`datafiles.load_folder(verdicts=...)`).

Entries live beside the SQL cache (PAYMASTER_SQL_CACHE, `off` disables both) and are
trusted as it is (docs/security.md, "Cached SQL is only ever ours"): read only from a
private folder and file of this user, the pickle only when it names its key and its body
matches its hash, and unpickled with nothing but the plan's own classes and plain values.
Anything else (absent, torn, foreign, older) is a miss: the plan is read and validated,
the input checked, and the entry written again. Never a wrong result from a bad entry.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path

from paymaster import cachefiles
from paymaster.cachefiles import RUN_FORMAT as FORMAT
from paymaster.digests import file_sha256, file_state
from paymaster.plan import LoadedPlan

# What a pickled plan may name: the plan's own classes and the plain values they hold.
# No function (getattr, copyreg's helpers) and no module-level name that is not a class
# defined in our plan modules: either would let a crafted entry reach os or pickle itself.
_ALLOWED = {("builtins", name) for name in ("dict", "list", "tuple", "set", "frozenset",
                                           "str", "int", "float", "bool", "bytes")}
_ALLOWED |= {("decimal", "Decimal"), ("datetime", "date"), ("datetime", "datetime"),
             ("datetime", "time"), ("datetime", "timedelta")}
_OURS = ("paymaster.plan.model", "paymaster.plan.loaded", "paymaster.errors", "paymaster.runcache")


@dataclass(frozen=True)
class CachedPlan:
    loaded: LoadedPlan
    digest: str | None  # of the validated plan's content, the SQL cache's key (None: no cache)


def plan_digest(loaded: LoadedPlan) -> str:
    """The digest of a plan's validated content (every value, as the engine reads it)."""
    import json  # (json's import is small; kept beside its only use)

    text = json.dumps(loaded.plan.model_dump(mode="json"), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def load_plan(path: str | Path) -> CachedPlan:
    """The plan at `path`, validated: from the cache when its file, its limits and the
    engine are unchanged; else read and validated (and kept for the next run)."""
    where = cachefiles.kind_folder("plans")
    key = cachefiles.plan_key(Path(path)) if where is not None else None
    if key is not None:
        cached = _read_plan(where, key)
        if cached is not None:
            return cached
    from paymaster.plan import load_plan as read_and_validate  # (cost: module docstring)

    loaded = read_and_validate(path)
    cached = CachedPlan(loaded, plan_digest(loaded))
    if key is not None:
        cachefiles.write(where, key, pickle.dumps((FORMAT, key, cached), protocol=pickle.HIGHEST_PROTOCOL))
    return cached


class _PlanUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if module in _OURS and not name.startswith("_"):
            found = super().find_class(module, name)
            if isinstance(found, type) and found.__module__ == module:
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a plan")


def _read_plan(where: Path, key: str) -> CachedPlan | None:
    body = cachefiles.read(where, key)
    if body is None:
        return None
    try:
        stored = _PlanUnpickler(io.BytesIO(body)).load()
        fmt, stored_key, cached = stored
        if fmt != FORMAT or stored_key != key or not isinstance(cached, CachedPlan):
            return None
        return cached
    except Exception:  # noqa: BLE001 - any unreadable entry is a miss, rebuilt and rewritten
        return None


# ------------------------------------------------------------------ input verdicts


class Verdicts:
    """Which input tables (and references) of a plan are known clean, by their files'
    digests (the module's docstring); `datafiles.load_folder` asks and reports."""

    def __init__(self, digest: str, files: dict[str, Path | None]) -> None:
        self.where = cachefiles.kind_folder("verdicts")
        self.digest = digest
        self.files = {table: _file_state(path) for table, path in files.items()}
        self._known: dict[str | None, bool] = {}

    def _key(self, what: str, tables: list[str]) -> str | None:
        states = [self.files.get(t) for t in tables]
        if self.where is None or any(s is None for s in states):
            return None
        return cachefiles.verdict_key(self.digest, what, [
            (t, s[0]) for t, s in zip(tables, states, strict=True)])

    def clean(self, table: str | None) -> bool:
        """Known clean: the table (None: the references between all tables)?"""
        if table not in self._known:
            key = self._key(*self._what(table))
            self._known[table] = key is not None and cachefiles.read(self.where, key) == key.encode()
        return self._known[table] and self._unchanged(table)

    def passed(self, table: str | None) -> None:
        """Every check of the table (None: the references) passed on these files."""
        key = self._key(*self._what(table))
        if key is not None and self._unchanged(table):
            cachefiles.write(self.where, key, key.encode())

    def _what(self, table: str | None) -> tuple[str, list[str]]:
        return ("references", sorted(self.files)) if table is None else ("table", [table])

    def _unchanged(self, table: str | None) -> bool:
        """The files still as they were hashed (a file rewritten meanwhile: no verdict)."""
        tables = sorted(self.files) if table is None else [table]
        return all(self.files[t] is not None and self.files[t][1] == _stat(self.files[t][2])
                   for t in tables)


def _file_state(path: Path | None) -> tuple[str, tuple, Path] | None:
    """(SHA-256, stat, path) of a file; a missing file has the empty digest."""
    if path is None:
        return ("", (), Path())
    before = _stat(path)
    try:
        digest = file_sha256(path)
    except OSError:
        return None
    return (digest, before, path) if _stat(path) == before else None


def _stat(path: Path) -> tuple:
    if path == Path():
        return ()
    try:
        return file_state(path)
    except OSError:
        return ("gone",)


def with_digest(loaded: LoadedPlan) -> CachedPlan:
    """A plan made in memory (a registration check's screening alone): its digest once."""
    return CachedPlan(loaded, plan_digest(loaded))
