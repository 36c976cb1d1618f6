"""What every program office page shares: who may read and act, and small helpers."""

from __future__ import annotations

import re
from pathlib import Path

import datetime as dt
from decimal import Decimal
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from paymaster.errors import N_, Count, DataError, PaymasterError, Problem
from paymaster.web import render
from paymaster.web.security import Principal
from paymaster.workspace import Workspace

READERS = ("admin", "approver", "finance", "viewer")
WRITERS = ("admin", "approver")
# The finance pages (ledger, accruals, audit log); paying a batch is also finance's.
FINANCE = ("admin", "finance")
PAYERS = ("admin", "approver", "finance")
UPLOAD_SUFFIXES = (".csv", ".xlsx", ".parquet")
ZERO = Decimal("0.00")
TAGS = ["office"]


# ---------------------------------------------------------------- access and helpers
def require_reader(user: Principal) -> None:
    user.require(*READERS)


def require_writer(user: Principal) -> None:
    user.require(*WRITERS)


def require_finance(user: Principal) -> None:
    user.require(*FINANCE)


def known_program(ws: Workspace, program: str) -> str:
    ws.program(program)  # an unknown program raises "unknown program" -> 404
    return program


def office_page(request: Request, template: str, user: Principal, data: dict, status: int = 200,
          **extra: Any) -> Response:
    return render.html(request, template, user, status=status, can_act=user.role in WRITERS,
                       **data, **extra)


def form_problems(err: PaymasterError) -> list[Problem]:
    """A form shows its own problems; a missing record stays a 404."""
    if any(p.message.startswith("unknown") for p in err.problems):
        raise err
    return err.problems


def is_htmx(request: Request) -> bool:
    return bool(request.headers.get("hx-request"))


def fields_of(obj: Any, names: tuple[str, ...]) -> dict:
    return {name: getattr(obj, name) for name in names}


def parse_date(text: str | None, field: str) -> dt.date | None:
    if not text or not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise DataError(Problem.of(N_("'%(value)s' is not a date"), field=field, value=text,
                                   hint=N_("write it as YYYY-MM-DD"))) from None


def office_program_info(ws: Workspace, program: str) -> dict:
    plan = ws.plan(program).plan
    config = ws.program(program)
    # which pages apply to the program (the others say so, but need no link)
    pages = {"registrations": bool(config.registrations), "enrollments": bool(config.enrollments),
             "budget": bool(plan.budgets)}
    return {"program": program, "title": plan.title or program, "currency": plan.currency,
            "pages": pages}


def importable_tables(ws: Workspace, program: str) -> list[str]:
    """The plan's input tables, less those a workflow keeps (they are not imported)."""
    config = ws.program(program)
    kept = {config.registrations, config.enrollments}
    return [t for t in ws.plan(program).plan.inputs if t not in kept]


def upload_name(filename: str | None, table: str) -> str:
    """A safe local name keeping the upload's suffix (the reader goes by the suffix)."""
    name = Path(filename or "").name
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise DataError(Problem.of(N_("unsupported file type '%(kind)s'"), field="file",
                                   kind=suffix or name,
                                   hint=N_("give a .csv, .xlsx or .parquet file")))
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name).stem).strip("_") or table
    return stem + suffix


def save_upload(source, path: Path, ws: Workspace) -> None:
    """Copy an upload to `path`, refusing it as soon as it passes the workspace's byte
    limit (nothing larger reaches the disk or the importer)."""
    limit, written = ws.config.limits.upload_bytes, 0
    with path.open("wb") as out:
        while block := source.read(1 << 20):
            written += len(block)
            if written > limit:
                raise DataError(Problem.of(
                    N_("the file is larger than %(limit)s bytes"), field="file",
                    limit=Count(limit),
                    hint=N_("split it, or raise limits: upload_bytes in the workspace's "
                            "paymaster.yaml")))
            out.write(block)
