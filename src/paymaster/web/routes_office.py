"""Pages of the program office: the dashboard, the registration and enrollment queues,
imports, runs and the ledger, disputes, plan versions and the budget.

Office roles only: admin, approver and viewer read; only admin and approver act. A
partner or rep user gets 403 on every route here, before any record is looked up, so a
guessed id tells it nothing. Each page is a plain data function (`x_data`) rendered as
HTML or returned as JSON by its /api twin.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import select

from paymaster.errors import DataError, PaymasterError, Problem
from paymaster.services import enrollments, imports, registrations
from paymaster.store.models import (
    Dispute,
    Enrollment,
    ImportBatch,
    LedgerEntry,
    Registration,
    Run,
)
from paymaster.web import render
from paymaster.web.deps import Csrf, User, Ws
from paymaster.web.security import Principal
from paymaster.workspace import Workspace
from paymaster.web.office_common import (
    importable_tables,
    save_upload,
    upload_name,
    TAGS,
    ZERO,
    fields_of,
    form_problems,
    is_htmx,
    known_program,
    office_page,
    parse_date,
    office_program_info,
    require_reader,
    require_writer,
)

router = APIRouter()


# ---------------------------------------------------------------- dashboard
def dashboard_data(ws: Workspace, user: Principal) -> dict:
    today = ws.today()
    programs = {name: office_program_info(ws, name) | {
        "registrations": None, "enrollments": None, "open_disputes": 0, "latest_run": None,
        "ledger_total": ZERO} for name in ws.config.programs}
    with ws.store.reading() as session:
        for name, info in programs.items():
            config = ws.program(name)
            if config.registrations:
                info["registrations"] = _waiting(session, Registration, name, ws.today(name))
            if config.enrollments:
                info["enrollments"] = _waiting(session, Enrollment, name, ws.today(name))
            info["open_disputes"] = len(session.scalars(select(Dispute.id).where(
                Dispute.program == name, Dispute.status == "open")).all())
            run = session.scalars(select(Run).where(Run.program == name)
                                  .order_by(Run.id.desc()).limit(1)).first()
            if run is not None:
                info["latest_run"] = fields_of(run, ("id", "status", "period", "as_of", "total",
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
    require_reader(user)
    return office_page(request, "office_dashboard.html", user, dashboard_data(ws, user))


@router.get("/api/office", tags=TAGS)
def dashboard_api(user: User, ws: Ws) -> Response:
    """Every program: queues waiting (and overdue), open disputes, latest run, ledger total."""
    require_reader(user)
    return render.json(dashboard_data(ws, user))


# ---------------------------------------------------------------- queues
# Registrations and enrollments wait for the office the same way: a queue of rows with a
# due date, overdue first, each decided (accept/approve or reject with a reason) in place.
class Decision(BaseModel):
    accept: bool
    reason: str | None = None


@dataclass(frozen=True)
class Queue:
    name: str                      # registrations / enrollments: the path and the JSON key
    key: str                       # the row's id field
    enabled: Callable[[Workspace, str], bool]
    listing: Callable[[Workspace, str], list]
    row: Callable[[Any, dt.date], dict]
    decide: Callable[[Workspace, str, str, bool, str, str | None], Any]


REG_FIELDS = ("registration_id", "partner_id", "status", "reason", "submitted_at", "due_on",
              "decided_at", "decided_by")
ENR_FIELDS = ("enrollment_id", "partner_id", "phase", "status", "submitted_on",
              "effective_from", "due_on", "decided_at", "decided_by", "reason")


def registration_row(reg: Registration, today: dt.date) -> dict:
    data = reg.data or {}
    return fields_of(reg, REG_FIELDS) | {
        "customer_name": data.get("customer_name"), "customer_nip": data.get("customer_nip"),
        "family": data.get("family"), "plan": data.get("plan"), "licences": data.get("licences"),
        "overdue": reg.status == "submitted" and reg.due_on < today}


def enrollment_row(e: Enrollment, today: dt.date) -> dict:
    return fields_of(e, ENR_FIELDS) | {
        "overdue": e.status == "submitted" and e.due_on is not None and e.due_on < today}


REGISTRATIONS = Queue(
    "registrations", "registration_id",
    enabled=lambda ws, program: bool(ws.program(program).registrations),
    listing=registrations.listing, row=registration_row,
    decide=lambda ws, program, item, accept, actor, reason: registrations.decide(
        ws, program, item, accept=accept, actor=actor, reason=reason))
ENROLLMENTS = Queue(
    "enrollments", "enrollment_id",
    enabled=lambda ws, program: bool(ws.program(program).enrollments),
    listing=enrollments.listing, row=enrollment_row,
    decide=lambda ws, program, item, accept, actor, reason: enrollments.move(
        ws, program, item, "approve" if accept else "reject", actor=actor, reason=reason))


def _queue_order(row: dict) -> tuple:
    """Overdue first, then the rest waiting by due date, then decided ones."""
    waiting = row["status"] == "submitted"
    rank = 0 if row["overdue"] else 1 if waiting else 2
    return rank, (row["due_on"] or dt.date.max) if waiting else dt.date.max


def queue_data(queue: Queue, ws: Workspace, program: str) -> dict:
    info = office_program_info(ws, known_program(ws, program))
    if not queue.enabled(ws, program):
        return info | {"enabled": False, queue.name: []}
    today = ws.today(program)
    rows = sorted((queue.row(item, today) for item in queue.listing(ws, program)),
                  key=_queue_order)
    return info | {"enabled": True, "today": today, queue.name: rows}


def _queue_page(queue: Queue, request: Request, user: Principal, ws: Workspace,
                program: str) -> Response:
    require_reader(user)
    return office_page(request, f"office_{queue.name}.html", user, queue_data(queue, ws, program),
                       errors={})


def _decide(queue: Queue, ws: Workspace, user: Principal, program: str, item_id: str,
            accept: bool, reason: str | None):
    require_writer(user)
    known_program(ws, program)
    return queue.decide(ws, program, item_id, accept, user.username,
                        (reason or "").strip() or None)


def _decide_page(queue: Queue, request: Request, user: Principal, ws: Workspace, program: str,
                 item_id: str, accept: bool, reason: str) -> Response:
    problems: list[Problem] = []
    try:
        _decide(queue, ws, user, program, item_id, accept, reason)
    except PaymasterError as err:
        problems = form_problems(err)
    if is_htmx(request):
        item = next(i for i in queue.listing(ws, program) if getattr(i, queue.key) == item_id)
        # htmx swaps only 2xx answers: the row comes back with its problems shown.
        return render.html(request, f"office_{queue.name}_row.html", user, program=program,
                           row=queue.row(item, ws.today(program)), problems=problems, can_act=True)
    if problems:
        return office_page(request, f"office_{queue.name}.html", user,
                           queue_data(queue, ws, program), status=400,
                           errors={item_id: problems})
    return RedirectResponse(f"/office/{program}/{queue.name}", status_code=303)


@router.get("/office/{program}/registrations", include_in_schema=False)
def registrations_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    return _queue_page(REGISTRATIONS, request, user, ws, program)


@router.get("/api/office/{program}/registrations", tags=TAGS)
def registrations_api(user: User, ws: Ws, program: str) -> Response:
    """Registrations with due dates; overdue ones first."""
    require_reader(user)
    return render.json(queue_data(REGISTRATIONS, ws, program))


@router.post("/office/{program}/registrations/{registration_id}/decision",
             include_in_schema=False, dependencies=[Csrf])
def registration_decide_page(request: Request, user: User, ws: Ws, program: str,
                             registration_id: str, accept: Annotated[bool, Form()],
                             reason: Annotated[str, Form()] = "") -> Response:
    return _decide_page(REGISTRATIONS, request, user, ws, program, registration_id, accept,
                        reason)


@router.post("/api/office/{program}/registrations/{registration_id}/decision", tags=TAGS,
             dependencies=[Csrf])
def registration_decide_api(user: User, ws: Ws, program: str, registration_id: str,
                            decision: Decision) -> Response:
    """Accept (the checks are re-run) or reject with a reason a submitted registration."""
    reg = _decide(REGISTRATIONS, ws, user, program, registration_id, decision.accept,
                  decision.reason)
    return render.json({"registration": registration_row(reg, ws.today(program))})


@router.get("/office/{program}/enrollments", include_in_schema=False)
def enrollments_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    return _queue_page(ENROLLMENTS, request, user, ws, program)


@router.get("/api/office/{program}/enrollments", tags=TAGS)
def enrollments_api(user: User, ws: Ws, program: str) -> Response:
    """Enrollment applications with due dates; overdue ones first."""
    require_reader(user)
    return render.json(queue_data(ENROLLMENTS, ws, program))


@router.post("/office/{program}/enrollments/{enrollment_id}/decision",
             include_in_schema=False, dependencies=[Csrf])
def enrollment_decide_page(request: Request, user: User, ws: Ws, program: str,
                           enrollment_id: str, accept: Annotated[bool, Form()],
                           reason: Annotated[str, Form()] = "") -> Response:
    return _decide_page(ENROLLMENTS, request, user, ws, program, enrollment_id, accept, reason)


@router.post("/api/office/{program}/enrollments/{enrollment_id}/decision", tags=TAGS,
             dependencies=[Csrf])
def enrollment_decide_api(user: User, ws: Ws, program: str, enrollment_id: str,
                          decision: Decision) -> Response:
    """Approve (eligibility is checked again) or reject with a reason an application."""
    e = _decide(ENROLLMENTS, ws, user, program, enrollment_id, decision.accept, decision.reason)
    return render.json({"enrollment": enrollment_row(e, ws.today(program))})


# ---------------------------------------------------------------- imports
IMPORT_FIELDS = ("id", "table_name", "as_of", "snapshot", "rows", "added", "changed",
                 "removed", "actor", "imported_at")




def imports_data(ws: Workspace, user: Principal, program: str) -> dict:
    info = office_program_info(ws, known_program(ws, program))
    with ws.store.reading() as session:
        batches = session.scalars(select(ImportBatch).where(ImportBatch.program == program)
                                  .order_by(ImportBatch.id.desc())).all()
        rows = [fields_of(b, IMPORT_FIELDS) | {"file": Path(b.file_name).name} for b in batches]
    return info | {"tables": importable_tables(ws, program), "today": ws.today(),
                   "imports": rows}


def _result_json(result: imports.ImportResult) -> dict:
    return {"import_id": result.import_id, "table": result.table, "rows": result.rows,
            "added": result.added, "changed": result.changed, "removed": result.removed,
            "unchanged": result.unchanged, "already": result.already}




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
    day = parse_date(as_of, "as_of")
    name = upload_name(upload.filename, table)
    with tempfile.TemporaryDirectory(prefix="paymaster-upload-") as folder:
        path = Path(folder) / name
        save_upload(upload.file, path, ws)
        return imports.import_file(ws, program, table, path, actor=user.username, as_of=day,
                                   snapshot=snapshot)


@router.get("/office/{program}/imports", include_in_schema=False)
def imports_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    require_reader(user)
    return office_page(request, "office_imports.html", user, imports_data(ws, user, program),
                 problems=[], result=None, form={})


@router.get("/api/office/{program}/imports", tags=TAGS)
def imports_api(user: User, ws: Ws, program: str) -> Response:
    """Past imports of the program, newest first, and the tables that can be imported."""
    require_reader(user)
    return render.json(imports_data(ws, user, program))


@router.post("/office/{program}/imports", include_in_schema=False, dependencies=[Csrf])
def import_page(request: Request, user: User, ws: Ws, program: str,
                table: Annotated[str, Form()], file: Annotated[UploadFile | None, File()] = None,
                as_of: Annotated[str, Form()] = "",
                snapshot: Annotated[bool, Form()] = False) -> Response:
    require_writer(user)
    known_program(ws, program)
    form = {"table": table, "as_of": as_of, "snapshot": snapshot}
    try:
        result = import_upload(ws, user, program, table, file, as_of=as_of, snapshot=snapshot)
    except PaymasterError as err:
        return office_page(request, "office_imports.html", user, imports_data(ws, user, program),
                     status=400, problems=form_problems(err), result=None, form=form)
    return office_page(request, "office_imports.html", user, imports_data(ws, user, program),
                 problems=[], result=_result_json(result), form=form)


@router.post("/api/office/{program}/imports", tags=TAGS, dependencies=[Csrf])
def import_api(user: User, ws: Ws, program: str, table: Annotated[str, Form()],
               file: Annotated[UploadFile, File()], as_of: Annotated[str, Form()] = "",
               snapshot: Annotated[bool, Form()] = False) -> Response:
    """Import a CSV, XLSX or Parquet file into a table (multipart upload). Every problem
    is reported at once, with its row and column, and then nothing is imported."""
    require_writer(user)
    known_program(ws, program)
    result = import_upload(ws, user, program, table, file, as_of=as_of, snapshot=snapshot)
    return render.json({"import": _result_json(result)})
