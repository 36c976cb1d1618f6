"""Hostile and broken files, imported through the CLI (`paymaster import`) and the office
upload (`POST /api/office/{program}/imports`): each is refused with a 4xx and a message
naming the file, row and column, and the store is left as it was. The cases are data:
`import_cases/` (see its cases.py)."""

from __future__ import annotations

import sys
import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from import_cases.cases import ALL, Case, csv_text, with_value, xlsx
from paymaster.cli import main
from paymaster.limits import Limits
from paymaster.services import imports
from paymaster.services.accounts import DEMO_ACCOUNTS
from paymaster.store.models import ImportBatch, Record
from paymaster.web.app import create_app
from workspace_support import GL, JAN_1, examples_workspace

PASSWORDS = {a[0]: a[1] for a in DEMO_ACCOUNTS}


@pytest.fixture(scope="module")
def payloads() -> dict[str, bytes]:
    return {case.name: case.make() for case in ALL}


def counts(ws) -> tuple[int, int]:
    with ws.store.session() as session:
        return (session.scalar(select(func.count()).select_from(ImportBatch)),
                session.scalar(select(func.count()).select_from(Record)))


def office(ws) -> TestClient:
    client = TestClient(create_app(ws), raise_server_exceptions=False)
    answer = client.post("/api/login", json={"username": "admin",
                                              "password": PASSWORDS["admin"]})
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


def cli_import(ws, path, monkeypatch, capsys, *extra: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["paymaster", "import", GL, "partners", str(path),
                                      "-w", str(ws.folder), *extra])
    with pytest.raises(SystemExit) as ended:
        main()
    captured = capsys.readouterr()
    return ended.value.code, captured.out + captured.err


def test_every_case_is_refused_by_the_cli_and_the_office_upload(
        demo_workspace, payloads, tmp_path, monkeypatch, capsys):
    ws = demo_workspace
    client = office(ws)
    before = counts(ws)
    failures = []
    for case in ALL:
        path = tmp_path / case.name.replace(" ", "_") / case.filename
        path.parent.mkdir()
        path.write_bytes(payloads[case.name])
        code, text = cli_import(ws, path, monkeypatch, capsys)
        failures += _judge_cli(case, code, text, str(path))
        answer = client.post(f"/api/office/{GL}/imports", data={"table": "partners"},
                             files={"file": (case.filename, payloads[case.name])})
        failures += _judge_web(case, answer)
        assert counts(ws) == before, f"{case}: the store changed"
    assert not failures, "\n".join(failures)


def _judge_cli(case: Case, code: int, text: str, path: str) -> list[str]:
    wrong = []
    if code != 1 or "Traceback" in text:
        wrong.append(f"{case} (cli): exit {code}: {text[:300]}")
    if case.fragment not in text or path not in text:
        wrong.append(f"{case} (cli): expected {case.fragment!r} and the file: {text[:300]}")
    if case.row is not None and f"row {case.row}" not in text:
        wrong.append(f"{case} (cli): row {case.row} not named: {text[:300]}")
    if case.field is not None and f"column '{case.field}'" not in text:
        wrong.append(f"{case} (cli): column {case.field} not named: {text[:300]}")
    return wrong


def _judge_web(case: Case, answer) -> list[str]:
    if answer.status_code != 400:
        return [f"{case} (web): status {answer.status_code}: {answer.text[:300]}"]
    problems = answer.json()["error"]["problems"]
    hit = [p for p in problems if case.fragment in p["message"]]
    if not hit:
        return [f"{case} (web): expected {case.fragment!r}: {problems}"[:400]]
    p = hit[0]
    wrong = []
    if not p.get("file", "").endswith(case.filename.rsplit(".", 1)[1]):
        wrong.append(f"{case} (web): no file named: {p}")
    if (p.get("row"), p.get("field")) != (case.row, case.field) and case.row is not None:
        wrong.append(f"{case} (web): expected row {case.row} column {case.field}: {p}"[:400])
    return wrong


# ---------------------------------------------------------------- limits
def test_limits_come_from_the_workspace_config_and_are_said(
        demo_workspace, tmp_path, monkeypatch, capsys):
    ws = demo_workspace
    ws.config.limits = Limits(rows=3, upload_bytes=4000, text_chars=20, columns=9)
    ws.save_config()
    before = counts(ws)
    path = tmp_path / "partners.csv"
    path.write_text(csv_text(), encoding="utf-8")  # 8 partners: more than 3 rows
    code, text = cli_import(ws, path, monkeypatch, capsys)
    assert code == 1 and "has more than 3 rows" in text and "row 5" in text
    assert "limits: rows" in text and "paymaster.yaml" in text

    path.write_bytes(with_value(2, "name", "n" * 4000)())
    code, text = cli_import(ws, path, monkeypatch, capsys)
    assert code == 1 and "at most 4,000 are accepted" in text and "upload_bytes" in text

    client = office(ws)
    answer = client.post(f"/api/office/{GL}/imports", data={"table": "partners"},
                         files={"file": ("p.csv", with_value(2, "name", "n" * 21)())})
    assert answer.status_code == 400
    assert "at most 20 are accepted" in answer.text and "text_chars" in answer.text
    assert counts(ws) == before


def test_an_excel_sheet_declaring_millions_of_rows_is_refused_before_its_cells_are_read(
        demo_workspace, tmp_path, monkeypatch, capsys):
    import io
    import zipfile

    ws = demo_workspace
    columns = csv_text().splitlines()[0].split(",")
    small = xlsx([columns, ["P1", "Alfa", "W", "PL", "5208710903", "true", None, None]])
    source, out = zipfile.ZipFile(io.BytesIO(small)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:  # the same sheet, claiming 20M rows
        for item in source.infolist():
            data = source.read(item)
            if item.filename.endswith("sheet1.xml"):
                assert b'<dimension ref="A1:H2"' in data
                data = data.replace(b'<dimension ref="A1:H2"', b'<dimension ref="A1:H20000000"')
            target.writestr(item, data)
    path = tmp_path / "partners.xlsx"
    path.write_bytes(out.getvalue())
    started = time.perf_counter()
    code, text = cli_import(ws, path, monkeypatch, capsys)
    assert time.perf_counter() - started < 5
    assert code == 1 and "has more than 1,000,000 rows" in text, text


# ---------------------------------------------------------------- the same file twice at once
@pytest.fixture
def ws(store_url, tmp_path, monkeypatch):
    yield from examples_workspace(store_url, tmp_path, monkeypatch)


def test_two_identical_imports_at_once_are_one_import(ws, tmp_path, monkeypatch):
    path = tmp_path / "partners.csv"
    path.write_text(csv_text(), encoding="utf-8")
    both_read = threading.Barrier(2, timeout=30)
    read = imports.read_rows

    def read_then_wait(*args):
        rows = read(*args)
        both_read.wait()  # each has found no earlier import: now both store theirs
        return rows

    monkeypatch.setattr(imports, "read_rows", read_then_wait)
    results, errors = [], []

    def one() -> None:
        try:
            results.append(imports.import_file(ws, GL, "partners", path, actor="office",
                                               as_of=JAN_1))
        except Exception as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(r.already for r in results) == [False, True]
    assert len({r.import_id for r in results}) == 1
    with ws.store.session() as session:
        assert session.scalar(select(func.count()).select_from(ImportBatch)) == 1
