"""Pages of the program office: the dashboard, the registration and enrollment queues,
imports, runs and the ledger, disputes, plan versions and the budget.

Office roles only: admin, approver and viewer read; only admin and approver act. A
partner or rep user gets 403 on every route here, before any record is looked up, so a
guessed id tells it nothing. Each page is a plain data function (`x_data`) rendered as
HTML or returned as JSON by its /api twin.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import select

from paymaster.analytics.budget import budget_forecast
from paymaster.analytics.charts import burn_chart
from paymaster.errors import DataError, PaymasterError, Problem
from paymaster.services import disputes, enrollments, imports, ledger, registrations
from paymaster.store.models import (
    AuditEvent,
    Dispute,
    Enrollment,
    ImportBatch,
    LedgerEntry,
    Registration,
    Run,
)
from paymaster.web import render
from paymaster.web.routes_auth import RecordId, Csrf, User, Ws
from paymaster.web.security import Principal
from paymaster.workspace import Workspace

router = APIRouter()

READERS = ("admin", "approver", "viewer")
WRITERS = ("admin", "approver")
UPLOAD_SUFFIXES = (".csv", ".xlsx", ".parquet")
ZERO = Decimal("0.00")
TAGS = ["office"]


# ---------------------------------------------------------------- access and helpers
def _reader(user: Principal) -> None:
    user.require(*READERS)


def _writer(user: Principal) -> None:
    user.require(*WRITERS)


def _known(ws: Workspace, program: str) -> str:
    ws.program(program)  # an unknown program raises "unknown program" -> 404
    return program


def _page(request: Request, template: str, user: Principal, data: dict, status: int = 200,
          **extra: Any) -> Response:
    return render.html(request, template, user, status=status, can_act=user.role in WRITERS,
                       **data, **extra)


def _form_problems(err: PaymasterError) -> list[Problem]:
    """A form shows its own problems; a missing record stays a 404."""
    if any(p.message.startswith("unknown") for p in err.problems):
        raise err
    return err.problems


def _is_htmx(request: Request) -> bool:
    return bool(request.headers.get("hx-request"))


def _fields(obj: Any, names: tuple[str, ...]) -> dict:
    return {name: getattr(obj, name) for name in names}


def _parse_date(text: str | None, field: str) -> dt.date | None:
    if not text or not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise DataError(Problem(f"'{text}' is not a date", field=field,
                                hint="write it as YYYY-MM-DD")) from None


def _program_info(ws: Workspace, program: str) -> dict:
    plan = ws.plan(program).plan
    config = ws.program(program)
    # which pages apply to the program (the others say so, but need no link)
    pages = {"registrations": bool(config.registrations), "enrollments": bool(config.enrollments),
             "budget": bool(plan.budgets)}
    return {"program": program, "title": plan.title or program, "currency": plan.currency,
            "pages": pages}


# ---------------------------------------------------------------- dashboard
def dashboard_data(ws: Workspace, user: Principal) -> dict:
    today = ws.today()
    programs = {name: _program_info(ws, name) | {
        "registrations": None, "enrollments": None, "open_disputes": 0, "latest_run": None,
        "ledger_total": ZERO} for name in ws.config.programs}
    with ws.store.session() as session:
        for name, info in programs.items():
            config = ws.program(name)
            if config.registrations:
                info["registrations"] = _waiting(session, Registration, name, today)
            if config.enrollments:
                info["enrollments"] = _waiting(session, Enrollment, name, today)
            info["open_disputes"] = len(session.scalars(select(Dispute.id).where(
                Dispute.program == name, Dispute.status == "open")).all())
            run = session.scalars(select(Run).where(Run.program == name)
                                  .order_by(Run.id.desc()).limit(1)).first()
            if run is not None:
                info["latest_run"] = _fields(run, ("id", "status", "period", "as_of", "total",
                                                   "created_at"))
            # Summed here, not in SQL: SQLite would add the amounts as binary floats.
            info["ledger_total"] = sum(session.scalars(select(LedgerEntry.amount).where(
                LedgerEntry.program == name)), ZERO)
    return {"today": today, "programs": list(programs.values())}


def _waiting(session, model, program: str, today: dt.date) -> dict:
    due = session.scalars(select(model.due_on).where(
        model.program == program, model.status == "submitted")).all()
    return {"waiting": len(due), "overdue": sum(1 for d in due if d is not None and d < today)}


@router.get("/office", include_in_schema=False)
def dashboard_page(request: Request, user: User, ws: Ws) -> Response:
    _reader(user)
    return _page(request, "office_dashboard.html", user, dashboard_data(ws, user))


@router.get("/api/office", tags=TAGS)
def dashboard_api(user: User, ws: Ws) -> Response:
    """Every program: queues waiting (and overdue), open disputes, latest run, ledger total."""
    _reader(user)
    return render.json(dashboard_data(ws, user))


# ---------------------------------------------------------------- registrations
REG_FIELDS = ("registration_id", "partner_id", "status", "reason", "submitted_at", "due_on",
              "decided_at", "decided_by")


class Decision(BaseModel):
    accept: bool
    reason: str | None = None


def registration_row(reg: Registration, today: dt.date) -> dict:
    data = reg.data or {}
    return _fields(reg, REG_FIELDS) | {
        "customer_name": data.get("customer_name"), "customer_nip": data.get("customer_nip"),
        "family": data.get("family"), "plan": data.get("plan"), "licences": data.get("licences"),
        "overdue": reg.status == "submitted" and reg.due_on < today}


def _queue_order(row: dict, due_key: str = "due_on") -> tuple:
    """Overdue first, then the rest waiting by due date, then decided ones."""
    waiting = row["status"] == "submitted"
    rank = 0 if row["overdue"] else 1 if waiting else 2
    return rank, (row[due_key] or dt.date.max) if waiting else dt.date.max


def registrations_data(ws: Workspace, user: Principal, program: str) -> dict:
    info = _program_info(ws, _known(ws, program))
    if not ws.program(program).registrations:
        return info | {"enabled": False, "registrations": []}
    today = ws.today()
    rows = [registration_row(r, today) for r in registrations.listing(ws, program)]
    rows.sort(key=_queue_order)
    return info | {"enabled": True, "today": today, "registrations": rows}


@router.get("/office/{program}/registrations", include_in_schema=False)
def registrations_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    _reader(user)
    return _page(request, "office_registrations.html", user,
                 registrations_data(ws, user, program), errors={})


@router.get("/api/office/{program}/registrations", tags=TAGS)
def registrations_api(user: User, ws: Ws, program: str) -> Response:
    """Registrations with due dates; overdue ones first."""
    _reader(user)
    return render.json(registrations_data(ws, user, program))


def _decide_registration(ws: Workspace, user: Principal, program: str, registration_id: str,
                         accept: bool, reason: str | None) -> Registration:
    _writer(user)
    _known(ws, program)
    return registrations.decide(ws, program, registration_id, accept=accept,
                                actor=user.username, reason=(reason or "").strip() or None)


@router.post("/office/{program}/registrations/{registration_id}/decision",
             include_in_schema=False, dependencies=[Csrf])
def registration_decide_page(request: Request, user: User, ws: Ws, program: str,
                             registration_id: str, accept: Annotated[bool, Form()],
                             reason: Annotated[str, Form()] = "") -> Response:
    problems: list[Problem] = []
    try:
        _decide_registration(ws, user, program, registration_id, accept, reason)
    except PaymasterError as err:
        problems = _form_problems(err)
    if _is_htmx(request):
        reg = next(r for r in registrations.listing(ws, program)
                   if r.registration_id == registration_id)
        # htmx swaps only 2xx answers: the row comes back with its problems shown.
        return render.html(request, "office_registration_row.html", user, program=program,
                           row=registration_row(reg, ws.today()), problems=problems,
                           can_act=True)
    if problems:
        return _page(request, "office_registrations.html", user,
                     registrations_data(ws, user, program), status=400,
                     errors={registration_id: problems})
    return RedirectResponse(f"/office/{program}/registrations", status_code=303)


@router.post("/api/office/{program}/registrations/{registration_id}/decision", tags=TAGS,
             dependencies=[Csrf])
def registration_decide_api(user: User, ws: Ws, program: str, registration_id: str,
                            decision: Decision) -> Response:
    """Accept (the checks are re-run) or reject with a reason a submitted registration."""
    reg = _decide_registration(ws, user, program, registration_id, decision.accept,
                               decision.reason)
    return render.json({"registration": registration_row(reg, ws.today())})


# ---------------------------------------------------------------- enrollments
ENR_FIELDS = ("enrollment_id", "partner_id", "phase", "status", "submitted_on",
              "effective_from", "due_on", "decided_at", "decided_by", "reason")


def enrollment_row(e: Enrollment, today: dt.date) -> dict:
    return _fields(e, ENR_FIELDS) | {
        "overdue": e.status == "submitted" and e.due_on is not None and e.due_on < today}


def enrollments_data(ws: Workspace, user: Principal, program: str) -> dict:
    info = _program_info(ws, _known(ws, program))
    if not ws.program(program).enrollments:
        return info | {"enabled": False, "enrollments": []}
    today = ws.today()
    rows = [enrollment_row(e, today) for e in enrollments.listing(ws, program)]
    rows.sort(key=_queue_order)
    return info | {"enabled": True, "today": today, "enrollments": rows}


@router.get("/office/{program}/enrollments", include_in_schema=False)
def enrollments_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    _reader(user)
    return _page(request, "office_enrollments.html", user,
                 enrollments_data(ws, user, program), errors={})


@router.get("/api/office/{program}/enrollments", tags=TAGS)
def enrollments_api(user: User, ws: Ws, program: str) -> Response:
    """Enrollment applications with due dates; overdue ones first."""
    _reader(user)
    return render.json(enrollments_data(ws, user, program))


def _decide_enrollment(ws: Workspace, user: Principal, program: str, enrollment_id: str,
                       accept: bool, reason: str | None) -> Enrollment:
    _writer(user)
    _known(ws, program)
    return enrollments.move(ws, program, enrollment_id, "approve" if accept else "reject",
                            actor=user.username, reason=(reason or "").strip() or None)


@router.post("/office/{program}/enrollments/{enrollment_id}/decision",
             include_in_schema=False, dependencies=[Csrf])
def enrollment_decide_page(request: Request, user: User, ws: Ws, program: str,
                           enrollment_id: str, accept: Annotated[bool, Form()],
                           reason: Annotated[str, Form()] = "") -> Response:
    problems: list[Problem] = []
    try:
        _decide_enrollment(ws, user, program, enrollment_id, accept, reason)
    except PaymasterError as err:
        problems = _form_problems(err)
    if _is_htmx(request):
        e = next(e for e in enrollments.listing(ws, program) if e.enrollment_id == enrollment_id)
        return render.html(request, "office_enrollment_row.html", user, program=program,
                           row=enrollment_row(e, ws.today()), problems=problems, can_act=True)
    if problems:
        return _page(request, "office_enrollments.html", user,
                     enrollments_data(ws, user, program), status=400,
                     errors={enrollment_id: problems})
    return RedirectResponse(f"/office/{program}/enrollments", status_code=303)


@router.post("/api/office/{program}/enrollments/{enrollment_id}/decision", tags=TAGS,
             dependencies=[Csrf])
def enrollment_decide_api(user: User, ws: Ws, program: str, enrollment_id: str,
                          decision: Decision) -> Response:
    """Approve (eligibility is checked again) or reject with a reason an application."""
    e = _decide_enrollment(ws, user, program, enrollment_id, decision.accept, decision.reason)
    return render.json({"enrollment": enrollment_row(e, ws.today())})


# ---------------------------------------------------------------- imports
IMPORT_FIELDS = ("id", "table_name", "as_of", "snapshot", "rows", "added", "changed",
                 "removed", "actor", "imported_at")


def importable_tables(ws: Workspace, program: str) -> list[str]:
    """The plan's input tables, less those a workflow keeps (they are not imported)."""
    config = ws.program(program)
    kept = {config.registrations, config.enrollments}
    return [t for t in ws.plan(program).plan.inputs if t not in kept]


def imports_data(ws: Workspace, user: Principal, program: str) -> dict:
    info = _program_info(ws, _known(ws, program))
    with ws.store.session() as session:
        batches = session.scalars(select(ImportBatch).where(ImportBatch.program == program)
                                  .order_by(ImportBatch.id.desc())).all()
        rows = [_fields(b, IMPORT_FIELDS) | {"file": Path(b.file_name).name} for b in batches]
    return info | {"tables": importable_tables(ws, program), "today": ws.today(),
                   "imports": rows}


def _result_json(result: imports.ImportResult) -> dict:
    return {"import_id": result.import_id, "table": result.table, "rows": result.rows,
            "added": result.added, "changed": result.changed, "removed": result.removed,
            "unchanged": result.unchanged, "already": result.already}


def upload_name(filename: str | None, table: str) -> str:
    """A safe local name keeping the upload's suffix (the reader goes by the suffix)."""
    name = Path(filename or "").name
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise DataError(Problem(f"unsupported file type '{suffix or name}'", field="file",
                                hint="give a .csv, .xlsx or .parquet file"))
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name).stem).strip("_") or table
    return stem + suffix


def import_upload(ws: Workspace, user: Principal, program: str, table: str,
                  upload: UploadFile | None, *, as_of: str | None = None,
                  snapshot: bool = False, allowed: list[str] | None = None
                  ) -> imports.ImportResult:
    """Save the upload to a temporary file of the same suffix and import it (all or
    nothing); the temporary folder is removed whatever happens."""
    allowed = importable_tables(ws, program) if allowed is None else allowed
    if table not in allowed:
        raise DataError(Problem(f"'{table}' cannot be imported here", field="table",
                                hint="tables: " + ", ".join(allowed)))
    if upload is None or not upload.filename:
        raise DataError(Problem("choose a file to import", field="file"))
    day = _parse_date(as_of, "as_of")
    name = upload_name(upload.filename, table)
    with tempfile.TemporaryDirectory(prefix="paymaster-upload-") as folder:
        path = Path(folder) / name
        with path.open("wb") as out:
            shutil.copyfileobj(upload.file, out)
        return imports.import_file(ws, program, table, path, actor=user.username, as_of=day,
                                   snapshot=snapshot)


@router.get("/office/{program}/imports", include_in_schema=False)
def imports_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    _reader(user)
    return _page(request, "office_imports.html", user, imports_data(ws, user, program),
                 problems=[], result=None, form={})


@router.get("/api/office/{program}/imports", tags=TAGS)
def imports_api(user: User, ws: Ws, program: str) -> Response:
    """Past imports of the program, newest first, and the tables that can be imported."""
    _reader(user)
    return render.json(imports_data(ws, user, program))


@router.post("/office/{program}/imports", include_in_schema=False, dependencies=[Csrf])
def import_page(request: Request, user: User, ws: Ws, program: str,
                table: Annotated[str, Form()], file: Annotated[UploadFile | None, File()] = None,
                as_of: Annotated[str, Form()] = "",
                snapshot: Annotated[bool, Form()] = False) -> Response:
    _writer(user)
    _known(ws, program)
    form = {"table": table, "as_of": as_of, "snapshot": snapshot}
    try:
        result = import_upload(ws, user, program, table, file, as_of=as_of, snapshot=snapshot)
    except PaymasterError as err:
        return _page(request, "office_imports.html", user, imports_data(ws, user, program),
                     status=400, problems=_form_problems(err), result=None, form=form)
    return _page(request, "office_imports.html", user, imports_data(ws, user, program),
                 problems=[], result=_result_json(result), form=form)


@router.post("/api/office/{program}/imports", tags=TAGS, dependencies=[Csrf])
def import_api(user: User, ws: Ws, program: str, table: Annotated[str, Form()],
               file: Annotated[UploadFile, File()], as_of: Annotated[str, Form()] = "",
               snapshot: Annotated[bool, Form()] = False) -> Response:
    """Import a CSV, XLSX or Parquet file into a table (multipart upload). Every problem
    is reported at once, with its row and column, and then nothing is imported."""
    _writer(user)
    _known(ws, program)
    result = import_upload(ws, user, program, table, file, as_of=as_of, snapshot=snapshot)
    return render.json({"import": _result_json(result)})


# ---------------------------------------------------------------- runs
RUN_FIELDS = ("id", "program", "period", "as_of", "status", "total", "created_at",
              "created_by", "approved_at", "approved_by", "posted_at", "posted_by")


class NewRun(BaseModel):
    period: str | None = None
    as_of: dt.date | None = None


def runs_data(ws: Workspace, user: Principal, program: str) -> dict:
    info = _program_info(ws, _known(ws, program))
    runs = [_fields(r, RUN_FIELDS) for r in reversed(ledger.runs(ws, program))]
    return info | {"runs": runs}


def run_data(ws: Workspace, user: Principal, run_id: int) -> dict:
    run = ledger.get_run(ws, run_id)
    info = _program_info(ws, run.program)
    payees: dict[str, dict] = defaultdict(lambda: {"amount": ZERO, "lines": 0, "paid": 0})
    measures: dict[str, dict] = defaultdict(lambda: {"amount": ZERO, "lines": 0, "paid": 0})
    for line in ledger.run_lines(ws, run_id):
        for group, key in ((payees, line.payee_id), (measures, line.measure)):
            group[key]["amount"] += line.amount
            group[key]["lines"] += 1
            group[key]["paid"] += int(line.paid)
    changes = [{"line_key": c.line_key, "payee_id": c.payee_id, "period": c.period,
                "measure": c.measure, "source_id": c.source_id, "posted": c.posted,
                "new": c.new, "difference": c.difference, "kind": c.kind}
               for c in ledger.changes(ws, run_id)] if run.status != "posted" else []
    entries = [_fields(e, ("id", "line_key", "payee_id", "period", "measure", "kind", "amount",
                           "posted_at", "posted_by"))
               for e in ledger.entries(ws, run.program) if e.run_id == run_id]
    return info | {
        "run": _fields(run, RUN_FIELDS),
        "payees": [{"payee_id": k} | v for k, v in sorted(payees.items())],
        "measures": [{"measure": k} | v for k, v in sorted(measures.items())],
        "changes": changes,
        "changes_total": sum((c["difference"] for c in changes), ZERO),
        "entries": entries,
    }


@router.get("/office/{program}/runs", include_in_schema=False)
def runs_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    _reader(user)
    return _page(request, "office_runs.html", user, runs_data(ws, user, program), problems=[])


@router.get("/api/office/{program}/runs", tags=TAGS)
def runs_api(user: User, ws: Ws, program: str) -> Response:
    """The program's runs, newest first."""
    _reader(user)
    return render.json(runs_data(ws, user, program))


def _new_run(ws: Workspace, user: Principal, program: str, period: str | None,
             as_of: dt.date | None) -> Run:
    _writer(user)
    _known(ws, program)
    return ledger.create_run(ws, program, actor=user.username,
                             period=(period or "").strip() or None, as_of=as_of)


@router.post("/office/{program}/runs", include_in_schema=False, dependencies=[Csrf])
def new_run_page(request: Request, user: User, ws: Ws, program: str,
                 period: Annotated[str, Form()] = "",
                 as_of: Annotated[str, Form()] = "") -> Response:
    try:
        run = _new_run(ws, user, program, period, _parse_date(as_of, "as_of"))
    except PaymasterError as err:
        return _page(request, "office_runs.html", user, runs_data(ws, user, program),
                     status=400, problems=_form_problems(err))
    return RedirectResponse(f"/office/runs/{run.id}", status_code=303)


@router.post("/api/office/{program}/runs", tags=TAGS, dependencies=[Csrf])
def new_run_api(user: User, ws: Ws, program: str, body: NewRun | None = None) -> Response:
    """Make a preview run (of one period, if given) on the data as of a date (today)."""
    body = body or NewRun()
    run = _new_run(ws, user, program, body.period, body.as_of)
    return render.json(run_data(ws, user, run.id), 201)


@router.get("/office/runs/{run_id:int}", include_in_schema=False)
def run_page(request: Request, user: User, ws: Ws, run_id: RecordId) -> Response:
    _reader(user)
    return _page(request, "office_run.html", user, run_data(ws, user, run_id), problems=[])


@router.get("/api/office/runs/{run_id:int}", tags=TAGS)
def run_api(user: User, ws: Ws, run_id: RecordId) -> Response:
    """A run: totals per payee and per measure, and what posting it would change."""
    _reader(user)
    return render.json(run_data(ws, user, run_id))


def _run_action(ws: Workspace, user: Principal, run_id: int, action: str) -> None:
    _writer(user)
    if action == "approve":
        ledger.approve(ws, run_id, actor=user.username)
    else:
        ledger.post(ws, run_id, actor=user.username)


def _run_action_page(request: Request, user: Principal, ws: Workspace, run_id: int,
                     action: str) -> Response:
    try:
        _run_action(ws, user, run_id, action)
    except PaymasterError as err:
        return _page(request, "office_run.html", user, run_data(ws, user, run_id), status=400,
                     problems=_form_problems(err))
    return RedirectResponse(f"/office/runs/{run_id}", status_code=303)


@router.post("/office/runs/{run_id:int}/approve", include_in_schema=False, dependencies=[Csrf])
def approve_page(request: Request, user: User, ws: Ws, run_id: RecordId) -> Response:
    return _run_action_page(request, user, ws, run_id, "approve")


@router.post("/office/runs/{run_id:int}/post", include_in_schema=False, dependencies=[Csrf])
def post_page(request: Request, user: User, ws: Ws, run_id: RecordId) -> Response:
    return _run_action_page(request, user, ws, run_id, "post")


@router.post("/api/office/runs/{run_id:int}/approve", tags=TAGS, dependencies=[Csrf])
def approve_api(user: User, ws: Ws, run_id: RecordId) -> Response:
    """Approve a preview run."""
    _run_action(ws, user, run_id, "approve")
    return render.json(run_data(ws, user, run_id))


@router.post("/api/office/runs/{run_id:int}/post", tags=TAGS, dependencies=[Csrf])
def post_api(user: User, ws: Ws, run_id: RecordId) -> Response:
    """Post an approved run: its differences go to the ledger (refused when out of date)."""
    _run_action(ws, user, run_id, "post")
    return render.json(run_data(ws, user, run_id))


# ---------------------------------------------------------------- disputes
DISPUTE_FIELDS = ("id", "payee_id", "line_key", "details", "description", "status",
                  "opened_at", "opened_by", "resolved_at", "resolved_by", "resolution",
                  "correction_import")


def disputes_data(ws: Workspace, user: Principal, program: str) -> dict:
    info = _program_info(ws, _known(ws, program))
    rows = [_fields(d, DISPUTE_FIELDS) for d in disputes.listing(ws, program)]
    return info | {"open": [r for r in rows if r["status"] == "open"],
                   "closed": [r for r in rows if r["status"] != "open"],
                   "tables": importable_tables(ws, program)}


def resolve_dispute(ws: Workspace, user: Principal, program: str, dispute_id: int, *,
                    accept: bool, resolution: str, table: str = "",
                    file: UploadFile | None = None, as_of: str = "") -> Dispute:
    """Close a case; an accepted one may bring a correction file for a table, imported
    in the same step (the file is saved to a temporary file of the same suffix)."""
    _writer(user)
    _known(ws, program)
    if file is None or not file.filename:
        return disputes.resolve(ws, program, dispute_id, accept=accept, resolution=resolution,
                                actor=user.username)
    allowed = importable_tables(ws, program)
    if table not in allowed:
        raise DataError(Problem("choose the table the correction is for", field="table",
                                hint="tables: " + ", ".join(allowed)))
    day = _parse_date(as_of, "as_of")
    with tempfile.TemporaryDirectory(prefix="paymaster-upload-") as folder:
        path = Path(folder) / upload_name(file.filename, table)
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out)
        return disputes.resolve(ws, program, dispute_id, accept=accept, resolution=resolution,
                                actor=user.username, correction=(table, path), as_of=day)


@router.get("/office/{program}/disputes", include_in_schema=False)
def disputes_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    _reader(user)
    return _page(request, "office_disputes.html", user, disputes_data(ws, user, program),
                 errors={})


@router.get("/api/office/{program}/disputes", tags=TAGS)
def disputes_api(user: User, ws: Ws, program: str) -> Response:
    """Open and closed cases of the program."""
    _reader(user)
    return render.json(disputes_data(ws, user, program))


@router.post("/office/{program}/disputes/{dispute_id:int}/resolve", include_in_schema=False,
             dependencies=[Csrf])
def resolve_page(request: Request, user: User, ws: Ws, program: str, dispute_id: RecordId,
                 accept: Annotated[bool, Form()], resolution: Annotated[str, Form()] = "",
                 table: Annotated[str, Form()] = "",
                 file: Annotated[UploadFile | None, File()] = None,
                 as_of: Annotated[str, Form()] = "") -> Response:
    try:
        resolve_dispute(ws, user, program, dispute_id, accept=accept, resolution=resolution,
                        table=table, file=file, as_of=as_of)
    except PaymasterError as err:
        return _page(request, "office_disputes.html", user, disputes_data(ws, user, program),
                     status=400, errors={dispute_id: _form_problems(err)})
    return RedirectResponse(f"/office/{program}/disputes", status_code=303)


@router.post("/api/office/{program}/disputes/{dispute_id:int}/resolve", tags=TAGS,
             dependencies=[Csrf])
def resolve_api(user: User, ws: Ws, program: str, dispute_id: RecordId,
                accept: Annotated[bool, Form()], resolution: Annotated[str, Form()],
                table: Annotated[str, Form()] = "",
                file: Annotated[UploadFile | None, File()] = None,
                as_of: Annotated[str, Form()] = "") -> Response:
    """Accept (optionally with a correction file for a table) or reject a case, with a
    reason. Multipart form, since a correction is a file."""
    dispute = resolve_dispute(ws, user, program, dispute_id, accept=accept,
                              resolution=resolution, table=table, file=file, as_of=as_of)
    return render.json({"dispute": _fields(dispute, DISPUTE_FIELDS)})


# ---------------------------------------------------------------- plan versions
def plan_data(ws: Workspace, user: Principal, program: str) -> dict:
    info = _program_info(ws, _known(ws, program))
    plan = ws.plan(program).plan
    versions = [{"effective_from": plan.scope.start, "label": "base",
                 "parameters": dict(plan.parameters)}]
    versions += [{"effective_from": v.effective_from, "label": v.label or f"v{i + 2}",
                  "parameters": dict(v.parameters)} for i, v in enumerate(plan.versions)]
    with ws.store.session() as session:
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.entity == "plan", AuditEvent.entity_key == program)
            .order_by(AuditEvent.id.desc())).all()
        history = [{"at": e.at, "actor": e.actor, "action": e.action,
                    "plan_sha": (e.after or {}).get("plan_sha"),
                    "before_sha": (e.before or {}).get("plan_sha"),
                    "diff": (e.after or {}).get("diff")} for e in events]
    return info | {"scope": {"start": plan.scope.start, "end": plan.scope.end},
                   "versions": versions, "history": history}


def diff_lines(diff: str | None) -> list[tuple[str, str]]:
    """A unified diff as (css class, line) for display."""
    out = []
    for line in (diff or "").splitlines():
        kind = ("meta" if line.startswith(("---", "+++", "@@")) else "add"
                if line.startswith("+") else "del" if line.startswith("-") else "same")
        out.append((kind, line))
    return out


@router.get("/office/{program}/plan", include_in_schema=False)
def plan_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    _reader(user)
    return _page(request, "office_plan.html", user, plan_data(ws, user, program),
                 diff_lines=diff_lines)


@router.get("/api/office/{program}/plan", tags=TAGS)
def plan_api(user: User, ws: Ws, program: str) -> Response:
    """The plan's versions (effective date, label, parameters) and its change history."""
    _reader(user)
    return render.json(plan_data(ws, user, program))


# ---------------------------------------------------------------- budget
FORECAST_FIELDS = ("pool", "currency", "limit", "spent", "committed", "remaining", "weekly",
                   "rate_per_week", "exhaustion", "exhaustion_low", "exhaustion_high", "as_of")


def budget_data(ws: Workspace, user: Principal, program: str) -> dict:
    info = _program_info(ws, _known(ws, program))
    plan = ws.plan(program).plan
    pools = [{"pool": b.id, "currency": plan.currency, "limit": Decimal(str(b.amount)),
              "description": b.description} for b in plan.budgets]
    if not pools:
        return info | {"available": False, "pools": pools, "problems": []}
    try:
        found = budget_forecast(ws, program)
    except PaymasterError as err:  # e.g. no run yet: the page says why there is no forecast
        return info | {"available": False, "pools": pools,
                       "problems": [p.to_json() for p in err.problems]}
    forecasts = []
    for forecast in found:
        row = {name: getattr(forecast, name, None) for name in FORECAST_FIELDS}
        row["weekly"] = [{"week_start": w, "amount": a} for w, a in (row["weekly"] or [])]
        forecasts.append(row)
    return info | {"available": True, "pools": forecasts, "problems": []}


@router.get("/office/{program}/budget", include_in_schema=False)
def budget_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    _reader(user)
    return _page(request, "office_budget.html", user, budget_data(ws, user, program))


@router.get("/api/office/{program}/budget", tags=TAGS)
def budget_api(user: User, ws: Ws, program: str) -> Response:
    """Each budget pool: limit, spent (posted), committed (latest run, not yet posted),
    remaining, weekly burn and the forecast date the pool runs out."""
    _reader(user)
    return render.json(budget_data(ws, user, program))


@router.get("/office/{program}/budget/{pool}.svg", include_in_schema=False)
def budget_chart(user: User, ws: Ws, program: str, pool: str) -> Response:
    _reader(user)
    _known(ws, program)
    forecast = next((f for f in budget_forecast(ws, program) if f.pool == pool), None)
    if forecast is None:
        raise PaymasterError(Problem(f"unknown budget pool '{pool}' in {program}"))
    return Response(burn_chart(forecast, fmt="svg"), media_type="image/svg+xml",
                    headers={"Cache-Control": "no-store"})
