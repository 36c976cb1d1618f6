"""Spreadsheet cells made inert: every CSV and Excel file the product writes goes through here.

Imported text (a sale id, a partner's name, a dispute) ends up in statements, status
exports, run outputs and payout files that people open in Excel or LibreOffice. A text
cell starting with `=`, `+`, `-`, `@`, tab or carriage return is read there as a formula
(`=HYPERLINK(...)`, `@SUM(...)`), so such text gets a leading apostrophe (OWASP's advice
for CSV injection). Numbers stay numbers: a Decimal is written in fixed-point notation
(never `0E-8`), and a text that is a plain number (`-5.00`, as money is written in CSV)
cannot be a formula and stays as is.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from paymaster.money import plain

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
TRIGGER_SQL = "^[=+@\\t\\r-]"
PLAIN_NUMBER_SQL = "^[+-]?[0-9]+(\\.[0-9]+)?$"


def safe(value: Any) -> Any:
    """A cell's value as it may be written: text that would run as a formula quoted, a
    Decimal as fixed-point text."""
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, str) and value.startswith(TRIGGERS) \
            and PLAIN_NUMBER.fullmatch(value) is None:
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe(v) for v in values]


class Writer:
    """csv.writer whose every row is made safe first."""

    def __init__(self, handle, **options) -> None:
        self._writer = csv.writer(handle, **options)

    def writerow(self, values: Iterable[Any]) -> None:
        self._writer.writerow(safe_row(values))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_workbook(book) -> None:
    """Every text cell of an openpyxl workbook (built in memory) made safe in place."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and safe(cell.value) is not cell.value:
                    cell.value = safe(cell.value)  # openpyxl then stores text, not a formula


def safe_batch(batch):
    """An Arrow table or record batch with its text columns made safe (vectorised: a run's
    millions of lines are not turned into Python objects)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in batch.columns:
        if pa.types.is_decimal(column.type) and column.type.scale > EXPONENT_FREE_SCALE:
            column = _fixed_point(column)
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.and_(pc.match_substring_regex(column, TRIGGER_SQL),
                            pc.invert(pc.match_substring_regex(column, PLAIN_NUMBER_SQL)))
            # (a quote put in front by a kernel's option: a Python value made an Arrow
            # scalar would have pyarrow import pandas, 0.5 s of a run that needs none)
            quoted = pc.utf8_replace_slice(column, start=0, stop=0, replacement="'")
            column = pc.if_else(risky, quoted, column)
        columns.append(column)
    names = batch.schema.names
    if isinstance(batch, pa.RecordBatch):
        return pa.RecordBatch.from_arrays(columns, names=names)
    return pa.Table.from_arrays(columns, names=names)


# Arrow writes a DECIMAL of more places in exponent notation below 10^-6 (0 at 8 places
# is "0E-8", as Python's str() has it); at up to 6 places it never does.
EXPONENT_FREE_SCALE = 6


def _fixed_point(column):
    """A DECIMAL column of more than 6 places as its fixed-point text ("0.00000000").

    The CSV writer is opened with the table's own schema: a column declared DECIMAL is
    written as it comes, unquoted, as a number (tests/test_outputs.py holds it to that)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # A zero ("0E-8") by a kernel; only the rare value below 10^-6 in Python. (Kernels
    # with options, no Python value made an Arrow scalar or array: pyarrow imports pandas
    # for that, 0.5 s of a run that needs none.)
    scale = column.type.scale
    text = pc.replace_substring_regex(pc.cast(column, pa.string()), pattern=f"^0E-{scale}$",
                                      replacement="0." + "0" * scale)
    exponent = pc.and_kleene(pc.match_substring(text, "E"), pc.is_valid(text))
    if not pc.any(exponent).as_py():
        return text
    values = text.to_pylist()
    for i in pc.indices_nonzero(exponent).to_pylist():  # values below 10^-6 only
        values[i] = plain(Decimal(values[i]))
    return pa.array(values, pa.string())
