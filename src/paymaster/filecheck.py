"""An imported file checked before DuckDB reads it: size, encoding, shape and limits.

Uploaded files are hostile input. Whatever can be known without loading the file is
checked here, cheaply and early, and refused with the file, row and column: a file above
the byte limit, text that is not UTF-8 (UTF-16, Latin-1, binary), a quote left open, a
row wider than its header, a header naming a column twice, more rows, columns or cells
than the workspace's limits, a value longer than the text limit or carrying a control
character, an Excel file that is not a workbook, a Parquet file that is truncated or has
list, struct or map columns. CSV is parsed here with the same dialect DuckDB is then told
to use (comma, double quote), so both read the same values.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from paymaster.errors import N_, Count, DataError, Problem
from paymaster.limits import CONTROL, CONTROL_SQL, Limits, control_char
from paymaster.sqlnames import literal, quote

UTF8_HINT = N_("save the file as CSV UTF-8 (comma delimited)")
# A limit's hint names the setting to raise (limits.CONFIG_HINT, as a template).
LIMIT_HINT = N_("raise it in the workspace's paymaster.yaml under limits: %(name)s: N")
SPLIT_HINT = N_("split the file, or raise it in the workspace's paymaster.yaml under "
                "limits: %(name)s: N")
QUOTES_HINT = N_("a value containing commas, quotes or line breaks is written between "
                 'double quotes, with each quote inside doubled ("")')
BOMS = {codecs.BOM_UTF32_LE: "UTF-32", codecs.BOM_UTF32_BE: "UTF-32",
        codecs.BOM_UTF16_LE: "UTF-16", codecs.BOM_UTF16_BE: "UTF-16"}


def refuse(template: str, path: Path, *, row: int | None = None, field: str | None = None,
           line: int | None = None, hint_text: str | None = None, **args) -> DataError:
    """A refusal of the file as a catalog template with its figures (errors.Problem.of):
    English for the CLI, the reader's language on the imports page."""
    return DataError(Problem.of(template, file=str(path), row=row, field=field, line=line,
                                hint=hint_text, **args))


def check_file(path: Path, limits: Limits) -> None:
    """Refuse a file that is too big or cannot be what its suffix says, before reading it."""
    size = path.stat().st_size
    if size > limits.upload_bytes:
        raise refuse(N_("the file is %(size)s bytes; at most %(limit)s are accepted"), path,
                     size=Count(size), limit=Count(limits.upload_bytes), hint_text=LIMIT_HINT,
                     name="upload_bytes")
    if size == 0:
        raise refuse(N_("the file is empty"), path, hint_text=N_("give a file with a header row"))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        check_csv(path, limits)
    elif suffix == ".parquet":
        check_parquet(path, limits)
    elif suffix == ".xlsx" and not zipfile.is_zipfile(path):
        raise refuse(N_("is not an Excel workbook (an .xlsx file is a zip archive)"), path,
                     hint_text=N_("save it from Excel as Excel Workbook (.xlsx) or CSV UTF-8"))


# ---------------------------------------------------------------- CSV
def check_csv(path: Path, limits: Limits) -> None:
    with path.open("rb") as handle:
        start = handle.read(4)
        for bom, name in BOMS.items():
            if start.startswith(bom):
                raise refuse(N_("is %(encoding)s text, not UTF-8"), path, line=1,
                             hint_text=UTF8_HINT, encoding=name)
        handle.seek(0)
        header = handle.readline()
        if b"\x00" in header:
            # NUL in the header: UTF-16 without its byte order mark, or not text at all.
            # (A NUL further down is reported with its row and column by the cell checks.)
            raise refuse(N_("contains NUL bytes (a binary file, or text saved as UTF-16)"), path,
                         line=1, hint_text=UTF8_HINT)
        handle.seek(0)
        controls = _check_utf8(handle, path)
    # The csv module's own ceiling on a value (128 KiB) would hide which column is too long:
    # lifted to the file's size, so our text limit is the one that speaks, with a column.
    csv.field_size_limit(max(csv.field_size_limit(), limits.upload_bytes))
    with path.open(encoding="utf-8-sig", newline="") as handle:
        check_rows(csv.reader(handle, strict=True), path, limits, controls=controls)


def _check_utf8(handle, path: Path) -> bool:
    """UTF-8 throughout, read in blocks cut at line ends (a line-by-line loop costs
    seconds on a million rows); a bad byte is reported with its line and character.
    True when the text has a control character somewhere (then the rows are searched)."""
    lines, rest, controls = 0, b"", False
    while block := handle.read(1 << 20):
        block = rest + block
        cut = block.rfind(b"\n") + 1 or len(block)
        block, rest = block[:cut], block[cut:]
        controls = _decode(block, lines, path) or controls
        lines += block.count(b"\n")
    return _decode(rest, lines, path) or controls


def _decode(block: bytes, lines_before: int, path: Path) -> bool:
    try:
        return CONTROL.search(block.decode("utf-8")) is not None
    except UnicodeDecodeError as err:
        line_start = block.rfind(b"\n", 0, err.start) + 1
        line = lines_before + block.count(b"\n", 0, err.start) + 1
        raise refuse(N_("is not UTF-8 text: byte %(byte)s at character %(character)s (a binary "
                        "file, or text saved as Latin-1 or UTF-16)"), path, line=line,
                     hint_text=UTF8_HINT, byte=f"0x{block[err.start]:02x}",
                     character=Count(err.start - line_start + 1)) from None


def check_rows(rows: Iterable[list[str]], path: Path, limits: Limits, *,
               controls: bool = True) -> None:
    """Header and rows of a CSV file (row 1 is the header, as DuckDB's `__line`). Without
    `controls` (none in the whole file) the rows are not searched for them."""
    row = 1
    iterator = iter(rows)
    try:
        header = next(iterator, None)
        if not header:
            raise refuse(N_("has no header row"), path, row=1,
                         hint_text=N_("the first row names the columns"))
        check_header(header, path, limits)
        width = len(header)
        # The loop runs a million times: its tests are inlined, the rare failure explained.
        most_rows = min(limits.rows, limits.cells // width) + 1
        longest, search = limits.text_chars, CONTROL.search if controls else None
        for values in iterator:
            if not values:
                continue  # a blank line, skipped by the reader as well
            row += 1
            if row > most_rows:
                _check_count(row, width, path, limits)
            if len(values) != width:
                raise DataError(width_problem(values, header, path, row))
            if max(map(len, values)) > longest or (search and search("\t".join(values))):
                _check_values(values, header, row, path, limits)
    except csv.Error as err:
        template, args = _csv_message(str(err), limits)
        raise refuse(template, path, row=row + 1, hint_text=QUOTES_HINT, **args) from None


def width_problem(values: list[str], header: list[str], path: Path, row: int) -> Problem:
    """A row of the wrong width, with what it lacks (the columns its values stop short
    of) or has too many of."""
    where = {"file": str(path), "row": row, "values": Count(len(values)),
             "columns": Count(len(header)),
             "hint": N_("check the commas and quotes of this row")}
    if len(values) < len(header):
        return Problem.of(N_("has %(values)s values; the header names %(columns)s columns: no "
                             "value for %(missing)s"), missing=tuple(header[len(values):]),
                          **where)
    return Problem.of(N_("has %(values)s values; the header names %(columns)s columns: "
                         "%(extra)s value(s) after the last column '%(last)s'"),
                      extra=Count(len(values) - len(header)), last=header[-1], **where)


def first_bad_width(path: Path) -> Problem | None:
    """The first row of a CSV file whose number of values is not its header's, named
    with what it lacks; None when every row has the header's width (or the file cannot
    be read as CSV: then the reader's own error speaks)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = csv.reader(handle, strict=True)
            header = next(rows, None) or []
            row = 1
            for values in rows:
                if not values:
                    continue
                row += 1
                if len(values) != len(header):
                    return width_problem(values, header, path, row)
    except (csv.Error, UnicodeDecodeError):
        return None
    return None


def _csv_message(text: str, limits: Limits) -> tuple[str, dict]:
    if "end of data" in text:
        return N_("a quoted value is not closed (the quote opens on this row)"), {}
    if "field limit" in text:
        return N_("a value is longer than %(longest)s characters (limit %(limit)s)"), {
            "longest": Count(csv.field_size_limit()), "limit": Count(limits.text_chars)}
    return N_("cannot be read as CSV: %(reason)s"), {"reason": text}


def check_header(header: list[str], path: Path, limits: Limits) -> None:
    if len(header) > limits.columns:
        raise refuse(N_("has %(count)s columns; at most %(limit)s are accepted"), path, row=1,
                     count=Count(len(header)), limit=Count(limits.columns),
                     hint_text=LIMIT_HINT, name="columns")
    _check_values(header, header, 1, path, limits)
    seen: dict[str, int] = {}
    for number, name in enumerate(header, 1):
        name = name.strip()
        if name and name in seen:
            raise refuse(N_("names column '%(heading)s' twice (columns %(first)s and "
                            "%(second)s)"), path, row=1, field=name, heading=name,
                         first=seen[name], second=number,
                         hint_text=N_("rename or remove one of them"))
        seen[name] = number


def _check_count(row: int, width: int, path: Path, limits: Limits) -> None:
    rows = row - 1
    if rows > limits.rows:
        raise refuse(N_("has more than %(limit)s rows"), path, row=row,
                     limit=Count(limits.rows), hint_text=SPLIT_HINT, name="rows")
    if rows * width > limits.cells:
        raise refuse(N_("has more than %(limit)s cells (rows x columns)"), path, row=row,
                     limit=Count(limits.cells), hint_text=SPLIT_HINT, name="cells")


def _check_values(values: list[str], header: list, row: int, path: Path,
                  limits: Limits) -> None:
    # Cheap whole-row tests first; only a row that fails one is searched cell by cell.
    if max(map(len, values), default=0) > limits.text_chars or CONTROL.search("\t".join(values)):
        for value, name in zip(values, header, strict=False):
            check_cell(value, str(name), row, path, limits)


def check_cell(value: str, column: str, row: int, path: Path, limits: Limits) -> None:
    if len(value) > limits.text_chars:
        raise refuse(N_("a value of %(length)s characters; at most %(limit)s are accepted"),
                     path, row=row, field=column, length=Count(len(value)),
                     limit=Count(limits.text_chars), hint_text=LIMIT_HINT, name="text_chars")
    bad = control_char(value)
    if bad is not None:
        raise refuse(N_("contains the control character %(char)s"), path, row=row,
                     field=column, char=bad,
                     hint_text=N_("remove it (only tab and line breaks are allowed in text)"))


def csv_options(limits: Limits) -> str:
    """DuckDB read_csv options matching the dialect checked above (no sniffing of the
    quote or delimiter, so a stray quote is never read as part of a value)."""
    longest = limits.columns * (2 * limits.text_chars + 3) + 2
    return (", delim = ',', quote = '\"', escape = '\"', strict_mode = true, "
            f"max_line_size = {max(longest, 2_097_152)}")


# ---------------------------------------------------------------- Excel
def excel_rows(path: Path, limits: Limits) -> tuple[list[str], Iterator[tuple]]:
    """The first sheet's header and rows, read in read-only mode: its declared size is
    checked before any cell is read, and rows are counted as they stream."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        sheet = book.worksheets[0]
    except Exception as err:  # a hostile zip can fail in any of openpyxl's layers
        raise refuse(N_("cannot be read as an Excel workbook: %(reason)s"), path,
                     reason=f"{type(err).__name__}: {err}",
                     hint_text=N_("save it from Excel as Excel Workbook (.xlsx)")) from err
    declared_rows, declared_columns = sheet.max_row or 0, sheet.max_column or 0
    if declared_columns > limits.columns:
        raise refuse(N_("the sheet is %(count)s columns wide; at most %(limit)s are accepted"),
                     path, row=1, count=Count(declared_columns), limit=Count(limits.columns),
                     hint_text=LIMIT_HINT, name="columns")
    if declared_rows:
        _check_count(declared_rows, declared_columns, path, limits)
    rows = sheet.iter_rows(values_only=True)
    first = next(rows, None) or ()
    if len(first) > limits.columns:
        raise refuse(N_("has %(count)s columns; at most %(limit)s are accepted"), path, row=1,
                     count=Count(len(first)), limit=Count(limits.columns),
                     hint_text=LIMIT_HINT, name="columns")
    header = [str(h).strip() for h in first if h is not None]
    check_header(header, path, limits)
    named = [i for i, h in enumerate(first) if h is not None]
    return header, _excel_body(rows, named, header, path, limits)


def _excel_body(rows, named: list[int], header: list[str], path: Path,
                limits: Limits) -> Iterator[tuple]:
    width = max(len(header), 1)
    for row, values in enumerate(rows, 2):
        _check_count(row, width, path, limits)
        picked = tuple(values[i] if i < len(values) else None for i in named)
        texts = [v for v in picked if isinstance(v, str)]
        if texts:
            _check_values(texts, [h for h, v in zip(header, picked, strict=True)
                                  if isinstance(v, str)], row, path, limits)
        yield picked


# ---------------------------------------------------------------- Parquet
def check_parquet(path: Path, limits: Limits) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path)
        schema, rows = meta.schema_arrow, meta.metadata.num_rows
    except (pa.ArrowException, OSError) as err:
        raise refuse(N_("cannot be read as a Parquet file (%(reason)s); is it complete?"), path,
                     reason=str(err), hint_text=N_("export it again")) from err
    names = [field.name for field in schema]
    check_header(names, path, limits)
    _check_count(rows + 1, len(names), path, limits)
    for field in schema:
        kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if pa.types.is_nested(kind) or pa.types.is_binary(kind) \
                or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
            raise refuse(N_("column '%(heading)s' holds %(kind)s values; only plain values "
                            "(text, numbers, dates, true/false) can be imported"), path, row=1,
                         field=field.name, heading=field.name, kind=str(field.type),
                         hint_text=N_("flatten the column before exporting"))


def check_text_cells(con, raw: str, path: Path, limits: Limits) -> None:
    """Every text column of a table read typed (Parquet): its longest value and control
    characters, counted in one pass; the first offending row is read only if any."""
    columns = [r[0] for r in con.execute(f"DESCRIBE {quote(raw)}").fetchall()
               if r[0] != "__line" and r[1] == "VARCHAR"]
    if not columns:
        return
    pattern = literal(CONTROL_SQL)
    tests = [f"length({quote(c)}) > {int(limits.text_chars)}" for c in columns] + \
            [f"regexp_matches({quote(c)}, {pattern})" for c in columns]
    counts = con.execute("SELECT " + ", ".join(f"count(*) FILTER (WHERE {t})" for t in tests)
                         + f" FROM {quote(raw)}").fetchall()[0]
    for test, count, column in zip(tests, counts, columns + columns, strict=True):
        if count:
            line, value = con.execute(
                f"SELECT __line, {quote(column)} FROM {quote(raw)} WHERE {test} "
                "ORDER BY __line LIMIT 1").fetchall()[0]
            check_cell(value, column, int(line), path, limits)
