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
    """Ids made of digits sort as numbers (9 before 10), others as text."""
    return (0, int(value), "") if value.isdigit() else (1, 0, value)
