"""Period close: the office closes a period of a program, and nothing more is posted into it.

A close is final (there is no reopen: a period's posted totals are what was reported and
paid for it). A run of that one period is refused; a later run whose lines for the closed
period differ from what was posted posts the difference into the *next open period* of
the same kind (2025-Q1 -> 2025-Q2, 2026-03 -> 2026-04, a phase -> the plan's next phase),
as an adjustment entry that points at the entry it corrects and says which closed period
it adjusts (`LedgerEntry.adjusts_period`). Close and post both lock the program's row
first, so a post is either in before the close or sees it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from paymaster.errors import N_, Problem
from paymaster.plan.periods import scope_periods
from paymaster.services import audit
from paymaster.services.registrations import WorkflowError
from paymaster.store.models import LedgerEntry, PeriodClose, Program, Run, RunLine

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

ZERO = Decimal(0)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class ClosedPeriod:
    """A closed period and what the ledger holds posted into it (never changes)."""

    program: str
    period: str
    closed_at: dt.datetime
    closed_by: str
    entries: int
    total: Decimal


def close(ws: Workspace, program: str, period: str, *, actor: str) -> ClosedPeriod:
    """Close a period: audited, in one transaction with the lock posting takes."""
    period = period.strip()
    with ws.store.session() as session:
        lock_program(session, program)
        known = known_periods(ws, session, program)
        if period not in known:
            raise WorkflowError(Problem.of(
                N_("'%(period)s' is not a period of %(program)s"), period=period,
                program=program, periods=tuple(sorted(known)) or ("-",),
                hint=N_("its periods: %(periods)s")))
        done = closed(session, program)
        if period in done:
            was = done[period]
            raise WorkflowError(Problem.of(
                N_("period %(period)s of %(program)s was closed already (%(at)s by %(by)s)"),
                period=period, program=program, at=was.closed_at, by=was.closed_by,
                following=next_open(ws, program, period, set(done)),
                hint=N_("a correction of it posts into the next open period: "
                        "%(following)s")))
        now = ws.now()
        session.add(PeriodClose(program=program, period=period, closed_at=now, closed_by=actor))
        entries, total = _posted(session, program, period)
        audit.record(session, actor=actor, action="close", entity="period",
                     key=f"{program}/{period}", program=program, before={"status": "open"},
                     after={"status": "closed", "entries": entries, "total": total})
        return ClosedPeriod(program, period, now, actor, entries, total)


def list_closed(ws: Workspace, program: str) -> list[ClosedPeriod]:
    ws.program(program)  # an unknown program is an error, not an empty list
    with ws.store.reading() as session:
        return [ClosedPeriod(program, c.period, c.closed_at, c.closed_by,
                             *_posted(session, program, c.period))
                for c in sorted(closed(session, program).values(), key=lambda c: c.period)]


def overview(ws: Workspace, program: str) -> list[dict]:
    """Every period of the program, open or closed, with what is posted into it."""
    ws.program(program)
    with ws.store.reading() as session:
        done = closed(session, program)
        posted: dict[str, list[Decimal]] = {}
        for period, amount in session.execute(select(LedgerEntry.period, LedgerEntry.amount)
                                              .where(LedgerEntry.program == program)):
            posted.setdefault(period, []).append(amount)
        out = []
        for period in sorted(known_periods(ws, session, program) | set(done)):
            was = done.get(period)
            amounts = posted.get(period, [])
            out.append({"period": period, "status": "closed" if was else "open",
                        "entries": len(amounts), "total": sum(amounts, ZERO),
                        "closed_at": was.closed_at if was else None,
                        "closed_by": was.closed_by if was else None})
        return out


def closed(session: Session, program: str) -> dict[str, PeriodClose]:
    return {c.period: c for c in session.scalars(
        select(PeriodClose).where(PeriodClose.program == program))}


def lock_program(session: Session, program: str) -> None:
    """Close, post and cancel take this lock first: one of them at a time per program."""
    session.scalars(select(Program).where(Program.name == program).with_for_update()).one()


def refuse_closed_run(run: Run, done: dict[str, PeriodClose], next_period: str) -> None:
    if run.period is None or run.period not in done:
        return
    was = done[run.period]
    raise WorkflowError(Problem.of(
        N_("period %(period)s of %(program)s is closed (%(at)s by %(by)s): run %(run)s "
           "cannot post into it; nothing was posted"), period=run.period,
        program=run.program, at=was.closed_at.date(), by=was.closed_by, run=run.id,
        following=next_period,
        hint=N_("make a run of all periods: its changes to %(period)s post into "
                "%(following)s, the next open period, as adjustments"),
        cli_hint=f"make a run of all periods (paymaster runs new {run.program}): its changes "
        f"to {run.period} post into {next_period}, the next open period, as adjustments"))


def next_open(ws: Workspace, program: str, period: str, done: set[str]) -> str:
    """The first period after `period` of its kind that is not closed."""
    following = _following(ws, program, period)
    for label in following:
        if label not in done:
            return label
    raise WorkflowError(Problem.of(
        N_("no open period after %(period)s of %(program)s to post its correction into"),
        period=period, program=program,
        hint=N_("every later period of the plan is closed: correct the amount outside "
                "the program, or add the correction to a later plan")))


def known_periods(ws: Workspace, session: Session, program: str) -> set[str]:
    """The periods a program's lines carry: the plan's calendar periods and phases, and
    every period a run or the ledger has seen."""
    plan = ws.plan(program).plan
    out = {p for kind in ("month", "quarter", "year") for p in scope_periods(plan, kind)}
    out |= {p.id for p in plan.phases}
    out |= set(session.scalars(select(RunLine.period).join(Run, Run.id == RunLine.run_id)
                               .where(Run.program == program).distinct()))
    out |= set(session.scalars(select(LedgerEntry.period)
                               .where(LedgerEntry.program == program).distinct()))
    return out


def _following(ws: Workspace, program: str, period: str) -> list[str]:
    """The periods after `period` of the same kind, nearest first. Calendar periods go on
    past the plan's end (a correction can come after the program)."""
    for pattern, months in ((_MONTH, 1), (_QUARTER, 3), (_YEAR, 12)):
        found = pattern.match(period)
        if found:
            year, number = int(found.group(1)), int(found.group(2)) if months < 12 else 1
            index = year * (12 // months) + number - 1
            return [_label(index + step, months) for step in range(1, 12 * 10 // months + 1)]
    phases = [p.id for p in ws.plan(program).plan.phases]
    return phases[phases.index(period) + 1:] if period in phases else []


def _label(index: int, months: int) -> str:
    per_year = 12 // months
    year, number = divmod(index, per_year)
    if months == 1:
        return f"{year}-{number + 1:02d}"
    if months == 3:
        return f"{year}-Q{number + 1}"
    return str(year)


def _posted(session: Session, program: str, period: str) -> tuple[int, Decimal]:
    amounts = list(session.scalars(select(LedgerEntry.amount).where(
        LedgerEntry.program == program, LedgerEntry.period == period)))
    return len(amounts), sum(amounts, ZERO)
