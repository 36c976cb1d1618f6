"""Input folders: find each declared table's file, read it, check every row, load it typed.

The checks run as SQL inside DuckDB (`inputchecks`: every bad row reported with file,
line and column); nothing is loaded unless every table is clean.

Cost: a Parquet file is never copied. Its raw and typed tables are views over the file
(line numbers from the file's row numbers), and typed Parquet columns are checked by
their types. CSV and Excel are read once into a table, parsed once into the typed table.

The steps of a load (`read_raw` or `empty_raw`, `inputchecks.raw_types` and
`check_table`, `load_typed`) are public: an incremental run (`paymaster.incremental`)
applies them to the changed rows only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import duckdb

from paymaster import filecheck
from paymaster.errors import N_, Collector, DataError, Problem, suggest
from paymaster.limits import DEFAULT, Limits
from paymaster.money import plain
from paymaster.plan.model import ColumnSpec, InputTable, Plan
from paymaster.plan.taxids import TAX_ID_SEPARATORS
from paymaster.inputchecks import (
    SQL_TYPES,
    SURELY_VALID_TAX_IDS,
    _cleaned,
    _native,
    _parse,
    check_groups,
    check_references,
    check_table,
    raw_types,
    sql_string,
)
from paymaster.sqlnames import quote

EXTENSIONS = (".csv", ".parquet", ".xlsx")
@dataclass
class InputFile:
    table: str
    path: Path | None

    @property
    def name(self) -> str:
        return str(self.path) if self.path else f"{self.table}.csv"


def find_files(plan: Plan, folder: Path) -> list[InputFile]:
    if not folder.is_dir():
        raise DataError(Problem(f"data folder not found: {folder}", hint="give --data DIR"))
    found = []
    for table in plan.inputs:
        candidates = [folder / f"{table}{ext}" for ext in EXTENSIONS]
        existing = [p for p in candidates if p.is_file()]
        found.append(InputFile(table, existing[0] if existing else None))
    return found


class Verdicts(Protocol):
    """Tables known clean by their files' bytes (paymaster.runcache.Verdicts): `clean(table)`
    (None: the references between the tables), and `passed(table)` once they are."""

    def clean(self, table: str | None) -> bool: ...

    def passed(self, table: str | None) -> None: ...


def load_folder(plan: Plan, folder: Path, con: duckdb.DuckDBPyConnection, *,
                keep_raw: bool = False, verdicts: Verdicts | None = None) -> dict[str, str]:
    """Validate and load every input table; returns {table: duckdb table name}. The raw
    text tables (`raw_<table>`) are dropped once parsed, unless `keep_raw` (incremental
    runs hash the raw rows). A table `verdicts` knows clean, as read from the very bytes
    that passed before, is loaded without its checks."""
    known = verdicts or _NoVerdicts()
    problems = Collector()
    loaded: dict[str, str] = {}
    files = find_files(plan, folder)
    for item in files:
        spec = plan.inputs[item.table]
        raw = f"raw_{item.table}"
        if item.path is None:
            if not spec.optional:
                problems.add(Problem(
                    f"input table '{item.table}' is missing",
                    file=str(folder / f"{item.table}.csv"),
                    hint=f"add {item.table}.csv (or .parquet/.xlsx) with columns "
                         + ", ".join(spec.columns),
                ))
                continue
            empty_raw(con, raw, spec)
        else:
            try:
                read_raw(con, item.path, raw)
            except duckdb.InvalidInputException:
                problems.extend(_bad_width(item.path) or [])
                if problems:
                    continue
                raise
        found = [] if known.clean(item.table) else check_table(con, raw, item, spec)
        if found and item.path is not None and _misread(con, raw, spec):
            found = _bad_width(item.path) or found
        problems.extend(found)
        loaded[item.table] = raw
    problems.raise_if_any(DataError)
    for item in files:
        raw = f"raw_{item.table}"
        load_typed(con, item.table, raw, plan.inputs[item.table], raw_types(con, raw),
               keep_raw=keep_raw)
    if not known.clean(None):
        problems.extend(check_references(con, plan, files))
    for item in files:
        if not known.clean(item.table):
            problems.extend(check_groups(con, item.table, item.name, plan.inputs[item.table]))
    problems.raise_if_any(DataError)
    for table in (*plan.inputs, None):
        if not known.clean(table):
            known.passed(table)
    return {table: table for table in plan.inputs}


class _NoVerdicts:
    def clean(self, table: str | None) -> bool:
        return False

    def passed(self, table: str | None) -> None:
        pass


def _misread(con: duckdb.DuckDBPyConnection, raw: str, spec: InputTable) -> bool:
    """Did the reader miss a declared column? (A CSV row of the wrong width makes DuckDB's
    sniffer take the file for another dialect, and every column goes missing.)"""
    present = set(raw_types(con, raw))
    return any(c not in present and not col.optional for c, col in spec.columns.items())


def _bad_width(path: Path) -> list[Problem] | None:
    """The CSV row of the wrong width that made a file unreadable, named; None when
    there is none (or the file is not CSV)."""
    if path.suffix.lower() != ".csv":
        return None
    bad = filecheck.first_bad_width(path)
    return [bad] if bad else None


def load_table(plan: Plan, table: str, path: Path, con: duckdb.DuckDBPyConnection,
               limits: Limits = DEFAULT) -> str:
    """Validate one file of a declared input table and load it typed as `table` (with the
    file's line number in `__line`). References to other tables are checked at run time,
    when the whole input is known. The file is hostile (an upload): it is checked against
    `limits` before it is read, and read with a fixed CSV dialect."""
    if table not in plan.inputs:
        raise DataError(Problem(
            f"'{table}' is not an input table of program {plan.program}", file=str(path),
            hint=suggest(table, plan.inputs) or "tables: " + ", ".join(plan.inputs),
        ))
    if not path.is_file():
        raise DataError(Problem.of(N_("file not found: %(path)s"), path=str(path)))
    if path.suffix.lower() not in EXTENSIONS:
        raise DataError(Problem.of(N_("unsupported file type '%(suffix)s'"), file=str(path),
                                   suffix=path.suffix,
                                   hint=N_("give a .csv, .parquet or .xlsx file")))
    spec = plan.inputs[table]
    raw = f"raw_{table}"
    filecheck.check_file(path, limits)
    try:
        read_raw(con, path, raw, limits)
        if path.suffix.lower() == ".parquet":  # read typed: its text is checked here
            filecheck.check_text_cells(con, raw, path, limits)
        problems = check_table(con, raw, InputFile(table, path), spec)
        if problems:
            raise DataError(problems)
        load_typed(con, table, raw, spec, raw_types(con, raw))
        problems = check_groups(con, table, str(path), spec)
        if problems:
            raise DataError(problems)
    except (duckdb.IOException, duckdb.InvalidInputException) as err:
        # What the checks above cannot foresee (a corrupt page inside a Parquet file).
        raise DataError(Problem.of(N_("the file cannot be read: %(reason)s"), file=str(path),
                                   reason=str(err).splitlines()[0],
                                   hint=N_("export it again"))) from err
    return table


def read_raw(con: duckdb.DuckDBPyConnection, path: Path, name: str,
             limits: Limits | None = None) -> None:
    """The file as read, as table `name`: text columns (typed for Parquet) and `__line`.
    With `limits` (an import), CSV is read in the dialect `filecheck` checked it in."""
    suffix = path.suffix.lower()
    if suffix == ".parquet" and _parquet_view(con, path, name):
        return
    if suffix == ".csv":
        strict = filecheck.csv_options(limits) if limits else ""
        source = f"read_csv({sql_string(str(path))}, all_varchar = true, header = true{strict})"
    elif suffix == ".parquet":
        source = f"read_parquet({sql_string(str(path))})"
    else:
        source = _excel_relation(con, path, name, limits or DEFAULT)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quote(name)} AS "
        f"SELECT row_number() OVER () + 1 AS __line, * FROM {source}"
    )


def _parquet_view(con: duckdb.DuckDBPyConnection, path: Path, name: str) -> bool:
    """A view over the Parquet file: no copy, the line is the file's row number + 2 (as if
    the header were line 1, like CSV). False when the file's own columns would clash."""
    source = sql_string(str(path))
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({source})").fetchall()]
    if "file_row_number" in columns or "__line" in columns:
        return False
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote(name)} AS SELECT file_row_number + 2 AS __line, "
        f"* EXCLUDE (file_row_number) FROM read_parquet({source}, file_row_number = true)"
    )
    return True


def _is_view(con, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND temporary",
                            [name]).fetchall()[0][0])


def _excel_relation(con: duckdb.DuckDBPyConnection, path: Path, name: str,
                    limits: Limits) -> str:
    import pyarrow as pa

    header, rows = filecheck.excel_rows(path, limits)
    columns: dict[str, list] = {h: [] for h in header}
    for row in rows:
        for h, value in zip(header, row, strict=True):
            columns[h].append(None if value is None else _cell_text(value))
    con.register(f"{name}_xlsx", pa.table(columns, schema=pa.schema([(h, pa.string()) for h in header])))
    return quote(f"{name}_xlsx")


def _cell_text(value: object) -> str:
    import datetime as dt

    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, Decimal):
        return plain(value)
    return str(value)


def empty_raw(con: duckdb.DuckDBPyConnection, name: str, spec: InputTable) -> None:
    """An optional table whose file is missing: no rows, every declared column."""
    cols = ", ".join(f"NULL::VARCHAR AS {quote(c)}" for c in spec.columns)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {quote(name)} AS SELECT 0 AS __line, {cols} LIMIT 0")


def load_typed(con, table: str, raw: str, spec: InputTable, types: dict[str, str], *,
           keep_raw: bool = False) -> None:
    """The typed table. Over a Parquet view whose columns are all of their declared kind
    (so no parsing) it is a view as well; otherwise a table, parsed once."""
    columns = typed_columns(spec, types)
    native = all(_native(col.type, types[c]) for c, col in spec.columns.items() if c in types)
    if native and _is_view(con, raw):
        con.execute(f"CREATE OR REPLACE TEMP VIEW {quote(table)} AS SELECT __line, {columns} "
                    f"FROM {quote(raw)}")
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE {quote(table)} AS SELECT __line, {columns} "
                f"FROM {quote(raw)}")
    if keep_raw:
        return
    # The raw text is no longer needed once parsed: free its memory.
    con.execute(f'DROP {"VIEW" if _is_view(con, raw) else "TABLE"} IF EXISTS {quote(raw)}')


def typed_columns(spec: InputTable, types: dict[str, str]) -> str:
    """The SELECT list that parses a raw table of `types` into the declared columns (a warm
    registration check parses its new rows with it: services/warm_screening.py)."""
    return ", ".join(
        _typed_column(c, col, _native(col.type, types[c])) if c in types
        else f"CAST(NULL AS {SQL_TYPES[col.type]}) AS {quote(c)}"
        for c, col in spec.columns.items()
    )


def _typed_column(column: str, col: ColumnSpec, native: bool = False) -> str:
    if native and col.type != "string":
        return f"CAST({quote(column)} AS {SQL_TYPES[col.type]}) AS {quote(column)}"
    if col.type == "string" and col.values:
        # Allowed values match whatever their case; the plan's spelling is kept.
        cases = " ".join(f"WHEN {sql_string(v.lower())} THEN {sql_string(v)}" for v in col.values)
        return f"CASE lower({_cleaned(column)}) {cases} END AS {quote(column)}"
    if col.type == "string" and col.tax_id in SURELY_VALID_TAX_IDS:
        return f"{_tax_id_cleaned(column, col.tax_id)} AS {quote(column)}"
    if col.type == "string":
        return f"CAST({quote(column)} AS VARCHAR) AS {quote(column)}"
    return f"{_parse(_cleaned(column), col.type)} AS {quote(column)}"


def _tax_id_cleaned(column: str, kind: str) -> str:
    """A valid tax id without its spaces and dashes ('526-025-09-95' is 5260250995 in every
    join and rule); anything else as written."""
    text = f"CAST({quote(column)} AS VARCHAR)"
    separators = sql_string(TAX_ID_SEPARATORS)
    digits = f"regexp_replace({text}, {separators}, '', 'g')"
    valid = SURELY_VALID_TAX_IDS[kind](digits, f"TRY_CAST({digits} AS BIGINT)")
    # Most values have nothing to clean: they skip the cleaning and the checksum.
    return (f"CASE WHEN NOT regexp_matches({text}, {separators}) THEN {text} "
            f"WHEN coalesce({valid}, FALSE) THEN {digits} ELSE {text} END")

