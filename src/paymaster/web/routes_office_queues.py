"""The office's queues: registrations, enrollments and disputes, each filtered (state,
partner or payee, a date range, free text), sorted by a column, paged, exported as CSV
(exactly the rows filtered and sorted), and decided one row at a time or in bulk.

A bulk decision decides each chosen row through the single decision's service (same
checks, same audit entry, its own transaction): a row decided meanwhile, or refused by
its checks, is reported by its id and the others are still decided. A batch that every
row would refuse (nothing chosen, no reason) is refused whole and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from paymaster import cells
from paymaster.errors import N_, Word, DataError, PaymasterError, Problem
from paymaster.services import disputes
from paymaster.services.office_queues import (
    DISPUTES,
    ENROLLMENTS,
    REGISTRATIONS,
    dispute_row,
    enabled,
)
from paymaster.services.queues import (
    BulkOutcome,
    Filters,
    QueueView,
    decide_many,
    parse_filters,
    select_rows,
)
from paymaster.store.models import Dispute
from paymaster.web import render
from paymaster.web.deps import Csrf, RecordId, User, Ws
from paymaster.web.downloads import disposition
from paymaster.web.office_common import (
    TAGS,
    form_problems,
    importable_tables,
    is_htmx,
    known_program,
    office_page,
    office_program_info,
    parse_date,
    require_reader,
    require_writer,
    save_upload,
    upload_name,
)
from paymaster.web.security import Principal
from paymaster.workspace import Workspace

router = APIRouter()


class Decision(BaseModel):
    accept: bool
    reason: str | None = None


class BulkDecision(BaseModel):
    ids: list[str] = Field(max_length=500)
    accept: bool
    reason: str | None = None


def filter_params(
        state: Annotated[str | None, Query(description="a state of the queue's rows")] = None,
        party: Annotated[str | None, Query(description="a partner's (a payee's) id")] = None,
        date_from: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD")] = None,
        date_to: Annotated[str | None, Query(alias="to", description="YYYY-MM-DD")] = None,
        q: Annotated[str | None, Query(description="text in the row")] = None,
        sort: Annotated[str | None, Query(description="a column")] = None,
        order: Annotated[str | None, Query(description="asc or desc")] = None,
        page: Annotated[str | None, Query(description="from 1")] = None,
        size: Annotated[str | None, Query(description="rows a page, 1 to 500")] = None,
) -> dict[str, str]:
    """The listing's query parameters as given (checked by services.queues.parse_filters),
    declared so the API documents them."""
    given = {"state": state, "party": party, "from": date_from, "to": date_to, "q": q,
             "sort": sort, "order": order, "page": page, "size": size}
    values = {k: v for k, v in given.items() if v is not None}
    for name, value in values.items():
        if any(ord(ch) < 32 or ch == "\x7f" for ch in value):
            raise DataError(Problem.of(N_("%(name)s holds a control character"), field=name,
                                       name=name, hint=N_("type the value as text")))
    return values


Params = Annotated[dict, Depends(filter_params)]


# ---------------------------------------------------------------- listing
def queue_data(view: QueueView, ws: Workspace, program: str, params: dict,
               every_page: bool = False) -> tuple[dict, Filters]:
    info = office_program_info(ws, known_program(ws, program))
    filters = parse_filters(view, params)
    if not enabled(ws, view, program):
        return info | {"enabled": False, view.name: [], "listing": None}, filters
    listing = select_rows(ws, view, program, filters, every_page=every_page)
    data = info | {"enabled": True, "today": ws.today(program), view.name: listing.rows,
                   "listing": listing.to_json()}
    if view is DISPUTES:
        data["tables"] = importable_tables(ws, program)
    return data, filters


def _links(view: QueueView, program: str, filters: Filters) -> dict:
    base = f"/office/{program}/{view.name}"

    def link(**changes: Any) -> str:
        query = urlencode(filters.query(**changes))
        return base + ("?" + query if query else "")

    query = urlencode(filters.query(page=None))
    return {"link": link, "filters": filters, "view": view,
            "csv_url": f"{base}.csv" + ("?" + query if query else ""),
            "bulk_url": f"{base}/bulk" + ("?" + urlencode(filters.query()) if filters.query()
                                           else "")}


def _page(view: QueueView, request: Request, user: Principal, ws: Workspace, program: str,
          params: dict, status: int = 200, **extra: Any) -> Response:
    require_reader(user)
    data, filters = queue_data(view, ws, program, params)
    extra = {"errors": {}, "bulk": None, "bulk_problems": []} | extra
    # the bulk form where there is something to decide (or its outcome to show)
    extra["bulk_form"] = bool(extra["bulk"] or extra["bulk_problems"] or any(
        row["status"] == view.waiting for row in data[view.name]))
    return office_page(request, f"office_{view.name}.html", user, data, status=status,
                       **_links(view, program, filters), **extra)


def _api(view: QueueView, user: Principal, ws: Workspace, program: str, params: dict
         ) -> Response:
    require_reader(user)
    data, _filters = queue_data(view, ws, program, params)
    return render.json(data)


def _csv(view: QueueView, user: Principal, ws: Workspace, program: str, params: dict
         ) -> Response:
    """Every row the filters and sort select (no page), each cell made inert."""
    require_reader(user)
    data, _filters = queue_data(view, ws, program, params, every_page=True)
    out = io.StringIO()
    writer = cells.Writer(out, lineterminator="\n")
    writer.writerow(view.csv_columns)
    for row in data[view.name]:
        writer.writerow(_cell(row.get(name)) for name in view.csv_columns)
    headers = disposition(f"{program}-{view.name}.csv")
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return "; ".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else value


# ---------------------------------------------------------------- bulk decisions
def _bulk(view: QueueView, ws: Workspace, user: Principal, program: str, ids: list[str],
          accept: bool, reason: str | None) -> BulkOutcome:
    require_writer(user)
    known_program(ws, program)
    if not enabled(ws, view, program):
        raise DataError(Problem.of(N_("this program takes no %(queue)s"),
                                   queue=Word(view.name)))
    return decide_many(ws, view, program, ids, accept=accept, reason=reason,
                       actor=user.username)


def _bulk_page(view: QueueView, request: Request, user: Principal, ws: Workspace,
               program: str, ids: list[str], accept: bool, reason: str) -> Response:
    params = filter_params(**{k: request.query_params.get(k) for k in (
        "state", "party", "q", "sort", "order", "page", "size")},
        date_from=request.query_params.get("from"), date_to=request.query_params.get("to"))
    try:
        outcome = _bulk(view, ws, user, program, ids, accept, reason)
    except PaymasterError as err:
        return _page(view, request, user, ws, program, params, status=400,
                     bulk_problems=form_problems(err), reason=reason)
    # the outcome itself: its refused rows' problems said in the reader's language
    return _page(view, request, user, ws, program, params, bulk=outcome)


def _bulk_api(view: QueueView, user: Principal, ws: Workspace, program: str,
              body: BulkDecision) -> Response:
    """The rows decided and those refused (by id, with why); 200 even when some were
    refused: the answer says which."""
    outcome = _bulk(view, ws, user, program, body.ids, body.accept, body.reason)
    return render.json(outcome.to_json())


# ---------------------------------------------------------------- single decisions
def _decide(view: QueueView, ws: Workspace, user: Principal, program: str, item_id: str,
            accept: bool, reason: str | None):
    require_writer(user)
    known_program(ws, program)
    return view.decide(ws, program, item_id, accept, user.username,
                       (reason or "").strip() or None)


def _decide_page(view: QueueView, request: Request, user: Principal, ws: Workspace,
                 program: str, item_id: str, accept: bool, reason: str) -> Response:
    problems: list[Problem] = []
    try:
        _decide(view, ws, user, program, item_id, accept, reason)
    except PaymasterError as err:
        problems = form_problems(err)
    if is_htmx(request):
        item = next(i for i in view.load(ws, program, None, None)
                    if getattr(i, view.key) == item_id)
        # htmx swaps only 2xx answers: the row comes back with its problems shown.
        return render.html(request, f"office_{view.name}_row.html", user, program=program,
                           row=view.row(item, ws.today(program)), problems=problems,
                           can_act=True)
    if problems:
        return _page(view, request, user, ws, program, {}, status=400,
                     errors={item_id: problems})
    return RedirectResponse(f"/office/{program}/{view.name}", status_code=303)


# ---------------------------------------------------------------- routes
def _routes(view: QueueView, summary: str) -> None:
    """A queue's page, JSON, CSV and bulk routes (the same for the three queues)."""
    base = f"/office/{{program}}/{view.name}"

    def page(request: Request, user: User, ws: Ws, program: str, params: Params) -> Response:
        return _page(view, request, user, ws, program, params)

    def api(user: User, ws: Ws, program: str, params: Params) -> Response:
        return _api(view, user, ws, program, params)

    def export(user: User, ws: Ws, program: str, params: Params) -> Response:
        return _csv(view, user, ws, program, params)

    def bulk_page(request: Request, user: User, ws: Ws, program: str,
                  accept: Annotated[bool, Form()], ids: Annotated[list[str] | None, Form()] = None,
                  reason: Annotated[str, Form()] = "") -> Response:
        return _bulk_page(view, request, user, ws, program, list(ids or []), accept, reason)

    def bulk_api(user: User, ws: Ws, program: str, body: BulkDecision) -> Response:
        return _bulk_api(view, user, ws, program, body)

    router.add_api_route(base, page, methods=["GET"], include_in_schema=False)
    router.add_api_route("/api" + base, api, methods=["GET"], tags=TAGS,
                         summary=f"{summary}: filtered, sorted, one page",
                         description=QUERY_HELP)
    router.add_api_route(base + ".csv", export, methods=["GET"], include_in_schema=False)
    router.add_api_route("/api" + base + ".csv", export, methods=["GET"], tags=TAGS,
                         summary=f"{summary} as CSV: every row the filters select",
                         description=QUERY_HELP, response_class=Response)
    router.add_api_route(base + "/bulk", bulk_page, methods=["POST"], include_in_schema=False,
                         dependencies=[Csrf])
    router.add_api_route("/api" + base + "/bulk", bulk_api, methods=["POST"], tags=TAGS,
                         dependencies=[Csrf], summary=f"{summary}: decide many at once",
                         description=BULK_HELP)


QUERY_HELP = ("Query parameters: state, party (partner or payee id), from and to (a date "
              "range of the submission), q (free text), sort (a column) and order (asc, "
              "desc), page (from 1) and size (1 to 500, 50 by default). A bad value is a 400 "
              "naming it.")
BULK_HELP = ("ids, accept (true accepts, false rejects) and one reason for all. Each row is "
             "decided on its own through the single decision; a row that cannot be decided "
             "is returned in `refused` with its problems, the others in `decided`.")

_routes(REGISTRATIONS, "Registrations")
_routes(ENROLLMENTS, "Enrollment applications")
_routes(DISPUTES, "Disputes")


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
    return render.json({"registration": REGISTRATIONS.row(reg, ws.today(program))})


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
    return render.json({"enrollment": ENROLLMENTS.row(e, ws.today(program))})


# ---------------------------------------------------------------- resolving one dispute
def resolve_dispute(ws: Workspace, user: Principal, program: str, dispute_id: int, *,
                    accept: bool, resolution: str, table: str = "",
                    file: UploadFile | None = None, as_of: str = "") -> Dispute:
    """Close a case; an accepted one may bring a correction file for a table, imported
    in the same step (the file is saved to a temporary file of the same suffix)."""
    require_writer(user)
    known_program(ws, program)
    if file is None or not file.filename:
        return disputes.resolve(ws, program, dispute_id, accept=accept, resolution=resolution,
                                actor=user.username)
    allowed = importable_tables(ws, program)
    if table not in allowed:
        raise DataError(Problem.of(N_("choose the table the correction is for"), field="table",
                                   tables=tuple(allowed), hint=N_("tables: %(tables)s")))
    day = parse_date(as_of, "as_of")
    with tempfile.TemporaryDirectory(prefix="paymaster-upload-") as folder:
        path = Path(folder) / upload_name(file.filename, table)
        save_upload(file.file, path, ws)
        return disputes.resolve(ws, program, dispute_id, accept=accept, resolution=resolution,
                                actor=user.username, correction=(table, path), as_of=day)


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
        return _page(DISPUTES, request, user, ws, program, {}, status=400,
                     errors={dispute_id: form_problems(err)})
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
    return render.json({"dispute": dispute_row(dispute)})
