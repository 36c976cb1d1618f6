"""Period close in the portal: a program's periods, open or closed, with what is posted
into each, and a button that closes one (office: admin and approver). A close is final
(services/closes.py); its JSON twin is under /api/office."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from paymaster.errors import PaymasterError
from paymaster.services import closes
from paymaster.web import render
from paymaster.web.deps import Csrf, User, Ws
from paymaster.web.office_common import (
    TAGS,
    form_problems,
    known_program,
    office_page,
    office_program_info,
    require_reader,
    require_writer,
)
from paymaster.web.security import Principal
from paymaster.workspace import Workspace

router = APIRouter()


def periods_data(ws: Workspace, program: str) -> dict:
    info = office_program_info(ws, known_program(ws, program))
    return info | {"periods": closes.overview(ws, program)}


def _close(ws: Workspace, user: Principal, program: str, period: str) -> closes.ClosedPeriod:
    require_writer(user)
    known_program(ws, program)
    return closes.close(ws, program, period, actor=user.username)


@router.get("/office/{program}/periods", include_in_schema=False)
def periods_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    require_reader(user)
    return office_page(request, "office_periods.html", user, periods_data(ws, program),
                       problems=[])


@router.get("/api/office/{program}/periods", tags=TAGS)
def periods_api(user: User, ws: Ws, program: str) -> Response:
    """The program's periods: open or closed (when, by whom), entries and total posted."""
    require_reader(user)
    return render.json(periods_data(ws, program))


@router.post("/office/{program}/periods/close", include_in_schema=False, dependencies=[Csrf])
def close_page(request: Request, user: User, ws: Ws, program: str,
               period: Annotated[str, Form()] = "") -> Response:
    try:
        _close(ws, user, program, period)
    except PaymasterError as err:
        return office_page(request, "office_periods.html", user, periods_data(ws, program),
                           status=400, problems=form_problems(err))
    return RedirectResponse(f"/office/{program}/periods", status_code=303)


@router.post("/api/office/{program}/periods/{period}/close", tags=TAGS, dependencies=[Csrf])
def close_api(user: User, ws: Ws, program: str, period: str) -> Response:
    """Close a period: nothing more is posted into it; a later correction of its lines
    goes into the next open period as an adjustment (final, audited)."""
    _close(ws, user, program, period)
    return render.json(periods_data(ws, program), 201)
