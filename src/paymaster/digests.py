"""SHA-256 digests of files, read in pieces (an input file can be larger than the memory
a run may use): one way to say "the same bytes" for the import batches, the registration
check's exported inputs and its warm state, the caches' verdicts and a run's fingerprint.
The standard library alone: the fast path (fastrun.py) uses it too."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

_PIECE = 1 << 20


def _feed(digest, path: Path) -> None:
    with path.open("rb") as handle:
        while piece := handle.read(_PIECE):
            digest.update(piece)


def file_state(path: Path) -> tuple[int, int, int]:
    """A file's size, modification time and inode: another when the file was rewritten
    since (its digest read), at the cost of one stat call."""
    info = path.stat()
    return (info.st_size, info.st_mtime_ns, info.st_ino)


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of one file's bytes."""
    digest = hashlib.sha256()
    _feed(digest, path)
    return digest.hexdigest()


def files_digest(files: Iterable[tuple[str, Path | None]]) -> str:
    """One digest of named files, in the order given: each name, then its bytes (`-` for a
    file that is not there), so a renamed, edited, added or missing file changes it."""
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode() + b"\0")
        if path is None:
            digest.update(b"-")
        else:
            _feed(digest, path)
        digest.update(b"\0")
    return digest.hexdigest()


def run_fingerprint(plan: Path, inputs: Iterable[tuple[str, Path]]) -> str:
    """A run's fingerprint: the plan file's bytes, then each input table's name and its
    file's bytes; the same fingerprint means the same result."""
    digest = hashlib.sha256(plan.read_bytes() if plan.is_file() else b"")
    for table, path in inputs:
        digest.update(table.encode())
        _feed(digest, path)
    return digest.hexdigest()[:16]
