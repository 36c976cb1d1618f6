"""Writing result tables: CSV, Parquet or Excel, all or nothing."""

from __future__ import annotations

import json
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = ("csv", "parquet", "xlsx")


METADATA = "run.json"


def write_tables(tables: dict[str, pa.Table], out: Path, fmt: str = "csv",
                 metadata: dict | None = None) -> list[Path]:
    """Write into a temporary folder first, then move into place, so a failure never
    leaves half an output behind. `metadata` (the run's plan, input fingerprint and
    stage timings) goes with the tables as run.json, so the tables never lose their
    provenance."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}'; use one of {', '.join(FORMATS)}")
    out.mkdir(parents=True, exist_ok=True)
    names = []
    with tempfile.TemporaryDirectory(dir=out) as staging:
        for name, table in tables.items():
            _write(table, Path(staging) / f"{name}.{fmt}", fmt)
            names.append(f"{name}.{fmt}")
        if metadata is not None:
            (Path(staging) / METADATA).write_text(
                json.dumps(metadata, indent=2, default=str) + "\n", encoding="utf-8")
            names.append(METADATA)
        paths = []
        for name in names:
            shutil.move(str(Path(staging) / name), out / name)
            paths.append(out / name)
    return paths


def _write(table: pa.Table, path: Path, fmt: str) -> None:
    if fmt == "csv":
        pacsv.write_csv(table, path)
    elif fmt == "parquet":
        pq.write_table(table, path)
    else:
        _write_xlsx(table, path)


def _write_xlsx(table: pa.Table, path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = path.stem[:31]
    sheet.append(table.column_names)
    for row in table.to_pylist():
        sheet.append([_cell(v) for v in row.values()])
    book.save(path)


def _cell(value: object) -> object:
    # Excel has no decimal type; keep exact money as text rather than a binary float.
    if isinstance(value, Decimal):
        return str(value)
    return value


def write_rows(rows: list[dict], path: Path) -> Path:
    """One table of rows to a file chosen by its suffix (.csv, .parquet, .xlsx), staged
    next to it and moved into place."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"unknown file type '{path.suffix}'; use .csv, .parquet or .xlsx")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as staging:
        staged = Path(staging) / path.name
        _write(pa.Table.from_pylist(rows), staged, fmt)
        shutil.move(str(staged), path)
    return path
