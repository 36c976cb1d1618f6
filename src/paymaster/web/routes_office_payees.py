"""The program office's payee directory: every payee of a program (from the plan's payee
tables and the ledger) with its name, tax id and standing, searchable by id, name or tax
id; each payee's status and statement one click away. JSON twin under /api/office."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from paymaster.plan.model import ColumnSpec
from paymaster.services.inputs import current_rows
from paymaster.store.models import Dispute, LedgerEntry
from paymaster.web import render
from paymaster.web.office_common import (
    TAGS,
    ZERO,
    known_program,
    office_page,
    office_program_info,
    require_reader,
)
from paymaster.web.payee_access import payee_tables
from paymaster.web.deps import User, Ws
from paymaster.web.security import Principal
from paymaster.workspace import Workspace

router = APIRouter()


def _tax_column(columns: dict[str, ColumnSpec]) -> str | None:
    return next((name for name, spec in columns.items() if spec.tax_id), None)


def _day(value: object) -> dt.date | None:
    """An input table's date as stored (ISO text), as a date."""
    return value if isinstance(value, dt.date) or value is None else (
        dt.date.fromisoformat(str(value)[:10]) if str(value).strip() else None)


def payee_links(program: str, payee_id: str) -> dict[str, str]:
    """Where the office reads a payee's status and statement (the directory and a run's
    totals link there)."""
    payee = quote(payee_id, safe="")
    return {"status_url": f"/programs/{program}/status?payee={payee}",
            "statement_url": f"/programs/{program}/statement/{payee}"}


def payees_data(ws: Workspace, user: Principal, program: str, q: str | None = None) -> dict:
    require_reader(user)
    info = office_program_info(ws, known_program(ws, program))
    plan = ws.plan(program).plan
    found: dict[str, dict] = {}
    posted: dict[str, Decimal] = defaultdict(lambda: ZERO)
    with ws.store.reading() as session:
        for table, key in payee_tables(plan):
            tax = _tax_column(plan.inputs[table].columns)
            for row in current_rows(session, program, table):
                if row.get(key):
                    found.setdefault(str(row[key]), {
                        "payee_id": str(row[key]), "name": row.get("name") or "",
                        "tax_id": str(row[tax]) if tax and row.get(tax) else "",
                        "removed_on": _day(row.get("removed_on"))})
        # Summed here, not in SQL: SQLite would add the amounts as binary floats.
        for payee, amount in session.execute(select(LedgerEntry.payee_id, LedgerEntry.amount)
                                             .where(LedgerEntry.program == program)):
            posted[payee] += amount
        open_disputes = defaultdict(int)
        for (payee,) in session.execute(select(Dispute.payee_id).where(
                Dispute.program == program, Dispute.status == "open")):
            open_disputes[payee] += 1
    for payee in posted.keys() - found.keys():  # paid once, no longer in a payee table
        found[payee] = {"payee_id": payee, "name": "", "tax_id": "", "removed_on": None}
    words = (q or "").strip().casefold()
    # A tax id matches as typed, with or without its dashes and spaces.
    compact = "".join(ch for ch in words if ch.isalnum())
    rows = []
    for payee in sorted(found.values(), key=lambda p: p["payee_id"]):
        text = " ".join((payee["payee_id"], payee["name"], payee["tax_id"])).casefold()
        tax = "".join(ch for ch in payee["tax_id"] if ch.isalnum()).casefold()
        if words and words not in text and not (compact and compact in tax):
            continue
        rows.append(payee | {
            "status": "removed" if payee["removed_on"] else "active",
            "posted": posted.get(payee["payee_id"], ZERO),
            "open_disputes": open_disputes.get(payee["payee_id"], 0),
            **payee_links(program, payee["payee_id"])})
    return info | {"q": q or "", "payees": rows, "count": len(found)}


@router.get("/office/{program}/payees", include_in_schema=False)
def payees_page(request: Request, user: User, ws: Ws, program: str,
                q: str | None = None) -> Response:
    return office_page(request, "office_payees.html", user, payees_data(ws, user, program, q))


@router.get("/api/office/{program}/payees", tags=TAGS)
def payees_api(user: User, ws: Ws, program: str, q: str | None = None) -> Response:
    """The program's payees (id, name, tax id, active or removed, posted total, open
    disputes, links to the status and statement), filtered by ?q= on id, name or tax id."""
    return render.json(payees_data(ws, user, program, q))
