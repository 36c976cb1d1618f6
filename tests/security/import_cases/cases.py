"""The import fuzz cases: hostile or broken files and what refusing each must say.

Each case is the bytes of one upload into the Generuj Leady program's `partners` table
(file name and all), the fragment its error message must contain, and the row and column
it must name (None where the whole file is at fault: its encoding, its size, not being a
workbook at all). To add a case, add a line to CASES, or drop a file into this folder
together with a `<file>.expect` holding the fragment on its first line and, optionally,
`row: N` and `field: NAME` lines.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from conftest import EXAMPLES

HERE = Path(__file__).parent
PARTNERS = EXAMPLES / "generuj-leady" / "data" / "partners.csv"


@dataclass(frozen=True)
class Case:
    name: str
    filename: str
    make: Callable[[], bytes]
    fragment: str
    row: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        return self.name


def partners() -> tuple[list[str], list[dict[str, str]]]:
    with PARTNERS.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def csv_text(edit: Callable[[list[str], list[dict]], None] | None = None) -> str:
    columns, rows = partners()
    if edit:
        edit(columns, rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def with_value(row: int, column: str, value: str) -> Callable[[], bytes]:
    """The partners file with one value replaced (row 2 is the first data row)."""
    def edit(_columns, rows):
        rows[row - 2][column] = value
    return lambda: csv_text(edit).encode("utf-8")


def xlsx(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def parquet(table) -> bytes:
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def parquet_partners(**replace) -> Callable[[], bytes]:
    """The partners as Parquet, with some columns replaced by the given Arrow arrays."""
    def make() -> bytes:
        import pyarrow as pa

        columns, rows = partners()
        data = {c: pa.array([r[c] or None for r in rows], pa.string()) for c in columns}
        for name, values in replace.items():
            data[name] = values(len(rows))
        return parquet(pa.table(data))
    return make


def truncated_parquet() -> bytes:
    whole = parquet_partners()()
    return whole[: len(whole) // 2]


def a_list(n: int):
    import pyarrow as pa
    return pa.array([[f"P{i}"] for i in range(1, n + 1)])


def a_struct(n: int):
    import pyarrow as pa
    return pa.array([{"a": i} for i in range(n)])


def long_name(chars: int) -> Callable[[int], object]:
    def make(n: int):
        import pyarrow as pa
        return pa.array(["x" * chars] + ["Alfa"] * (n - 1))
    return make


def nul_name(n: int):
    import pyarrow as pa
    return pa.array(["Al\x00fa"] * n)


def duplicate_header_xlsx() -> bytes:
    columns, rows = partners()
    header = columns + ["name"]
    return xlsx([header] + [[r[c] for c in columns] + ["Other"] for r in rows])


def zip_without_workbook() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return out.getvalue()


def unclosed_quote() -> bytes:
    text = csv_text()
    lines = text.splitlines(keepends=True)
    lines[2] = lines[2].replace("Beta", '"Beta', 1)  # row 3 opens a quote it never closes
    return "".join(lines).encode("utf-8")


def ragged() -> bytes:
    lines = csv_text().splitlines(keepends=True)
    lines[3] = lines[3].rstrip("\n") + ",extra\n"
    return "".join(lines).encode("utf-8")


def duplicate_header_csv() -> bytes:
    lines = csv_text().splitlines(keepends=True)
    lines[0] = lines[0].replace("address", "name", 1)
    return "".join(lines).encode("utf-8")


CASES = [
    Case("latin-2 text", "partners.csv",
         lambda: csv_text().replace("Alfa", "Łódź").encode("cp1250"), "is not UTF-8"),
    Case("utf-16 with a byte order mark", "partners.csv",
         lambda: csv_text().encode("utf-16"), "is UTF-16 text"),
    Case("utf-16 without a byte order mark", "partners.csv",
         lambda: csv_text().encode("utf-16-le"), "contains NUL bytes"),
    Case("binary data", "partners.csv",
         lambda: bytes(range(256)) * 64, "contains NUL bytes"),
    Case("binary data past the header", "partners.csv",
         lambda: csv_text().encode() + b"\xff\xfe\x00\x89PNG" * 10, "is not UTF-8"),
    Case("a 2 MB value", "partners.csv", with_value(3, "name", "N" * 2_000_000),
         "2,000,000 characters", row=3, field="name"),
    Case("a million columns", "partners.csv",
         lambda: (",".join(f"c{i}" for i in range(1_000_000)) + "\n").encode(),
         "has 1,000,000 columns", row=1),
    Case("a quote never closed", "partners.csv", unclosed_quote,
         "quoted value is not closed", row=3),
    Case("a row wider than its header", "partners.csv", ragged, "has 9 values", row=4),
    Case("a header naming a column twice (CSV)", "partners.csv", duplicate_header_csv,
         "names column 'name' twice", row=1, field="name"),
    Case("a header naming a column twice (Excel)", "partners.xlsx", duplicate_header_xlsx,
         "names column 'name' twice", row=1, field="name"),
    Case("a NUL byte in a value", "partners.csv", with_value(4, "name", "Al\x00fa"),
         "control character U+0000", row=4, field="name"),
    Case("a bell in a value", "partners.csv", with_value(2, "address", "Warszawa\x07"),
         "control character U+0007", row=2, field="address"),
    Case("a value over the text limit", "partners.csv", with_value(2, "name", "n" * 1001),
         "at most 1,000 are accepted", row=2, field="name"),
    Case("an empty csv", "partners.csv", lambda: b"", "the file is empty"),
    Case("an Excel file that is not a zip", "partners.xlsx", lambda: b"partner_id,name\n",
         "is not an Excel workbook"),
    Case("an empty Excel file", "partners.xlsx", lambda: b"", "the file is empty"),
    Case("a zip that is not a workbook", "partners.xlsx", zip_without_workbook,
         "cannot be read as an Excel workbook"),
    Case("a truncated Parquet file", "partners.parquet", truncated_parquet,
         "cannot be read as a Parquet file"),
    Case("a Parquet list column", "partners.parquet", parquet_partners(partner_id=a_list),
         "holds list<", row=1, field="partner_id"),
    Case("a Parquet struct column", "partners.parquet", parquet_partners(name=a_struct),
         "holds struct<", row=1, field="name"),
    Case("a 3 MB name in Parquet", "partners.parquet",
         parquet_partners(name=long_name(3_000_000)), "3,000,000 characters", row=2,
         field="name"),
    Case("a NUL byte in Parquet text", "partners.parquet", parquet_partners(name=nul_name),
         "control character U+0000", row=2, field="name"),
]


def folder_cases() -> list[Case]:
    """Files dropped into this folder, each with its `.expect`."""
    found = []
    for expect in sorted(HERE.glob("*.expect")):
        data = HERE / expect.stem
        lines = expect.read_text(encoding="utf-8").splitlines()
        meta = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        found.append(Case(data.name, "partners" + data.suffix,
                          lambda data=data: data.read_bytes(), lines[0],
                          int(meta["row"]) if "row" in meta else None, meta.get("field")))
    return found


ALL = CASES + folder_cases()
