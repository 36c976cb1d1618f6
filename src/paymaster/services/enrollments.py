"""Enrollment (Trade-In Accelerator): draft -> submitted -> approved / rejected / withdrawn.

A partner saves a draft and submits it by the phase's enrollment deadline; the office
approves within the program's business days in the partner's country (overdue ones are
listed so the partner knows to call its channel account manager). Approval checks that
the partner's certification covers every day of the phase and its country is eligible;
otherwise the application is rejected with that reason. Every transition is audited.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from paymaster.calendar import add_business_days
from paymaster.errors import N_, Word, Problem
from paymaster.limits import check_text
from paymaster.plan.model import Phase
from paymaster.services import audit, notifications, queues
from paymaster.services.inputs import current_rows, find_row
from paymaster.services.registrations import WorkflowError
from paymaster.store.models import Enrollment

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

STATE = ("program", "enrollment_id", "partner_id", "phase", "status", "submitted_on",
         "effective_from", "due_on", "decided_at", "decided_by", "reason")
MOVES = {
    "submit": ({"draft"}, "submitted"),
    "withdraw": ({"draft", "submitted"}, "withdrawn"),
    "approve": ({"submitted"}, "approved"),
    "reject": ({"submitted"}, "rejected"),
}


def create(ws: Workspace, program: str, partner_id: str, phase: str, effective_from: dt.date,
           *, actor: str, submit: bool = False, at: dt.datetime | None = None,
           enrollment_id: str | None = None) -> Enrollment:
    """Save an application as a draft (and submit it at once with `submit`)."""
    when = at or ws.now(program)
    _phase(ws, program, phase)
    with ws.store.session() as session:
        partner = _partner(session, program, partner_id)
        if partner is None:
            raise WorkflowError(Problem.of(N_("unknown partner '%(partner)s'"), field="partner_id",
                                           partner=partner_id,
                                           cli_hint="import the partner first (paymaster import)"))
        # Submitting what a draft already holds (a refused late submission tried again)
        # submits that draft: it does not pile up another.
        enrollment = _same_draft(session, program, partner_id, str(phase), effective_from) \
            if submit and not enrollment_id else None
        if enrollment is None:
            enrollment = _new_draft(session, program, partner_id, str(phase), effective_from,
                                    enrollment_id, actor, when)
    if submit:
        try:
            return move(ws, program, enrollment.enrollment_id, "submit", actor=actor, at=at)
        except WorkflowError as err:
            # The draft is saved all the same: say so, and how to submit it once possible.
            err.problems.append(Problem.of(
                N_("the application is kept as draft %(enrollment)s"),
                enrollment=enrollment.enrollment_id,
                cli_hint=f"submit it later: paymaster enrollment move {program} "
                         f"{enrollment.enrollment_id} submit"))
            raise
    return enrollment


def _same_draft(session: Session, program: str, partner_id: str, phase: str,
                effective_from: dt.date) -> Enrollment | None:
    return session.scalars(select(Enrollment).where(
        Enrollment.program == program, Enrollment.partner_id == partner_id,
        Enrollment.phase == phase, Enrollment.effective_from == effective_from,
        Enrollment.status == "draft").order_by(Enrollment.id)).first()


def _new_draft(session: Session, program: str, partner_id: str, phase: str,
               effective_from: dt.date, enrollment_id: str | None, actor: str,
               when: dt.datetime) -> Enrollment:
    enrollment = Enrollment(
        program=program, enrollment_id=enrollment_id or f"new-{uuid.uuid4()}",
        partner_id=partner_id, phase=phase, status="draft", created_at=when,
        effective_from=effective_from)
    session.add(enrollment)
    session.flush()
    if not enrollment_id:  # numbered by the database: parallel drafts never collide
        enrollment.enrollment_id = f"ENR-{enrollment.id:06d}"
    audit.record(session, actor=actor, action="draft", entity="enrollment",
                 key=enrollment.enrollment_id, program=program,
                 after=audit.row_state(enrollment, STATE), at=when)
    return enrollment


def move(ws: Workspace, program: str, enrollment_id: str, action: str, *, actor: str,
         reason: str | None = None, at: dt.datetime | None = None) -> Enrollment:
    if action not in MOVES:
        raise WorkflowError(Problem.of(N_("unknown action '%(action)s'"), action=action,
                                       actions=tuple(MOVES), hint=N_("one of: %(actions)s")))
    allowed, target = MOVES[action]
    check_text(reason, "reason", ws.config.limits.description_chars,
               limit_name="description_chars", error=WorkflowError)
    when = at or ws.now(program)
    with ws.store.session() as session:
        enrollment = _get(session, program, enrollment_id)
        if enrollment.status not in allowed:
            raise WorkflowError(Problem.of(
                N_("enrollment %(enrollment)s is %(status)s: it cannot %(action)s"),
                enrollment=enrollment_id, status=Word(enrollment.status), action=Word(action),
                allowed=tuple(Word(a) for a in sorted(allowed)),
                hint=N_("%(action)s applies to: %(allowed)s")))
        before = audit.row_state(enrollment, STATE)
        phase = _phase(ws, program, enrollment.phase)
        if action == "submit":
            _submit(ws, session, program, enrollment, phase, when)
        elif action == "reject" and not reason:
            raise WorkflowError(Problem.of(N_("a rejection needs a reason"),
                                           cli_hint="give --reason TEXT"))
        else:
            failed = _approval_check(ws, session, program, enrollment, phase) \
                if action == "approve" else None
            enrollment.status = "rejected" if failed else target
            enrollment.reason = failed or reason
            enrollment.decided_at, enrollment.decided_by = when, actor
        audit.record(session, actor=actor, action=action, entity="enrollment",
                     key=enrollment_id, program=program, before=before,
                     after=audit.row_state(enrollment, STATE), at=when)
        notifications.enrollment_decided(ws, session, enrollment)
        return enrollment


def overdue(ws: Workspace, program: str, on: dt.date | None = None) -> list[Enrollment]:
    return queues.overdue(ws, Enrollment, program, on)


def listing(ws: Workspace, program: str, partner: str | None = None) -> list[Enrollment]:
    return queues.listing(ws, Enrollment, program, partner, (Enrollment.id,))


# ---------------------------------------------------------------- internals
def _submit(ws: Workspace, session: Session, program: str, enrollment: Enrollment,
            phase: Phase, when: dt.datetime) -> None:
    deadline = getattr(phase, "enrollment_deadline", None)
    if deadline is not None and when.date() > deadline:
        raise WorkflowError(Problem.of(
            N_("the enrollment deadline of phase %(phase)s was %(deadline)s; it is %(today)s"),
            phase=enrollment.phase, deadline=deadline, today=when.date(),
            hint=N_("applications can no longer be submitted")))
    country = (_partner(session, program, enrollment.partner_id) or {}).get("country") or ""
    enrollment.status = "submitted"
    enrollment.submitted_on = when.date()
    enrollment.due_on = add_business_days(
        when.date(), ws.program(program).approve_within_days, country or "US")


def _approval_check(ws: Workspace, session: Session, program: str, enrollment: Enrollment,
                    phase: Phase) -> str | None:
    partner = _partner(session, program, enrollment.partner_id) or {}
    countries = getattr(phase, "countries", None)
    if countries and partner.get("country") not in countries:
        return "country_not_eligible"
    levels = set(ws.program(program).certified_levels)
    spans = sorted(
        (dt.date.fromisoformat(c["valid_from"]), dt.date.fromisoformat(c["valid_to"]))
        for c in current_rows(session, program, "certifications")
        if c.get("partner_id") == enrollment.partner_id and c.get("level") in levels)
    return None if _covers(spans, phase.start, phase.end) else "certification_not_valid"


def _covers(spans: list[tuple[dt.date, dt.date]], start: dt.date, end: dt.date) -> bool:
    """Do the sorted intervals cover every day from start to end (joined end to end)?"""
    reached = start - dt.timedelta(days=1)
    for lo, hi in spans:
        if lo > reached + dt.timedelta(days=1):
            break
        reached = max(reached, hi)
    return reached >= end


def _phase(ws: Workspace, program: str, phase: str) -> Phase:
    phases = ws.plan(program).plan.phases
    for p in phases:
        if str(getattr(p, "phase", p.id)) == str(phase) or p.id == str(phase):
            return p
    raise WorkflowError(Problem.of(N_("unknown phase '%(phase)s'"), field="phase", phase=phase,
                                   phases=tuple(str(getattr(p, "phase", p.id)) for p in phases),
                                   hint=N_("phases: %(phases)s")))


def _partner(session: Session, program: str, partner_id: str) -> dict | None:
    return find_row(session, program, "partners", "partner_id", partner_id)


def _get(session: Session, program: str, enrollment_id: str) -> Enrollment:
    enrollment = session.scalars(select(Enrollment).where(
        Enrollment.program == program,
        Enrollment.enrollment_id == enrollment_id)).one_or_none()
    if enrollment is None:
        raise WorkflowError(Problem.of(N_("unknown enrollment '%(enrollment)s'"),
                                       enrollment=enrollment_id,
                                       cli_hint="list them with: paymaster enrollment list PROGRAM"))
    return enrollment
