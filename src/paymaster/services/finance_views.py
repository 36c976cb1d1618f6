"""What the finance pages read: the ledger filtered, sorted and paged with its totals per
currency, the audit log filtered and paged with each event's changed fields, and what is
posted but waiting for a payout batch. Read only; the ledger's own rules (posting,
paying) stay in services.ledger and services.payouts.

Filters run in SQL. Sorting and totals of the ledger run in Python: money is exact text
on SQLite (store.models.ExactDecimal), so neither ORDER BY nor SUM may see it there.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from paymaster.errors import N_, DataError, Problem
from paymaster.store.models import AuditEvent, LedgerEntry, Payment

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

ZERO = Decimal(0)
PAGE_SIZES = (25, 50, 100, 500)
# The kinds the ledger writes (services.ledger); a kind found in the store is offered too.
KINDS = ("payout", "adjustment", "clawback", "cancellation")
SORTS = ("id", "program", "payee_id", "period", "measure", "kind", "amount", "posted_at",
         "posted_by", "batch")


@dataclass
class LedgerFilter:
    program: str | None = None
    payee_id: str | None = None
    period: str | None = None
    kind: str | None = None
    sort: str = "id"
    descending: bool = False
    page: int = 1
    size: int = 50


@dataclass
class Page:
    rows: list[dict]
    count: int  # rows matching the filter, on every page
    page: int
    size: int
    totals: list[dict] = field(default_factory=list)  # per currency, of every matching row
    choices: dict[str, list[str]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.size))


def _check_page(page: int, size: int) -> None:
    if page < 1:
        raise DataError(Problem.of(N_("page %(page)s does not exist"), field="page", page=page,
                                   hint=N_("pages count from 1")))
    if size not in PAGE_SIZES:
        raise DataError(Problem.of(N_("%(size)s rows a page is not offered"), field="size",
                                   size=size, sizes=tuple(PAGE_SIZES),
                                   hint=N_("one of: %(sizes)s")))


def ledger_page(ws: Workspace, f: LedgerFilter) -> Page:
    """The ledger entries matching the filter, each with its currency and, once paid, its
    batch and date; one page of them in the chosen order; totals of all of them."""
    _check_page(f.page, f.size)
    rows, choices = ledger_rows(ws, f)
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        totals[row["currency"]] += row["amount"]
    start = (f.page - 1) * f.size
    return Page(rows[start:start + f.size], len(rows), f.page, f.size,
                [{"currency": c, "amount": a} for c, a in sorted(totals.items())], choices)


def ledger_rows(ws: Workspace, f: LedgerFilter) -> tuple[list[dict], dict[str, list[str]]]:
    """Every entry matching the filter (all pages) in the chosen order, and the values the
    filters offer (periods, payees, kinds of the program, or of all programs)."""
    if f.program:
        ws.program(f.program)  # an unknown program is an error, not an empty ledger
    if f.sort not in SORTS:
        raise DataError(Problem.of(N_("cannot sort by '%(sort)s'"), field="sort", sort=f.sort,
                                   columns=tuple(SORTS), hint=N_("sort by one of: %(columns)s")))
    currencies = {name: ws.plan(name).plan.currency for name in ws.config.programs}
    query = (select(LedgerEntry, Payment.batch, Payment.paid_at)
             .outerjoin(Payment, Payment.entry_id == LedgerEntry.id))
    for column, value in ((LedgerEntry.program, f.program), (LedgerEntry.payee_id, f.payee_id),
                          (LedgerEntry.period, f.period), (LedgerEntry.kind, f.kind)):
        if value:
            query = query.where(column == value)
    with ws.store.reading() as session:
        rows = [_entry_row(e, batch, paid_at, currencies.get(e.program, ""))
                for e, batch, paid_at in session.execute(query.order_by(LedgerEntry.id))]
        choices = _ledger_choices(session, f.program)
    rows.sort(key=lambda r: _sort_key(r[f.sort]), reverse=f.descending)
    return rows, choices


def _entry_row(e: LedgerEntry, batch: str | None, paid_at: dt.datetime | None,
               currency: str) -> dict:
    return {"id": e.id, "program": e.program, "payee_id": e.payee_id, "period": e.period,
            "measure": e.measure, "source_id": e.source_id, "kind": e.kind,
            "amount": e.amount, "currency": currency, "corrects": e.corrects,
            "reason": e.reason, "run_id": e.run_id, "posted_at": e.posted_at,
            "posted_by": e.posted_by, "batch": batch, "paid_at": paid_at}


def _sort_key(value: Any) -> tuple:
    """None last, then the value itself (ids, text, exact amounts, times)."""
    return (value is None, value if value is not None else 0)


def _ledger_choices(session, program: str | None) -> dict[str, list[str]]:
    def distinct(column) -> list[str]:
        query = select(column).distinct()
        if program:
            query = query.where(LedgerEntry.program == program)
        return sorted(v for v in session.scalars(query) if v)

    kinds = distinct(LedgerEntry.kind)
    return {"periods": distinct(LedgerEntry.period), "payees": distinct(LedgerEntry.payee_id),
            "kinds": list(KINDS) + [k for k in kinds if k not in KINDS]}


def unpaid(ws: Workspace, program: str) -> dict:
    """What the next payout batch of the program would pay: posted entries in no batch
    (payees whose entries net to zero are owed nothing, as services.payouts decides)."""
    ws.program(program)
    per_payee: dict[str, Decimal] = defaultdict(lambda: ZERO)
    entries = 0
    with ws.store.reading() as session:
        for payee, amount in session.execute(
                select(LedgerEntry.payee_id, LedgerEntry.amount)
                .outerjoin(Payment, Payment.entry_id == LedgerEntry.id)
                .where(LedgerEntry.program == program, Payment.id.is_(None))):
            per_payee[payee] += amount
            entries += 1
    owed = {p: a for p, a in per_payee.items() if a != 0}
    return {"currency": ws.plan(program).plan.currency, "entries": entries,
            "payees": len(owed), "amount": sum(owed.values(), ZERO)}


# ---------------------------------------------------------------- audit log
@dataclass
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    program: str | None = None
    start: dt.date | None = None  # recorded on or after (the business time if unknown)
    end: dt.date | None = None    # recorded on or before
    page: int = 1
    size: int = 50


def audit_page(ws: Workspace, f: AuditFilter,
               show: Callable[[Any], Any] | None = None) -> Page:
    """Audit events matching the filter, newest first, each with its changed fields, their
    values as `show` gives them (default: `readable`, short text; a page passes its own to
    show them in the reader's language)."""
    _check_page(f.page, f.size)
    if f.start and f.end and f.start > f.end:
        raise DataError(Problem.of(N_("the range starts (%(start)s) after it ends (%(end)s)"),
                                   field="start", start=f.start, end=f.end,
                                   hint=N_("swap the two dates")))
    when = func.coalesce(AuditEvent.recorded_at, AuditEvent.at)
    query = select(AuditEvent)
    for column, value in ((AuditEvent.actor, f.actor), (AuditEvent.action, f.action),
                          (AuditEvent.program, f.program)):
        if value:
            query = query.where(column == value)
    if f.start:
        query = query.where(when >= dt.datetime.combine(f.start, dt.time()))
    if f.end:
        query = query.where(when <= dt.datetime.combine(f.end, dt.time.max))
    with ws.store.reading() as session:
        count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        events = session.scalars(query.order_by(AuditEvent.id.desc())
                                 .offset((f.page - 1) * f.size).limit(f.size))
        rows = [{"id": e.id, "at": e.at, "recorded_at": e.recorded_at, "actor": e.actor,
                 "action": e.action, "entity": e.entity, "key": e.entity_key,
                 "program": e.program, "changes": changed_fields(e.before, e.after, show or readable)}
                for e in events]
        choices = {"actors": sorted(session.scalars(select(AuditEvent.actor).distinct())),
                   "actions": sorted(session.scalars(select(AuditEvent.action).distinct())),
                   "programs": sorted(p for p in session.scalars(
                       select(AuditEvent.program).distinct()) if p)}
    return Page(rows, count, f.page, f.size, [], choices)


def changed_fields(before: Any, after: Any,
                   show: Callable[[Any], Any] | None = None) -> list[dict]:
    """Before and after as rows of a small table: each field that differs, with its value
    before and after (None: not there). A new thing lists its fields with nothing before;
    a removed one what it had. Values that are not fields (a list, a scalar) are one row
    under the field name "value"."""
    show = show or readable
    if not isinstance(before, dict) or not isinstance(after, dict):
        if before is None and isinstance(after, dict):
            before = {}
        elif after is None and isinstance(before, dict):
            after = {}
        else:
            if before == after:
                return []
            return [{"field": "value", "before": show(before), "after": show(after)}]
    names = list(after) + [k for k in before if k not in after]
    return [{"field": k, "before": show(before.get(k)), "after": show(after.get(k))}
            for k in names if before.get(k) != after.get(k)]


def readable(value: Any, limit: int = 160) -> str | None:
    """A stored value as short text: a nested row as `k: v` pairs, a list joined; cut at
    `limit` characters (the event keeps it whole)."""
    if value is None:
        return None
    if isinstance(value, dict):
        text = ", ".join(f"{k}: {readable(v, limit) if v is not None else '–'}"
                         for k, v in value.items())
    elif isinstance(value, list):
        text = "; ".join(readable(v, limit) or "–" for v in value)
    else:
        text = str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"
