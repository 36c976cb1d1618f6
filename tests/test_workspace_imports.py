"""Imports into a workspace, on SQLite and on a real PostgreSQL (`store_url`):
idempotent, all or nothing, row errors located, as of a date with snapshot removal, CSV,
Excel and Parquet giving the same rows."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from conftest import EXAMPLES
from paymaster.errors import DataError
from paymaster.services import imports
from paymaster.store.models import ImportBatch, Record
from workspace_support import (
    TI, GL, TI_DATA, JAN_1, examples_workspace, read_csv, write_csv, count, as_set, state,
    audit_of,
)


@pytest.fixture
def ws(store_url, tmp_path, monkeypatch):
    yield from examples_workspace(store_url, tmp_path, monkeypatch)


# ================================================================== imports
def test_importing_the_same_file_twice_changes_nothing(ws, tmp_path):
    source = shutil.copyfile(TI_DATA / "partners.csv", tmp_path / "partners.csv")
    first = imports.import_file(ws, TI, "partners", source, actor="office", as_of=JAN_1)
    assert (first.rows, first.added, first.changed, first.removed, first.already) == (18, 18, 0, 0, False)
    assert count(ws, Record, TI, "partners") == 18

    again = imports.import_file(ws, TI, "partners", source, actor="office", as_of=JAN_1)
    assert again.already and again.import_id == first.import_id
    assert (again.added, again.changed, again.removed) == (0, 0, 0)
    assert count(ws, Record, TI, "partners") == 18
    assert count(ws, ImportBatch, TI, "partners") == 1

    # The same content under another name is the same file (identified by its hash) ...
    copy = shutil.copyfile(source, tmp_path / "partners-copy-from-crm.csv")
    same_day = imports.import_file(ws, TI, "partners", copy, actor="office", as_of=JAN_1)
    assert same_day.already and same_day.import_id == first.import_id
    assert count(ws, ImportBatch, TI, "partners") == 1
    # ... and stamped with a later date it is a new import that adds and changes nothing.
    later = imports.import_file(ws, TI, "partners", copy, actor="office",
                                as_of=dt.date(2026, 1, 5))
    assert not later.already and later.import_id != first.import_id
    assert (later.rows, later.added, later.changed, later.removed, later.unchanged) == (18, 0, 0, 0, 18)
    assert count(ws, ImportBatch, TI, "partners") == 2
    assert count(ws, Record, TI, "partners") == 18
    with ws.store.session() as session:
        batch = session.get(ImportBatch, later.import_id)
        assert batch.file_name == str(copy)
        assert (batch.added, batch.changed, batch.removed) == (0, 0, 0)


def test_a_file_with_bad_rows_is_refused_whole(ws, tmp_path):
    columns, rows = read_csv(TI_DATA / "orders.csv")
    rows[1]["order_date"] = "2008-02-30"        # file line 3: not a date
    rows[3]["trade_in_credit"] = "12 499,99"    # file line 5: not a number
    rows[5]["sales_order"] = ""                 # file line 7: a required value missing
    bad = write_csv(tmp_path / "orders.csv", columns, rows)

    with pytest.raises(DataError) as caught:
        imports.import_file(ws, TI, "orders", bad, actor="office", as_of=JAN_1)

    found = {(p.row, p.field): p for p in caught.value.problems}
    assert set(found) == {(3, "order_date"), (5, "trade_in_credit"), (7, "sales_order")}
    assert "not a valid date" in found[3, "order_date"].message
    assert "2008-02-30" in found[3, "order_date"].message
    assert "not a valid decimal" in found[5, "trade_in_credit"].message
    assert "required" in found[7, "sales_order"].message
    assert all(p.file == str(bad) for p in caught.value.problems)
    assert str(found[5, "trade_in_credit"]).startswith(f"{bad}:row 5: column 'trade_in_credit': ")
    assert count(ws, Record, TI, "orders") == 0
    assert count(ws, ImportBatch, TI, "orders") == 0


def test_an_invalid_polish_nip_is_reported_with_its_row(ws, tmp_path):
    columns, rows = read_csv(EXAMPLES / GL / "data" / "partners.csv")
    good = rows[1]["nip"]
    rows[1]["nip"] = good[:-1] + str((int(good[-1]) + 1) % 10)  # file line 3: wrong check digit
    bad = write_csv(tmp_path / "partners.csv", columns, rows)

    with pytest.raises(DataError) as caught:
        imports.import_file(ws, GL, "partners", bad, actor="office", as_of=JAN_1)

    [problem] = caught.value.problems
    assert (problem.row, problem.field) == (3, "nip")
    assert "NIP" in problem.message and rows[1]["nip"] in problem.message
    assert count(ws, Record, GL, "partners") == 0
    assert count(ws, ImportBatch, GL, "partners") == 0


def test_state_as_of_a_date_and_snapshot_removal(ws, tmp_path):
    feb_1, mar_1 = dt.date(2026, 2, 1), dt.date(2026, 3, 1)
    columns, v1 = read_csv(TI_DATA / "returns.csv")
    first = imports.import_file(ws, TI, "returns", TI_DATA / "returns.csv", actor="office",
                                as_of=JAN_1)
    assert first.added == len(v1) == 25

    v2 = [dict(r) for r in v1]
    assert v2[1] == {"rma_number": "RMA-L02", "received_on": "2008-06-01"}
    v2[1]["received_on"] = "2008-06-15"                                  # a changed row
    v2.append({"rma_number": "RMA-L08", "received_on": "2008-07-01"})    # an extra row
    second = imports.import_file(ws, TI, "returns", write_csv(tmp_path / "v2" / "returns.csv",
                                 columns, v2), actor="office", as_of=feb_1)
    # `returns` has no key: a row is identified by its content, so the changed row is a
    # new row; without --snapshot the import only adds.
    assert (second.added, second.changed, second.removed) == (2, 0, 0)

    assert state(ws, TI, "returns", dt.date(2026, 1, 15)) == as_set(v1)
    assert state(ws, TI, "returns", dt.date(2026, 2, 15)) == as_set(v1) | as_set(v2)
    assert state(ws, TI, "returns", dt.date(2025, 12, 31)) == set()

    # A keyed table: the changed row is a new version of its key.
    c_columns, c1 = read_csv(TI_DATA / "cases.csv")
    imports.import_file(ws, TI, "cases", TI_DATA / "cases.csv", actor="office", as_of=JAN_1)
    c2 = [dict(r) for r in c1]
    c2[1].update(status="confirmed", resolved_on="2008-07-20")
    c2.append({"case_id": "CASE-3", "rma_number": "RMA-L11", "status": "open", "resolved_on": ""})
    changed = imports.import_file(ws, TI, "cases", write_csv(tmp_path / "v2" / "cases.csv",
                                  c_columns, c2), actor="office", as_of=feb_1)
    assert (changed.added, changed.changed, changed.removed) == (1, 1, 0)
    assert state(ws, TI, "cases", dt.date(2026, 1, 15)) == as_set(c1)
    assert state(ws, TI, "cases", dt.date(2026, 2, 15)) == as_set(c2)

    # A snapshot lacking rows marks them removed from its date on; earlier dates keep them.
    v3 = [r for r in v2 if r["rma_number"] != "RMA-L01"]
    snap = imports.import_file(ws, TI, "returns", write_csv(tmp_path / "v3" / "returns.csv",
                               columns, v3), actor="office", as_of=mar_1, snapshot=True)
    # RMA-L01, and the superseded version of RMA-L02 (2008-06-01)
    assert (snap.added, snap.changed, snap.removed) == (0, 0, 2)
    assert state(ws, TI, "returns", mar_1) == as_set(v3)
    assert state(ws, TI, "returns", dt.date(2026, 3, 15)) == as_set(v3)
    before = state(ws, TI, "returns", dt.date(2026, 2, 28))
    assert before == as_set(v1) | as_set(v2)
    assert (("received_on", "2008-05-01"), ("rma_number", "RMA-L01")) in before

    c3 = [r for r in c2 if r["case_id"] != "CASE-1"]
    snap = imports.import_file(ws, TI, "cases", write_csv(tmp_path / "v3" / "cases.csv",
                               c_columns, c3), actor="office", as_of=mar_1, snapshot=True)
    assert (snap.added, snap.changed, snap.removed) == (0, 0, 1)
    assert state(ws, TI, "cases", mar_1) == as_set(c3)
    assert state(ws, TI, "cases", dt.date(2026, 2, 15)) == as_set(c2)
    # Nothing was overwritten: every version is still stored.
    assert count(ws, Record, TI, "returns") == 25 + 2 + 2


def test_a_workflow_table_is_not_imported(ws):
    path = EXAMPLES / GL / "data" / "registrations.csv"
    with pytest.raises(DataError) as caught:
        imports.import_file(ws, GL, "registrations", path, actor="office", as_of=JAN_1)
    [problem] = caught.value.problems
    assert "registrations" in problem.message and "register" in problem.message
    assert "paymaster register" in problem.hint
    assert count(ws, Record, GL, "registrations") == 0
    assert count(ws, ImportBatch, GL, "registrations") == 0


def test_the_hint_for_an_enrollment_table_names_an_existing_option(ws):
    import typer.main

    from paymaster.cli import app

    with pytest.raises(DataError) as caught:
        imports.import_file(ws, TI, "enrollments", TI_DATA / "enrollments.csv",
                            actor="office", as_of=JAN_1)
    hint = caught.value.problems[0].hint
    assert "paymaster enroll" in hint
    enroll = typer.main.get_command(app).commands["enroll"]
    options = {o for p in enroll.params for o in getattr(p, "opts", [])}
    unknown = [word for word in hint.split() if word.startswith("--") and word not in options]
    assert unknown == []

def test_excel_and_parquet_files_import_to_the_same_rows(ws, tmp_path):
    """The same partners as CSV, Excel and Parquet are the same rows: the second and third
    files change nothing; an edited cell in the Excel copy is one changed row, audited
    with its state before and after."""
    import openpyxl
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    source = TI_DATA / "partners.csv"
    table = pacsv.read_csv(source)
    pq.write_table(table, tmp_path / "partners.parquet")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(table.column_names)
    for row in table.to_pylist():
        sheet.append(list(row.values()))
    book.save(tmp_path / "partners.xlsx")

    first = imports.import_file(ws, TI, "partners", source, actor="office", as_of=JAN_1)
    assert (first.added, first.changed) == (table.num_rows, 0)
    for copy in ("partners.xlsx", "partners.parquet"):
        again = imports.import_file(ws, TI, "partners", tmp_path / copy, actor="office",
                                    as_of=JAN_1)
        assert (again.already, again.added, again.changed) == (False, 0, 0), copy

    sheet.cell(row=2, column=3, value="SG")  # the first partner moves country
    book.save(tmp_path / "moved.xlsx")
    moved = imports.import_file(ws, TI, "partners", tmp_path / "moved.xlsx", actor="office",
                                as_of=dt.date(2026, 2, 1))
    assert (moved.added, moved.changed) == (0, 1)
    first_id = table.column("partner_id")[0].as_py()
    [event] = [e for e in audit_of(ws, "table", f"{TI}/partners")
               if e.after["import"] == moved.import_id]
    [change] = event.after["changes"]
    assert change["key"] == first_id
    assert (change["before"]["country"], change["after"]["country"]) == (
        table.column("country")[0].as_py(), "SG")


def test_a_run_on_stored_data_names_the_stored_table_not_an_exported_file(ws, tmp_path):
    """A snapshot of partners without partner B leaves B's certifications referring to
    nobody: the next calculation refuses the stored data, and says so of the stored table
    (the files it exported to calculate are temporary and were never the user's)."""
    from paymaster.services.calc import calculate_stored
    from paymaster.services.demo import load_example

    load_example(ws, TI, JAN_1, lambda _: None)
    columns, partners = read_csv(TI_DATA / "partners.csv")
    kept = [r for r in partners if r["partner_id"] != "B"]
    imports.import_file(ws, TI, "partners", write_csv(tmp_path / "partners.csv", columns, kept),
                        actor="office", as_of=JAN_1, snapshot=True)
    with ws.store.session() as session, pytest.raises(DataError) as caught:
        calculate_stored(ws, session, TI, None)
    problems = caught.value.problems
    assert problems and all(p.file.startswith("stored table ") for p in problems)
    assert any("unknown partner_id 'B'" in p.message for p in problems)
    assert not any("paymaster-" in str(p) for p in problems)
