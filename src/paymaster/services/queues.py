"""What registrations and enrollments share: a queue of submissions per program, each due
by a date (business days of the SLA), listed and found overdue the same way."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

if TYPE_CHECKING:
    from paymaster.workspace import Workspace


def overdue(ws: Workspace, model: Any, program: str, on: dt.date | None) -> list:
    """Submitted and still undecided after their due date, the longest overdue first."""
    on = on or ws.today(program)
    with ws.store.reading() as session:
        return list(session.scalars(select(model).where(
            model.program == program, model.status == "submitted",
            model.due_on < on).order_by(model.due_on, model.id)))


def listing(ws: Workspace, model: Any, program: str, partner: str | None,
            order_by: tuple) -> list:
    """A program's submissions (one partner's, when given)."""
    with ws.store.reading() as session:
        query = select(model).where(model.program == program)
        if partner:
            query = query.where(model.partner_id == partner)
        return list(session.scalars(query.order_by(*order_by)))
