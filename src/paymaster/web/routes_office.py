"""Pages of the program office: the dashboard and imports (the queues are in
routes_office_queues.py; runs, plan versions and the budget in
routes_office_ledger.py).

Office roles only: admin, approver and viewer read; only admin and approver act. A
partner or rep user gets 403 on every route here, before any record is looked up, so a
guessed id tells it nothing. Each page is a plain data function (`x_data`) rendered as
HTML or returned as JSON by its /api twin.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy import select

from paymaster.errors import N_, DataError, PaymasterError, Problem
from paymaster.services import imports
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
        raise DataError(Problem.of(N_("'%(table)s' cannot be imported here"), field="table",
                                   table=table, tables=tuple(allowed),
                                   hint=N_("tables: %(tables)s")))
    if upload is None or not upload.filename:
        raise DataError(Problem.of(N_("choose a file to import"), field="file"))
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
