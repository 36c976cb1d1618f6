"""Shared test helpers: run a plan on a folder, and compare tables as sorted text rows."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def normalise(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def read_expected(path: Path) -> tuple[list[str], list[tuple[str, ...]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = list(rows[0].keys()) if rows else _header(path)
    return columns, sorted(tuple(row[c] or "" for c in columns) for row in rows)


def _header(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[0].split(",")


def project(table, columns: list[str], formats: dict[str, str] | None = None) -> list[tuple[str, ...]]:
    formats = formats or {}
    rows = []
    for row in table.to_pylist():
        rows.append(tuple(_fmt(row.get(c), formats.get(c)) for c in columns))
    return sorted(rows)


def _fmt(value: object, places: str | None) -> str:
    if isinstance(value, Decimal) and places is not None:
        return str(value.quantize(Decimal(places)))
    return normalise(value)


@pytest.fixture(scope="session")
def examples() -> Path:
    return EXAMPLES
