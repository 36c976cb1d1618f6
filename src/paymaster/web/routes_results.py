"""Pages of partners and reps about results: live status against every gate, posted
statements with their drill-down and downloads, leaderboards. Each has a JSON twin."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from paymaster import cells
from paymaster.errors import N_, Problem
from paymaster.explanations import explain_line
from paymaster.money import plain
from paymaster.plan.model import OneOff, Plan, Ranking, Streak, TitleRank
from paymaster.plan.words import measure_labels, word
from paymaster.services import ledger, statements, status
from paymaster.services.audit import jsonable
from paymaster.services.inputs import current_rows, registration_rows
from paymaster.services.registrations import WorkflowError
from paymaster.services.statement_labels import display_label
from paymaster.services.statements_render import gate_text, statement_view
from paymaster.store.models import RunLine
from paymaster.web import render
from paymaster.web.charts import attainment_chart, earnings_chart
from paymaster.web.i18n import Formatter
from paymaster.web.downloads import disposition
from paymaster.web.deps import User, Ws
from paymaster.web.security import Principal
from paymaster.workspace import Workspace
from paymaster.web.payee_access import (
    DOWNLOADS,
    require_member,
    payee_names,
    posted_run,
    program_info,
    payee_in_scope,
)

router = APIRouter()


# ================================================================ 4. live status
def status_data(ws: Workspace, user: Principal, program: str, payee: str | None,
                locale: str = "en") -> dict:
    payee_id = payee_in_scope(ws, user, program, payee)
    data = status.payee_status(ws, program, payee_id, locale)
    data["gates"].sort(key=lambda g: (g["period"], str(g["evaluation"])))
    return data | {"payee_name": payee_names(ws, program).get(payee_id, payee_id)}


def _csv(rows: list[dict], columns: list[str], filename: str) -> Response:
    buffer = io.StringIO()
    writer = cells.Writer(buffer)
    writer.writerow(columns)
    for row in jsonable(rows):
        writer.writerow([_cell(row.get(c)) for c in columns])
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers=disposition(filename))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # as in the engine's own CSV files
        return "true" if value else "false"
    return plain(value) if isinstance(value, Decimal) else str(value)


STATUS_CSV = ["kind", "period", "measure", "subject", "amount", "earns", "state", "posted",
              "paid", "batches", "paid_on", "reason", "value", "target", "band", "ratio",
              "required_ratio", "text"]


def _status_csv(data: dict) -> Response:
    rows = [{"kind": "line", "subject": line["source_id"], **line, "text": line["explanation"],
             "batches": ";".join(line["batches"])} for line in data["lines"]]
    rows += [{"kind": "gate", "measure": g["evaluation"], "value": g["value"],
              "target": g["threshold"], **{k: g[k] for k in (
                  "period", "subject", "reason", "ratio", "required_ratio", "text")},
              "earns": g["passed"]} for g in data["gates"]]
    rows += [{"kind": "outstanding_rma", "subject": r.get("rma_number"),
              "value": r.get("trade_in_credit"), "text": r.get("sales_order")}
             for r in data["outstanding_rmas"]]
    rows += [{"kind": "excluded_line", "period": r["period"], "measure": r["measure"],
              "subject": r["source_id"], "value": r["value"], "earns": False,
              "reason": r["reason"], "text": r.get("credit_currency") or ""}
             for r in data["excluded_lines"]]
    rows += [{"kind": "rebate", "measure": r["measure"], "period": r["period"],
              "amount": r["would_earn"], "value": r["qualifying"], "earns": r["earns"],
              "reason": r["reason"], "text": "would earn"} for r in data["rebates"]]
    return _csv(rows, STATUS_CSV, f"status-{data['program']}-{data['payee_id']}.csv")


@router.get("/programs/{program}/status", include_in_schema=False)
def status_page(request: Request, user: User, ws: Ws, program: str,
                payee: str | None = None, format: str | None = None) -> Response:
    if user.is_office and not payee:  # whose? the payee directory says
        ws.program(program)  # an unknown program is a 404
        return RedirectResponse(f"/office/{program}/payees", status_code=303)
    data = status_data(ws, user, program, payee, render.language(request, user))
    if format == "csv":
        return _status_csv(data)
    fmt = Formatter(render.language(request, user))
    charts = {"earnings": earnings_chart(data["home"]["earnings"], data["currency"], fmt),
              "attainment": attainment_chart(data["home"]["attainment"], data["currency"], fmt)}
    return render.html(request, "payee_status.html", user, **data, charts=charts)


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
        require_member(ws, user, program)
    ws.program(program)
    statement = statements.build(ws, program, payee, period, locale)
    everything = statement if not period else statements.build(ws, program, payee, locale=locale)
    plan = ws.plan(program).plan
    keys = _line_keys(ws, statement.run_id, payee, period)
    sources = _sources(ws, program, plan, statement.lines)
    view = statement_view(statement, locale)
    # where later corrections of a closed period's line were posted (the next open period)
    adjusted: dict[tuple, list[str]] = {}
    for e in statement.entries:
        if e.adjusts_period:
            adjusted.setdefault((e.adjusts_period, e.measure, e.source_id or ""), []).append(
                e.period)
    lines = []
    for index, (line, shown) in enumerate(zip(statement.lines, view["lines"], strict=True)):
        lines.append({
            "line_key": keys[index] if index < len(keys) else None, "period": line.period,
            "measure": line.measure, "label": line.label, "source_id": line.source_id,
            "date": line.date, "amount": line.amount, "earns": line.earns,
            "state": line.state, "status": shown["status"], "posted": line.posted,
            "paid": line.paid, "batches": list(line.batches), "paid_on": line.paid_on,
            "reason": line.reason, "explanation": line.explanation,
            "source": sources.get((line.measure, line.source_id or "")),
            "adjusted_in": sorted(set(adjusted.get(
                (line.period, line.measure, line.source_id or ""), []))),
        })
    gates = [{"period": g.period, "evaluation": g.evaluation, "subject": g.subject,
              "passed": g.passed, "value": g.value, "threshold": g.threshold, "ratio": g.ratio,
              "required_ratio": g.required_ratio, "reason": g.reason,
              "explanation": g.explanation, "progress": status.progress(g),
              "text": gate_text(g, locale, statement.currency)}
             for g in statement.gates]
    return program_info(ws, program) | {
        "payee_id": payee, "payee_name": statement.payee_name, "period": period,
        "periods": sorted({x.period for x in everything.lines}
                          | {e.period for e in everything.entries}),
        "run_id": statement.run_id, "generated_on": statement.generated_on, "lines": lines,
        "gates": gates,
        "titles": [{"period": p, "title": t, "rank": n} for p, t, n in statement.titles],
        "entries": [vars(e) | {"payment": shown["payment"]}
                    for e, shown in zip(statement.entries, view["entries"], strict=True)],
        "total_earned": statement.total_earned, "total_posted": statement.total_posted,
        "total_paid": statement.total_paid, "total_unpaid": statement.total_unpaid,
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
    with ws.store.reading() as session:
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
                 "earns", "state", "posted", "paid", "batches", "paid_on", "reason",
                 "explanation", "adjusted_in"]


def _statement_response(request: Request, user: Principal, ws: Workspace, program: str,
                        payee: str, period: str | None, format: str | None,
                        as_json: bool) -> Response:
    locale = render.language(request, user)
    if format in DOWNLOADS:
        user.check_payee(payee)
        if not user.is_office:
            require_member(ws, user, program)
        body = statements.render(statements.build(ws, program, payee, period, locale), format,
                                 locale)
        name = f"statement-{program}-{payee}{'-' + period if period else ''}.{format}"
        return Response(body, media_type=DOWNLOADS[format],
                        headers=disposition(name, inline=format == "html"))
    data = statement_data(ws, user, program, payee, period, locale)
    if format == "csv":
        rows = [line | {"batches": ";".join(line["batches"]),
                        "adjusted_in": ";".join(line["adjusted_in"])} for line in data["lines"]]
        return _csv(rows, STATEMENT_CSV, f"statement-{program}-{payee}.csv")
    if format:
        raise WorkflowError(Problem.of(N_("unknown statement format '%(format)s'"),
                                       format=format, formats=("csv", "html", "pdf", "xlsx"),
                                       hint=N_("one of: %(formats)s")))
    if as_json:
        return render.json(data)
    return render.html(request, "payee_statement.html", user, **data)


def _own(user: Principal) -> str:
    if not user.payee_id:
        raise WorkflowError(Problem.of(N_("choose a payee"),
                                       hint=N_("office users open "
                                               "/programs/PROGRAM/statement/PAYEE")))
    return user.payee_id


@router.get("/programs/{program}/statement", include_in_schema=False)
def statement_page(request: Request, user: User, ws: Ws, program: str,
                   period: str | None = None, format: str | None = None) -> Response:
    if user.is_office:  # the office reads a payee's statement: the directory says whose
        ws.program(program)  # an unknown program is a 404
        return RedirectResponse(f"/office/{program}/payees", status_code=303)
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


def leaderboards_data(ws: Workspace, user: Principal, program: str, locale: str = "en") -> dict:
    """The latest posted run's rankings and titles, by board and period: public to
    everyone in the program."""
    require_member(ws, user, program)
    plan = ws.plan(program).plan
    ranked = [m for m in plan.measures if isinstance(m, (Ranking, Streak, TitleRank))]
    order = {m.id: i for i, m in enumerate(ranked)}
    labels = {m: display_label(label, m) for m, label in measure_labels(plan, locale).items()}
    run = posted_run(ws, program)
    names = payee_names(ws, program)
    periods: dict[str, dict] = {}

    def slot(period: str) -> dict:
        return periods.setdefault(period, {"period": period, "entries": [], "titles": []})

    if run is not None:
        with ws.store.reading() as session:
            lines = session.scalars(select(RunLine).where(
                RunLine.run_id == run.id, RunLine.measure.in_(list(order)),
                RunLine.paid.is_(True)).order_by(RunLine.id)).all()
        for line in lines:
            slot(line.period)["entries"].append({
                "measure": line.measure, "label": labels[line.measure],
                "payee_id": line.payee_id, "name": names.get(line.payee_id, line.payee_id),
                "place": _place(line.band), "amount": line.amount,
                "explanation": explain_line(plan, ledger.line_row(line), locale)})
        for row in run.titles["rows"]:
            slot(row["period"])["titles"].append({
                "payee_id": row["payee_id"], "name": names.get(row["payee_id"], row["payee_id"]),
                "title": row["title"], "rank": int(row["rank"]),
                # A title is named after the measure that awards it, when one does.
                "label": labels.get(row["title"]) or display_label(
                    word(plan, row["title"], locale), row["title"]),
                "value": Decimal(str(row["value"])) if row.get("value") is not None else None})
    boards: dict[str, list] = {name: [] for name, _ in BOARDS}
    for period in sorted(periods):
        item = periods[period]
        item["entries"].sort(key=lambda e: (order[e["measure"]], e["place"] or 0, e["payee_id"]))
        item["titles"].sort(key=lambda t: (t["title"], t["rank"], t["payee_id"]))
        boards.setdefault(_board(period), []).append(item)
    return program_info(ws, program) | {"run_id": run.id if run else None,
                                         "boards": boards, "me": user.payee_id}


@router.get("/programs/{program}/leaderboards", include_in_schema=False)
def leaderboards_page(request: Request, user: User, ws: Ws, program: str) -> Response:
    return render.html(request, "payee_leaderboards.html", user,
                       **leaderboards_data(ws, user, program, render.language(request, user)))


@router.get("/api/programs/{program}/leaderboards", tags=["payee"])
def leaderboards_api(request: Request, user: User, ws: Ws, program: str) -> Response:
    """Monthly, quarterly and annual boards with prizes and titles (latest posted run)."""
    return render.json(leaderboards_data(ws, user, program, render.language(request, user)))
