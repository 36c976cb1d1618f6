"""Lead registration (Generuj Leady): submit, check automatically, confirm or reject.

The automatic checks are the plan's own screening measure, run by the engine on the
store's data, so a registration is judged exactly as the payout run will judge it.
Decisions about one opportunity (customer and product family) are serialised by a lock
on its row: on PostgreSQL `SELECT ... FOR UPDATE`, on SQLite the database write lock; so
of many simultaneous registrations of one lead, exactly one wins.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from paymaster.calendar import add_business_days
from paymaster.errors import PaymasterError, Problem, suggest
from paymaster.limits import check_text
from paymaster.plan.model import Plan, Screening
from paymaster.services import audit, queues
from paymaster.services.calc import calculate_stored
from paymaster.services.inputs import current, registration_row
from paymaster.store.models import Opportunity, Registration

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

STATE = ("program", "registration_id", "partner_id", "status", "reason", "submitted_at",
         "due_on", "decided_at", "decided_by")


class WorkflowError(PaymasterError):
    kind = "workflow"


@dataclass(frozen=True)
class Setup:
    table: str
    measure: Screening
    key: list[str]          # the opportunity: the first-wins rule's key
    first_wins_rule: str
    country: str


def setup(ws: Workspace, program: str) -> Setup:
    config = ws.program(program)
    plan = ws.plan(program).plan
    if not config.registrations:
        raise WorkflowError(Problem(f"program '{program}' takes no registrations",
                                    hint="set `registrations: TABLE` for it in paymaster.yaml"))
    measure = next((m for m in plan.measures
                    if isinstance(m, Screening) and m.source == config.registrations), None)
    if measure is None:
        raise WorkflowError(Problem(
            f"program '{program}' has no screening measure on '{config.registrations}'"))
    rule = next((r for r in measure.rules if r.first_wins is not None), None)
    key = list(rule.first_wins.key) if rule else [measure.source_id]
    return Setup(config.registrations, measure, key, rule.name if rule else "",
                 plan.country or "PL")


def register(ws: Workspace, program: str, fields: dict[str, str | None], *, actor: str,
             at: dt.datetime | None = None) -> Registration:
    """Take one registration; it ends submitted (awaiting the owner), accepted (with
    auto_accept) or rejected with the first failing check as its reason."""
    s = setup(ws, program)
    spec = ws.plan(program).plan.inputs[s.table]
    fields = {k: (v.strip() if isinstance(v, str) and v.strip() else None)
              for k, v in fields.items()}
    _check_fields(fields, spec, s.table)
    for name, value in fields.items():
        check_text(None if value is None else str(value), name, ws.config.limits.text_chars,
                   limit_name="text_chars", error=WorkflowError)
    partner = fields.pop("partner_id", None)
    if not partner:
        raise WorkflowError(Problem("partner_id is required", field="partner_id"))
    reg_id = fields.pop("registration_id", None)
    for reserved in ("submitted_at", "decision", "decision_reason"):
        fields.pop(reserved, None)
    with ws.store.session() as session:
        if partner not in _partner_ids(session, program):
            raise WorkflowError(Problem(f"unknown partner '{partner}'", field="partner_id",
                                        hint="import the partner first (paymaster import)"))
        opportunity = "|".join(str(fields.get(k) or "") for k in s.key)
        _lock(session, program, opportunity)
        # The clock is read under the lock, so submission order is the lock's order.
        submitted = at or ws.now()
        if reg_id and session.scalars(select(Registration).where(
                Registration.program == program,
                Registration.registration_id == reg_id)).first() is not None:
            raise WorkflowError(Problem(f"registration {reg_id} exists already"))
        reg = Registration(
            program=program, registration_id=reg_id or f"new-{uuid.uuid4()}",
            partner_id=partner,
            opportunity=opportunity, submitted_at=submitted, data=fields, status="submitted",
            due_on=add_business_days(submitted.date(), ws.program(program).confirm_within_days,
                                     s.country))
        session.add(reg)
        session.flush()
        if not reg_id:  # numbered by the database, so parallel submissions never collide
            reg.registration_id = reg_id = f"REG-{reg.id:06d}"
            session.flush()
        reason = _screen(ws, session, program, reg)
        if reason:
            _set(reg, "rejected", reason, "paymaster", submitted)
        elif ws.program(program).auto_accept:
            _set(reg, "accepted", None, "paymaster (auto_accept)", submitted)
            _supersede(session, s, reg, actor, submitted)
        audit.record(session, actor=actor, action="register", entity="registration",
                     key=reg_id, program=program, after=audit.row_state(reg, STATE) | {
                         "data": fields}, at=submitted)
        return reg


def decide(ws: Workspace, program: str, registration_id: str, *, accept: bool, actor: str,
           reason: str | None = None, at: dt.datetime | None = None) -> Registration:
    """The owner's decision. Acceptance re-runs the checks: a registration that now fails
    one is rejected with that reason instead. Accepting an earlier registration rejects a
    later accepted one of the same opportunity by another partner (first wins)."""
    check_text(reason, "reason", ws.config.limits.description_chars,
               limit_name="description_chars", error=WorkflowError)
    s = setup(ws, program)
    when = at or ws.now()
    with ws.store.session() as session:
        reg = _get(session, program, registration_id)
        _lock(session, program, reg.opportunity)
        session.refresh(reg)
        if reg.status != "submitted":
            raise WorkflowError(Problem(
                f"registration {registration_id} is {reg.status} already"
                + (f" ({reg.reason})" if reg.reason else ""),
                hint="only a submitted registration can be accepted or rejected"))
        before = audit.row_state(reg, STATE)
        if not accept:
            if not reason:
                raise WorkflowError(Problem("a rejection needs a reason", field="reason",
                                            hint="give --reason TEXT"))
            _set(reg, "rejected", reason, actor, when)
        else:
            failed = _screen(ws, session, program, reg)
            if failed:
                _set(reg, "rejected", failed, actor, when)
            else:
                _set(reg, "accepted", None, actor, when)
                _supersede(session, s, reg, actor, when)
        audit.record(session, actor=actor, action="accept" if accept else "reject",
                     entity="registration", key=registration_id, program=program,
                     before=before, after=audit.row_state(reg, STATE), at=when)
        return reg


def overdue(ws: Workspace, program: str, on: dt.date | None = None) -> list[Registration]:
    return queues.overdue(ws, Registration, program, on)


def listing(ws: Workspace, program: str, partner: str | None = None) -> list[Registration]:
    return queues.listing(ws, Registration, program, partner,
                          (Registration.submitted_at, Registration.id))


# ---------------------------------------------------------------- internals
def _check_fields(fields: dict, spec, table: str) -> None:
    problems = [
        Problem(f"unknown field '{name}' for {table}", field=name,
                hint=suggest(name, spec.columns) or "fields: " + ", ".join(spec.columns))
        for name in fields if name not in spec.columns and name != "partner_id"
    ]
    if problems:
        raise WorkflowError(problems)


def _partner_ids(session: Session, program: str) -> set[str]:
    return {r.data.get("partner_id") for r in current(session, program, "partners").values()}


def _lock(session: Session, program: str, key: str) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(Opportunity).values(program=program, key=key)
                    .on_conflict_do_nothing(index_elements=["program", "key"]))
    session.execute(select(Opportunity.id).where(
        Opportunity.program == program, Opportunity.key == key).with_for_update())


def _get(session: Session, program: str, registration_id: str) -> Registration:
    reg = session.scalars(select(Registration).where(
        Registration.program == program,
        Registration.registration_id == registration_id)).one_or_none()
    if reg is None:
        raise WorkflowError(Problem(f"unknown registration '{registration_id}'",
                                    hint="list them with: paymaster registrations PROGRAM"))
    return reg


def _set(reg: Registration, status: str, reason: str | None, actor: str,
         when: dt.datetime) -> None:
    reg.status, reg.reason, reg.decided_by, reg.decided_at = status, reason, actor, when


def _screen(ws: Workspace, session: Session, program: str, reg: Registration) -> str | None:
    """The first failing check of the plan's screening for this registration, seen as
    undecided, against everything else in the store; None when it passes them all."""
    s = setup(ws, program)
    loaded = ws.plan(program)
    only = loaded.plan.model_copy(update={
        "measures": [s.measure], "budgets": [], "effect": None, "annual_budget": None,
        "inputs": _inputs_used(loaded.plan, s.measure)})
    row = registration_row(reg) | {"decision": None, "decision_reason": None}
    result = calculate_stored(ws, session, program, None,
                              plan=type(loaded)(only, loaded.source),
                              overrides={reg.registration_id: row})
    for ev in result.tables["evaluations"].to_pylist():
        if ev["evaluation"] == s.measure.id and ev["subject"] == reg.registration_id:
            return None if ev["passed"] else ev["reason"]
    raise WorkflowError(Problem(f"the screening produced no verdict for {reg.registration_id}",
                                hint="is the registration inside the program's scope?"))


def _inputs_used(plan: Plan, measure: Screening) -> dict:
    """The input tables a screening can touch: its source, every table its rules name,
    and what those reference; so a check does not read the sales."""
    text = measure.model_dump_json()
    used = {measure.source} | {t for t in plan.inputs if re.search(rf"\b{t}\b", text)}
    pending = list(used)
    while pending:
        for column in plan.inputs[pending.pop()].columns.values():
            target = (column.references or "").partition(".")[0]
            if target and target not in used:
                used.add(target)
                pending.append(target)
    return {name: spec for name, spec in plan.inputs.items() if name in used}


def _order(reg: Registration) -> tuple:
    """Submission order as the engine sees it (plan.expressions.natural_key): time, then
    the id's text before its trailing number, the number (S9 < S10, of any length), the id."""
    ident = reg.registration_id
    match = re.search(r"[0-9]+$", ident)
    if match is None:
        return reg.submitted_at, ident, True, 0, ident
    return reg.submitted_at, ident[:match.start()], False, int(match[0]), ident


def _supersede(session: Session, s: Setup, winner: Registration, actor: str,
               when: dt.datetime) -> None:
    later = session.scalars(select(Registration).where(
        Registration.program == winner.program, Registration.opportunity == winner.opportunity,
        Registration.status == "accepted", Registration.partner_id != winner.partner_id,
        Registration.id != winner.id)).all()
    for other in later:
        if _order(other) > _order(winner):
            before = audit.row_state(other, STATE)
            _set(other, "rejected", s.first_wins_rule, actor, when)
            audit.record(session, actor=actor, action="superseded", entity="registration",
                         key=other.registration_id, program=other.program, before=before,
                         after=audit.row_state(other, STATE)
                         | {"by": winner.registration_id}, at=when)
