"""The program office's three queues as views (services/queues.py): registrations to
accept or reject, enrollment applications to approve or reject, disputes to resolve.
Each row is a plain dict, the same for the page, its JSON twin and the CSV export."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from paymaster.errors import N_, Problem
from paymaster.services import disputes, enrollments, registrations
from paymaster.services.queues import QueueView, listing
from paymaster.services.registrations import WorkflowError
from paymaster.store.models import Enrollment, Registration

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

REG_FIELDS = ("registration_id", "partner_id", "status", "reason", "submitted_at", "due_on",
              "decided_at", "decided_by")
ENR_FIELDS = ("enrollment_id", "partner_id", "phase", "status", "submitted_on",
              "effective_from", "due_on", "decided_at", "decided_by", "reason")
DISPUTE_FIELDS = ("id", "payee_id", "line_key", "details", "description", "status",
                  "opened_at", "opened_by", "resolved_at", "resolved_by", "resolution",
                  "correction_import")


def _fields(obj: Any, names: tuple[str, ...]) -> dict:
    return {name: getattr(obj, name) for name in names}


def registration_row(reg: Registration, today: dt.date) -> dict:
    data = reg.data or {}
    return _fields(reg, REG_FIELDS) | {
        "customer_name": data.get("customer_name"), "customer_nip": data.get("customer_nip"),
        "family": data.get("family"), "plan": data.get("plan"), "licences": data.get("licences"),
        "overdue": reg.status == "submitted" and reg.due_on < today}


def enrollment_row(e: Enrollment, today: dt.date) -> dict:
    return _fields(e, ENR_FIELDS) | {
        "overdue": e.status == "submitted" and e.due_on is not None and e.due_on < today}


def dispute_row(d: Any, _today: dt.date | None = None) -> dict:
    return _fields(d, DISPUTE_FIELDS)


def waiting_first(row: dict) -> tuple:
    """Overdue first, then the rest waiting by due date, then decided ones."""
    waiting = row["status"] == "submitted"
    rank = 0 if row["overdue"] else 1 if waiting else 2
    return rank, (row["due_on"] or dt.date.max) if waiting else dt.date.max


def _resolve(ws: Workspace, program: str, item: str, accept: bool, actor: str,
             reason: str | None) -> Any:
    if not item.isdigit():
        raise WorkflowError(Problem.of(N_("'%(item)s' is not a case number"), field="ids",
                                       item=item))
    return disputes.resolve(ws, program, int(item), accept=accept, resolution=reason or "",
                            actor=actor)


REGISTRATIONS = QueueView(
    "registrations", "registration_id", "partner_id",
    states=("submitted", "accepted", "rejected"), waiting="submitted", day="submitted_at",
    text=("registration_id", "partner_id", "customer_name", "customer_nip", "family", "plan",
          "reason"),
    columns=("registration_id", "partner_id", "customer_name", "family", "licences",
             "submitted_at", "due_on", "status"),
    load=lambda ws, program, party, state: listing(
        ws, Registration, program, party, (Registration.submitted_at, Registration.id), state),
    row=registration_row,
    decide=lambda ws, program, item, accept, actor, reason: registrations.decide(
        ws, program, item, accept=accept, actor=actor, reason=reason),
    default_order=waiting_first,
    csv_columns=("registration_id", "partner_id", "customer_name", "customer_nip", "family",
                 "plan", "licences", "submitted_at", "due_on", "overdue", "status", "reason",
                 "decided_at", "decided_by"))

ENROLLMENTS = QueueView(
    "enrollments", "enrollment_id", "partner_id",
    states=("draft", "submitted", "approved", "rejected", "withdrawn"), waiting="submitted",
    day="submitted_on", text=("enrollment_id", "partner_id", "phase", "reason"),
    columns=("enrollment_id", "partner_id", "phase", "effective_from", "submitted_on",
             "due_on", "status"),
    load=lambda ws, program, party, state: listing(
        ws, Enrollment, program, party, (Enrollment.id,), state),
    row=enrollment_row,
    decide=lambda ws, program, item, accept, actor, reason: enrollments.move(
        ws, program, item, "approve" if accept else "reject", actor=actor, reason=reason),
    default_order=waiting_first,
    csv_columns=("enrollment_id", "partner_id", "phase", "effective_from", "submitted_on",
                 "due_on", "overdue", "status", "reason", "decided_at", "decided_by"))

DISPUTES = QueueView(
    "disputes", "id", "payee_id",
    states=("open", "accepted", "rejected"), waiting="open", day="opened_at",
    text=("id", "payee_id", "line_key", "details", "description", "resolution"),
    columns=("id", "payee_id", "opened_at", "status", "resolved_at"),
    load=lambda ws, program, party, state: disputes.listing(ws, program, party, state),
    row=dispute_row, decide=_resolve,
    # open cases first, oldest first; then the closed ones
    default_order=lambda row: (row["status"] != "open", row["id"]),
    reason_needed=(True, True),
    csv_columns=("id", "payee_id", "line_key", "description", "details", "status",
                 "opened_at", "opened_by", "resolution", "resolved_at", "resolved_by",
                 "correction_import"))

VIEWS = {view.name: view for view in (REGISTRATIONS, ENROLLMENTS, DISPUTES)}


def enabled(ws: Workspace, view: QueueView, program: str) -> bool:
    """Every program has disputes; registrations and enrollments when it takes them."""
    config = ws.program(program)
    return view.name == "disputes" or bool(getattr(config, view.name))
