"""Pages of partners and reps: my programs, lead registration, enrollment, live status,
statements, leaderboards and disputes. Each page has a JSON twin under /api.

Access: a partner or rep sees only its own payee, in the programs it takes part in; the
payee of anything it writes is always its own (never a form field). Office users may
view any payee (status and lists with ?payee=ID, statements at /statement/{payee}).
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import io
import re
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import exists, select

from paymaster.calendar import business_days_between
from paymaster.errors import PaymasterError, Problem
from paymaster.plan.model import OneOff, Plan, Ranking, Streak, TitleRank
from paymaster.services import disputes, enrollments, ledger, registrations, statements, status
from paymaster.services.audit import jsonable
from paymaster.services.inputs import current_rows, registration_rows
from paymaster.services.registrations import WorkflowError
from paymaster.services.statements_render import gate_text
from paymaster.store.models import AuditEvent, Enrollment, LedgerEntry, Registration, Run, RunLine
from paymaster.web import render
from paymaster.web.routes_auth import RecordId, Csrf, User, Ws
from paymaster.web.security import Forbidden, Principal
from paymaster.workspace import Workspace

router = APIRouter()

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
    with ws.store.session() as session:
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
            if any(row.get(key) == payee_id for table, key in _payee_tables(plan)
                   for row in current_rows(session, program, table)):
                why.append("payees")
            if why:
                found[program] = why
    return found


def _payee_tables(plan: Plan) -> list[tuple[str, str]]:
    """Input tables listing payees: keyed by one column that a measure pays."""
    payees = {getattr(m, "payee", None) for m in plan.measures}
    return [(name, spec.key[0]) for name, spec in plan.inputs.items()
            if len(spec.key) == 1 and spec.key[0] in payees]


def _member(ws: Workspace, user: Principal, program: str) -> None:
    """Office users see every program; a payee user only those it takes part in."""
    ws.program(program)  # an unknown program is a 404
    if user.is_office:
        return
    if not user.payee_id or program not in memberships(ws, user.payee_id):
        raise Forbidden(f"{user.username} takes no part in {program}")


def _scope(ws: Workspace, user: Principal, program: str, payee: str | None) -> str:
    """The payee a page shows: a payee user's own; an office user names one."""
    _member(ws, user, program)
    if user.is_office:
        if not payee:
            raise WorkflowError(Problem("choose a payee", field="payee",
                                        hint="add ?payee=ID to the address"))
        return payee
    if payee and payee != user.payee_id:
        raise Forbidden(f"{user.username} may not see payee {payee}")
    return user.payee_id


def _actor(ws: Workspace, user: Principal, program: str) -> str:
    """The payee a write is for: always the user's own; office accounts act elsewhere."""
    user.require("partner", "rep")
    _member(ws, user, program)
    return user.payee_id


def _needs(ws: Workspace, program: str, workflow: str) -> None:
    if not getattr(ws.program(program), workflow):
        raise WorkflowError(Problem(f"unknown page: program '{program}' has no {workflow}"))


def _names(ws: Workspace, program: str) -> dict[str, str]:
    plan = ws.plan(program).plan
    with ws.store.session() as session:
        return {row[key]: row.get("name") or row[key] for table, key in _payee_tables(plan)
                for row in current_rows(session, program, table) if row.get(key)}


def _program_info(ws: Workspace, program: str) -> dict:
    plan = ws.plan(program).plan
    config = ws.program(program)
    return {"program": program, "title": plan.title or program, "currency": plan.currency,
            "registrations": bool(config.registrations),
            "enrollments": bool(config.enrollments)}


def _posted_run(ws: Workspace, program: str) -> Run | None:
    with ws.store.session() as session:
        return session.scalars(select(Run).where(
            Run.program == program, Run.status == "posted").order_by(Run.id.desc())).first()


# ================================================================ 1. my programs
def me_data(ws: Workspace, user: Principal) -> dict:
    found = ({p: ["office"] for p in ws.config.programs} if user.is_office
             else memberships(ws, user.payee_id) if user.payee_id else {})
    programs = []
    for program, why in found.items():
        info = _program_info(ws, program)
        base = f"/programs/{quote(program)}"
        links = {"status": f"{base}/status", "statement": f"{base}/statement",
                 "leaderboards": f"{base}/leaderboards", "disputes": f"{base}/disputes"}
        if info["registrations"]:
            links["registrations"] = f"{base}/registrations"
        if info["enrollments"]:
            links["enrollments"] = f"{base}/enrollments"
        programs.append(info | {"appears_in": why, "links": links})
    return {"account": user.as_json(), "programs": programs}


@router.get("/me", include_in_schema=False)
def me_page(request: Request, user: User, ws: Ws) -> Response:
    return render.html(request, "payee_me.html", user, **me_data(ws, user))


@router.get("/api/me/programs", tags=["payee"])
def me_api(user: User, ws: Ws) -> Response:
    """The programs the user's payee takes part in, with links to their pages."""
    return render.json(me_data(ws, user))


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
                errors[name] = "This field is required."
            continue
        if field["tax_id"] and not _valid_tax_id(field["tax_id"], value):
            errors[name] = f"Not a valid {field['tax_id'].split('.')[-1].upper()} " \
                           "(check the digits)."
        elif field["type"] == "integer":
            low = field["min"]
            if not re.fullmatch(r"[+-]?\d+", value) or (low is not None and int(value) < low):
                errors[name] = f"A whole number of at least {low if low is not None else 0}."
        elif field["values"] and value not in field["values"]:
            errors[name] = "Choose one of: " + ", ".join(field["values"]) + "."
    return errors


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
    _needs(ws, program, "registrations")
    partner = _scope(ws, user, program, payee)
    country = registrations.setup(ws, program).country
    today = ws.today()
    rows = [_registration(r, today, country)
            for r in registrations.listing(ws, program, partner)]
    return _program_info(ws, program) | {
        "payee_id": partner, "today": today, "registrations": rows,
        "confirm_within_days": ws.program(program).confirm_within_days,
        "fields": registration_form(ws, program),
    }


def _own_registration(ws: Workspace, user: Principal, program: str, registration_id: str,
                      payee: str | None = None) -> dict:
    data = registrations_data(ws, user, program, payee)
    for row in data["registrations"]:
        if row["registration_id"] == registration_id:
            return row
    # Another partner's registration is as unknown as one that does not exist.
    raise WorkflowError(Problem(f"unknown registration '{registration_id}'"))


def _register(ws: Workspace, user: Principal, program: str, fields: dict[str, Any]) -> dict:
    partner = _actor(ws, user, program)
    _needs(ws, program, "registrations")
    known = {f["name"] for f in registration_form(ws, program)}
    unknown = [k for k in fields if k not in known and k not in RESERVED]
    errors = registration_problems(ws, program, fields)
    if errors or unknown:
        raise WorkflowError([Problem(f"{name}: {text}", field=name)
                             for name, text in errors.items()]
                            + [Problem(f"unknown field '{k}'", field=k) for k in unknown])
    clean = {k: (None if v is None else str(v)) for k, v in fields.items() if k in known}
    reg = registrations.register(ws, program, clean | {"partner_id": partner},
                                 actor=user.username)
    return _registration(reg, ws.today(), registrations.setup(ws, program).country)


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
        errors = {p.field: p.message.partition(": ")[2] or p.message
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
    _actor(ws, user, program)
    _needs(ws, program, "registrations")
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
    with ws.store.session() as session:
        return next((r.get("country") for r in current_rows(session, program, "partners")
                     if r.get("partner_id") == partner), None) or "US"


def enrollments_data(ws: Workspace, user: Principal, program: str,
                     payee: str | None = None) -> dict:
    _needs(ws, program, "enrollments")
    partner = _scope(ws, user, program, payee)
    today = ws.today()
    country = _partner_country(ws, program, partner)
    phases = [{"phase": str(getattr(p, "phase", p.id)), "id": p.id, "start": p.start,
               "end": p.end, "enrollment_deadline": getattr(p, "enrollment_deadline", None)}
              for p in ws.plan(program).plan.phases]
    return _program_info(ws, program) | {
        "payee_id": partner, "today": today, "phases": phases,
        "enrollments": [_enrollment(e, today, country)
                        for e in enrollments.listing(ws, program, partner)]}


def _own_enrollment(ws: Workspace, user: Principal, program: str, enrollment_id: str) -> None:
    partner = _actor(ws, user, program)
    if not any(e.enrollment_id == enrollment_id
               for e in enrollments.listing(ws, program, partner)):
        raise WorkflowError(Problem(f"unknown enrollment '{enrollment_id}'"))


def _create_enrollment(ws: Workspace, user: Principal, program: str, phase: str,
                       effective_from: dt.date, submit: bool) -> dict:
    _needs(ws, program, "enrollments")
    partner = _actor(ws, user, program)
    e = enrollments.create(ws, program, partner, phase, effective_from, actor=user.username,
                           submit=submit)
    return _enrollment(e, ws.today(), _partner_country(ws, program, partner))


def _move_enrollment(ws: Workspace, user: Principal, program: str, enrollment_id: str,
                     action: str) -> dict:
    _needs(ws, program, "enrollments")
    if action not in PARTNER_ACTIONS:
        raise Forbidden(f"a partner may only {' or '.join(PARTNER_ACTIONS)} an application")
    _own_enrollment(ws, user, program, enrollment_id)
    e = enrollments.move(ws, program, enrollment_id, action, actor=user.username)
    return _enrollment(e, ws.today(), _partner_country(ws, program, e.partner_id))


def _parse_date(text: str | None, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat((text or "").strip())
    except ValueError:
        raise WorkflowError(Problem("give a date as YYYY-MM-DD", field=field)) from None


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


# ================================================================ 4. live status
def status_data(ws: Workspace, user: Principal, program: str, payee: str | None,
                locale: str = "en") -> dict:
    payee_id = _scope(ws, user, program, payee)
    data = status.payee_status(ws, program, payee_id, locale)
    data["gates"].sort(key=lambda g: (g["period"], str(g["evaluation"])))
    return data | {"payee_name": _names(ws, program).get(payee_id, payee_id)}


def _csv(rows: list[dict], columns: list[str], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in jsonable(rows):
        writer.writerow([_cell(row.get(c)) for c in columns])
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # as in the engine's own CSV files
        return "true" if value else "false"
    return str(value)


STATUS_CSV = ["kind", "period", "measure", "subject", "amount", "paid", "reason", "value",
              "target", "band", "ratio", "required_ratio", "text"]


def _status_csv(data: dict) -> Response:
    rows = [{"kind": "line", "subject": line["source_id"], **line, "text": line["explanation"]}
            for line in data["lines"]]
    rows += [{"kind": "gate", "measure": g["evaluation"], "value": g["value"],
              "target": g["threshold"], **{k: g[k] for k in (
                  "period", "subject", "reason", "ratio", "required_ratio", "text")},
              "paid": g["passed"]} for g in data["gates"]]
    rows += [{"kind": "outstanding_rma", "subject": r.get("rma_number"),
              "value": r.get("trade_in_credit"), "text": r.get("sales_order")}
             for r in data["outstanding_rmas"]]
    rows += [{"kind": "rebate", "measure": r["measure"], "period": r["period"],
              "amount": r["would_earn"], "value": r["qualifying"], "paid": r["paid"],
              "reason": r["reason"], "text": "would earn"} for r in data["rebates"]]
    return _csv(rows, STATUS_CSV, f"status-{data['program']}-{data['payee_id']}.csv")


@router.get("/programs/{program}/status", include_in_schema=False)
def status_page(request: Request, user: User, ws: Ws, program: str,
                payee: str | None = None, format: str | None = None) -> Response:
    data = status_data(ws, user, program, payee, render.language(request, user))
    if format == "csv":
        return _status_csv(data)
    return render.html(request, "payee_status.html", user, **data)


@router.get("/api/programs/{program}/status", tags=["payee"])
def status_api(request: Request, user: User, ws: Ws, program: str, payee: str | None = None,
               format: str | None = None) -> Response:
    """Where the payee stands now (the engine on today's data): lines, gates with
    progress, outstanding RMAs, the next tier, the rebate it would earn. ?format=csv."""
    data = status_data(ws, user, program, payee, render.language(request, user))
    return _status_csv(data) if format == "csv" else render.json(data)


# ================================================================ 5. statements
def statement_data(ws: Workspace, user: Principal, program: str, payee: str,
                   period: str | None = None, locale: str = "en") -> dict:
    user.check_payee(payee)
    if not user.is_office:
        _member(ws, user, program)
    ws.program(program)
    statement = statements.build(ws, program, payee, period)
    everything = statement if not period else statements.build(ws, program, payee)
    plan = ws.plan(program).plan
    keys = _line_keys(ws, statement.run_id, payee, period)
    sources = _sources(ws, program, plan, statement.lines)
    lines = []
    for index, line in enumerate(statement.lines):
        lines.append({
            "line_key": keys[index] if index < len(keys) else None, "period": line.period,
            "measure": line.measure, "label": line.label, "source_id": line.source_id,
            "date": line.date, "amount": line.amount, "paid": line.paid, "reason": line.reason,
            "explanation": line.explanation,
            "source": sources.get((line.measure, line.source_id or "")),
        })
    gates = [{"period": g.period, "evaluation": g.evaluation, "subject": g.subject,
              "passed": g.passed, "value": g.value, "threshold": g.threshold, "ratio": g.ratio,
              "required_ratio": g.required_ratio, "reason": g.reason,
              "explanation": g.explanation, "progress": status.progress(g),
              "text": gate_text(g, locale, statement.currency)}
             for g in statement.gates]
    return _program_info(ws, program) | {
        "payee_id": payee, "payee_name": statement.payee_name, "period": period,
        "periods": sorted({x.period for x in everything.lines}
                          | {e.period for e in everything.entries}),
        "run_id": statement.run_id, "generated_on": statement.generated_on, "lines": lines,
        "gates": gates,
        "titles": [{"period": p, "title": t, "rank": n} for p, t, n in statement.titles],
        "entries": [vars(e) for e in statement.entries],
        "total_earned": statement.total_earned, "total_posted": statement.total_posted,
        "reconciles": statement.reconciles,
    }


def _line_keys(ws: Workspace, run_id: int | None, payee: str, period: str | None) -> list[str]:
    """The ledger keys of the statement's lines (same run, same order), for disputes."""
    if run_id is None:
        return []
    return [r.line_key for r in ledger.run_lines(ws, run_id, payee)
            if not period or r.period == period]


def _sources(ws: Workspace, program: str, plan: Plan, lines: list) -> dict:
    """Each line's source record, from its measure's source table by the source id."""
    found: dict[tuple[str, str], dict] = {}
    wanted: dict[str, set[str]] = {}
    for line in lines:
        if line.source_id:
            wanted.setdefault(line.measure, set()).add(line.source_id)
    with ws.store.session() as session:
        for measure_id, ids in wanted.items():
            measure = plan.measure(measure_id)
            if isinstance(measure, OneOff):  # a bonus on a line of another measure
                measure = plan.measure(measure.of)
            table, column = getattr(measure, "source", None), getattr(measure, "source_id", None)
            if table not in plan.inputs or column not in plan.inputs[table].columns:
                continue
            rows = (registration_rows(session, program, None)
                    if table == ws.program(program).registrations
                    else current_rows(session, program, table))
            for row in rows:
                if row.get(column) in ids:
                    found[(measure_id, row[column])] = {"table": table, "row": row}
    return found


STATEMENT_CSV = ["line_key", "period", "measure", "label", "source_id", "date", "amount",
                 "paid", "reason", "explanation"]


def _statement_response(request: Request, user: Principal, ws: Workspace, program: str,
                        payee: str, period: str | None, format: str | None,
                        as_json: bool) -> Response:
    locale = render.language(request, user)
    if format in DOWNLOADS:
        user.check_payee(payee)
        if not user.is_office:
            _member(ws, user, program)
        body = statements.render(statements.build(ws, program, payee, period), format, locale)
        name = f"statement-{program}-{payee}{'-' + period if period else ''}.{format}"
        disposition = "inline" if format == "html" else "attachment"
        return Response(body, media_type=DOWNLOADS[format],
                        headers={"Content-Disposition": f'{disposition}; filename="{name}"'})
    data = statement_data(ws, user, program, payee, period, locale)
    if format == "csv":
        return _csv(data["lines"], STATEMENT_CSV, f"statement-{program}-{payee}.csv")
    if format:
        raise WorkflowError(Problem(f"unknown statement format '{format}'",
                                    hint="one of: csv, html, pdf, xlsx"))
    if as_json:
        return render.json(data)
    return render.html(request, "payee_statement.html", user, **data)


def _own(user: Principal) -> str:
    if not user.payee_id:
        raise WorkflowError(Problem("choose a payee",
                                    hint="office users open /programs/PROGRAM/statement/PAYEE"))
    return user.payee_id


@router.get("/programs/{program}/statement", include_in_schema=False)
def statement_page(request: Request, user: User, ws: Ws, program: str,
                   period: str | None = None, format: str | None = None) -> Response:
    return _statement_response(request, user, ws, program, _own(user), period or None,
                               format, False)


@router.get("/programs/{program}/statement/{payee}", include_in_schema=False)
def statement_payee_page(request: Request, user: User, ws: Ws, program: str, payee: str,
                         period: str | None = None, format: str | None = None) -> Response:
    return _statement_response(request, user, ws, program, payee, period or None, format,
                               False)


@router.get("/api/programs/{program}/statement", tags=["payee"])
def statement_api(request: Request, user: User, ws: Ws, program: str,
                  period: str | None = None, format: str | None = None) -> Response:
    """The user's posted statement: lines with explanations and source records, gates,
    titles, ledger entries. ?format=csv|pdf|xlsx|html downloads it."""
    return _statement_response(request, user, ws, program, _own(user), period or None,
                               format, True)


@router.get("/api/programs/{program}/statement/{payee}", tags=["payee"])
def statement_payee_api(request: Request, user: User, ws: Ws, program: str, payee: str,
                        period: str | None = None, format: str | None = None) -> Response:
    """A payee's statement: office users any payee, a partner or rep only its own."""
    return _statement_response(request, user, ws, program, payee, period or None, format,
                               True)


# ================================================================ 6. leaderboards
BOARDS = (("monthly", re.compile(r"^\d{4}-\d{2}$")), ("quarterly", re.compile(r"^\d{4}-Q\d$")),
          ("annual", re.compile(r"^\d{4}$")))


def _board(period: str) -> str:
    return next((name for name, pattern in BOARDS if pattern.match(period)), "other")


def _place(band: str | None) -> int | None:
    """A ranking line's band is its place: "place 2"."""
    match = re.fullmatch(r"place (\d+)", band or "")
    return int(match.group(1)) if match else None


def leaderboards_data(ws: Workspace, user: Principal, program: str) -> dict:
    """The latest posted run's rankings and titles, by board and period: public to
    everyone in the program."""
    _member(ws, user, program)
    plan = ws.plan(program).plan
    ranked = [m for m in plan.measures if isinstance(m, (Ranking, Streak, TitleRank))]
    order = {m.id: i for i, m in enumerate(ranked)}
    labels = {m.id: m.label or m.id for m in ranked}
    run = _posted_run(ws, program)
    names = _names(ws, program)
    periods: dict[str, dict] = {}

    def slot(period: str) -> dict:
        return periods.setdefault(period, {"period": period, "entries": [], "titles": []})

    if run is not None:
        with ws.store.session() as session:
            lines = session.scalars(select(RunLine).where(
                RunLine.run_id == run.id, RunLine.measure.in_(list(order)),
                RunLine.paid.is_(True)).order_by(RunLine.id)).all()
        for line in lines:
            slot(line.period)["entries"].append({
                "measure": line.measure, "label": labels[line.measure],
                "payee_id": line.payee_id, "name": names.get(line.payee_id, line.payee_id),
                "place": _place(line.band), "amount": line.amount,
                "explanation": line.explanation})
        for row in run.titles["rows"]:
            slot(row["period"])["titles"].append({
                "payee_id": row["payee_id"], "name": names.get(row["payee_id"], row["payee_id"]),
                "title": row["title"], "rank": int(row["rank"]),
                "value": Decimal(str(row["value"])) if row.get("value") is not None else None})
    boards: dict[str, list] = {name: [] for name, _ in BOARDS}
    for period in sorted(periods):
        item = periods[period]
        item["entries"].sort(key=lambda e: (order[e["measure"]], e["place"] or 0, e["payee_id"]))
        item["titles"].sort(key=lambda t: (t["title"], t["rank"], t["payee_id"]))
        boards.setdefault(_board(period), []).append(item)
    return _program_info(ws, program) | {"run_id": run.id if run else None,
                                         "boards": boards, "me": user.payee_id}


@router.get("/programs/{program}/leaderboards", include_in_schema=False)
def leaderboards_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    return render.html(request, "payee_leaderboards.html", user,
                       **leaderboards_data(ws, user, program))


@router.get("/api/programs/{program}/leaderboards", tags=["payee"])
def leaderboards_api(user: User, ws: Ws, program: str) -> Response:
    """Monthly, quarterly and annual boards with prizes and titles (latest posted run)."""
    return render.json(leaderboards_data(ws, user, program))


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


def _dispute_lines(ws: Workspace, program: str, payee: str) -> list[dict]:
    """The payee's lines of the latest posted run: what a dispute can be about."""
    run = _posted_run(ws, program)
    if run is None:
        return []
    labels = {m.id: getattr(m, "label", "") or m.id for m in ws.plan(program).plan.measures}
    return [{"line_key": r.line_key, "period": r.period, "measure": r.measure,
             "label": labels.get(r.measure, r.measure), "source_id": r.source_id,
             "amount": r.amount, "paid": r.paid, "reason": r.reason}
            for r in ledger.run_lines(ws, run.id, payee)]


def disputes_data(ws: Workspace, user: Principal, program: str,
                  payee: str | None = None) -> dict:
    payee_id = _scope(ws, user, program, payee)
    cases = disputes.listing(ws, program, payee_id)
    with ws.store.session() as session:
        rows = [_dispute(d, _history(session, program, d.id)) for d in cases]
    return _program_info(ws, program) | {
        "payee_id": payee_id, "disputes": rows, "lines": _dispute_lines(ws, program, payee_id),
        "dispute_fields": ws.program(program).dispute_fields}


def _own_dispute(ws: Workspace, user: Principal, program: str, dispute_id: int,
                 payee: str | None = None) -> dict:
    data = disputes_data(ws, user, program, payee)
    for row in data["disputes"]:
        if row["id"] == dispute_id:
            return data | {"dispute": row}
    raise WorkflowError(Problem(f"unknown dispute {dispute_id}"))


def _open_dispute(ws: Workspace, user: Principal, program: str, description: str,
                  line_key: str | None, details: dict[str, str]) -> dict:
    payee = _actor(ws, user, program)
    if line_key and line_key not in {x["line_key"] for x in _dispute_lines(ws, program, payee)}:
        raise WorkflowError(Problem(f"no payout line '{line_key}' for {payee}", field="line_key",
                                    hint="choose one of your statement's lines"))
    fields = ws.program(program).dispute_fields
    d = disputes.open_case(ws, program, payee, description, actor=user.username,
                           line_key=line_key or None,
                           details=None if line_key else {k: details.get(k, "") for k in fields})
    with ws.store.session() as session:
        return _dispute(d, _history(session, program, d.id))


@router.get("/programs/{program}/disputes", include_in_schema=False)
def disputes_page(request: Request, user: User, ws: Ws, program: str,
                  payee: str | None = None) -> Response:
    return render.html(request, "payee_disputes.html", user,
                       **disputes_data(ws, user, program, payee), problems=[], values={})


@router.post("/programs/{program}/disputes", include_in_schema=False, dependencies=[Csrf])
def disputes_post(request: Request, user: User, ws: Ws, program: str, form: Form) -> Response:
    line_key = (form.get("line_key") or None) if form.get("kind", "line") == "line" else None
    details = {k.removeprefix("detail_"): v for k, v in form.items() if k.startswith("detail_")}
    try:
        if form.get("kind", "line") == "line" and not line_key:
            raise WorkflowError(Problem("choose the payout line the dispute is about",
                                        field="line_key"))
        d = _open_dispute(ws, user, program, form.get("description", ""), line_key, details)
    except Forbidden:
        raise
    except PaymasterError as err:
        return render.html(request, "payee_disputes.html", user, status=400,
                           **disputes_data(ws, user, program), problems=err.problems,
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
