"""Disputes: a payee questions a payout line or reports a missing record; the office
accepts (with a data correction, so the next run pays the difference) or rejects with a
reason. The dispute row keeps the outcome; the audit log keeps its history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from paymaster.errors import N_, Problem, Word
from paymaster.limits import check_text
from paymaster.services import audit, imports, notifications
from paymaster.services.registrations import WorkflowError
from paymaster.store.models import Dispute, Run, RunLine

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

STATE = ("program", "payee_id", "line_key", "details", "description", "status", "resolution",
         "resolved_by", "correction_import")


def open_case(ws: Workspace, program: str, payee_id: str, description: str, *, actor: str,
              line_key: str | None = None, details: dict[str, str] | None = None,
              at: dt.datetime | None = None) -> Dispute:
    details = {k: v for k, v in (details or {}).items() if v not in (None, "")}
    _check_texts(ws, description=description, details=details)
    with ws.store.session() as session:
        if line_key is not None:
            known = session.scalars(select(RunLine.id).join(Run, Run.id == RunLine.run_id).where(
                Run.program == program, RunLine.line_key == line_key,
                RunLine.payee_id == payee_id).limit(1)).first()
            if known is None:
                raise WorkflowError(Problem.of(
                    N_("no payout line '%(key)s' for %(payee)s"), field="line", key=line_key,
                    payee=payee_id, hint=N_("choose one of your statement's lines")))
        else:
            missing = [f for f in ws.program(program).dispute_fields if f not in details]
            if missing:
                raise WorkflowError(Problem.of(
                    N_("a missing-record case needs: %(fields)s"), fields=tuple(missing),
                    cli_hint="give each as --detail NAME=VALUE"))
        if not description.strip():
            raise WorkflowError(Problem.of(N_("say what is wrong"), field="description"))
        dispute = Dispute(program=program, payee_id=payee_id, line_key=line_key,
                          details=details, description=description.strip(), status="open",
                          opened_at=at or ws.now(program), opened_by=actor)
        session.add(dispute)
        session.flush()
        audit.record(session, actor=actor, action="open", entity="dispute",
                     key=str(dispute.id), program=program,
                     after=audit.row_state(dispute, STATE), at=dispute.opened_at)
        return dispute


def resolve(ws: Workspace, program: str, dispute_id: int, *, accept: bool, resolution: str,
            actor: str, correction: tuple[str, Path] | None = None,
            as_of: dt.date | None = None) -> Dispute:
    """Close a case. An accepted case may bring a correction file (table, path), imported
    in the same step; the next run then pays (or claws back) the difference."""
    if not resolution.strip():
        raise WorkflowError(Problem.of(N_("say why: a resolution needs a reason"),
                                       cli_hint="give --reason TEXT"))
    _check_texts(ws, resolution=resolution)
    if correction is not None and not accept:
        raise WorkflowError(Problem.of(N_("a rejected case takes no correction")))
    with ws.store.session() as session:  # refuse before importing anything
        _open(session, program, dispute_id)
    result = None
    if correction is not None:
        table, path = correction
        result = imports.import_file(ws, program, table, path, actor=actor, as_of=as_of)
    with ws.store.session() as session:
        dispute = _open(session, program, dispute_id)
        before = audit.row_state(dispute, STATE)
        dispute.status = "accepted" if accept else "rejected"
        dispute.resolution, dispute.resolved_by = resolution.strip(), actor
        dispute.resolved_at = ws.now(program)
        dispute.correction_import = result.import_id if result else None
        audit.record(session, actor=actor, action="accept" if accept else "reject",
                     entity="dispute", key=str(dispute_id), program=program, before=before,
                     after=audit.row_state(dispute, STATE))
        notifications.dispute_answered(ws, session, dispute)
        return dispute


def _check_texts(ws: Workspace, *, details: dict | None = None, **free_text: str) -> None:
    """Free text up to the description limit, each detail (an RMA number, an id) up to
    the text limit; no control characters (NUL cannot even be stored in PostgreSQL)."""
    limits = ws.config.limits
    for field, value in free_text.items():
        check_text(value, field, limits.description_chars, limit_name="description_chars",
                   error=WorkflowError)
    for name, value in (details or {}).items():
        check_text(str(name), "detail name", limits.text_chars, limit_name="text_chars",
                   error=WorkflowError)
        check_text(str(value), name, limits.text_chars, limit_name="text_chars",
                   error=WorkflowError)


def listing(ws: Workspace, program: str, payee_id: str | None = None,
            status: str | None = None) -> list[Dispute]:
    with ws.store.reading() as session:
        query = select(Dispute).where(Dispute.program == program)
        if payee_id:
            query = query.where(Dispute.payee_id == payee_id)
        if status:
            query = query.where(Dispute.status == status)
        return list(session.scalars(query.order_by(Dispute.id)))


def _open(session, program: str, dispute_id: int) -> Dispute:
    dispute = _get(session, program, dispute_id)
    if dispute.status != "open":
        raise WorkflowError(Problem.of(N_("dispute %(dispute)s is %(status)s already"),
                                       dispute=dispute_id, status=Word(dispute.status)))
    return dispute


def _get(session, program: str, dispute_id: int) -> Dispute:
    dispute = session.scalars(select(Dispute).where(
        Dispute.program == program, Dispute.id == dispute_id).with_for_update()).one_or_none()
    if dispute is None:
        raise WorkflowError(Problem.of(N_("unknown dispute %(dispute)s"), dispute=dispute_id,
                                       cli_hint="list them with: paymaster dispute list PROGRAM"))
    return dispute


