"""Program office pages about money: runs (preview, approve, post), plan versions and
budget (disputes are a queue: routes_office_queues.py). Each has a JSON twin under
/api/office."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import select

from paymaster.analytics.budget import budget_forecast
from paymaster.analytics.charts import burn_chart
from paymaster.errors import N_, PaymasterError, Problem
from paymaster.services import ledger
from paymaster.services.statement_labels import display_label
from paymaster.store.models import (
    AuditEvent,
    Run,
)
from paymaster.web import render
from paymaster.web.charts import burn_chart_data
from paymaster.web.deps import RecordId, Csrf, User, Ws
from paymaster.web.i18n import Formatter
from paymaster.web.payee_access import payee_names
from paymaster.web.routes_office_payees import payee_links
from paymaster.web.security import Principal
from paymaster.workspace import Workspace
from paymaster.web.office_common import (
    TAGS,
    ZERO,
    fields_of,
    form_problems,
    known_program,
    office_page,
    parse_date,
    office_program_info,
    require_reader,
    require_writer,
)

router = APIRouter()


# ---------------------------------------------------------------- runs
RUN_FIELDS = ("id", "program", "period", "as_of", "status", "total", "created_at",
              "created_by", "approved_at", "approved_by", "posted_at", "posted_by")


class NewRun(BaseModel):
    period: str | None = None
    as_of: dt.date | None = None


def runs_data(ws: Workspace, user: Principal, program: str) -> dict:
    info = office_program_info(ws, known_program(ws, program))
    runs = [fields_of(r, RUN_FIELDS) for r in reversed(ledger.runs(ws, program))]
    return info | {"runs": runs}


def run_data(ws: Workspace, user: Principal, run_id: int) -> dict:
    run = ledger.get_run(ws, run_id)
    info = office_program_info(ws, run.program)
    names = payee_names(ws, run.program)
    labels = {m.id: display_label(m.label, m.id) for m in ws.plan(run.program).plan.measures}
    # "earning": lines the calculation pays; whether money was paid is the batches' business
    payees: dict[str, dict] = defaultdict(lambda: {"amount": ZERO, "lines": 0, "earning": 0})
    measures: dict[str, dict] = defaultdict(lambda: {"amount": ZERO, "lines": 0, "earning": 0})
    for line in ledger.run_lines(ws, run_id):
        for group, key in ((payees, line.payee_id), (measures, line.measure)):
            group[key]["amount"] += line.amount
            group[key]["lines"] += 1
            group[key]["earning"] += int(line.paid)
    changes = [{"line_key": c.line_key, "payee_id": c.payee_id, "period": c.period,
                "measure": c.measure, "label": labels.get(c.measure) or c.measure,
                "source_id": c.source_id, "posted": c.posted,
                "new": c.new, "difference": c.difference, "kind": c.kind}
               for c in ledger.changes(ws, run_id)] if run.status != "posted" else []
    entries = [fields_of(e, ("id", "line_key", "payee_id", "period", "measure", "kind", "amount",
                           "posted_at", "posted_by"))
               for e in ledger.entries(ws, run.program) if e.run_id == run_id]
    return info | {
        "run": fields_of(run, RUN_FIELDS),
        "payees": [{"payee_id": k, "name": names.get(k, k)} | payee_links(run.program, k) | v
                   for k, v in sorted(payees.items())],
        "measures": [{"measure": k, "label": labels.get(k) or display_label(None, k)} | v
                     for k, v in sorted(measures.items())],
        "changes": changes,
        "changes_total": sum((c["difference"] for c in changes), ZERO),
        "entries": entries,
    }


@router.get("/office/{program}/runs", include_in_schema=False)
def runs_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    require_reader(user)
    return office_page(request, "office_runs.html", user, runs_data(ws, user, program), problems=[])


@router.get("/api/office/{program}/runs", tags=TAGS)
def runs_api(user: User, ws: Ws, program: str) -> Response:
    """The program's runs, newest first."""
    require_reader(user)
    return render.json(runs_data(ws, user, program))


def _new_run(ws: Workspace, user: Principal, program: str, period: str | None,
             as_of: dt.date | None) -> Run:
    require_writer(user)
    known_program(ws, program)
    return ledger.create_run(ws, program, actor=user.username,
                             period=(period or "").strip() or None, as_of=as_of)


@router.post("/office/{program}/runs", include_in_schema=False, dependencies=[Csrf])
def new_run_page(request: Request, user: User, ws: Ws, program: str,
                 period: Annotated[str, Form()] = "",
                 as_of: Annotated[str, Form()] = "") -> Response:
    try:
        run = _new_run(ws, user, program, period, parse_date(as_of, "as_of"))
    except PaymasterError as err:
        return office_page(request, "office_runs.html", user, runs_data(ws, user, program),
                     status=400, problems=form_problems(err))
    return RedirectResponse(f"/office/runs/{run.id}", status_code=303)


@router.post("/api/office/{program}/runs", tags=TAGS, dependencies=[Csrf])
def new_run_api(user: User, ws: Ws, program: str, body: NewRun | None = None) -> Response:
    """Make a preview run (of one period, if given) on the data as of a date (today)."""
    body = body or NewRun()
    run = _new_run(ws, user, program, body.period, body.as_of)
    return render.json(run_data(ws, user, run.id), 201)


@router.get("/office/runs/{run_id:int}", include_in_schema=False)
def run_page(request: Request, user: User, ws: Ws, run_id: RecordId) -> Response:
    require_reader(user)
    return office_page(request, "office_run.html", user, run_data(ws, user, run_id), problems=[])


@router.get("/api/office/runs/{run_id:int}", tags=TAGS)
def run_api(user: User, ws: Ws, run_id: RecordId) -> Response:
    """A run: totals per payee and per measure, and what posting it would change."""
    require_reader(user)
    return render.json(run_data(ws, user, run_id))


def _run_action(ws: Workspace, user: Principal, run_id: int, action: str) -> None:
    require_writer(user)
    if action == "approve":
        ledger.approve(ws, run_id, actor=user.username)
    else:
        ledger.post(ws, run_id, actor=user.username)


def _run_action_page(request: Request, user: Principal, ws: Workspace, run_id: int,
                     action: str) -> Response:
    try:
        _run_action(ws, user, run_id, action)
    except PaymasterError as err:
        return office_page(request, "office_run.html", user, run_data(ws, user, run_id), status=400,
                     problems=form_problems(err))
    return RedirectResponse(f"/office/runs/{run_id}", status_code=303)


@router.post("/office/runs/{run_id:int}/approve", include_in_schema=False, dependencies=[Csrf])
def approve_page(request: Request, user: User, ws: Ws, run_id: RecordId) -> Response:
    return _run_action_page(request, user, ws, run_id, "approve")


@router.post("/office/runs/{run_id:int}/post", include_in_schema=False, dependencies=[Csrf])
def post_page(request: Request, user: User, ws: Ws, run_id: RecordId) -> Response:
    return _run_action_page(request, user, ws, run_id, "post")


@router.post("/api/office/runs/{run_id:int}/approve", tags=TAGS, dependencies=[Csrf])
def approve_api(user: User, ws: Ws, run_id: RecordId) -> Response:
    """Approve a preview run."""
    _run_action(ws, user, run_id, "approve")
    return render.json(run_data(ws, user, run_id))


@router.post("/api/office/runs/{run_id:int}/post", tags=TAGS, dependencies=[Csrf])
def post_api(user: User, ws: Ws, run_id: RecordId) -> Response:
    """Post an approved run: its differences go to the ledger (refused when out of date)."""
    _run_action(ws, user, run_id, "post")
    return render.json(run_data(ws, user, run_id))


# ---------------------------------------------------------------- plan versions
def plan_data(ws: Workspace, user: Principal, program: str) -> dict:
    info = office_program_info(ws, known_program(ws, program))
    plan = ws.plan(program).plan
    versions = [{"effective_from": plan.scope.start, "label": "base",
                 "parameters": dict(plan.parameters)}]
    versions += [{"effective_from": v.effective_from, "label": v.label or f"v{i + 2}",
                  "parameters": dict(v.parameters)} for i, v in enumerate(plan.versions)]
    with ws.store.reading() as session:
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.entity == "plan", AuditEvent.entity_key == program)
            .order_by(AuditEvent.id.desc())).all()
        history = [{"at": e.at, "actor": e.actor, "action": e.action,
                    "plan_sha": (e.after or {}).get("plan_sha"),
                    "before_sha": (e.before or {}).get("plan_sha"),
                    "diff": (e.after or {}).get("diff")} for e in events]
    return info | {"scope": {"start": plan.scope.start, "end": plan.scope.end},
                   "versions": versions, "history": history}


def diff_lines(diff: str | None) -> list[tuple[str, str]]:
    """A unified diff as (css class, line) for display."""
    out = []
    for line in (diff or "").splitlines():
        kind = ("meta" if line.startswith(("---", "+++", "@@")) else "add"
                if line.startswith("+") else "del" if line.startswith("-") else "same")
        out.append((kind, line))
    return out


@router.get("/office/{program}/plan", include_in_schema=False)
def plan_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    require_reader(user)
    return office_page(request, "office_plan.html", user, plan_data(ws, user, program),
                 diff_lines=diff_lines)


@router.get("/api/office/{program}/plan", tags=TAGS)
def plan_api(user: User, ws: Ws, program: str) -> Response:
    """The plan's versions (effective date, label, parameters) and its change history."""
    require_reader(user)
    return render.json(plan_data(ws, user, program))


# ---------------------------------------------------------------- budget
FORECAST_FIELDS = ("pool", "currency", "limit", "spent", "committed", "remaining", "weekly",
                   "rate_per_week", "exhaustion", "exhaustion_low", "exhaustion_high", "as_of",
                   "ends_on", "used_at_end")


def budget_data(ws: Workspace, user: Principal, program: str) -> dict:
    info = office_program_info(ws, known_program(ws, program))
    plan = ws.plan(program).plan
    pools = [{"pool": b.id, "currency": plan.currency, "limit": Decimal(str(b.amount)),
              "description": b.description} for b in plan.budgets]
    if not pools:
        return info | {"available": False, "pools": pools, "problems": []}
    try:
        found = budget_forecast(ws, program)
    except PaymasterError as err:  # e.g. no run yet: the page says why there is no forecast
        return info | {"available": False, "pools": pools,
                       "problems": [p.to_json() for p in err.problems]}
    forecasts = []
    for forecast in found:
        row = {name: getattr(forecast, name, None) for name in FORECAST_FIELDS}
        row["weekly"] = [{"week_start": w, "amount": a} for w, a in (row["weekly"] or [])]
        row["projected_to_end"] = row["used_at_end"] is not None
        forecasts.append(row)
    return info | {"available": True, "pools": forecasts, "problems": []}


@router.get("/office/{program}/budget", include_in_schema=False)
def budget_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    require_reader(user)
    data = budget_data(ws, user, program)
    fmt = Formatter(render.language(request, user))
    charts = {p["pool"]: burn_chart_data(p, fmt) for p in data["pools"]} if data["available"] else {}
    return office_page(request, "office_budget.html", user, data, charts=charts)


@router.get("/api/office/{program}/budget", tags=TAGS)
def budget_api(user: User, ws: Ws, program: str) -> Response:
    """Each budget pool: limit, spent (posted), committed (latest run, not yet posted),
    remaining, weekly burn and the forecast date the pool runs out."""
    require_reader(user)
    return render.json(budget_data(ws, user, program))


@router.get("/office/{program}/budget/{pool}.svg", include_in_schema=False)
def budget_chart(user: User, ws: Ws, program: str, pool: str) -> Response:
    require_reader(user)
    known_program(ws, program)
    forecast = next((f for f in budget_forecast(ws, program) if f.pool == pool), None)
    if forecast is None:
        raise PaymasterError(Problem.of(N_("unknown budget pool '%(pool)s' in %(program)s"),
                                        pool=pool, program=program))
    return Response(burn_chart(forecast, fmt="svg"), media_type="image/svg+xml",
                    headers={"Cache-Control": "no-store"})
