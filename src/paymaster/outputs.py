"""Writing result tables: CSV, Parquet or Excel, all or nothing.

A table is written piece by piece, so one streamed from the backend (a RecordBatchReader)
is never held whole in memory; an in-memory table is a stream of one piece, and its file
is the same as `pyarrow.csv.write_csv` or `pyarrow.parquet.write_table` make.

A run on DuckDB has DuckDB write its tables itself (`copy_statement`: COPY ... TO, in
parallel, no row through Python) into the staging folder: the same CSV text, the same
Parquet values. Excel, a column of another type or rows made in Python go through Arrow.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from paymaster import cells
from paymaster.errors import PaymasterError, Problem, UsageError
from paymaster.money import plain
from paymaster.sqlnames import literal, quote

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
        # the folders this makes, deepest first: a failed run removes them again
        self._made = [f for f in (self.out, *self.out.parents) if not f.exists()]
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
            for folder in self._made if kind is not None else ():
                if any(folder.iterdir()):  # (entered before a run: a failed one leaves
                    break  # no folder behind)
                folder.rmdir()

    @property
    def folder(self) -> Path:
        """The temporary folder the files are written into (a run's DuckDB writes there)."""
        return Path(self._folder.name)

    def table(self, name: str, fmt: str, data: pa.Table | pa.RecordBatchReader) -> int:
        """Write `data` to the file `name` in `fmt`; returns the number of rows written."""
        check_format(fmt)
        rows = _write(data, Path(self._folder.name) / name, fmt)
        self._names.append(name)
        return rows

    def copied(self, name: str, fmt: str, sql: str, schema: pa.Schema,
               run: Callable[[str], int]) -> int | None:
        """Have DuckDB write the query `sql` (of Arrow `schema`) to the file `name` in `fmt`
        by `run`ning the COPY statement (`copy_statement`): the rows written, or None when
        the table must go through Arrow (`table`)."""
        path = self.folder / name
        statement = copy_statement(sql, schema, path, fmt)
        if statement is None:
            return None
        rows = run(statement)
        if rows == 0 and fmt == "csv":  # (the header alone, without the SUFFIX's newline)
            path.write_text(csv_header(schema) + "\n", encoding="utf-8")
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


def _sql_type(arrow: pa.DataType) -> str | None:
    """The DuckDB type an output column is written as, when DuckDB writes it as pyarrow
    does (a float DuckDB writes "3.0", pyarrow "3": such a table goes through Arrow)."""
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return "VARCHAR"
    if pa.types.is_decimal128(arrow):
        return f"DECIMAL({arrow.precision}, {arrow.scale})"
    return {pa.bool_(): "BOOLEAN", pa.int64(): "BIGINT", pa.int32(): "INTEGER",
            pa.date32(): "DATE"}.get(arrow)


def csv_header(schema: pa.Schema) -> str:
    """The header line as pyarrow's CSV writer has it: every name quoted."""
    return ",".join('"' + name.replace('"', '""') + '"' for name in schema.names)


# cells.PLAIN_NUMBER, its "." in a class, a quote and a newline as chr(): a backslash,
# quote or control character in a literal imports sqlglot (sqlnames.literal), 0.15-0.3 s
# of a cached run.
_PLAIN_NUMBER = "[+-]?[0-9]+([.][0-9]+)?"
_NEWLINE = "chr(10)"


def _inert(value: str) -> str:
    """SQL of cells.safe_batch: text a spreadsheet would run as a formula gets a leading
    apostrophe. Regular expressions only for text starting below "A" (every trigger
    does): on millions of cells they would cost more than the rest of the writing. (No
    `IN` list: DuckDB makes it a join, which loses the rows' order.)"""
    trigger = f"regexp_matches({value}, {literal('^[=+@')} || chr(9) || chr(13) || '-]')"
    plain_number = f"regexp_full_match({value}, {literal(_PLAIN_NUMBER)})"
    return (f"CASE WHEN ascii({value}) < {ord('A')} THEN CASE WHEN {trigger} AND NOT "
            f"{plain_number} THEN chr(39) || {value} ELSE {value} END ELSE {value} END")


def copy_statement(sql: str, schema: pa.Schema, path: Path, fmt: str) -> str | None:
    """The COPY that has DuckDB write the rows of the query `sql` to `path` in `fmt`, in
    the query's order, each column of the type the Arrow `schema` gives it: a CSV file of
    the very text `_write` makes (every text quoted, a NULL empty, numbers in fixed point,
    formulas made inert), a Parquet file of the same values. None for Excel, or for a
    type DuckDB writes otherwise."""
    types = [_sql_type(field.type) for field in schema]
    if fmt not in ("csv", "parquet") or None in types:
        return None
    columns = []
    for field, sql_type in zip(schema, types, strict=True):
        value = f"CAST(q.{quote(field.name)} AS {sql_type})"
        if fmt == "csv" and sql_type == "VARCHAR":
            value = _inert(value)
        elif fmt == "parquet":
            # DuckDB writes a column it can prove holds no NULL as REQUIRED ("not null" to
            # a reader); the run's columns, as pyarrow writes them, may all be NULL.
            value = f"CASE WHEN {value} IS NULL THEN NULL ELSE {value} END"
        columns.append(f"{value} AS {quote(field.name)}")
    query = f"SELECT {', '.join(columns)} FROM ({sql}) AS q"
    if fmt == "parquet":
        return f"COPY ({query}) TO {literal(str(path))} (FORMAT parquet)"
    texts = [quote(field.name) for field, sql_type in zip(schema, types, strict=True)
             if sql_type == "VARCHAR"]
    # The header as a PREFIX: DuckDB quotes a name in its own header only where it quotes
    # the column. A PREFIX needs a SUFFIX, which takes the place of the last row's newline.
    options = ["FORMAT csv", "HEADER false",
               f"PREFIX ({literal(csv_header(schema))} || {_NEWLINE})", f"SUFFIX {_NEWLINE}"]
    if texts:
        options.append(f"FORCE_QUOTE ({', '.join(texts)})")
    return f"COPY ({query}) TO {literal(str(path))} ({', '.join(options)})"


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
