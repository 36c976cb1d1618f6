"""What a partner or rep may see in the portal, shared by its pages: the programs a payee
takes part in, the payee a request is about, and small lookups."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import exists, select

from paymaster.errors import N_, Problem, Word
from paymaster.plan.model import Plan
from paymaster.services.inputs import current_rows
from paymaster.services.registrations import WorkflowError
from paymaster.store.models import Enrollment, LedgerEntry, Registration, Run
from paymaster.web.security import Forbidden, Principal, may_not_see
from paymaster.workspace import Workspace


# Registration columns the workflow fills itself: never taken from a form.
RESERVED = ("registration_id", "partner_id", "submitted_at", "decision", "decision_reason")
PARTNER_ACTIONS = ("submit", "withdraw")  # what a partner may do to its own application
DOWNLOADS = {"pdf": "application/pdf",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "html": "text/html; charset=utf-8"}


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form as text fields (the CSRF token left out)."""
    form = await request.form()
    return {k: str(v) for k, v in form.items() if k != "csrf_token"}


Form = Annotated[dict[str, str], Depends(form_fields)]


# ================================================================ access
def memberships(ws: Workspace, payee_id: str) -> dict[str, list[str]]:
    """The programs a payee takes part in, each with where it appears."""
    found: dict[str, list[str]] = {}
    with ws.store.reading() as session:
        for program in ws.config.programs:
            why = []
            for label, model, column in (
                    ("registrations", Registration, Registration.partner_id),
                    ("enrollments", Enrollment, Enrollment.partner_id),
                    ("ledger", LedgerEntry, LedgerEntry.payee_id)):
                if session.scalar(select(exists().where(model.program == program,
                                                        column == payee_id))):
                    why.append(label)
            plan = ws.plan(program).plan
            if any(row.get(key) == payee_id for table, key in payee_tables(plan)
                   for row in current_rows(session, program, table)):
                why.append("payees")
            if why:
                found[program] = why
    return found


def payee_tables(plan: Plan) -> list[tuple[str, str]]:
    """Input tables listing payees: keyed by one column that a measure pays."""
    payees = {getattr(m, "payee", None) for m in plan.measures}
    return [(name, spec.key[0]) for name, spec in plan.inputs.items()
            if len(spec.key) == 1 and spec.key[0] in payees]


def require_member(ws: Workspace, user: Principal, program: str) -> None:
    """Office users see every program; a payee user only those it takes part in."""
    ws.program(program)  # an unknown program is a 404
    if user.is_office:
        return
    if not user.payee_id or program not in memberships(ws, user.payee_id):
        raise Forbidden(Problem.of(N_("%(user)s takes no part in %(program)s"),
                                   user=user.username, program=program))


def payee_in_scope(ws: Workspace, user: Principal, program: str, payee: str | None) -> str:
    """The payee a page shows: a payee user's own; an office user names one."""
    require_member(ws, user, program)
    if user.is_office:
        if not payee:
            raise WorkflowError(Problem.of(N_("choose a payee"), field="payee",
                                           hint=N_("add ?payee=ID to the address")))
        return payee
    if payee and payee != user.payee_id:
        raise Forbidden(may_not_see(user.username, payee))
    return user.payee_id


def acting_payee(ws: Workspace, user: Principal, program: str) -> str:
    """The payee a write is for: always the user's own; office accounts act elsewhere."""
    user.require("partner", "rep")
    require_member(ws, user, program)
    return user.payee_id


def require_workflow(ws: Workspace, program: str, workflow: str) -> None:
    if not getattr(ws.program(program), workflow):
        raise WorkflowError(Problem.of(N_("unknown page: program '%(program)s' has no %(workflow)s"),
                                       program=program, workflow=Word(workflow)))


def payee_names(ws: Workspace, program: str) -> dict[str, str]:
    plan = ws.plan(program).plan
    with ws.store.reading() as session:
        return {row[key]: row.get("name") or row[key] for table, key in payee_tables(plan)
                for row in current_rows(session, program, table) if row.get(key)}


def program_info(ws: Workspace, program: str) -> dict:
    plan = ws.plan(program).plan
    config = ws.program(program)
    return {"program": program, "title": plan.title or program, "currency": plan.currency,
            "registrations": bool(config.registrations),
            "enrollments": bool(config.enrollments)}


def posted_run(ws: Workspace, program: str) -> Run | None:
    with ws.store.reading() as session:
        return session.scalars(select(Run).where(
            Run.program == program, Run.status == "posted").order_by(Run.id.desc())).first()
