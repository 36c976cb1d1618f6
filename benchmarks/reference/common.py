"""What the per-record references share: reading a table of the data contract, id order."""

from __future__ import annotations

import csv
from pathlib import Path


def read(folder: Path, name: str) -> list[dict]:
    """Rows of `name`.csv as dicts of text; an absent optional table is empty."""
    path = folder / f"{name}.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def natural(value: str) -> tuple:
    """An id's trailing number sorts as a number (9 before 10, S9 before S10): the text
    before it, then the number, then the id."""
    digits = len(value) - len(value.rstrip("0123456789"))
    prefix, number = value[:len(value) - digits], value[len(value) - digits:]
    return (prefix, not number, int(number) if number else 0, value)
