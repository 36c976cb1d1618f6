"""Output files: a run streamed to files writes exactly the tables the in-memory run
returns, and a failure while writing leaves the output folder as it was."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from conftest import EXAMPLES
from paymaster.outputs import write_tables
from paymaster.runs import calculate, calculate_into

PROGRAMS = ("generuj-leady", "trade-in-accelerator", "sales-team")
TABLES = ("payouts", "summary", "titles", "evaluations", "credits", "effect")


@pytest.fixture(scope="module")
def in_memory() -> dict[str, dict[str, pa.Table]]:
    return {p: calculate(EXAMPLES / p / "plan.yaml", EXAMPLES / p / "data").tables
            for p in PROGRAMS}


# The order the engine gives these tables; it gives the others in no particular order
# (nor these among equal keys), so rows are compared as sets, and order by these keys.
ORDERED = {"payouts": ["payee_id", "period", "date", "source_id"], "summary": ["payee_id"]}


# A number pyarrow writes in exponent notation (a DECIMAL of 8 places below 10^-6: 0 is
# "0E-8"), unquoted between commas.
EXPONENT = re.compile(r"(?<![^,])(-?[0-9]+(?:\.[0-9]+)?E[-+]?[0-9]+)(?![^,])")


def _csv_lines(table: pa.Table) -> tuple[str, list[str]]:
    """The text pyarrow's write_csv makes of the whole table, each number in fixed-point
    notation ("0.00000000", never "0E-8")."""
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer)
    text = EXPONENT.sub(lambda m: format(Decimal(m.group(1)), "f"), buffer.getvalue().decode())
    header, *rows = text.splitlines()
    return header, sorted(rows)


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([(column, "ascending") for column in table.column_names])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("program", PROGRAMS)
def test_streamed_files_equal_the_in_memory_tables(in_memory, program: str, fmt: str,
                                                   tmp_path: Path) -> None:
    expected = in_memory[program]
    # 7 rows a batch: every larger table arrives in several batches.
    done = calculate_into(EXAMPLES / program / "plan.yaml", EXAMPLES / program / "data",
                          tmp_path, fmt, chunk_rows=7, metadata=lambda run: {"rows": run.rows})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{t}.{fmt}" for t in TABLES] + ["run.json"])
    rows = {name: table.num_rows for name, table in expected.items()}
    assert done.rows == rows
    assert json.loads((tmp_path / "run.json").read_text())["rows"] == rows
    assert max(rows.values()) > 2 * 7
    for name in TABLES:
        path = tmp_path / f"{name}.{fmt}"
        if fmt == "csv":
            # the very text pyarrow's write_csv makes of the whole table
            text = path.read_text().splitlines()
            assert (text[0], sorted(text[1:])) == _csv_lines(expected[name]), name
            assert not EXPONENT.search(path.read_text()), name
            written = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                column_types=expected[name].schema))
        else:
            written = pq.read_table(path)
            assert written.schema == expected[name].schema, name
            # every value equal, Decimals with their scale (the schema's)
            assert _sorted(written).equals(_sorted(expected[name])), name
        keys = ORDERED.get(name)
        if keys:
            assert written.select(keys).to_pylist() == expected[name].select(keys).to_pylist()


def test_streamed_figures_equal_those_of_the_in_memory_tables(in_memory, tmp_path: Path) -> None:
    from paymaster.figures import in_memory as figures_of

    program = "sales-team"
    done = calculate_into(EXAMPLES / program / "plan.yaml", EXAMPLES / program / "data",
                          tmp_path, "parquet")
    assert done.figures == figures_of(in_memory[program])
    assert done.figures.lines == in_memory[program]["payouts"].num_rows
    assert done.figures.effect and done.figures.effect == in_memory[program]["effect"].to_pylist()


def test_streamed_xlsx_holds_the_in_memory_values(in_memory, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    program = "generuj-leady"
    calculate_into(EXAMPLES / program / "plan.yaml", EXAMPLES / program / "data", tmp_path,
                   "xlsx", chunk_rows=7)
    for name in TABLES:
        sheet = load_workbook(tmp_path / f"{name}.xlsx").active
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        table = in_memory[program][name]
        assert rows[0] == table.column_names
        values = [[_as_in_excel(v) for v in row.values()] for row in table.to_pylist()]
        assert sorted(map(repr, rows[1:])) == sorted(map(repr, values)), name


def _as_in_excel(value: object) -> object:
    if isinstance(value, Decimal):  # money is kept as exact text: Excel has no decimal type
        return format(value, "f")  # in fixed-point notation: "0.00000000", never "0E-8"
    if isinstance(value, dt.date):  # a day is a date-time at midnight
        return dt.datetime.combine(value, dt.time())
    return value


def _failing_stream(schema: pa.Schema, batch: pa.RecordBatch):
    def batches():
        yield batch
        raise OSError("disk full")
    return pa.RecordBatchReader.from_batches(schema, batches())


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_a_failure_mid_write_leaves_the_previous_output(in_memory, tmp_path: Path,
                                                       fmt: str) -> None:
    from paymaster.outputs import Staging

    tables = in_memory["generuj-leady"]
    write_tables(tables, tmp_path, fmt, metadata={"run": 1})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    payouts = tables["payouts"]
    with pytest.raises(OSError, match="disk full"), Staging(tmp_path) as staging:
        staging.table(f"summary.{fmt}", fmt, tables["summary"].slice(0, 1))
        staging.table(f"payouts.{fmt}", fmt,
                      _failing_stream(payouts.schema, payouts.to_batches(max_chunksize=5)[0]))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_run_that_fails_while_writing_keeps_the_previous_output(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(EXAMPLES / "generuj-leady" / "data", data)
    out = tmp_path / "out"
    plan = EXAMPLES / "generuj-leady" / "plan.yaml"
    run = [sys.executable, "-m", "paymaster.cli", "run", str(plan), "--data", str(data),
           "--out", str(out), "--format", "xlsx"]
    assert subprocess.run(run, capture_output=True, text=True).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # The id of a registration that no deal names (R03) with a control character
    # reaches the evaluations only: the payouts, summary and titles are written before
    # Excel refuses it.
    registrations = data / "registrations.csv"
    registrations.write_text(registrations.read_text().replace("\nR03,", "\nR\x0703,"))
    failed = subprocess.run(run, capture_output=True, text=True)
    assert failed.returncode == 1, failed.stderr
    assert re.search(r"evaluations\.xlsx:row \d+: column 'subject': Excel cannot hold a "
                     r"control character", failed.stderr), failed.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_unknown_format_is_refused_before_any_work(tmp_path: Path) -> None:
    plan = EXAMPLES / "generuj-leady"
    run = subprocess.run([sys.executable, "-m", "paymaster.cli", "run", str(plan / "plan.yaml"),
                          "--data", str(plan / "data"), "--out", str(tmp_path / "out"),
                          "--format", "json"], capture_output=True, text=True)
    assert run.returncode == 2
    assert "unknown format 'json'; use one of csv, parquet, xlsx" in run.stdout
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("program", PROGRAMS)
def test_the_same_inputs_give_the_same_files_row_for_row(program: str, tmp_path: Path) -> None:
    # Ties in the payouts (one sale under two measures) and the titles and evaluations of
    # several measures come in one fixed order, so two runs can be compared with diff.
    texts = []
    for attempt in ("first", "second"):
        calculate_into(EXAMPLES / program / "plan.yaml", EXAMPLES / program / "data",
                       tmp_path / attempt, "csv", chunk_rows=5)
        texts.append({name: (tmp_path / attempt / f"{name}.csv").read_text()
                      for name in ("payouts", "titles", "evaluations", "summary")})
    assert texts[0] == texts[1]
    payouts = pacsv.read_csv(tmp_path / "first" / "payouts.csv").to_pylist()
    # NULLs (a period's line has no date or source) come last, as DuckDB orders them.
    keys = [tuple("\uffff" if row[c] is None else str(row[c])
                  for c in ("payee_id", "period", "date", "source_id")) for row in payouts]
    assert keys == sorted(keys)


def test_no_number_is_written_in_exponent_notation(tmp_path: Path) -> None:
    """Zero at 8 places is "0.00000000" wherever the product writes it (issue 18 item 12,
    issue 20 item 6): str(Decimal) and Arrow both write "0E-8"."""
    from openpyxl import load_workbook

    from paymaster import cells
    from paymaster.outputs import write_rows
    from paymaster.services.audit import jsonable

    tiny, zero, hundred = Decimal("1E-8"), Decimal("0E-8"), Decimal("1E+2")
    rows = [{"id": "a", "value": zero}, {"id": "b", "value": tiny}, {"id": "c", "value": None}]
    write_rows(rows, tmp_path / "rows.csv")
    assert (tmp_path / "rows.csv").read_text().splitlines() == [
        '"id","value"', '"a",0.00000000', '"b",0.00000001', '"c",']
    write_rows(rows, tmp_path / "rows.xlsx")
    sheet = load_workbook(tmp_path / "rows.xlsx").active
    assert [r[1] for r in sheet.iter_rows(min_row=2, values_only=True)] == [
        "0.00000000", "0.00000001", None]
    buffer = io.StringIO()
    cells.Writer(buffer).writerow([zero, tiny, hundred])  # the status CSV's writer
    assert buffer.getvalue().strip() == "0.00000000,0.00000001,100"
    assert jsonable({"v": [zero, hundred]}) == {"v": ["0.00000000", "100"]}  # API, audit
    write_tables({}, tmp_path / "run", metadata={"total": zero})
    assert json.loads((tmp_path / "run" / "run.json").read_text()) == {"total": "0.00000000"}


def test_the_same_run_writes_the_same_bytes(tmp_path: Path) -> None:
    """Every table in a stated order: a run of the same plan and data writes the same files
    (credits came out in a different row order from run to run)."""
    plan = EXAMPLES / "generuj-leady"
    for n in (1, 2):
        calculate_into(plan / "plan.yaml", plan / "data", tmp_path / str(n), "csv")
    written = sorted(p.name for p in (tmp_path / "1").glob("*.csv"))
    assert "credits.csv" in written
    for name in written:
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name


def test_duckdb_writes_the_files_pyarrow_writes_in_the_querys_order(tmp_path: Path) -> None:
    """A run on DuckDB has DuckDB write its tables (outputs.copy_statement): the same CSV
    bytes as the Arrow path (header and text quoted, NULL empty, fixed-point numbers,
    formulas made inert), the same Parquet values and types, in the query's order, over
    many batches written in parallel (an `IN` list in the statement lost the order)."""
    import duckdb

    from paymaster.outputs import Staging

    con = duckdb.connect(config={"threads": "4"})
    con.execute("""CREATE TABLE t AS SELECT range AS n, hash(range) % 100000 AS k,
        ['=1+1', '-5.00', '+x', '@SUM(A1)', chr(9) || 'tab', 'a "quoted", text',
         'line' || chr(10) || 'break', '', NULL, 'zażółć 你好', '2018-03', '-', 'S0001']
            [1 + range % 13] AS s,
        CAST(range % 7 - 3 AS DECIMAL(18, 2)) / 4 AS amount,
        CASE WHEN range % 5 = 0 THEN NULL ELSE CAST(range % 3 AS DECIMAL(38, 8)) / 3 END AS rate,
        DATE '2018-01-01' + CAST(range % 400 AS INTEGER) AS day, range % 2 = 0 AS paid
        FROM range(300000)""")
    sql = "SELECT k, s, amount, rate, day, paid, n FROM t ORDER BY k, n"
    expected = con.sql(sql).to_arrow_table()
    schema = pa.schema([pa.field("k", pa.int64()), pa.field("s", pa.string()),
                        pa.field("amount", pa.decimal128(18, 2)),
                        pa.field("rate", pa.decimal128(38, 8)), pa.field("day", pa.date32()),
                        pa.field("paid", pa.bool_()), pa.field("n", pa.int64())])
    expected = expected.cast(schema)

    def write(folder: str, copy: bool) -> None:
        with Staging(tmp_path / folder) as staging:
            for fmt in ("csv", "parquet"):
                if copy:
                    assert staging.copied(f"t.{fmt}", fmt, sql, schema, lambda statement:
                                          con.execute(statement).fetchall()[0][0]) == 300000
                    assert staging.copied(f"none.{fmt}", fmt, sql + " LIMIT 0", schema,
                                          lambda statement: con.execute(statement)
                                          .fetchall()[0][0]) == 0
                else:
                    staging.table(f"t.{fmt}", fmt, expected)
                    staging.table(f"none.{fmt}", fmt, expected.slice(0, 0))

    write("arrow", copy=False)
    write("duckdb", copy=True)
    for name in ("t.csv", "none.csv"):
        assert (tmp_path / "duckdb" / name).read_bytes() == (tmp_path / "arrow" / name).read_bytes()
    assert "'=1+1" in (tmp_path / "duckdb" / "t.csv").read_text()
    for name in ("t.parquet", "none.parquet"):
        written = pq.read_table(tmp_path / "duckdb" / name)
        assert written.schema == schema
        assert written.equals(pq.read_table(tmp_path / "arrow" / name))
