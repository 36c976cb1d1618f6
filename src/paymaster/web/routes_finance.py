"""Finance pages: the ledger (filtered, sorted, paged, totals per currency, CSV export),
accruals at a date, and the audit log. Each page has a JSON twin under /api/office.

For admin and finance users only (web.office_common.FINANCE); the office middleware
already keeps payee users out. Accruals are `analytics.accruals`, the same figures as
`paymaster accruals`."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from paymaster.analytics.accruals import COLUMNS as ACCRUAL_COLUMNS
from paymaster.analytics.accruals import accruals
from paymaster.money import plain
from paymaster.services import finance_views
from paymaster.services.finance_views import AuditFilter, LedgerFilter
from paymaster.web import render
from paymaster.web.audit_values import shower
from paymaster.web.downloads import disposition
from paymaster.web.i18n import N_, Formatter
from paymaster.web.deps import User, Ws
from paymaster.web.office_common import TAGS, known_program, office_page, parse_date, require_finance
from paymaster.workspace import Workspace

router = APIRouter()
Text = Annotated[str | None, Query(max_length=200)]
PageNo = Annotated[int, Query(ge=1, le=2**31 - 1)]
Size = Annotated[int, Query(ge=1, le=500)]
# Words the finance pages show from data: the role, the audit log's actions and the kinds
# of thing they changed (services call audit.record with these), marked for the catalogs.
DATA_WORDS = (
    N_("finance"), N_("paid"),
    N_("approve"), N_("create"), N_("import"), N_("pay"), N_("post"), N_("register"),
    N_("remove"), N_("run"), N_("superseded"), N_("accept"), N_("reject"),
    N_("lift throttle"), N_("reactivate"), N_("deactivate"), N_("reset password"),
    N_("change role"),
    N_("dispute"), N_("enrollment"), N_("login"), N_("payout_batch"), N_("plan"),
    N_("registration"), N_("table"), N_("user"),
)
SORT_LABELS = {"id": N_("Entry"), "program": N_("Program"), "payee_id": N_("Payee"),
               "period": N_("Period"), "measure": N_("Measure"), "kind": N_("Kind"),
               "amount": N_("Amount"), "posted_at": N_("Posted"), "posted_by": N_("Posted by"),
               "batch": N_("Paid")}
EXPORT_COLUMNS = ("id", "program", "payee_id", "period", "measure", "source_id", "kind",
                  "currency", "amount", "corrects", "reason", "run_id", "posted_at",
                  "posted_by", "batch", "paid_at")


def _programs(ws: Workspace) -> list[dict]:
    return [{"program": name, "title": ws.plan(name).plan.title or name}
            for name in ws.config.programs]


def _query(**values) -> str:
    """The page's address with these filters (empty ones left out)."""
    return urlencode({k: v for k, v in values.items() if v not in (None, "", False)})


# ---------------------------------------------------------------- ledger
def ledger_data(ws: Workspace, f: LedgerFilter) -> dict:
    page = finance_views.ledger_page(ws, f)
    filters = {"program": f.program or "", "payee": f.payee_id or "", "period": f.period or "",
               "kind": f.kind or ""}
    return {"filters": filters, "sort": f.sort, "desc": f.descending, "entries": page.rows,
            "count": page.count, "page": page.page, "pages": page.pages, "size": page.size,
            "totals": page.totals, "choices": page.choices, "programs": _programs(ws),
            "query": _query(**filters, sort=f.sort if f.sort != "id" else "",
                            desc="true" if f.descending else "",
                            size=f.size if f.size != 50 else ""),
            "query_without_sort": _query(**filters, size=f.size if f.size != 50 else "")}


def _ledger_filter(program: str | None, payee: str | None, period: str | None,
                   kind: str | None, sort: str, desc: bool, page: int, size: int) -> LedgerFilter:
    clean = [(v or "").strip() or None for v in (program, payee, period, kind)]
    return LedgerFilter(*clean, sort=sort, descending=desc, page=page, size=size)


@router.get("/office/ledger", include_in_schema=False)
def ledger_page(request: Request, user: User, ws: Ws, program: Text = None, payee: Text = None,
                period: Text = None, kind: Text = None, sort: str = "id", desc: bool = False,
                page: PageNo = 1, size: Size = 50) -> Response:
    require_finance(user)
    f = _ledger_filter(program, payee, period, kind, sort, desc, page, size)
    return office_page(request, "finance_ledger.html", user, ledger_data(ws, f),
                       sorts=finance_views.SORTS, sizes=finance_views.PAGE_SIZES,
                       sort_labels=SORT_LABELS)


@router.get("/api/office/ledger", tags=TAGS)
def ledger_api(user: User, ws: Ws, program: Text = None, payee: Text = None,
               period: Text = None, kind: Text = None, sort: str = "id", desc: bool = False,
               page: PageNo = 1, size: Size = 50) -> Response:
    """Ledger entries filtered by program, payee, period and kind, sorted (`sort`, `desc`)
    and paged (`page`, `size`), each with its currency and payout batch once paid;
    `totals`: per currency, of every matching entry (not only this page)."""
    require_finance(user)
    f = _ledger_filter(program, payee, period, kind, sort, desc, page, size)
    return render.json(ledger_data(ws, f))


@router.get("/office/{program}/ledger", include_in_schema=False)
def program_ledger_page(user: User, ws: Ws, program: str) -> Response:
    require_finance(user)
    return RedirectResponse("/office/ledger?" + _query(program=known_program(ws, program)),
                            status_code=303)


@router.get("/office/ledger/file", include_in_schema=False)
def ledger_file_page(user: User, ws: Ws, program: Text = None, payee: Text = None,
                     period: Text = None, kind: Text = None, sort: str = "id",
                     desc: bool = False) -> Response:
    return ledger_file_api(user, ws, program, payee, period, kind, sort, desc)


@router.get("/api/office/ledger/file", tags=TAGS)
def ledger_file_api(user: User, ws: Ws, program: Text = None, payee: Text = None,
                    period: Text = None, kind: Text = None, sort: str = "id",
                    desc: bool = False) -> Response:
    """Every ledger entry matching the filters (all pages) as CSV, amounts exact."""
    require_finance(user)
    f = _ledger_filter(program, payee, period, kind, sort, desc, 1, 50)
    rows, _choices = finance_views.ledger_rows(ws, f)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in EXPORT_COLUMNS])
    name = "ledger" + "".join(f"-{v}" for v in (f.program, f.payee_id, f.period, f.kind) if v)
    return Response(out.getvalue().encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers=disposition(f"{name}.csv"))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


# ---------------------------------------------------------------- accruals
def accruals_data(ws: Workspace, as_of: dt.date | None, program: str | None) -> dict:
    day = as_of or ws.today()
    rows = accruals(ws, day, program or None)
    totals: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        sums = totals.setdefault(row["currency"], dict.fromkeys(ACCRUAL_COLUMNS[3:],
                                                                Decimal(0)))
        for column in sums:
            sums[column] += row[column]
    return {"as_of": day, "program": program or "", "programs": _programs(ws), "rows": rows,
            "totals": [{"currency": c} | sums for c, sums in sorted(totals.items())]}


@router.get("/office/accruals", include_in_schema=False)
def accruals_page(request: Request, user: User, ws: Ws, as_of: Text = None,
                  program: Text = None) -> Response:
    require_finance(user)
    data = accruals_data(ws, parse_date(as_of, "as_of"), (program or "").strip())
    return office_page(request, "finance_accruals.html", user, data)


@router.get("/api/office/accruals", tags=TAGS)
def accruals_api(user: User, ws: Ws, as_of: Text = None, program: Text = None) -> Response:
    """Per program and payee at a date (`as_of`, default today): posted, paid, accrued
    (posted, not paid), unposted (earned by the latest run, not posted) and total; the
    figures of `paymaster accruals`; `totals` per currency."""
    require_finance(user)
    return render.json(accruals_data(ws, parse_date(as_of, "as_of"), (program or "").strip()))


# ---------------------------------------------------------------- audit log
def audit_data(ws: Workspace, f: AuditFilter, show=None) -> dict:
    page = finance_views.audit_page(ws, f, show)
    filters = {"actor": f.actor or "", "action": f.action or "", "program": f.program or "",
               "start": f.start.isoformat() if f.start else "",
               "end": f.end.isoformat() if f.end else ""}
    return {"filters": filters, "events": page.rows, "count": page.count, "page": page.page,
            "pages": page.pages, "size": page.size, "choices": page.choices,
            "programs": _programs(ws),
            "query": _query(**filters, size=f.size if f.size != 50 else "")}


def _audit_filter(actor: str | None, action: str | None, program: str | None,
                  start: str | None, end: str | None, page: int, size: int) -> AuditFilter:
    clean = [(v or "").strip() or None for v in (actor, action, program)]
    return AuditFilter(*clean, start=parse_date(start, "start"), end=parse_date(end, "end"),
                       page=page, size=size)


@router.get("/office/audit", include_in_schema=False)
def audit_page(request: Request, user: User, ws: Ws, actor: Text = None, action: Text = None,
               program: Text = None, start: Text = None, end: Text = None,
               page: PageNo = 1, size: Size = 50) -> Response:
    require_finance(user)
    # the page shows values in the reader's language; the JSON twin as stored
    show = shower(Formatter(render.language(request, user)),
                  [ws.plan(name).plan for name in ws.config.programs])
    data = audit_data(ws, _audit_filter(actor, action, program, start, end, page, size), show)
    return office_page(request, "finance_audit.html", user, data,
                       sizes=finance_views.PAGE_SIZES)


@router.get("/api/office/audit", tags=TAGS)
def audit_api(user: User, ws: Ws, actor: Text = None, action: Text = None,
              program: Text = None, start: Text = None, end: Text = None,
              page: PageNo = 1, size: Size = 50) -> Response:
    """The audit log, newest first, filtered by user (`actor`), `action`, `program` and
    the dates recorded (`start`, `end`, inclusive); each event with its business time
    (`at`), when it was recorded, and `changes`: the fields before and after."""
    require_finance(user)
    return render.json(audit_data(ws, _audit_filter(actor, action, program, start, end,
                                                    page, size)))
