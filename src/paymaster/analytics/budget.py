"""Budget pools over time: spent, committed, remaining, and when the pool will run out.

The projection is the run rate of the recent weeks (mean weekly charge, by the date of
each line) with an interval of two standard errors either side; the exhaustion date is
the remaining amount divided by that rate. The projection stops at the program's end
date: a pool that would run out only after the program ended does not run out (the
forecast says what it would have used by the end instead). Every figure comes from the
engine's lines (charged amounts) and the ledger (what is posted): nothing is calculated a
second way.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select

from paymaster.errors import Problem
from paymaster.money import round_money
from paymaster.services.registrations import WorkflowError
from paymaster.store.models import LedgerEntry, Run, RunLine

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

ZERO = Decimal("0.00")
RECENT_WEEKS = 8


@dataclass(frozen=True)
class Line:
    date: dt.date
    amount: Decimal      # charged to the pool
    posted: Decimal      # of `amount`, what the ledger holds


@dataclass(frozen=True)
class BudgetForecast:
    program: str
    pool: str
    currency: str
    limit: Decimal
    spent: Decimal          # posted to the ledger
    committed: Decimal      # earned in the latest calculation, not posted yet
    remaining: Decimal
    as_of: dt.date
    weekly: list[tuple[dt.date, Decimal]] = field(default_factory=list)  # Monday, charged
    rate_per_week: Decimal | None = None
    rate_low: Decimal | None = None
    rate_high: Decimal | None = None
    exhaustion: dt.date | None = None       # projected (or actual) date the pool runs out
    exhaustion_low: dt.date | None = None   # earliest, at the high rate
    exhaustion_high: dt.date | None = None  # latest, at the low rate (None: not in sight)
    exhausted_on: dt.date | None = None     # the date it actually ran out
    ends_on: dt.date | None = None          # the program's end: no projection past it
    used_at_end: Decimal | None = None      # projected use by ends_on, when it lasts till then

    @property
    def used(self) -> Decimal:
        return self.spent + self.committed


def forecast(program: str, pool: str, currency: str, limit: Decimal, lines: list[Line],
             as_of: dt.date, recent_weeks: int = RECENT_WEEKS,
             ends_on: dt.date | None = None) -> BudgetForecast:
    seen = [ln for ln in lines if ln.date <= as_of]
    spent = sum((ln.posted for ln in seen), ZERO)
    committed = sum((ln.amount for ln in seen), ZERO) - spent
    remaining = max(ZERO, limit - spent - committed)
    weekly = _weekly(seen, as_of)
    exhausted_on = _crossing(seen, limit) if remaining == 0 else None
    base = BudgetForecast(program, pool, currency, limit, spent, committed, remaining, as_of,
                          weekly, exhausted_on=exhausted_on, ends_on=ends_on)
    if exhausted_on is not None:
        return _with(base, exhaustion=exhausted_on, exhaustion_low=exhausted_on,
                     exhaustion_high=exhausted_on)
    recent = [amount for _, amount in weekly[-recent_weeks:]]
    if not recent:
        return base
    rate = sum(recent, ZERO) / len(recent)
    # Two standard errors of the weekly mean: a rough 95% interval for the run rate.
    spread = (2 * statistics.stdev(recent) / Decimal(len(recent)).sqrt()
              if len(recent) > 1 else ZERO)
    low, high = max(ZERO, rate - spread), rate + spread
    exhaustion = _before(_when(as_of, remaining, rate), ends_on)
    used_at_end = None
    if exhaustion is None and ends_on is not None and ends_on > as_of:
        # It lasts the program: the use projected at the run rate up to its last day.
        used_at_end = round_money(base.used + rate * (ends_on - as_of).days / 7, currency)
    return _with(base, rate_per_week=round_money(rate, currency),
                 rate_low=round_money(low, currency), rate_high=round_money(high, currency),
                 exhaustion=exhaustion, used_at_end=used_at_end,
                 exhaustion_low=_before(_when(as_of, remaining, high), ends_on),
                 exhaustion_high=_before(_when(as_of, remaining, low), ends_on))


def budget_forecast(ws: Workspace, program: str, as_of: dt.date | None = None,
                    recent_weeks: int = RECENT_WEEKS) -> list[BudgetForecast]:
    """Every pool of a workspace program, from its latest run and the ledger."""
    plan = ws.plan(program).plan
    if not plan.budgets:
        raise WorkflowError(Problem(f"program {program} has no budget pool",
                                    hint="budgets: are declared in the plan"))
    with ws.store.reading() as session:
        run = session.scalars(select(Run).where(Run.program == program)
                              .order_by(Run.id.desc())).first()
        if run is None:
            raise WorkflowError(Problem(f"program {program} has no run yet",
                                        hint=f"paymaster runs new {program}"))
        posted: dict[str, Decimal] = {}
        for key, amount in session.execute(select(LedgerEntry.line_key, LedgerEntry.amount)
                                           .where(LedgerEntry.program == program)):
            posted[key] = posted.get(key, ZERO) + amount
        rows = session.scalars(select(RunLine).where(RunLine.run_id == run.id,
                                                     RunLine.budget.is_not(None))).all()
        by_pool: dict[str, list[Line]] = {}
        for row in rows:
            by_pool.setdefault(row.budget, []).append(Line(
                row.date or plan.scope.start, row.amount,
                Decimal(posted.get(row.line_key) or 0)))
    day = as_of or min(ws.today(), plan.scope.end)
    return [forecast(program, pool.id, plan.currency, Decimal(pool.amount), by_pool.get(pool.id, []),
                     day, recent_weeks, plan.scope.end) for pool in plan.budgets]


def _weekly(lines: list[Line], as_of: dt.date) -> list[tuple[dt.date, Decimal]]:
    if not lines:
        return []
    first = _monday(min(ln.date for ln in lines))
    weeks: dict[dt.date, Decimal] = {}
    day = first
    while day <= as_of:
        weeks[day] = ZERO
        day += dt.timedelta(days=7)
    for ln in lines:
        weeks[_monday(ln.date)] = weeks.get(_monday(ln.date), ZERO) + ln.amount
    return sorted(weeks.items())


def _crossing(lines: list[Line], limit: Decimal) -> dt.date | None:
    total = ZERO
    for ln in sorted(lines, key=lambda x: x.date):
        total += ln.amount
        if total >= limit:
            return ln.date
    return None


def _when(as_of: dt.date, remaining: Decimal, rate: Decimal) -> dt.date | None:
    if rate <= 0:
        return None
    days = (remaining / rate * 7).to_integral_value(rounding=ROUND_HALF_UP)
    return as_of + dt.timedelta(days=int(days))


def _before(day: dt.date | None, ends_on: dt.date | None) -> dt.date | None:
    """A projected date, or None when it falls after the program's end (it never comes)."""
    return None if day is None or (ends_on is not None and day > ends_on) else day


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _with(base: BudgetForecast, **changes) -> BudgetForecast:
    from dataclasses import replace

    return replace(base, **changes)
