"""SHA-256 digests of files, read in pieces: one way to say "the same bytes" for the
import batches, the registration check's exported inputs and its warm state."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

_PIECE = 1 << 20


def _feed(digest, path: Path) -> None:
    with path.open("rb") as handle:
        while piece := handle.read(_PIECE):
            digest.update(piece)


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
