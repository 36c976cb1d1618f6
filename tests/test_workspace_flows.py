"""Workspace flows end to end, on SQLite and on a real PostgreSQL (`store_url`): imports
(idempotent, all or nothing, as of a date), enrollment, disputes with a correction re-run,
statements, and the workspace CLI."""

from __future__ import annotations

import csv
import datetime as dt
import html
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import EXAMPLES
from paymaster.errors import DataError
from paymaster.services import disputes, enrollments, imports, inputs, ledger, statements
from paymaster.services.demo import (
    add_examples,
    correction_and_dispute,
    load_example,
    run_and_post,
    take_enrollments,
)
from paymaster.services.registrations import WorkflowError
from paymaster.store.models import AuditEvent, Enrollment, ImportBatch, Record
from paymaster.workspace import Workspace

TI = "trade-in-accelerator"
GL = "generuj-leady"
TI_DATA = EXAMPLES / TI / "data"
TI_EXPECTED = EXAMPLES / TI / "expected"
JAN_1 = dt.date(2026, 1, 1)


def quiet(_text: str) -> None:
    pass


@pytest.fixture
def ws(store_url, tmp_path, monkeypatch):
    """A workspace on the test's database with the three example programs."""
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    monkeypatch.delenv("PAYMASTER_TODAY", raising=False)
    workspace = Workspace.init(tmp_path / "ws", store_url)
    add_examples(workspace, "office")
    yield workspace
    workspace.close()


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def count(ws: Workspace, model, program: str, table: str) -> int:
    with ws.store.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(
            model.program == program, model.table_name == table))


def as_set(rows: list[dict]) -> set[tuple]:
    return {tuple(sorted((k, v or "") for k, v in row.items())) for row in rows}


def state(ws: Workspace, program: str, table: str, on: dt.date) -> set[tuple]:
    with ws.store.session() as session:
        return as_set(inputs.current_rows(session, program, table, on))


def audit_of(ws: Workspace, entity: str, key: str) -> list[AuditEvent]:
    with ws.store.session() as session:
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.entity == entity, AuditEvent.entity_key == key).order_by(AuditEvent.id)))


# ================================================================== imports
def test_importing_the_same_file_twice_changes_nothing(ws, tmp_path):
    source = shutil.copyfile(TI_DATA / "partners.csv", tmp_path / "partners.csv")
    first = imports.import_file(ws, TI, "partners", source, actor="office", as_of=JAN_1)
    assert (first.rows, first.added, first.changed, first.removed, first.already) == (16, 16, 0, 0, False)
    assert count(ws, Record, TI, "partners") == 16

    again = imports.import_file(ws, TI, "partners", source, actor="office", as_of=JAN_1)
    assert again.already and again.import_id == first.import_id
    assert (again.added, again.changed, again.removed) == (0, 0, 0)
    assert count(ws, Record, TI, "partners") == 16
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
    assert (later.rows, later.added, later.changed, later.removed, later.unchanged) == (16, 0, 0, 0, 16)
    assert count(ws, ImportBatch, TI, "partners") == 2
    assert count(ws, Record, TI, "partners") == 16
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
    assert first.added == len(v1) == 22

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
    assert count(ws, Record, TI, "returns") == 22 + 2 + 2


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


# ================================================================== enrollment
@pytest.fixture
def trade_in(ws):
    load_example(ws, TI, JAN_1, quiet)
    return ws


def at(day: str, hour: int = 9) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour)


def test_enrollment_draft_submitted_approved_with_due_date_and_audit(trade_in):
    ws = trade_in
    draft = enrollments.create(ws, TI, "A", "6", dt.date(2008, 2, 4), actor="A",
                               at=at("2008-02-04"))
    assert draft.status == "draft" and draft.submitted_on is None and draft.due_on is None

    submitted = enrollments.move(ws, TI, draft.enrollment_id, "submit", actor="A",
                                 at=at("2008-02-04", 10))
    assert submitted.status == "submitted"
    assert submitted.submitted_on == dt.date(2008, 2, 4)
    # Partner A is in CN. 10 business days after Mon 2008-02-04, counted by hand:
    # Feb 5 (1); Feb 6-8 Chinese New Year holidays, Feb 9-10 weekend, Feb 11-12 days off;
    # Feb 13, 14, 15 (2-4); Feb 18-22 (5-9); Feb 25 (10).
    assert submitted.due_on == dt.date(2008, 2, 25)

    approved = enrollments.move(ws, TI, draft.enrollment_id, "approve", actor="office",
                                at=at("2008-02-06"))
    assert approved.status == "approved" and approved.reason is None
    assert approved.decided_by == "office" and approved.decided_at == at("2008-02-06")

    events = audit_of(ws, "enrollment", draft.enrollment_id)
    assert [(e.action, e.actor) for e in events] == [
        ("draft", "A"), ("submit", "A"), ("approve", "office")]
    assert [e.program for e in events] == [TI] * 3
    assert events[0].before is None and events[0].after["status"] == "draft"
    assert (events[1].before["status"], events[1].after["status"]) == ("draft", "submitted")
    assert events[1].after["due_on"] == "2008-02-25"
    assert (events[2].before["status"], events[2].after["status"]) == ("submitted", "approved")
    assert events[2].after["decided_by"] == "office"

    # Partner D is in AU, with no public holiday in that window: Feb 5-8, 11-15, 18.
    d = enrollments.create(ws, TI, "D", "6", dt.date(2008, 2, 4), actor="D",
                           at=at("2008-02-04"), submit=True)
    assert (d.status, d.due_on) == ("submitted", dt.date(2008, 2, 18))


def test_enrollment_deadline_withdraw_and_refused_moves(trade_in):
    ws = trade_in
    late = enrollments.create(ws, TI, "B", "6", dt.date(2008, 3, 3), actor="B",
                              at=at("2008-03-03"))
    with pytest.raises(WorkflowError) as caught:
        enrollments.move(ws, TI, late.enrollment_id, "submit", actor="B", at=at("2008-03-03"))
    assert "2008-02-29" in caught.value.problems[0].message
    [stored] = enrollments.listing(ws, TI, partner="B")
    assert (stored.status, stored.submitted_on, stored.due_on) == ("draft", None, None)
    assert [e.action for e in audit_of(ws, "enrollment", late.enrollment_id)] == ["draft"]

    withdrawn = enrollments.move(ws, TI, late.enrollment_id, "withdraw", actor="B",
                                 at=at("2008-03-04"))
    assert withdrawn.status == "withdrawn"

    # On the deadline day itself a submission is still on time.
    on_time = enrollments.create(ws, TI, "C", "6", dt.date(2008, 2, 29), actor="C",
                                 at=at("2008-02-29", 23), submit=True)
    assert on_time.status == "submitted"

    draft = enrollments.create(ws, TI, "E", "6", dt.date(2008, 2, 1), actor="E",
                               at=at("2008-02-01"))
    with pytest.raises(WorkflowError) as caught:
        enrollments.move(ws, TI, draft.enrollment_id, "approve", actor="office")
    assert "draft" in caught.value.problems[0].message
    with pytest.raises(WorkflowError):
        enrollments.move(ws, TI, withdrawn.enrollment_id, "submit", actor="B",
                         at=at("2008-02-10"))
    statuses = {e.partner_id: e.status for e in enrollments.listing(ws, TI)}
    assert statuses == {"B": "withdrawn", "C": "submitted", "E": "draft"}


def test_approval_checks_certification_and_country(trade_in):
    ws = trade_in

    def decide(partner: str) -> Enrollment:
        e = enrollments.create(ws, TI, partner, "6", dt.date(2008, 2, 4), actor=partner,
                               at=at("2008-02-04"), submit=True)
        return enrollments.move(ws, TI, e.enrollment_id, "approve", actor="office",
                                at=at("2008-02-07"))

    # I's Gold certification ends 2008-03-31, in the middle of phase 6 (to 2008-04-26).
    i = decide("I")
    assert (i.status, i.reason) == ("rejected", "certification_not_valid")
    # H is in India, not among phase 6's countries.
    h = decide("H")
    assert (h.status, h.reason) == ("rejected", "country_not_eligible")
    # K's only certification is 'Registered', not a certified level.
    k = decide("K")
    assert (k.status, k.reason) == ("rejected", "certification_not_valid")
    # J: Gold to 2008-02-15 then Silver from 2008-02-16 covers the phase end to end.
    j = decide("J")
    assert (j.status, j.reason) == ("approved", None)

    [event] = [e for e in audit_of(ws, "enrollment", i.enrollment_id) if e.action == "approve"]
    assert event.after["status"] == "rejected"
    assert event.after["reason"] == "certification_not_valid"


def test_overdue_lists_a_submitted_application_only_after_its_due_date(trade_in):
    ws = trade_in
    e = enrollments.create(ws, TI, "A", "6", dt.date(2008, 2, 4), actor="A",
                           at=at("2008-02-04"), submit=True)
    enrollments.create(ws, TI, "B", "6", dt.date(2008, 2, 4), actor="B", at=at("2008-02-04"))
    assert e.due_on == dt.date(2008, 2, 25)
    assert enrollments.overdue(ws, TI, on=dt.date(2008, 2, 20)) == []
    assert enrollments.overdue(ws, TI, on=dt.date(2008, 2, 25)) == []
    late = enrollments.overdue(ws, TI, on=dt.date(2008, 2, 26))
    assert [x.enrollment_id for x in late] == [e.enrollment_id]

    enrollments.move(ws, TI, e.enrollment_id, "approve", actor="office", at=at("2008-02-27"))
    assert enrollments.overdue(ws, TI, on=dt.date(2008, 3, 1)) == []


# ================================================================== disputes
DETAILS = {"items": "1 x traded-in switch", "return_date": "2008-07-01",
           "rma_number": "RMA-L08", "tmp_quote": "TMP-L08", "sales_order": "SO-L08"}


def correction_file(folder: Path) -> Path:
    columns, rows = read_csv(TI_DATA / "returns.csv")
    return write_csv(folder / "returns.csv", columns,
                     rows + [{"rma_number": "RMA-L08", "received_on": "2008-07-01"}])


def test_missing_record_dispute_needs_details_and_a_resolution(trade_in, tmp_path):
    ws = trade_in
    partial = {"items": "1 x switch", "rma_number": "RMA-L08", "tmp_quote": ""}
    with pytest.raises(WorkflowError) as caught:
        disputes.open_case(ws, TI, "D", "RMA returned but not counted", actor="D",
                           details=partial)
    message = caught.value.problems[0].message
    for name in ("return_date", "tmp_quote", "sales_order"):
        assert name in message
    assert "items" not in message and "rma_number" not in message
    assert disputes.listing(ws, TI) == []

    case = disputes.open_case(ws, TI, "D", "RMA returned but not counted", actor="D",
                              details=DETAILS)
    assert case.status == "open" and case.details == DETAILS and case.opened_by == "D"

    for blank in ("", "   "):
        with pytest.raises(WorkflowError):
            disputes.resolve(ws, TI, case.id, accept=False, resolution=blank, actor="office")
    fix = correction_file(tmp_path / "fix")
    with pytest.raises(WorkflowError) as caught:
        disputes.resolve(ws, TI, case.id, accept=False, resolution="no proof", actor="office",
                         correction=("returns", fix), as_of=dt.date(2026, 1, 2))
    assert "correction" in caught.value.problems[0].message
    assert count(ws, ImportBatch, TI, "returns") == 1
    [still] = disputes.listing(ws, TI)
    assert still.status == "open"

    rejected = disputes.resolve(ws, TI, case.id, accept=False, resolution="no proof of return",
                                actor="office")
    assert (rejected.status, rejected.resolution, rejected.resolved_by) == (
        "rejected", "no proof of return", "office")
    assert rejected.correction_import is None
    with pytest.raises(WorkflowError) as caught:
        disputes.resolve(ws, TI, case.id, accept=True, resolution="changed my mind",
                         actor="office")
    assert "rejected" in caught.value.problems[0].message
    [final] = disputes.listing(ws, TI)
    assert (final.status, final.resolution) == ("rejected", "no proof of return")
    events = audit_of(ws, "dispute", str(case.id))
    assert [(e.action, e.actor) for e in events] == [("open", "D"), ("reject", "office")]
    assert (events[1].before["status"], events[1].after["status"]) == ("open", "rejected")


def test_a_refused_resolution_imports_no_correction(trade_in, tmp_path):
    ws = trade_in
    case = disputes.open_case(ws, TI, "D", "RMA returned but not counted", actor="D",
                              details=DETAILS)
    disputes.resolve(ws, TI, case.id, accept=False, resolution="no proof", actor="office")
    with pytest.raises(WorkflowError):
        disputes.resolve(ws, TI, case.id, accept=True, resolution="found it", actor="office",
                         correction=("returns", correction_file(tmp_path / "fix")),
                         as_of=dt.date(2026, 1, 2))
    assert count(ws, ImportBatch, TI, "returns") == 1
    assert state(ws, TI, "returns", dt.date(2026, 1, 2)) == state(ws, TI, "returns", JAN_1)


def expected_rows(name: str) -> list[dict[str, str]]:
    return read_csv(TI_EXPECTED / name)[1]


def posted_trade_in(ws: Workspace) -> int:
    load_example(ws, TI, JAN_1, quiet)
    take_enrollments(ws, TI, quiet)
    return run_and_post(ws, TI, quiet)


def test_accepted_dispute_with_a_correction_posts_only_the_difference(ws, tmp_path):
    first_run = posted_trade_in(ws)
    run = ledger.get_run(ws, first_run)
    paid = {r["payee_id"]: Decimal(r["amount"]) for r in expected_rows("payouts.csv")
            if r["paid"] == "true"}
    assert run.total == sum(paid.values())
    assert {e.payee_id: e.amount for e in ledger.entries(ws, TI)} == paid
    d_gates = [r for r in run.evaluations["rows"] if r["payee_id"] == "D"]
    assert {(r["ratio"], r["required_ratio"], r["passed"], r["reason"]) for r in d_gates} == {
        ("0.8120", "0.8500", False, "returns_below_85")}
    assert ledger.entries(ws, TI, payee_id="D") == []

    correction_and_dispute(ws, tmp_path / "out", quiet)

    [case] = disputes.listing(ws, TI, payee_id="D")
    assert case.status == "accepted" and case.correction_import is not None
    with ws.store.session() as session:
        batch = session.get(ImportBatch, case.correction_import)
        assert (batch.table_name, batch.added, batch.changed, batch.as_of) == (
            "returns", 1, 0, dt.date(2026, 1, 2))
    runs = ledger.runs(ws, TI)
    assert [r.status for r in runs] == ["posted", "posted"]
    new = [e for e in ledger.entries(ws, TI) if e.run_id == runs[-1].id]
    # D's qualifying trade-in credit (expected/evaluations.csv) x the 15% rebate rate
    [d_value] = {r["value"] for r in expected_rows("evaluations.csv") if r["payee_id"] == "D"}
    assert d_value == "15000.00"
    assert len(new) == 1
    entry = new[0]
    assert (entry.payee_id, entry.period, entry.measure) == ("D", "phase-6", "rebate")
    assert entry.amount == Decimal(d_value) * Decimal("0.15") == Decimal("2250.00")
    assert entry.kind == "payout" and entry.corrects is None
    assert len(ledger.entries(ws, TI)) == len(paid) + 1


# ================================================================== statements
def test_statement_reconciles_shows_gates_and_renders(ws, tmp_path):
    posted_trade_in(ws)
    correction_and_dispute(ws, tmp_path / "out", quiet)

    for payee in ("D", "A", "B"):
        statement = statements.build(ws, TI, payee)
        ledger_sum = sum((e.amount for e in ledger.entries(ws, TI, payee_id=payee)), Decimal(0))
        assert sum((ln.amount for ln in statement.lines if ln.paid), Decimal(0)) == ledger_sum
        assert statement.total_earned == statement.total_posted == ledger_sum
        assert statement.reconciles

    d = statements.build(ws, TI, "D")
    assert d.payee_name == "Partner D" and d.currency == "USD"
    assert d.total_posted == Decimal("2250.00")
    returns_gates = [g for g in d.gates if g.required_ratio is not None]
    assert returns_gates and all(g.required_ratio == Decimal("0.85") for g in returns_gates)
    assert any(g.passed and g.ratio == Decimal("1") for g in returns_gates)

    totals = {"en": "$2,250.00", "pl": "2\xa0250,00\xa0USD", "zh": "US$2,250.00"}
    for locale, total in totals.items():
        page = html.unescape(statements.render(d, "html", locale).decode("utf-8"))
        assert "Partner D (D)" in page
        assert total in page
    assert "2,250.00" not in html.unescape(statements.render(d, "html", "pl").decode())
    with pytest.raises(WorkflowError):
        statements.build(ws, TI, "NO-SUCH-PARTNER")
    if ws.store.is_postgres:  # rendering does not depend on the database: once is enough
        return
    for locale in totals:
        assert statements.render(d, "pdf", locale).startswith(b"%PDF")
        assert statements.render(d, "xlsx", locale).startswith(b"PK")


# ================================================================== CLI
def cli(*args: str | Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PAYMASTER_DATABASE_URL", "PAYMASTER_WORKSPACE", "PAYMASTER_TODAY")}
    return subprocess.run([str(PAYMASTER), *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=120)


PAYMASTER = Path(sys.executable).parent / "paymaster"  # the installed console script


def test_workspace_commands_are_there_with_python_dash_m():
    done = subprocess.run([sys.executable, "-m", "paymaster.cli", "init", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_workspace_cli(tmp_path, monkeypatch):
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    folder = tmp_path / "ws"
    done = cli("init", folder, "--examples")
    assert done.returncode == 0, done.stderr
    assert "workspace ready" in done.stdout

    done = cli("import", TI, "partners", TI_DATA / "partners.csv", "-w", folder,
               "--as-of", "2026-01-01")
    assert done.returncode == 0, done.stderr
    assert "16 rows, 16 new, 0 changed, 0 unchanged, 0 removed" in done.stdout
    done = cli("import", TI, "partners", TI_DATA / "partners.csv", "-w", folder,
               "--as-of", "2026-01-01")
    assert done.returncode == 0 and "nothing changed" in done.stdout

    columns, rows = read_csv(TI_DATA / "orders.csv")
    rows[1]["order_date"] = "15.02.2008"
    rows[3]["trade_in_credit"] = "lots"
    bad = write_csv(tmp_path / "orders.csv", columns, rows)
    done = cli("import", TI, "orders", bad, "-w", folder, "--as-of", "2026-01-01")
    assert done.returncode == 1
    assert f"{bad}:row 3: column 'order_date': '15.02.2008' is not a valid date" in done.stderr
    assert f"{bad}:row 5: column 'trade_in_credit': 'lots' is not a valid decimal" in done.stderr
    assert "Traceback" not in done.stderr

    done = cli("decide", GL, "R-NOPE", "--accept", "-w", folder)
    assert done.returncode == 1
    assert "unknown registration 'R-NOPE'" in done.stderr

    ws = Workspace.open(folder)
    try:
        posted_trade_in(ws)
    finally:
        ws.close()
    out = tmp_path / "statement-A.pdf"
    done = cli("statement", TI, "A", "--format", "pdf", "--locale", "zh", "--out", out,
               "-w", folder)
    assert done.returncode == 0, done.stderr
    assert "reconciles" in done.stdout
    assert out.read_bytes().startswith(b"%PDF")
    done = cli("runs", "show", "1", "-w", folder)  # the run keeps each stage's time
    assert done.returncode == 0, done.stderr
    assert "stages: load_plan" in done.stdout and "read_input" in done.stdout


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
