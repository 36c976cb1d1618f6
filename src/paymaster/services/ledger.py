"""Runs and the ledger: preview -> approve -> post (payout batches: services.payouts).

A run is the plan version + the input fingerprint + a period. Posting writes, in one
transaction, only the difference between the run and what the ledger already holds for
each payout line: the first amount as a `payout`, later changes as an `adjustment` (up)
or `clawback` (down) pointing to the entry they correct. Posting a run twice is a no-op.
A closed period takes no more entries (services.closes): a run of it is refused, and a
change to one of its lines is posted into the next open period, marked `adjusts_period`.
The ledger is append-only (the database refuses UPDATE and DELETE on it).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from paymaster.errors import N_, Word, Problem
from paymaster.money import round_money
from paymaster.runs import Progress
from paymaster.services import audit, closes, notifications, programs
from paymaster.services.audit import jsonable
from paymaster.services.calc import calculate_stored, fingerprint_stored
from paymaster.services.registrations import WorkflowError
from paymaster.store.models import LedgerEntry, Payment, Run, RunLine

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

# An exact zero: a sum or difference of amounts keeps their places (51 yen, not 51.00).
ZERO = Decimal(0)
CRASH_HOOK = "PAYMASTER_CRASH_AT"  # tests: kill the process at a named point (post, pay)


@dataclass
class Change:
    line_key: str
    payee_id: str
    period: str
    measure: str
    source_id: str | None
    posted: Decimal
    new: Decimal
    first: bool  # nothing was ever posted for this line

    @property
    def difference(self) -> Decimal:
        return self.new - self.posted

    @property
    def kind(self) -> str:
        if self.first:
            return "payout"  # a line's first amount, whatever its sign (a refund line is < 0)
        return "adjustment" if self.difference > 0 else "clawback"


@dataclass
class PostResult:
    run: Run
    entries: list[LedgerEntry] = field(default_factory=list)
    already: bool = False

    @property
    def total(self) -> Decimal:
        return sum((e.amount for e in self.entries), ZERO)


def line_key(row: dict) -> str:
    return "|".join([row["payee_id"], row["period"], row["measure"], row["source_id"] or ""])


def create_run(ws: Workspace, program: str, *, actor: str, period: str | None = None,
               as_of: dt.date | None = None, progress: Progress | None = None) -> Run:
    """Calculate on the store's data as of a date and keep the result as a preview. The
    same plan, input and period give back the existing run instead of a copy."""
    as_of = as_of or ws.today()
    programs.record_plan(ws, program, actor)
    with ws.store.session() as session:
        result = calculate_stored(ws, session, program, as_of, progress=progress)
    payouts = [r for r in result.tables["payouts"].to_pylist()
               if period is None or r["period"] == period]
    if period is not None and not payouts:
        periods = sorted({r["period"] for r in result.tables["payouts"].to_pylist()})
        raise WorkflowError(Problem.of(N_("no payout lines in period '%(period)s'"),
                                       period=period, periods=tuple(periods) or ("-",),
                                       hint=N_("periods: %(periods)s")))
    sha = ws.plan_sha(program)
    with ws.store.session() as session:
        same = session.scalars(select(Run).where(
            Run.program == program, Run.plan_sha == sha, Run.fingerprint == result.fingerprint,
            Run.period.is_(None) if period is None else Run.period == period)).first()
        latest = session.scalar(select(Run.id).where(Run.program == program)
                                .order_by(Run.id.desc()).limit(1))
        if same is not None and same.id == latest and _mark_after(session, same) == _ledger_mark(
                session, program):
            return same  # nothing changed since: the same run, not a copy
        run = Run(program=program, period=period, as_of=as_of, plan_sha=sha,
                  fingerprint=result.fingerprint, ledger_mark=_ledger_mark(session, program),
                  status="preview", created_at=ws.now(),
                  created_by=actor,
                  total=round_money(sum((r["amount"] for r in payouts), ZERO),
                                    ws.plan(program).plan.currency),
                  timings=result.timings,
                  evaluations={"rows": jsonable(_in_period(result, "evaluations", period))},
                  titles={"rows": jsonable(_in_period(result, "titles", period))})
        session.add(run)
        session.flush()
        session.add_all(_lines(run.id, payouts))
        audit.record(session, actor=actor, action="run", entity="run", key=str(run.id),
                     program=program, after={"period": period, "as_of": as_of,
                                             "fingerprint": run.fingerprint, "total": run.total})
        return run


def changes(ws: Workspace, run_id: int) -> list[Change]:
    """What posting this run would write: each line whose amount differs from the ledger."""
    with ws.store.session() as session:
        return pending_changes(session, _get(session, run_id))


def approve(ws: Workspace, run_id: int, *, actor: str) -> Run:
    with ws.store.session() as session:
        run = _get(session, run_id, lock=True)
        if run.status != "preview":
            raise WorkflowError(Problem.of(N_("run %(run)s is %(status)s, not a preview"),
                                           run=run_id, status=Word(run.status)))
        run.status, run.approved_at, run.approved_by = "approved", ws.now(), actor
        audit.record(session, actor=actor, action="approve", entity="run", key=str(run_id),
                     program=run.program, before={"status": "preview"},
                     after={"status": "approved"})
        return run


def post(ws: Workspace, run_id: int, *, actor: str) -> PostResult:
    """Append the run's differences to the ledger, all in one transaction."""
    with ws.store.session() as session:
        run = _get(session, run_id, lock=True)
        if run.status == "posted":
            return PostResult(run, already=True)
        if run.status != "approved":
            raise WorkflowError(Problem.of(N_("run %(run)s is %(status)s: approve it first"),
                                           run=run_id, status=Word(run.status),
                                           cli_hint=f"paymaster runs approve {run_id}"))
        # One poster per program at a time (two runs must not both post one difference),
        # and no close in between: a closed period is closed for this post too.
        closes.lock_program(session, run.program)
        done = closes.closed(session, run.program)
        if run.period in done:
            closes.refuse_closed_run(run, done, closes.next_open(ws, run.program, run.period,
                                                                 set(done)))
        _refuse_if_stale(ws, session, run)
        now = ws.now()
        last = _last_entries(session, run.program)
        entries = []
        for change in pending_changes(session, run):
            booked, adjusts = _booking(ws, run.program, change.period, done)
            entries.append(LedgerEntry(
                program=run.program, run_id=run.id, line_key=change.line_key,
                payee_id=change.payee_id, period=booked, adjusts_period=adjusts,
                measure=change.measure, source_id=change.source_id,
                kind=_kind(change, adjusts), amount=change.difference,
                corrects=last.get(change.line_key), posted_at=now, posted_by=actor))
        session.add_all(entries)
        session.flush()
        _crash_point("post:after_entries")
        run.status, run.posted_at, run.posted_by = "posted", now, actor
        audit.record(session, actor=actor, action="post", entity="run", key=str(run_id),
                     program=run.program, before={"status": "approved"},
                     after={"status": "posted", "entries": len(entries),
                            "total": sum((e.amount for e in entries), ZERO)})
        notifications.statement_published(ws, session, run)
        return PostResult(run, entries)


def _booking(ws: Workspace, program: str, period: str,
             done: dict) -> tuple[str, str | None]:
    """Where an entry for a line of `period` is posted: its own period, or, when that is
    closed, the next open one (and the closed period it adjusts)."""
    if period not in done:
        return period, None
    return closes.next_open(ws, program, period, set(done)), period


def _kind(change: Change, adjusts: str | None) -> str:
    if adjusts is None:
        return change.kind
    # in a later period even a line's first amount corrects the closed period's total
    return "adjustment" if change.difference > 0 else "clawback"


def _refuse_if_stale(ws: Workspace, session: Session, run: Run) -> None:
    """A run posts what it computed: if the ledger, the plan or the input moved on since
    it was made (a later run posted, a partner's amounts cancelled, a correction
    imported, a registration decided), posting it would be wrong; make a new run."""
    why = None
    if _ledger_mark(session, run.program) != run.ledger_mark:
        why = N_("run %(run)s is out of date: the ledger has changed since it was made")
    elif ws.plan_sha(run.program) != run.plan_sha:
        why = N_("run %(run)s is out of date: the plan has changed since it was made")
    elif fingerprint_stored(ws, session, run.program, run.as_of) != run.fingerprint:
        why = N_("run %(run)s is out of date: its input (as of %(as_of)s) has changed since "
                 "it was made")
    if why:
        raise WorkflowError(Problem.of(why, run=run.id, as_of=run.as_of,
                                       hint=N_("make a new run: it posts only what changed"),
                                       cli_hint=f"make a new run (paymaster runs new "
                                       f"{run.program}): it posts only what changed"))


def _ledger_mark(session: Session, program: str) -> int:
    return session.scalar(select(func.max(LedgerEntry.id)).where(
        LedgerEntry.program == program)) or 0


def _mark_after(session: Session, run: Run) -> int:
    """The program's last ledger entry once this run is done: its own, if it posted any."""
    own = session.scalar(select(func.max(LedgerEntry.id)).where(LedgerEntry.run_id == run.id))
    return own or run.ledger_mark


def cancel_unpaid(ws: Workspace, session: Session, program: str, payee_id: str, *,
                  reason: str, actor: str) -> list[LedgerEntry]:
    """Cancel what is posted but not yet paid to a payee (kept on record, with the reason);
    a line of a closed period is cancelled in the next open period."""
    closes.lock_program(session, program)
    done = closes.closed(session, program)
    paid = set(session.scalars(select(Payment.entry_id)))
    unpaid: dict[str, Decimal] = defaultdict(lambda: ZERO)
    meta: dict[str, LedgerEntry] = {}
    for entry in session.scalars(select(LedgerEntry).where(
            LedgerEntry.program == program, LedgerEntry.payee_id == payee_id)
            .order_by(LedgerEntry.id)):
        if entry.id not in paid:
            unpaid[entry.line_key] += entry.amount
        meta[entry.line_key] = entry
    now = ws.now()
    entries = []
    for key, amount in unpaid.items():
        if amount == 0:
            continue
        booked, adjusts = _booking(ws, program, meta[key].line_period, done)
        entries.append(LedgerEntry(
            program=program, run_id=None, line_key=key, payee_id=payee_id, period=booked,
            adjusts_period=adjusts, measure=meta[key].measure, source_id=meta[key].source_id,
            kind="cancellation", amount=-amount, corrects=meta[key].id, reason=reason,
            posted_at=now, posted_by=actor))
    session.add_all(entries)
    return entries


def entries(ws: Workspace, program: str, payee_id: str | None = None,
            period: str | None = None) -> list[LedgerEntry]:
    with ws.store.session() as session:
        query = select(LedgerEntry).where(LedgerEntry.program == program)
        if payee_id:
            query = query.where(LedgerEntry.payee_id == payee_id)
        if period:
            query = query.where(LedgerEntry.period == period)
        return list(session.scalars(query.order_by(LedgerEntry.id)))


def runs(ws: Workspace, program: str | None = None) -> list[Run]:
    with ws.store.session() as session:
        query = select(Run)
        if program:
            query = query.where(Run.program == program)
        return list(session.scalars(query.order_by(Run.id)))


def run_lines(ws: Workspace, run_id: int, payee_id: str | None = None) -> list[RunLine]:
    with ws.store.session() as session:
        query = select(RunLine).where(RunLine.run_id == run_id)
        if payee_id:
            query = query.where(RunLine.payee_id == payee_id)
        return list(session.scalars(query.order_by(RunLine.id)))


def get_run(ws: Workspace, run_id: int) -> Run:
    with ws.store.session() as session:
        return _get(session, run_id)


# ---------------------------------------------------------------- internals
def _in_period(result, table: str, period: str | None) -> list[dict]:
    return [r for r in result.tables[table].to_pylist() if period is None or r["period"] == period]


def _lines(run_id: int, payouts: list[dict]) -> list[RunLine]:
    seen: dict[str, int] = defaultdict(int)
    lines = []
    for row in payouts:
        key = line_key(row)
        seen[key] += 1
        if seen[key] > 1:  # two lines of one source in one measure: keep them apart
            key = f"{key}#{seen[key]}"
        lines.append(RunLine(
            run_id=run_id, line_key=key, payee_id=row["payee_id"], period=row["period"],
            measure=row["measure"], source_id=row["source_id"], date=row["date"],
            # an unpaid line's amount is the engine's 0 in the currency's places
            amount=row["amount"] if row["paid"] else row["amount"] * 0, paid=bool(row["paid"]),
            budget=row["budget"], band=row["band"], value=row["value"], reason=row["reason"],
            trace=line_trace(row)))
    return lines


def line_trace(row: dict) -> dict:
    """What a stored line keeps of its payout row to be explained later: the trace and
    the figures its columns do not hold (JSON: Decimals and dates as text, blanks left out)."""
    kept = {k: jsonable(v) for k, v in row.items() if k not in _LINE_COLUMNS and v is not None}
    kept["earned"] = jsonable(row.get("earned"))
    kept["amount"] = jsonable(row.get("amount"))
    return kept


# Payout columns a RunLine holds itself.
_LINE_COLUMNS = frozenset({"program", "payee_id", "period", "measure", "source_id", "date",
                           "paid", "budget", "band", "value", "reason", "explanation"})


def line_row(line: RunLine) -> dict:
    """A stored line as the renderer reads a payout row (`explanations.explain_line`)."""
    return {**(line.trace or {}), "measure": line.measure, "source_id": line.source_id,
            "date": line.date, "paid": line.paid, "budget": line.budget, "band": line.band,
            "value": line.value, "reason": line.reason, "explanation": line.explanation}


def pending_changes(session: Session, run: Run) -> list[Change]:
    balances = _balances(session, run.program, run.period)
    out = []
    seen = set()
    for line in session.scalars(select(RunLine).where(RunLine.run_id == run.id)
                                .order_by(RunLine.id)):
        seen.add(line.line_key)
        posted, entry = balances.get(line.line_key, (ZERO, None))
        if line.amount != posted:
            out.append(Change(line.line_key, line.payee_id, line.period, line.measure,
                              line.source_id, posted, line.amount, first=entry is None))
    for key, (posted, entry) in balances.items():
        if key not in seen and posted != 0:  # the line is gone from the new run
            out.append(Change(key, entry.payee_id, entry.line_period, entry.measure,
                              entry.source_id, posted, ZERO, first=False))
    return out


def _balances(session: Session, program: str,
              period: str | None) -> dict[str, tuple[Decimal, LedgerEntry]]:
    query = select(LedgerEntry).where(LedgerEntry.program == program)
    if period is not None:  # a line's entries, wherever they were posted
        query = query.where(or_(LedgerEntry.period == period,
                                LedgerEntry.adjusts_period == period))
    out: dict[str, tuple[Decimal, LedgerEntry]] = {}
    for entry in session.scalars(query.order_by(LedgerEntry.id)):
        if period is not None and entry.line_period != period:
            continue  # posted into this period, but a correction of a closed one
        total, _ = out.get(entry.line_key, (ZERO, entry))
        out[entry.line_key] = (total + entry.amount, entry)
    return out


def _last_entries(session: Session, program: str) -> dict[str, int]:
    return {key: entry.id for key, (_, entry) in _balances(session, program, None).items()}


def _get(session: Session, run_id: int, lock: bool = False) -> Run:
    query = select(Run).where(Run.id == run_id)
    run = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if run is None:
        raise WorkflowError(Problem.of(N_("unknown run %(run)s"), run=run_id,
                                       cli_hint="list them with: paymaster runs list PROGRAM"))
    return run


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_HOOK) == name:
        os.kill(os.getpid(), signal.SIGKILL)
