"""Deadline reminders (`paymaster notify due`, run daily by a scheduler): a few business days
(`notifications.remind_days`, 2) before a deadline, whoever must act hears of it once.

The deadlines the workflows keep:
- a submitted lead registration is due for the owner's decision on its `due_on`
  (registrations.answer_time: the plan's `answer_within`, else `confirm_within_days`
  business days of the program's country): to the office;
- a submitted enrollment is due for approval on its `due_on` (`approve_within_days` in the
  partner's country): to the office;
- a phase's `enrollment_deadline` (plan): to each partner's users whose partner has not
  submitted an application to that phase.
Each reminder is queued under a key naming the deadline and the user, so running the
command again (the same day or the next) never sends it twice.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from paymaster.calendar import business_days_between
from paymaster.services import notifications, registrations
from paymaster.services.inputs import current_rows
from paymaster.store.models import Enrollment, Registration, User

if TYPE_CHECKING:
    from paymaster.workspace import Workspace


def due(ws: Workspace, on: dt.date | None = None) -> int:
    """Queue the reminders due on `on` (each program's today); returns how many were
    queued. The caller sends them (`notifications.deliver`) once this has committed."""
    if ws.config.notifications.smtp is None:
        return 0
    queued = 0
    with ws.store.session() as session:
        office = session.scalars(select(User).where(
            User.role.in_(notifications.OFFICE_ROLES))).all()
        for program in ws.config.programs:
            today = on or ws.today(program)
            queued += _decisions(ws, session, program, today, office)
            queued += _enrollment_deadlines(ws, session, program, today)
    return queued


def _near(today: dt.date, deadline: dt.date, country: str, days: int) -> bool:
    return today <= deadline and business_days_between(today, deadline, country) <= days


def _decisions(ws: Workspace, session: Session, program: str, today: dt.date,
               office: list[User]) -> int:
    days = ws.config.notifications.remind_days
    countries = {r.get("partner_id"): r.get("country") or "US"
                 for r in current_rows(session, program, "partners")}
    queued = 0
    for model, what, ident in ((Registration, "registration_decision", "registration_id"),
                               (Enrollment, "enrollment_decision", "enrollment_id")):
        for item in session.scalars(select(model).where(
                model.program == program, model.status == "submitted",
                model.due_on >= today)):
            # Registrations are due where their due date was counted (registrations.
            # answer_time), enrollments in the partner's country.
            country = registrations.setup(ws, program).country if model is Registration \
                else countries.get(item.partner_id, "US")
            if _near(today, item.due_on, country, days):
                key = f"{program}:{what}:{getattr(item, ident)}:{item.due_on}"
                queued += notifications.queue(ws, session, "reminder", program, key, {
                    "what": what, "id": getattr(item, ident), "date": item.due_on}, office,
                    after_commit=False)
    return queued


def _enrollment_deadlines(ws: Workspace, session: Session, program: str,
                          today: dt.date) -> int:
    days = ws.config.notifications.remind_days
    queued = 0
    for phase in ws.plan(program).plan.phases:
        deadline = getattr(phase, "enrollment_deadline", None)
        if deadline is None:
            continue
        deadline = deadline if isinstance(deadline, dt.date) else dt.date.fromisoformat(
            str(deadline))
        name = str(getattr(phase, "phase", phase.id))
        done = set(session.scalars(select(Enrollment.partner_id).where(
            Enrollment.program == program, Enrollment.phase == name,
            Enrollment.status.in_(("submitted", "approved")))))
        for partner in current_rows(session, program, "partners"):
            ident = partner.get("partner_id")
            if not ident or ident in done or not _near(
                    today, deadline, partner.get("country") or "US", days):
                continue
            users = session.scalars(select(User).where(
                User.payee_id == ident, User.role == "partner")).all()
            queued += notifications.queue(
                ws, session, "reminder", program,
                f"{program}:enrollment_deadline:{name}:{deadline}:{ident}",
                {"what": "enrollment_deadline", "phase": name, "date": deadline}, users,
                after_commit=False)
    return queued
