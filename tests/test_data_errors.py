"""Bad data is refused with file, row and column; nothing is half-written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, FILES
from paymaster.errors import DataError
from paymaster.runs import calculate

PLAN = EXAMPLES / "generuj-leady" / "plan.yaml"

def problems(data: Path) -> list:
    with pytest.raises(DataError) as caught:
        calculate(PLAN, data)
    return caught.value.problems


def test_clean_folder_runs(data: Path) -> None:
    result = calculate(PLAN, data)
    deal = {r["source_id"]: r for r in result.tables["payouts"].to_pylist() if r["measure"] == "deal"}
    # 57.10 x 12 x 500 (620 capped) = 342 600.00 at 2% (251+) = 6 852.00
    assert str(deal["S1"]["amount"]) == "6852.00"
    assert deal["S2"]["reason"] == "no_registration"


def test_every_bad_row_is_reported_with_row_and_column(data: Path) -> None:
    (data / "sales.csv").write_text(
        "sale_id,partner_id,customer_nip,family,plan,billing,licences,unit_price,order_date\n"
        "S1,P1,1234563218,M365,E3,annual,-5,57.10,2018-04-10\n"
        "S2,P9,1234563218,O365,E3,annual,10,20.00,2018-04-11\n"
        "S3,P1,1234563218,O365,E3,yearly,10,2O.00,31/04/2018\n"
        "S3,P1,1234563218,O365,E3,annual,10,20.00,2018-04-12\n",
        encoding="utf-8",
    )
    found = problems(data)
    located = {(p.row, p.field) for p in found}
    assert (2, "licences") in located          # negative licence count
    assert (4, "billing") in located           # not one of annual, monthly
    assert (4, "unit_price") in located        # letter O instead of zero
    assert (4, "order_date") in located        # unparsable date
    assert (5, "sale_id") in located           # duplicate key
    assert all(p.file.endswith("sales.csv") for p in found)
    texts = [str(p) for p in found]
    assert any("must be at least 0" in t for t in texts)
    assert any("'31/04/2018' is not a valid date" in t and "YYYY-MM-DD" in t for t in texts)


def test_unknown_payee_is_reported_after_types_are_clean(data: Path) -> None:
    (data / "sales.csv").write_text(FILES["sales.csv"].replace("S2,P2", "S2,P9"), encoding="utf-8")
    [problem] = problems(data)
    assert (problem.row, problem.field) == (3, "partner_id")
    assert "unknown partner_id 'P9'" in problem.message


def test_missing_column_and_missing_file(data: Path) -> None:
    (data / "customers.csv").write_text("nip,name,adress,country,segment\n", encoding="utf-8")
    (data / "holdings.csv").unlink()
    (data / "registrations.csv").unlink()
    found = problems(data)
    messages = {p.message: p for p in found}
    assert messages["missing column 'address'"].hint == "did you mean 'adress'?"
    assert any("input table 'registrations' is missing" in m for m in messages)
    assert not any("holdings" in m for m in messages)  # optional: absent means empty


def test_excel_and_parquet_inputs_give_the_same_result(data: Path, tmp_path: Path) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    from openpyxl import Workbook

    expected = calculate(PLAN, data).tables["payouts"]
    sales = pacsv.read_csv(data / "sales.csv", convert_options=pacsv.ConvertOptions(
        column_types={"sale_id": "string", "customer_nip": "string", "unit_price": "string"}))
    pq.write_table(sales, data / "sales.parquet")
    (data / "sales.csv").unlink()
    book = Workbook()
    sheet = book.active
    for line in FILES["partners.csv"].splitlines():
        sheet.append(line.split(","))
    book.save(data / "partners.xlsx")
    (data / "partners.csv").unlink()
    assert calculate(PLAN, data).tables["payouts"].equals(expected)


def test_cli_writes_nothing_when_data_is_bad(data: Path, tmp_path: Path) -> None:
    (data / "sales.csv").write_text(FILES["sales.csv"].replace("620", "many"), encoding="utf-8")
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "paymaster.cli", "run", str(PLAN), "--data",
                          str(data), "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 1
    assert "sales.csv:row 2: column 'licences': 'many' is not a valid integer" in run.stderr
    assert not out.exists() or not any(out.iterdir())


def test_cli_run_writes_every_table_in_each_format(data: Path, tmp_path: Path) -> None:
    for fmt in ("csv", "parquet", "xlsx"):
        out = tmp_path / fmt
        run = subprocess.run([sys.executable, "-m", "paymaster.cli", "run", str(PLAN), "--data",
                              str(data), "--out", str(out), "--format", fmt],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        names = sorted(p.name for p in out.iterdir())
        assert names == sorted([*(f"{t}.{fmt}" for t in ("payouts", "summary", "titles",
                                                          "evaluations", "credits", "effect")),
                                "run.json"])
    assert "7,217.00" in run.stdout  # 6 852.00 deal + 365.00 new-partner bonus


def test_typed_parquet_is_still_checked_row_by_row(data: Path) -> None:
    import datetime as dt
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    (data / "sales.csv").unlink()
    pq.write_table(pa.table({
        "sale_id": ["S1", "S2", "S3"], "partner_id": ["P1", "P2", None],
        "customer_nip": ["1234563218"] * 3, "family": ["M365", "O365", "X365"],
        "plan": ["E3"] * 3, "billing": ["annual"] * 3,
        "licences": pa.array([620, -1, 10], pa.int32()),
        "unit_price": pa.array([Decimal("57.10"), Decimal("20.00"), Decimal("1.00")],
                               pa.decimal128(12, 2)),
        "order_date": [dt.date(2018, 4, 10), dt.date(2018, 4, 11), dt.date(2018, 4, 12)],
    }), data / "sales.parquet")
    found = {(p.row, p.field) for p in problems(data)}
    assert found == {(3, "licences"), (4, "partner_id"), (4, "family")}


TAX_PLAN = """
program: tax-ids
currency: PLN
scope: {start: 2026-01-01, end: 2026-12-31}
inputs:
  partners:
    key: [partner_id]
    columns:
      partner_id: string
      nip: {type: string, optional: true, tax_id: pl.nip}
      uscc: {type: string, optional: true, tax_id: cn.uscc}
      vat: {type: string, optional: true, tax_id: eu.vat}
measures:
  - id: flat
    type: per_record
    source: partners
    payee: partner_id
    source_id: partner_id
    date: DATE '2026-01-01'
    period: month
    amount: '1'
"""


def test_tax_ids_are_checked_with_stdnum(tmp_path: Path) -> None:
    import duckdb

    from paymaster.datafiles import load_table
    from paymaster.plan import parse_plan

    plan = parse_plan(TAX_PLAN).plan
    good = tmp_path / "good.csv"
    good.write_text("partner_id,nip,uscc,vat\n"
                    "A,5208710903,91110000600037341L,DE136695976\n"
                    "B,,,PL5208710903\n", encoding="utf-8")
    load_table(plan, "partners", good, duckdb.connect())
    bad = tmp_path / "bad.csv"
    bad.write_text("partner_id,nip,uscc,vat\n"
                   "A,5208710904,91110000600037341L,DE136695976\n"   # NIP check digit off by one
                   "B,,91110000600037341X,\n"                         # USCC check character
                   "C,,,XX123\n", encoding="utf-8")                   # no such VAT country
    with pytest.raises(DataError) as caught:
        load_table(plan, "partners", bad, duckdb.connect())
    found = {(p.row, p.field): p.message for p in caught.value.problems}
    assert set(found) == {(2, "nip"), (3, "uscc"), (4, "vat")}
    assert "not a valid pl.nip" in found[(2, "nip")] and "NIP" in found[(2, "nip")]
    assert "check digit" in found[(2, "nip")]
    assert "not a valid cn.uscc" in found[(3, "uscc")]
    assert "not a valid eu.vat" in found[(4, "vat")]
