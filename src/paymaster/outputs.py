"""Writing result tables: CSV, Parquet or Excel, all or nothing.

A table is written piece by piece, so one streamed from the backend (a RecordBatchReader)
is never held whole in memory; an in-memory table is a stream of one piece, and its file
is the same as `pyarrow.csv.write_csv` or `pyarrow.parquet.write_table` make.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from paymaster import cells
from paymaster.errors import PaymasterError, Problem, UsageError
from paymaster.money import plain

FORMATS = ("csv", "parquet", "xlsx")


METADATA = "run.json"


class OutputError(PaymasterError):
    kind = "output"


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"unknown format '{fmt}'; use one of {', '.join(FORMATS)}")


class Staging:
    """Files written into a temporary folder inside `out` and moved into place together
    when the `with` block ends without an error, so a failure never leaves half an output
    behind (the temporary folder goes, with whatever was written into it)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.paths: list[Path] = []
        self._names: list[str] = []

    def __enter__(self) -> Staging:
        self.out.mkdir(parents=True, exist_ok=True)
        self._folder = tempfile.TemporaryDirectory(dir=self.out)
        return self

    def __exit__(self, kind, _error, _trace) -> None:
        try:
            if kind is None:
                for name in self._names:
                    shutil.move(str(Path(self._folder.name) / name), self.out / name)
                    self.paths.append(self.out / name)
        finally:
            self._folder.cleanup()

    def table(self, name: str, fmt: str, data: pa.Table | pa.RecordBatchReader) -> int:
        """Write `data` to the file `name` in `fmt`; returns the number of rows written."""
        check_format(fmt)
        rows = _write(data, Path(self._folder.name) / name, fmt)
        self._names.append(name)
        return rows

    def metadata(self, metadata: dict) -> None:
        (Path(self._folder.name) / METADATA).write_text(
            json.dumps(metadata, indent=2, default=_json_value) + "\n", encoding="utf-8")
        self._names.append(METADATA)


def write_tables(tables: dict[str, pa.Table], out: Path, fmt: str = "csv",
                 metadata: dict | None = None) -> list[Path]:
    """Each table to `out` as NAME.FMT, all or nothing. `metadata` (the run's plan, input
    fingerprint and stage timings) goes with the tables as run.json, so the tables never
    lose their provenance."""
    check_format(fmt)
    with Staging(out) as staging:
        for name, table in tables.items():
            staging.table(f"{name}.{fmt}", fmt, table)
        if metadata is not None:
            staging.metadata(metadata)
    return staging.paths


def rows_format(path: Path) -> str:
    """The format of a file of rows, by its suffix; checked before any work is done."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise UsageError(f"{path}: unknown file type '{path.suffix}'; name the file .csv, "
                         ".parquet or .xlsx")
    return fmt


def write_rows(rows: list[dict], path: Path) -> Path:
    """One table of rows to a file chosen by its suffix (.csv, .parquet, .xlsx), staged
    next to it and moved into place."""
    fmt = rows_format(path)
    with Staging(path.parent) as staging:
        staging.table(path.name, fmt, pa.Table.from_pylist(rows))
    return path


def _write(data: pa.Table | pa.RecordBatchReader, path: Path, fmt: str) -> int:
    pieces = [data] if isinstance(data, pa.Table) else data  # a reader yields record batches
    writer = _open(path, fmt, data.schema)
    rows = 0
    try:
        for piece in pieces:
            # Spreadsheets (CSV, Excel) get inert text; Parquet is data and stays as is.
            writer.write(cells.safe_batch(piece) if fmt == "csv" else piece)
            rows += piece.num_rows
    finally:
        writer.close()
    return rows


def _open(path: Path, fmt: str, schema: pa.Schema):
    if fmt == "csv":
        return pacsv.CSVWriter(path, schema)
    if fmt == "parquet":
        # Imported for Parquet alone: pyarrow.parquet brings pyarrow.fs and ssl, 0.1 s of a
        # CSV run of an example (docs/performance.md).
        import pyarrow.parquet as pq

        return pq.ParquetWriter(path, schema)
    return _Sheet(path, schema)


class _Sheet:
    """An Excel workbook written row by row: openpyxl's write-only mode keeps no rows."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        from openpyxl import Workbook

        self.path = path
        self.names = schema.names
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet(path.stem[:31])
        self.sheet.append(self.names)
        self.rows = 1

    def write(self, piece: pa.Table | pa.RecordBatch) -> None:
        from openpyxl.utils.exceptions import IllegalCharacterError

        # A batch at a time: Python objects for a whole large table would not fit.
        for batch in piece.to_batches() if isinstance(piece, pa.Table) else [piece]:
            for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                self.rows += 1
                try:
                    self.sheet.append([cells.safe(_cell(value)) for value in row])
                except IllegalCharacterError as err:
                    raise self._illegal(row) from err

    def _illegal(self, row: tuple) -> OutputError:
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        field = next((name for name, value in zip(self.names, row, strict=True)
                      if isinstance(value, str) and ILLEGAL_CHARACTERS_RE.search(value)), None)
        return OutputError(Problem(
            "Excel cannot hold a control character in a cell", file=self.path.name,
            row=self.rows, field=field,
            hint="write --format csv or parquet, or remove the character from the input"))

    def close(self) -> None:
        self.book.save(self.path)


def _cell(value: object) -> object:
    # Excel has no decimal type; keep exact money as text rather than a binary float
    # (fixed-point: "0.00000000", never "0E-8").
    if isinstance(value, Decimal):
        return plain(value)
    return value


def _json_value(value: object) -> str:
    return plain(value) if isinstance(value, Decimal) else str(value)
