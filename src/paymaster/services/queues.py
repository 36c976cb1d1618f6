"""What the office's queues share: registrations, enrollments and disputes are submissions
per program, each waiting for a decision. Listed and found overdue the same way; viewed
through the same filters (state, partner or payee, a date range, free text), sort and
pages; decided in bulk one row at a time, through the service a single decision uses."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from paymaster.errors import N_, Word, DataError, PaymasterError, Problem

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
ORDERS = ("asc", "desc")
FILTER_KEYS = ("state", "party", "from", "to", "q", "sort", "order", "page", "size")


def overdue(ws: Workspace, model: Any, program: str, on: dt.date | None) -> list:
    """Submitted and still undecided after their due date, the longest overdue first."""
    on = on or ws.today(program)
    with ws.store.reading() as session:
        return list(session.scalars(select(model).where(
            model.program == program, model.status == "submitted",
            model.due_on < on).order_by(model.due_on, model.id)))


def listing(ws: Workspace, model: Any, program: str, partner: str | None,
            order_by: tuple, status: str | None = None) -> list:
    """A program's submissions (one partner's, one state's, when given)."""
    with ws.store.reading() as session:
        query = select(model).where(model.program == program)
        if partner:
            query = query.where(model.partner_id == partner)
        if status:
            query = query.where(model.status == status)
        return list(session.scalars(query.order_by(*order_by)))


# ---------------------------------------------------------------- a queue's view
@dataclass(frozen=True)
class QueueView:
    """How one queue is listed, filtered, sorted and decided. Rows are plain dicts."""

    name: str                          # registrations / enrollments / disputes
    key: str                           # the row's id field
    party: str                         # partner_id / payee_id
    states: tuple[str, ...]
    waiting: str                       # the state a row can be decided in
    day: str                           # the row field the date range applies to
    text: tuple[str, ...]              # the fields free text is looked for in
    columns: tuple[str, ...]           # the columns a listing sorts by (and CSV writes)
    load: Callable[[Workspace, str, str | None, str | None], list]  # (ws, program, party, state)
    row: Callable[[Any, dt.date], dict]
    decide: Callable[[Workspace, str, str, bool, str, str | None], Any]
    default_order: Callable[[dict], tuple]
    reason_needed: tuple[bool, ...] = (False, True)  # (accepting, rejecting) needs a reason
    csv_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Filters:
    state: str | None = None
    party: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str = ""
    sort: str | None = None
    order: str = "asc"
    page: int = 1
    size: int = PAGE_SIZE

    def query(self, **changes: Any) -> dict[str, str]:
        """The filters as query parameters (only those set), with `changes` applied."""
        values = {"state": self.state, "party": self.party,
                  "from": self.date_from.isoformat() if self.date_from else None,
                  "to": self.date_to.isoformat() if self.date_to else None,
                  "q": self.q or None, "sort": self.sort,
                  "order": self.order if self.sort else None,
                  "page": str(self.page) if self.page != 1 else None,
                  "size": str(self.size) if self.size != PAGE_SIZE else None}
        values.update({k: (None if v is None else str(v)) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v not in (None, "")}


@dataclass
class Listing:
    filters: Filters
    rows: list[dict]          # the page's rows
    total: int                # rows matching the filters, over every page
    pages: int

    def to_json(self) -> dict:
        f = self.filters
        return {"page": f.page, "size": f.size, "pages": self.pages, "total": self.total,
                "sort": f.sort, "order": f.order,
                "filters": {"state": f.state, "party": f.party, "from": f.date_from,
                            "to": f.date_to, "q": f.q}}


def parse_filters(view: QueueView, params: Mapping[str, str]) -> Filters:
    """Query parameters checked one by one: every bad value is reported (400), none is
    used as SQL (states and columns are looked up in fixed lists)."""
    problems: list[Problem] = []

    def text(name: str) -> str | None:
        value = (params.get(name) or "").strip()
        return value or None

    state = text("state")
    if state is not None and state not in view.states:
        problems.append(Problem.of(N_("no state '%(state)s' in %(queue)s"), field="state",
                                   state=state, queue=Word(view.name),
                                   states=tuple(Word(s) for s in view.states),
                                   hint=N_("state is one of: %(states)s")))
    sort = text("sort")
    if sort is not None and sort not in view.columns:
        problems.append(Problem.of(N_("cannot sort by '%(sort)s'"), field="sort", sort=sort,
                                   columns=view.columns,
                                   hint=N_("sort by one of: %(columns)s")))
    order = text("order") or "asc"
    if order not in ORDERS:
        problems.append(Problem.of(N_("order '%(order)s' is neither asc nor desc"),
                                   field="order", order=order,
                                   hint=N_("order=asc or order=desc")))
    days = {}
    for name in ("from", "to"):
        value = text(name)
        try:
            days[name] = dt.date.fromisoformat(value) if value else None
        except ValueError:
            problems.append(Problem.of(N_("'%(value)s' is not a date"), field=name, value=value,
                                       hint=N_("write it as YYYY-MM-DD")))
            days[name] = None
    if days["from"] and days["to"] and days["from"] > days["to"]:
        problems.append(Problem.of(N_("the date range ends before it starts"), field="to",
                                   start=days["from"],
                                   hint=N_("give a 'to' on or after %(start)s")))
    page = _whole(text("page"), "page", 1, None, problems)
    size = _whole(text("size"), "size", 1, MAX_PAGE_SIZE, problems)
    q = text("q") or ""
    if len(q) > 200:
        problems.append(Problem.of(N_("the search text is longer than %(limit)s characters"),
                                   field="q", limit=200))
    if problems:
        raise DataError(problems)
    return Filters(state=state, party=text("party"), date_from=days["from"],
                   date_to=days["to"], q=q, sort=sort, order=order,
                   page=page or 1, size=size or PAGE_SIZE)


def _whole(value: str | None, name: str, low: int, high: int | None,
           problems: list[Problem]) -> int | None:
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]{1,9}", value) or int(value) < low or \
            (high is not None and int(value) > high):
        if high:
            problems.append(Problem.of(
                N_("%(name)s '%(value)s' is not a whole number from %(low)s to %(high)s"),
                field=name, name=name, value=value[:20], low=low, high=high,
                hint=N_("give %(name)s as a whole number from %(low)s to %(high)s")))
        else:
            problems.append(Problem.of(
                N_("%(name)s '%(value)s' is not a whole number from %(low)s"),
                field=name, name=name, value=value[:20], low=low,
                hint=N_("give %(name)s as a whole number from %(low)s")))
        return None
    return int(value)


def select_rows(ws: Workspace, view: QueueView, program: str, filters: Filters,
                *, every_page: bool = False) -> Listing:
    """The rows matching the filters, sorted, and the page asked for (every row, for an
    export). State and party select in the database; the date range, the free text
    (which also looks inside a registration's fields) and the sort apply to rows."""
    today = ws.today(program)
    rows = [view.row(item, today) for item in view.load(ws, program, filters.party,
                                                      filters.state)]
    rows = [r for r in rows if _matches(view, r, filters)]
    if filters.sort:
        present = [r for r in rows if r.get(filters.sort) not in (None, "")]
        empty = [r for r in rows if r.get(filters.sort) in (None, "")]
        # Ties keep their id order whichever the direction (the sort is stable).
        present.sort(key=lambda r: _sort_key(r[view.key]))
        present.sort(key=lambda r: _sort_key(r[filters.sort]), reverse=filters.order == "desc")
        rows = present + empty  # empty cells last, whichever the direction
    else:
        rows.sort(key=view.default_order)
    total = len(rows)
    pages = max(1, -(-total // filters.size))
    if not every_page:
        start = (filters.page - 1) * filters.size
        rows = rows[start:start + filters.size]
    return Listing(filters, rows, total, pages)


def _matches(view: QueueView, row: dict, f: Filters) -> bool:
    day = row.get(view.day)
    day = day.date() if isinstance(day, dt.datetime) else day
    if (f.date_from or f.date_to) and day is None:
        return False
    if f.date_from and day < f.date_from or f.date_to and day > f.date_to:
        return False
    if not f.q:
        return True
    words = f.q.casefold()
    cells = [_text(row.get(name)) for name in view.text]
    if any(words in cell for cell in cells):
        return True
    # A tax id matches as typed, with or without its dashes and spaces.
    compact = "".join(ch for ch in words if ch.isalnum())
    return bool(compact) and compact.isdigit() and any(
        compact in "".join(ch for ch in cell if ch.isalnum()) for cell in cells)


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k} {v}" for k, v in value.items()).casefold()
    return "" if value is None else str(value).casefold()


def _sort_key(value: Any) -> tuple:
    """Numbers by value, dates by date, text in natural order (R2 before R10)."""
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)) or hasattr(value, "as_tuple"):
        return (0, value)
    if isinstance(value, (dt.date, dt.datetime)):
        return (1, value.isoformat())
    parts = re.split(r"([0-9]+)", str(value).casefold())
    return (2, tuple((1, int(p)) if p.isdigit() else (0, p) for p in parts))


# ---------------------------------------------------------------- bulk decisions
@dataclass
class BulkOutcome:
    """What a bulk decision did: each row decided on its own; a row that could not be
    decided (decided meanwhile, or refused by the checks) is listed with why."""

    accept: bool
    decided: list[dict] = field(default_factory=list)     # rows after their decision
    refused: list[dict] = field(default_factory=list)     # {"id", "problems": [Problem]}

    def to_json(self) -> dict:
        return {"accept": self.accept, "decided": self.decided,
                "refused": [{"id": r["id"], "problems": [p.to_json() for p in r["problems"]]}
                            for r in self.refused]}


def decide_many(ws: Workspace, view: QueueView, program: str, ids: list[str], *,
                accept: bool, reason: str | None, actor: str) -> BulkOutcome:
    """Decide each row through the queue's single decision (its checks, its audit entry,
    its own transaction), so one row that can no longer be decided leaves the others
    decided. A batch every row would refuse (no ids, a reason missing) is refused whole,
    before any change."""
    ids = list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
    reason = (reason or "").strip() or None
    problems = []
    if not ids:
        problems.append(Problem.of(N_("choose the %(queue)s to decide"), field="ids",
                                   queue=Word(view.name),
                                   hint=N_("tick their boxes (or all on this page)")))
    if len(ids) > MAX_PAGE_SIZE:
        problems.append(Problem.of(N_("%(count)s rows is more than %(limit)s at once"),
                                   field="ids", count=len(ids), limit=MAX_PAGE_SIZE,
                                   hint=N_("decide them a page at a time")))
    if reason is None and view.reason_needed[0 if accept else 1]:
        problems.append(Problem.of(
            N_("one reason for all: a resolution needs a reason") if accept
            else N_("one reason for all: a rejection needs a reason"), field="reason",
            hint=N_("write the reason once; every chosen row gets it")))
    if problems:
        raise DataError(problems)
    outcome = BulkOutcome(accept)
    today = ws.today(program)
    for item in ids:
        try:
            done = view.decide(ws, program, item, accept, actor, reason)
        except PaymasterError as err:
            outcome.refused.append({"id": item, "problems": err.problems})
        else:
            outcome.decided.append(view.row(done, today))
    return outcome
