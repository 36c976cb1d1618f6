"""Spreadsheet formula injection: imported text that Excel would run as a formula
(`=HYPERLINK(...)`, `@SUM(...)`) is written inert into every CSV and Excel file the
product makes (statement XLSX and CSV, status CSV, `run --format xlsx|csv`), with a
leading apostrophe; numbers stay numbers."""

from __future__ import annotations

import csv
import io
import shutil
import sys
from decimal import Decimal

import openpyxl
import pytest
from fastapi.testclient import TestClient

from conftest import EXAMPLES
from paymaster.cells import safe
from paymaster.cli import main
from paymaster.services.accounts import DEMO_ACCOUNTS
from paymaster.web.app import create_app

GL = "generuj-leady"
LINK = '=HYPERLINK("http://x","y")'
SUM = "@SUM(1+1)"
IDS = {"S01": LINK, "S28": SUM}  # both sales of partner P1
PASSWORDS = {a[0]: a[1] for a in DEMO_ACCOUNTS}
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def hostile_sales() -> bytes:
    text = (EXAMPLES / GL / "data" / "sales.csv").read_text(encoding="utf-8")
    for plain, formula in IDS.items():
        quoted = '"' + formula.replace('"', '""') + '"'
        text = text.replace(f"\n{plain},", f"\n{quoted},")
    return text.encode("utf-8")


def assert_inert_text(values, where: str) -> None:
    """No text value starts like a formula (a plain number such as -5.00 may)."""
    for value in values:
        if isinstance(value, str) and value.startswith(TRIGGERS):
            assert safe(value) == value, f"{where}: {value!r} would run as a formula"


def assert_sheets_inert(data: bytes, where: str) -> set[str]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    seen = set()
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{where}: {sheet.title}!{cell.coordinate} " \
                                              f"is a formula: {cell.value!r}"
                if isinstance(cell.value, str):
                    seen.add(cell.value)
                assert_inert_text([cell.value], f"{where} {sheet.title}!{cell.coordinate}")
    return seen


def csv_values(text: str) -> list[str]:
    return [value for row in csv.reader(io.StringIO(text)) for value in row]


def test_statement_and_status_files_hold_imported_formulas_as_text(demo_workspace):
    ws = demo_workspace
    client = TestClient(create_app(ws))
    login = client.post("/api/login", json={"username": "admin", "password": PASSWORDS["admin"]})
    client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    answer = client.post(f"/api/office/{GL}/imports", data={"table": "sales", "snapshot": "true"},
                         files={"file": ("sales.csv", hostile_sales(), "text/csv")})
    assert answer.status_code == 200, answer.text
    run = client.post(f"/api/office/{GL}/runs", json={}).json()["run"]
    assert client.post(f"/api/office/runs/{run['id']}/approve").status_code == 200
    assert client.post(f"/api/office/runs/{run['id']}/post").status_code == 200

    xlsx = client.get(f"/api/programs/{GL}/statement/P1", params={"format": "xlsx"})
    assert xlsx.status_code == 200, xlsx.text
    seen = assert_sheets_inert(xlsx.content, "statement xlsx")
    assert "'" + LINK in seen and "'" + SUM in seen
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    amounts = [c.value for c in book["Lines"]["E"][1:]]
    assert amounts and all(isinstance(a, (int, float, Decimal)) for a in amounts if a is not None)

    for url, params in ((f"/api/programs/{GL}/statement/P1", {"format": "csv"}),
                        (f"/api/programs/{GL}/status", {"payee": "P1", "format": "csv"})):
        answer = client.get(url, params=params)
        assert answer.status_code == 200, answer.text
        values = csv_values(answer.text)
        assert_inert_text(values, url)
        assert "'" + LINK in values or "'" + SUM in values, f"{url}: {values[:40]}"


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_run_outputs_hold_imported_formulas_as_text(fmt, tmp_path, monkeypatch, capsys):
    data = shutil.copytree(EXAMPLES / GL / "data", tmp_path / "data")
    (data / "sales.csv").write_bytes(hostile_sales())
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", ["paymaster", "run", str(EXAMPLES / GL / "plan.yaml"),
                                      "--data", str(data), "--out", str(out), "--format", fmt])
    with pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code in (0, None), capsys.readouterr()
    lines = out / f"payouts.{fmt}"
    assert lines.is_file(), sorted(p.name for p in out.iterdir())
    if fmt == "xlsx":
        seen = set()
        for path in out.glob("*.xlsx"):
            seen |= assert_sheets_inert(path.read_bytes(), path.name)
    else:
        seen = set()
        for path in out.glob("*.csv"):
            values = csv_values(path.read_text(encoding="utf-8"))
            assert_inert_text(values, path.name)
            seen |= set(values)
    assert "'" + LINK in seen and "'" + SUM in seen


def test_numbers_stay_numbers_and_text_is_quoted():
    # a Decimal is written as the same number in fixed-point text, never quoted, never 0E-8
    assert safe(Decimal("-5.00")) == "-5.00" and safe(Decimal("0E-8")) == "0.00000000"
    assert safe("-5.00") == "-5.00" and safe("+3") == "+3"
    assert safe("-5.00+A1") == "'-5.00+A1"
    assert [safe(v) for v in ("=1", "+cmd", "-x", "@SUM(1)", "\tx", "\rx", "ok")] == \
        ["'=1", "'+cmd", "'-x", "'@SUM(1)", "'\tx", "'\rx", "ok"]
