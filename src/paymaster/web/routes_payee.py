"""Pages of partners and reps: my programs, lead registration, enrollment and disputes
(status, statements and leaderboards are in routes_results). Each page has a JSON twin.

Access: a partner or rep sees only its own payee, in the programs it takes part in; the
payee of anything it writes is always its own (never a form field). Office users may
view any payee (status and lists with ?payee=ID, statements at /statement/{payee}).
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from paymaster.calendar import business_days_between
from paymaster.errors import PaymasterError, Problem, Word
from paymaster.plan.words import measure_labels, word
from paymaster.services import disputes, enrollments, ledger, registrations, status
from paymaster.services.inputs import find_row
from paymaster.services.registrations import WorkflowError
from paymaster.store.models import AuditEvent, Enrollment, Registration
from paymaster.web import render
from paymaster.web.deps import RecordId, Csrf, User, Ws
from paymaster.web.i18n import N_
from paymaster.web.security import Forbidden, Principal
from paymaster.workspace import Workspace
from paymaster.web.payee_access import (
    Form,
    PARTNER_ACTIONS,
    RESERVED,
    acting_payee,
    require_workflow,
    posted_run,
    program_info,
    payee_in_scope,
    memberships,
)

router = APIRouter()


# ================================================================ 1. my programs
def me_data(ws: Workspace, user: Principal, locale: str = "en") -> dict:
    found = ({p: ["office"] for p in ws.config.programs} if user.is_office
             else memberships(ws, user.payee_id) if user.payee_id else {})
    programs = []
    for program, why in found.items():
        info = program_info(ws, program)
        base = f"/programs/{quote(program)}"
        links = {"status": f"{base}/status", "statement": f"{base}/statement",
                 "leaderboards": f"{base}/leaderboards", "disputes": f"{base}/disputes"}
        if info["registrations"]:
            links["registrations"] = f"{base}/registrations"
        if info["enrollments"]:
            links["enrollments"] = f"{base}/enrollments"
        title = word(ws.plan(program).plan, info["title"], locale)
        programs.append(info | {"title": title, "appears_in": why, "links": links})
        if not user.is_office and user.payee_id:
            # the program's home, as its status page has it (the office has no home)
            programs[-1]["home"] = status.payee_status(ws, program, user.payee_id,
                                                       locale)["home"]
    return {"account": user.as_json(), "programs": programs}


@router.get("/me", include_in_schema=False)
def me_page(request: Request, user: User, ws: Ws) -> Response:
    return render.html(request, "payee_me.html", user,
                       **me_data(ws, user, render.language(request, user)))


@router.get("/api/me/programs", tags=["payee"])
def me_api(request: Request, user: User, ws: Ws) -> Response:
    """The programs the user's payee takes part in, with links to their pages and, for a
    partner or rep, each program's home (the figures its status page starts with)."""
    return render.json(me_data(ws, user, render.language(request, user)))


# ================================================================ 2. lead registration
def registration_form(ws: Workspace, program: str) -> list[dict]:
    """The fields a partner fills in, described for the form and for API clients."""
    s = registrations.setup(ws, program)
    spec = ws.plan(program).plan.inputs[s.table]
    fields = []
    for name, column in spec.columns.items():
        if name in RESERVED:
            continue
        fields.append({
            "name": name, "label": name.replace("_", " ").capitalize(), "type": column.type,
            "required": name in s.measure.required or not column.optional,
            "values": column.values, "min": column.min,
            "tax_id": s.measure.tax_ids.get(name) or column.tax_id,
        })
    return fields


def registration_problems(ws: Workspace, program: str, fields: dict[str, Any], *,
                          partial: bool = False) -> dict[str, str]:
    """What is wrong with each field, before anything is submitted. `partial` checks only
    the fields given (as the partner types), not the missing ones."""
    errors: dict[str, str] = {}
    for field in registration_form(ws, program):
        name = field["name"]
        value = fields.get(name)
        value = "" if value is None else str(value).strip()
        if not value:
            if field["required"] and not partial:
                errors[name] = FieldError(N_("This field is required."))
            continue
        if field["tax_id"] and not _valid_tax_id(field["tax_id"], value):
            errors[name] = FieldError(N_("Not a valid %(kind)s (check the digits)."),
                                      kind=field["tax_id"].split(".")[-1].upper())
        elif field["type"] == "integer":
            low = field["min"]
            if not re.fullmatch(r"[+-]?\d+", value) or (low is not None and int(value) < low):
                errors[name] = FieldError(N_("A whole number of at least %(low)s."),
                                          low=low if low is not None else 0)
        elif field["values"] and value not in field["values"]:
            errors[name] = FieldError(N_("Choose one of: %(values)s."),
                                      values=", ".join(field["values"]))
    return errors


class FieldError(str):
    """A form field's error: English text (the API's), and its message and figures for
    the page to say it in the reader's language (`Formatter.field_error`)."""

    def __new__(cls, message: str, **values: Any) -> FieldError:
        text = super().__new__(cls, message % values if values else message)
        text.message, text.values = message, values
        return text


def _valid_tax_id(kind: str, value: str) -> bool:
    """python-stdnum's check of a tax id kind such as pl.nip (checksum included)."""
    module = importlib.import_module(f"stdnum.{kind}")
    return bool(module.is_valid(value))


def _sla(due_on: dt.date | None, today: dt.date, country: str) -> dict | None:
    """Business days left to decide, or how late the decision is."""
    if due_on is None:
        return None
    if today <= due_on:
        return {"overdue": False, "business_days": business_days_between(today, due_on, country)}
    return {"overdue": True, "business_days": business_days_between(due_on, today, country)}


def _registration(reg: Registration, today: dt.date, country: str) -> dict:
    pending = reg.status == "submitted"
    sla = _sla(reg.due_on, today, country) if pending else None
    return {
        "registration_id": reg.registration_id, "status": reg.status, "reason": reg.reason,
        "submitted_at": reg.submitted_at, "due_on": reg.due_on, "decided_at": reg.decided_at,
        "overdue": bool(sla and sla["overdue"]), "sla": sla,
        "customer_name": reg.data.get("customer_name"),
        "customer_nip": reg.data.get("customer_nip"), "family": reg.data.get("family"),
        "plan": reg.data.get("plan"), "licences": reg.data.get("licences"), "data": reg.data,
    }


def registrations_data(ws: Workspace, user: Principal, program: str,
                       payee: str | None = None) -> dict:
    require_workflow(ws, program, "registrations")
    partner = payee_in_scope(ws, user, program, payee)
    country = registrations.setup(ws, program).country
    today = ws.today(program)
    rows = [_registration(r, today, country)
            for r in registrations.listing(ws, program, partner)]
    return program_info(ws, program) | {
        "payee_id": partner, "today": today, "registrations": rows,
        "confirm_within_days": registrations.confirm_within_days(ws, program),
        "fields": registration_form(ws, program),
    }


def _own_registration(ws: Workspace, user: Principal, program: str, registration_id: str,
                      payee: str | None = None) -> dict:
    data = registrations_data(ws, user, program, payee)
    for row in data["registrations"]:
        if row["registration_id"] == registration_id:
            return row
    # Another partner's registration is as unknown as one that does not exist.
    raise WorkflowError(Problem.of(N_("unknown registration '%(registration)s'"),
                                   registration=registration_id))


def _register(ws: Workspace, user: Principal, program: str, fields: dict[str, Any]) -> dict:
    partner = acting_payee(ws, user, program)
    require_workflow(ws, program, "registrations")
    known = {f["name"] for f in registration_form(ws, program)}
    unknown = [k for k in fields if k not in known and k not in RESERVED]
    errors = registration_problems(ws, program, fields)
    if errors or unknown:
        raise WorkflowError([Problem.of(error.message, field=name, **error.values)
                             for name, error in errors.items()]
                            + [Problem.of(N_("unknown field '%(field)s'"), field=k)
                               for k in unknown])
    clean = {k: (None if v is None else str(v)) for k, v in fields.items() if k in known}
    reg = registrations.register(ws, program, clean | {"partner_id": partner},
                                 actor=user.username)
    return _registration(reg, ws.today(program), registrations.setup(ws, program).country)


@router.get("/programs/{program}/registrations", include_in_schema=False)
def registrations_page(request: Request, user: User, ws: Ws, program: str,
                       payee: str | None = None, registered: str | None = None) -> Response:
    data = registrations_data(ws, user, program, payee)
    result = next((r for r in data["registrations"] if r["registration_id"] == registered),
                  None)
    return render.html(request, "payee_registrations.html", user, **data, result=result,
                       values={}, errors={}, problems=[])


@router.post("/programs/{program}/registrations", include_in_schema=False,
             dependencies=[Csrf])
def registrations_post(request: Request, user: User, ws: Ws, program: str,
                       form: Form) -> Response:
    try:
        reg = _register(ws, user, program, form)
    except Forbidden:
        raise
    except PaymasterError as err:
        data = registrations_data(ws, user, program)
        names = {f["name"] for f in data["fields"]}
        # the field checks again, as messages the page says in the reader's language
        checked = registration_problems(ws, program, form)
        errors = {p.field: checked.get(p.field) or p.message.partition(": ")[2] or p.message
                  for p in err.problems if p.field in names}
        general = [p for p in err.problems if p.field not in names]
        return render.html(request, "payee_registrations.html", user, status=400, **data,
                           result=None, values=form, errors=errors, problems=general)
    return RedirectResponse(f"/programs/{quote(program)}/registrations?registered="
                            f"{quote(reg['registration_id'])}", status_code=303)


@router.post("/programs/{program}/registrations/validate", include_in_schema=False,
             dependencies=[Csrf])
def registrations_validate(request: Request, user: User, ws: Ws, program: str,
                           form: Form) -> Response:
    """The inline check as the partner types: each field's message, swapped in by HTMX
    next to its field (out of band)."""
    acting_payee(ws, user, program)
    require_workflow(ws, program, "registrations")
    errors = registration_problems(ws, program, form, partial=True)
    fields = [f["name"] for f in registration_form(ws, program)]
    return render.html(request, "payee_registration_errors.html", user, fields=fields,
                       errors=errors)


@router.get("/api/programs/{program}/registrations", tags=["payee"])
def registrations_api(user: User, ws: Ws, program: str, payee: str | None = None) -> Response:
    """The partner's lead registrations with their state and confirmation deadline."""
    return render.json(registrations_data(ws, user, program, payee))


@router.get("/api/programs/{program}/registrations/{registration_id}", tags=["payee"])
def registration_api(user: User, ws: Ws, program: str, registration_id: str,
                     payee: str | None = None) -> Response:
    return render.json(_own_registration(ws, user, program, registration_id, payee))


@router.post("/api/programs/{program}/registrations", tags=["payee"], dependencies=[Csrf])
def registrations_api_post(user: User, ws: Ws, program: str,
                           fields: Annotated[dict[str, str | int | None], Body()]) -> Response:
    """Register a lead (the partner is the user's own); the answer is its state: accepted,
    submitted (awaiting the owner) or rejected with the reason."""
    return render.json(_register(ws, user, program, fields), 201)


# ================================================================ 3. enrollment
def _enrollment(e: Enrollment, today: dt.date, country: str) -> dict:
    sla = _sla(e.due_on, today, country) if e.status == "submitted" else None
    return {"enrollment_id": e.enrollment_id, "phase": e.phase, "status": e.status,
            "created_at": e.created_at, "submitted_on": e.submitted_on,
            "effective_from": e.effective_from, "due_on": e.due_on,
            "decided_at": e.decided_at, "reason": e.reason,
            "overdue": bool(sla and sla["overdue"]), "sla": sla,
            "actions": [a for a in PARTNER_ACTIONS if e.status in enrollments.MOVES[a][0]]}


def _partner_country(ws: Workspace, program: str, partner: str) -> str:
    with ws.store.reading() as session:
        row = find_row(session, program, "partners", "partner_id", partner) or {}
    return row.get("country") or "US"


def enrollments_data(ws: Workspace, user: Principal, program: str,
                     payee: str | None = None) -> dict:
    require_workflow(ws, program, "enrollments")
    partner = payee_in_scope(ws, user, program, payee)
    today = ws.today(program)
    country = _partner_country(ws, program, partner)
    phases = [{"phase": str(getattr(p, "phase", p.id)), "id": p.id, "start": p.start,
               "end": p.end, "enrollment_deadline": getattr(p, "enrollment_deadline", None)}
              for p in ws.plan(program).plan.phases]
    return program_info(ws, program) | {
        "payee_id": partner, "today": today, "phases": phases,
        "enrollments": [_enrollment(e, today, country)
                        for e in enrollments.listing(ws, program, partner)]}


def _own_enrollment(ws: Workspace, user: Principal, program: str, enrollment_id: str) -> None:
    partner = acting_payee(ws, user, program)
    if not any(e.enrollment_id == enrollment_id
               for e in enrollments.listing(ws, program, partner)):
        raise WorkflowError(Problem.of(N_("unknown enrollment '%(enrollment)s'"),
                                       enrollment=enrollment_id))


def _create_enrollment(ws: Workspace, user: Principal, program: str, phase: str,
                       effective_from: dt.date, submit: bool) -> dict:
    require_workflow(ws, program, "enrollments")
    partner = acting_payee(ws, user, program)
    e = enrollments.create(ws, program, partner, phase, effective_from, actor=user.username,
                           submit=submit)
    return _enrollment(e, ws.today(program), _partner_country(ws, program, partner))


def _move_enrollment(ws: Workspace, user: Principal, program: str, enrollment_id: str,
                     action: str) -> dict:
    require_workflow(ws, program, "enrollments")
    if action not in PARTNER_ACTIONS:
        raise Forbidden(Problem.of(N_("a partner may only %(actions)s an application"),
                                   actions=tuple(Word(a) for a in PARTNER_ACTIONS)))
    _own_enrollment(ws, user, program, enrollment_id)
    e = enrollments.move(ws, program, enrollment_id, action, actor=user.username)
    return _enrollment(e, ws.today(program), _partner_country(ws, program, e.partner_id))


def _parse_date(text: str | None, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat((text or "").strip())
    except ValueError:
        raise WorkflowError(Problem.of(N_("give a date as YYYY-MM-DD"), field=field)) from None


@router.get("/programs/{program}/enrollments", include_in_schema=False)
def enrollments_page(request: Request, user: User, ws: Ws, program: str,
                     payee: str | None = None) -> Response:
    return render.html(request, "payee_enrollments.html", user,
                       **enrollments_data(ws, user, program, payee), problems=[], values={})


@router.post("/programs/{program}/enrollments", include_in_schema=False, dependencies=[Csrf])
def enrollments_post(request: Request, user: User, ws: Ws, program: str,
                     form: Form) -> Response:
    try:
        _create_enrollment(ws, user, program, form.get("phase", ""),
                           _parse_date(form.get("effective_from"), "effective_from"),
                           submit=form.get("submit") in ("1", "on", "true"))
    except Forbidden:
        raise
    except PaymasterError as err:
        return render.html(request, "payee_enrollments.html", user, status=400,
                           **enrollments_data(ws, user, program), problems=err.problems,
                           values=form)
    return RedirectResponse(f"/programs/{quote(program)}/enrollments", status_code=303)


@router.post("/programs/{program}/enrollments/{enrollment_id}/{action}",
             include_in_schema=False, dependencies=[Csrf])
def enrollment_move_post(request: Request, user: User, ws: Ws, program: str,
                         enrollment_id: str, action: str) -> Response:
    try:
        _move_enrollment(ws, user, program, enrollment_id, action)
    except Forbidden:
        raise
    except PaymasterError as err:
        if any(p.message.startswith("unknown") for p in err.problems):
            raise
        return render.html(request, "payee_enrollments.html", user, status=400,
                           **enrollments_data(ws, user, program), problems=err.problems,
                           values={})
    return RedirectResponse(f"/programs/{quote(program)}/enrollments", status_code=303)


class EnrollmentIn(BaseModel):
    phase: str = Field(description="the phase number, e.g. 6")
    effective_from: dt.date
    submit: bool = Field(False, description="submit at once instead of saving a draft")


@router.get("/api/programs/{program}/enrollments", tags=["payee"])
def enrollments_api(user: User, ws: Ws, program: str, payee: str | None = None) -> Response:
    """The partner's enrollment applications, with the office's approval deadline."""
    return render.json(enrollments_data(ws, user, program, payee))


@router.post("/api/programs/{program}/enrollments", tags=["payee"], dependencies=[Csrf])
def enrollments_api_post(user: User, ws: Ws, program: str, body: EnrollmentIn) -> Response:
    """Save a draft application for the user's own partner (or submit it at once)."""
    return render.json(_create_enrollment(ws, user, program, body.phase, body.effective_from,
                                          body.submit), 201)


@router.post("/api/programs/{program}/enrollments/{enrollment_id}/{action}", tags=["payee"],
             dependencies=[Csrf])
def enrollment_move_api(user: User, ws: Ws, program: str, enrollment_id: str,
                        action: str) -> Response:
    """Submit or withdraw one of the partner's own applications."""
    return render.json(_move_enrollment(ws, user, program, enrollment_id, action))


# ================================================================ 7. disputes
def _history(session, program: str, dispute_id: int) -> list[dict]:
    events = session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "dispute", AuditEvent.entity_key == str(dispute_id),
        AuditEvent.program == program).order_by(AuditEvent.at, AuditEvent.id))
    return [{"at": e.at, "action": e.action, "actor": e.actor,
             "status": (e.after or {}).get("status"),
             "resolution": (e.after or {}).get("resolution")} for e in events]


def _dispute(d, history: list[dict]) -> dict:
    return {"id": d.id, "line_key": d.line_key, "details": d.details,
            "description": d.description, "status": d.status, "opened_at": d.opened_at,
            "opened_by": d.opened_by, "resolved_at": d.resolved_at,
            "resolution": d.resolution, "history": history}


def _dispute_lines(ws: Workspace, program: str, payee: str, locale: str = "en") -> list[dict]:
    """The payee's lines of the latest posted run: what a dispute can be about."""
    run = posted_run(ws, program)
    if run is None:
        return []
    labels = measure_labels(ws.plan(program).plan, locale)
    return [{"line_key": r.line_key, "period": r.period, "measure": r.measure,
             "label": labels.get(r.measure, r.measure), "source_id": r.source_id,
             "amount": r.amount, "earns": r.paid, "reason": r.reason}
            for r in ledger.run_lines(ws, run.id, payee)]


def disputes_data(ws: Workspace, user: Principal, program: str,
                  payee: str | None = None, locale: str = "en") -> dict:
    payee_id = payee_in_scope(ws, user, program, payee)
    cases = disputes.listing(ws, program, payee_id)
    with ws.store.reading() as session:
        rows = [_dispute(d, _history(session, program, d.id)) for d in cases]
    return program_info(ws, program) | {
        "payee_id": payee_id, "disputes": rows, "lines": _dispute_lines(ws, program, payee_id, locale),
        "dispute_fields": ws.program(program).dispute_fields}


def _own_dispute(ws: Workspace, user: Principal, program: str, dispute_id: int,
                 payee: str | None = None) -> dict:
    data = disputes_data(ws, user, program, payee)
    for row in data["disputes"]:
        if row["id"] == dispute_id:
            return data | {"dispute": row}
    raise WorkflowError(Problem.of(N_("unknown dispute %(dispute)s"), dispute=dispute_id))


def _open_dispute(ws: Workspace, user: Principal, program: str, description: str,
                  line_key: str | None, details: dict[str, str]) -> dict:
    payee = acting_payee(ws, user, program)
    if line_key and line_key not in {x["line_key"] for x in _dispute_lines(ws, program, payee)}:
        raise WorkflowError(Problem.of(N_("no payout line '%(key)s' for %(payee)s"),
                                       field="line_key", key=line_key, payee=payee,
                                       hint=N_("choose one of your statement's lines")))
    fields = ws.program(program).dispute_fields
    d = disputes.open_case(ws, program, payee, description, actor=user.username,
                           line_key=line_key or None,
                           details=None if line_key else {k: details.get(k, "") for k in fields})
    with ws.store.reading() as session:
        return _dispute(d, _history(session, program, d.id))


@router.get("/programs/{program}/disputes", include_in_schema=False)
def disputes_page(request: Request, user: User, ws: Ws, program: str,
                  payee: str | None = None, line: str | None = None) -> Response:
    # ?line=KEY: a statement line's "dispute" link opens the form with that line chosen.
    values = {"kind": "line", "line_key": line} if line else {}
    return render.html(request, "payee_disputes.html", user,
                       **disputes_data(ws, user, program, payee, render.language(request, user)),
                       problems=[], values=values)


@router.post("/programs/{program}/disputes", include_in_schema=False, dependencies=[Csrf])
def disputes_post(request: Request, user: User, ws: Ws, program: str, form: Form) -> Response:
    line_key = (form.get("line_key") or None) if form.get("kind", "line") == "line" else None
    details = {k.removeprefix("detail_"): v for k, v in form.items() if k.startswith("detail_")}
    try:
        if form.get("kind", "line") == "line" and not line_key:
            raise WorkflowError(Problem.of(N_("choose the payout line the dispute is about"),
                                        field="line_key"))
        d = _open_dispute(ws, user, program, form.get("description", ""), line_key, details)
    except Forbidden:
        raise
    except PaymasterError as err:
        return render.html(request, "payee_disputes.html", user, status=400,
                           **disputes_data(ws, user, program, None,
                                           render.language(request, user)), problems=err.problems,
                           values=form)
    return RedirectResponse(f"/programs/{quote(program)}/disputes/{d['id']}", status_code=303)


@router.get("/programs/{program}/disputes/{dispute_id}", include_in_schema=False)
def dispute_page(request: Request, user: User, ws: Ws, program: str, dispute_id: RecordId,
                 payee: str | None = None) -> Response:
    return render.html(request, "payee_dispute.html", user,
                       **_own_dispute(ws, user, program, dispute_id, payee))


class DisputeIn(BaseModel):
    description: str = Field(description="what is wrong")
    line_key: str | None = Field(None, description="a statement line's key; omit for a "
                                                   "missing record")
    details: dict[str, str] = Field(default_factory=dict,
                                    description="a missing record: the program's dispute_fields")


@router.get("/api/programs/{program}/disputes", tags=["payee"])
def disputes_api(user: User, ws: Ws, program: str, payee: str | None = None) -> Response:
    """The payee's disputes with their history, and the lines a new one can be about."""
    return render.json(disputes_data(ws, user, program, payee))


@router.get("/api/programs/{program}/disputes/{dispute_id}", tags=["payee"])
def dispute_api(user: User, ws: Ws, program: str, dispute_id: RecordId,
                payee: str | None = None) -> Response:
    return render.json(_own_dispute(ws, user, program, dispute_id, payee)["dispute"])


@router.post("/api/programs/{program}/disputes", tags=["payee"], dependencies=[Csrf])
def disputes_api_post(user: User, ws: Ws, program: str, body: DisputeIn) -> Response:
    """Open a dispute for the user's own payee: on a payout line, or a missing record."""
    return render.json(_open_dispute(ws, user, program, body.description, body.line_key,
                                     body.details), 201)
