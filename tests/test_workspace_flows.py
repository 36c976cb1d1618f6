"""Workspace flows end to end, on SQLite and on a real PostgreSQL (`store_url`):
enrollment, disputes with a correction re-run, statements, and the workspace CLI (imports:
test_workspace_imports.py)."""

from __future__ import annotations

import datetime as dt
import html
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from paymaster.services import disputes, enrollments, ledger, registrations, statements
from paymaster.services.demo import (
    correction_and_dispute,
    load_example,
    run_and_post,
    take_enrollments,
)
from paymaster.services.registrations import WorkflowError
from paymaster.store.models import Enrollment, ImportBatch, Payment
from paymaster.workspace import Workspace
from workspace_support import (
    TI, GL, GL_DATA, TI_DATA, TI_EXPECTED, JAN_1, quiet, examples_workspace, read_csv, write_csv,
    count, state, audit_of,
)


@pytest.fixture
def ws(store_url, tmp_path, monkeypatch):
    yield from examples_workspace(store_url, tmp_path, monkeypatch)


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
        assert sum((ln.amount for ln in statement.lines if ln.earns), Decimal(0)) == ledger_sum
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
    assert "18 rows, 18 new, 0 changed, 0 unchanged, 0 removed" in done.stdout
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
    # Piped (not a terminal), a table keeps every figure: no column is cut to fit 80.
    ws = Workspace.open(folder)
    try:
        amounts = {f"{e.amount:,.2f}" for e in ledger.entries(ws, TI, None)}  # as `run` shows
    finally:
        ws.close()
    done = cli("ledger", TI, "-w", folder)
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    shown = {cell.strip() for row in done.stdout.splitlines() for cell in row.split("│")}
    assert amounts and amounts <= shown

    # A file that is not there, a wrong output type: a message with the path, no traceback.
    missing = tmp_path / "no-such-partners.csv"
    done = cli("import", TI, "partners", missing, "-w", folder)
    assert done.returncode == 1
    assert f"{missing}: No such file or directory" in done.stderr
    assert "Traceback" not in done.stderr
    done = cli("pay", TI, "--out", tmp_path / "pay.json", "-w", folder)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "unknown file type '.json'; name the file .csv, .parquet or .xlsx" in done.stderr
    ws = Workspace.open(folder)
    try:  # nothing was marked paid by the refused command
        with ws.store.session() as session:
            assert session.scalar(select(func.count()).select_from(Payment)) == 0
    finally:
        ws.close()


def test_cli_register_takes_submitted_at_from_a_field_and_enroll_keeps_its_draft(tmp_path):
    """`--field submitted_at=...` is the submission time (as a file's column is), not
    replaced by now; a refused `enroll --submit` says its draft was kept, and how to
    submit it."""
    folder = tmp_path / "ws"
    assert cli("init", folder, "--examples").returncode == 0
    for table in ("partners", "customers", "holdings", "vendor_registry"):
        done = cli("import", GL, table, GL_DATA / f"{table}.csv", "-w", folder)
        assert done.returncode == 0, done.stderr
    fields = [f"{k}={v}" for k, v in read_csv(GL_DATA / "registrations.csv")[1][0].items()
              if k not in ("registration_id", "decision", "decision_reason")]
    done = cli("register", GL, *[a for f in fields for a in ("--field", f)], "-w", folder)
    assert done.returncode == 0, done.stderr
    ws = Workspace.open(folder)
    try:
        [reg] = registrations.listing(ws, GL)
        assert reg.submitted_at == dt.datetime(2018, 4, 2, 9, 0)
    finally:
        ws.close()
    done = cli("register", GL, "--field", "partner_id=P1", "--field", "submitted_at=yesterday",
               "-w", folder)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "submitted_at 'yesterday' is not a date and time" in done.stderr
    done = cli("decide", GL, reg.registration_id, "-w", folder)  # neither --accept nor --reject
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "add --accept, or --reject --reason TEXT" in done.stderr

    assert cli("import", TI, "partners", TI_DATA / "partners.csv", "-w", folder).returncode == 0
    done = cli("enroll", TI, "--partner", "A", "--phase", "6", "--effective-from", "2007-11-01",
               "--submit", "--at", "2008-03-05 10:00:00", "-w", folder)
    assert done.returncode == 1
    assert "the enrollment deadline of phase 6 was 2008-02-29" in done.stderr
    assert "the application is kept as draft ENR-000001" in done.stderr
    assert f"paymaster enrollment move {TI} ENR-000001 submit" in done.stderr


def invoke(*args: str | Path) -> tuple[int, str, str]:
    """The CLI in this process (no interpreter start per command): exit code, output and
    the problems it refused with (as `paymaster` prints them)."""
    from typer.testing import CliRunner

    from paymaster.cli import app
    from paymaster.errors import PaymasterError

    result = CliRunner().invoke(app, [str(a) for a in args])
    if isinstance(result.exception, PaymasterError):
        return 1, result.stdout, "\n".join(str(p) for p in result.exception.problems)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_workspace_commands_say_what_they_did_and_refuse_what_they_cannot(
        demo_workspace, tmp_path, monkeypatch):
    """On the demo workspace: conflicting or repeated decisions, posting a preview,
    statement files per program and locale, amounts as `run` prints them, the audit
    log's two times and its changes, a short row of a registrations file, a late
    enrollment tried twice."""
    ws = demo_workspace
    folder = ws.folder
    monkeypatch.delenv("PAYMASTER_TODAY", raising=False)
    decided = next(r for r in registrations.listing(ws, GL) if r.status == "rejected")
    rid = decided.registration_id
    code, _out, said = invoke("decide", GL, rid, "--accept", "--reject", "--reason", "x",
                              "-w", folder)
    assert code == 1 and "--accept and --reject exclude each other" in said
    code, _out, said = invoke("decide", GL, rid, "--accept", "-w", folder)
    assert code == 1
    assert (f"registration {rid} is rejected already ({decided.reason}): decided by "
            f"{decided.decided_by} on {decided.decided_at:%Y-%m-%d %H:%M}") in said

    preview = ledger.create_run(ws, GL, actor="office", period="2018-04")
    code, _out, said = invoke("post", str(preview.id), "-w", folder)
    assert code == 1 and f"paymaster runs approve {preview.id}" in said

    monkeypatch.chdir(tmp_path)  # where `statement` writes its file by default
    for locale in ("pl", "zh"):
        code, out, said = invoke("statement", GL, "P1", "--locale", locale, "-w", folder)
        assert code == 0, said
    assert (tmp_path / f"statement-{GL}-P1-pl.html").read_bytes() != (
        tmp_path / f"statement-{GL}-P1-zh.html").read_bytes()

    entries = ledger.entries(ws, GL)
    code, out, _said = invoke("ledger", GL, "-w", folder)
    shown = {c.strip() for row in out.splitlines() for c in row.split("│")}
    assert {f"{e.amount:,.2f}" for e in entries} <= shown
    assert any(e.amount >= 1000 for e in entries)  # so a thousands separator is shown
    code, out, _said = invoke("runs", "list", GL, "-w", folder)
    assert f"{preview.total:,.2f}" in out

    # R01 was accepted by the owner a day after its submission (services.demo): the audit
    # shows that business time and, apart, today's recording time; the change readably.
    code, out, _said = invoke("audit", "--entity", "registration", "--key", "R01",
                              "-w", folder)
    [accept] = [row for row in out.splitlines() if "│ accept" in row]
    assert "2018-04-03 09:00:00" in accept
    assert dt.datetime.now(dt.UTC).strftime("%Y-%m-%d") in accept
    assert "status: submitted -> accepted" in accept and "decided_by: - -> owner" in accept

    columns, rows = read_csv(GL_DATA / "registrations.csv")
    short = tmp_path / "short.csv"
    short.write_text(",".join(columns) + "\n" + ",".join(rows[0].values()).replace("R01", "R90")
                     + "\nR91,P1,2018-04-02 09:00:00\n", encoding="utf-8")
    before = len(registrations.listing(ws, GL))
    code, _out, said = invoke("register", GL, "--file", short, "-w", folder)
    assert code == 1
    assert f"{short}:row 3: has 3 values; the header names {len(columns)} columns: no value " \
           "for customer_name, customer_address," in said
    assert len(registrations.listing(ws, GL)) == before

    drafts = {e.enrollment_id for e in enrollments.listing(ws, TI) if e.status == "draft"}
    for _ in range(2):
        code, _out, said = invoke("enroll", TI, "--partner", "A", "--phase", "6",
                                  "--effective-from", "2007-11-01", "--submit", "--at",
                                  "2008-03-05 10:00:00", "-w", folder)
        assert code == 1 and "the enrollment deadline of phase 6 was 2008-02-29" in said
    new = {e.enrollment_id for e in enrollments.listing(ws, TI) if e.status == "draft"} - drafts
    assert len(new) == 1 and f"kept as draft {new.pop()}" in said
