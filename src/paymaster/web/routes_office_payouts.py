"""Program office pages about payout batches: the list, paying what is posted (the batch
is recorded; its file is a download), and each batch's file again, as often as needed.
Each has a JSON twin under /api/office."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from paymaster.errors import N_, PaymasterError, Problem
from paymaster.services import finance_views, payouts
from paymaster.services.registrations import WorkflowError
from paymaster.store.models import PayoutBatch
from paymaster.web import render
from paymaster.web.office_common import (
    TAGS,
    form_problems,
    known_program,
    office_page,
    office_program_info,
    require_reader,
    PAYERS,
)
from paymaster.web.deps import Csrf, User, Ws
from paymaster.web.security import Principal
from paymaster.workspace import Workspace

router = APIRouter()
BatchId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")]
FileFormat = Annotated[str, Query(pattern="^(csv|xlsx|parquet)$")]
MEDIA = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
BATCH_FIELDS = ("id", "program", "created_at", "created_by", "payees", "entries", "totals")


def batches_data(ws: Workspace, user: Principal, program: str) -> dict:
    """The batches, newest first, and what the next batch would pay (`unpaid`)."""
    info = office_program_info(ws, known_program(ws, program))
    batches = [_fields(b) for b in reversed(payouts.batches(ws, program))]
    return info | {"batches": batches, "unpaid": finance_views.unpaid(ws, program)}


def _page(request: Request, user: Principal, ws: Workspace, program: str, *,
          status: int = 200, problems: list[Problem]) -> Response:
    return office_page(request, "office_payouts.html", user, batches_data(ws, user, program),
                       status=status, problems=problems, can_pay=user.role in PAYERS)


def _fields(batch: PayoutBatch) -> dict:
    """A batch's fields; its totals as exact amounts per currency."""
    out = {name: getattr(batch, name) for name in BATCH_FIELDS}
    out["totals"] = [{"currency": c, "amount": Decimal(a)} for c, a in batch.totals.items()]
    return out


def _batch(ws: Workspace, program: str, batch_id: str) -> PayoutBatch:
    batch = payouts.get_batch(ws, batch_id)
    if batch.program != known_program(ws, program):
        raise WorkflowError(Problem.of(N_("unknown payout batch '%(batch)s' in %(program)s"),
                                       batch=batch_id, program=program))
    return batch


@router.get("/office/{program}/payouts", include_in_schema=False)
def batches_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    require_reader(user)
    return _page(request, user, ws, program, problems=[])


@router.get("/api/office/{program}/payouts", tags=TAGS)
def batches_api(user: User, ws: Ws, program: str) -> Response:
    """The program's payout batches, newest first: who paid, when, how many payees and
    entries, totals per currency; `unpaid`: what is posted and in no batch yet."""
    require_reader(user)
    return render.json(batches_data(ws, user, program))


def _pay(ws: Workspace, user: Principal, program: str) -> PayoutBatch | None:
    user.require(*PAYERS)
    return payouts.create_batch(ws, known_program(ws, program), actor=user.username)


@router.post("/office/{program}/payouts", include_in_schema=False, dependencies=[Csrf])
def pay_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    try:
        batch = _pay(ws, user, program)
    except PaymasterError as err:
        return _page(request, user, ws, program, status=400, problems=form_problems(err))
    if batch is None:
        return _page(request, user, ws, program,
                     problems=[Problem.of(N_("nothing to pay: every posted entry is paid"))])
    return RedirectResponse(f"/office/{program}/payouts", status_code=303)


@router.post("/api/office/{program}/payouts", tags=TAGS, dependencies=[Csrf])
def pay_api(user: User, ws: Ws, program: str) -> Response:
    """Pay everything posted and not yet paid: records a batch (its file is then a
    download); `batch` is null when nothing is owed (nothing recorded)."""
    batch = _pay(ws, user, program)
    data = _fields(batch) if batch else None
    return render.json({"batch": data}, status=201 if batch else 200)


@router.get("/office/{program}/payouts/{batch_id}/file", include_in_schema=False)
def batch_file_page(user: User, ws: Ws, program: str, batch_id: BatchId,
                    format: FileFormat = "csv") -> Response:  # noqa: A002 - the query name
    return batch_file_api(user, ws, program, batch_id, format)


@router.get("/api/office/{program}/payouts/{batch_id}/file", tags=TAGS)
def batch_file_api(user: User, ws: Ws, program: str, batch_id: BatchId,
                   format: FileFormat = "csv") -> Response:  # noqa: A002 - the query name
    """A batch's payout file (csv, xlsx or parquet), the same rows every time."""
    require_reader(user)
    batch = _batch(ws, program, batch_id)
    return Response(payouts.file_bytes(ws, batch.id, format), media_type=MEDIA[format],
                    headers={"Content-Disposition":
                             f'attachment; filename="{batch.id}.{format}"'})
