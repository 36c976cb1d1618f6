"""The run's as-of day: what is overdue depends on it (a screening's `decision.answer_within`).

A run gets it as a value, never as SQL text: a one-row table `RUN_TABLE` beside the input
tables, holding the as-of day and, for each screening with `answer_within`, the last record
day already overdue on it (`overdue_through`). So the compiled SQL, and the SQL cache's
key (backends/sqlcache.py), are the same every day; only the row changes. The business
days are counted here, by `calendar.add_business_days`, as the workspace counts a
registration's due date: one notion of "due" for the run and the queues.

A plan without `answer_within` gets no such table: its runs do not depend on the day.
What the table needs of the plan is plain data (`clocks`: column, business days,
country), so the fast path (fastentry.py, fastrun.py) makes the same table without the
plan's model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING, Any

from paymaster.sqlnames import quote

if TYPE_CHECKING:
    from paymaster.plan.model import AnswerWithin, Plan, Screening

# Not a name a plan's input can take (plan/model.py NAME starts with a letter).
RUN_TABLE = "__run"
AS_OF = "as_of"


def timed(plan: Plan) -> list[Screening]:
    """The plan's screenings whose waiting records become overdue."""
    return [m for m in plan.measures
            if getattr(m, "decision", None) is not None and m.decision.answer_within is not None]


def needed(plan: Plan) -> bool:
    """Does a run of `plan` depend on its as-of day?"""
    return bool(timed(plan))


def column(measure_id: str) -> str:
    """The run table's column with the last overdue record day of a screening."""
    return f"overdue_through__{measure_id}"


def country(plan: Plan, within: AnswerWithin) -> str:
    return within.country or plan.country


def clocks(plan: Plan) -> list[tuple[str, int, str]]:
    """Each timed screening's run table column, business days and country."""
    return [(column(m.id), m.decision.answer_within.business_days,
             country(plan, m.decision.answer_within)) for m in timed(plan)]


def due_on(day: dt.date, within: AnswerWithin, plan: Plan) -> dt.date:
    """The last day to answer a record of `day`."""
    return _due(day, within.business_days, country(plan, within))


def _due(day: dt.date, business_days: int, country_code: str) -> dt.date:
    # (imported here: the `holidays` package takes longer to import than a cached run of
    # a plan without `answer_within` takes to run, and such a run never counts days)
    from paymaster.calendar import add_business_days

    return add_business_days(day, business_days, country_code)


def overdue_through(as_of: dt.date, business_days: int, country_code: str) -> dt.date:
    """The last record day whose due date is before `as_of`: a record of that day or
    earlier, still unanswered on `as_of`, is overdue ("past" the due date: one due on the
    as-of day is not yet). Due dates never fall as the record day rises, so one day
    splits the records."""
    day = as_of - dt.timedelta(days=1)
    while _due(day, business_days, country_code) >= as_of:
        day -= dt.timedelta(days=1)
    return day


def schemas(plan: Plan) -> dict[str, dict[str, str]]:
    """The run table's columns and their types, for compiling the plan without data."""
    if not needed(plan):
        return {}
    return {RUN_TABLE: {name: "date" for name in [AS_OF, *(c for c, _n, _k in clocks(plan))]}}


def resolve(as_of: dt.date | None) -> dt.date:
    """The as-of day of a run not given one: today."""
    return as_of if as_of is not None else dt.date.today()


def register(con: Any, plan: Plan, as_of: dt.date | None) -> list[str]:
    """Create the run table on the DuckDB connection `con` when `plan` needs one; the
    names of the tables made (none or `RUN_TABLE`)."""
    return create(con, clocks(plan), as_of)


# How many as-of days a fast entry knows the run table's row for (from the day it is made).
SCHEDULE_DAYS = 400


def schedule(timers: list, start: dt.date) -> dict[str, list[str]]:
    """The last overdue record day of each of `clocks`, for each as-of day from `start` on
    (SCHEDULE_DAYS of them): what a fast run (fastrun.py) reads instead of counting
    business days, since importing the `holidays` package alone costs a third of a
    cached example's run."""
    days = (start + dt.timedelta(days=n) for n in range(SCHEDULE_DAYS))
    return {day.isoformat(): [overdue_through(day, n, where).isoformat() for _c, n, where in timers]
            for day in days}


def create(con: Any, timers: list, as_of: dt.date | None,
           known: list[str] | None = None) -> list[str]:
    """The run table of `clocks` on `con`, its values bound as parameters (none without
    clocks); the names of the tables made. `known`: the clocks' days for this as-of day,
    from a `schedule`."""
    if not timers:
        return []
    day = resolve(as_of)
    through = ([dt.date.fromisoformat(d) for d in known] if known is not None
               else [overdue_through(day, n, where) for _c, n, where in timers])
    row = {AS_OF: day} | {name: d for (name, _n, _w), d in zip(timers, through, strict=True)}
    columns = ", ".join(f"CAST(? AS DATE) AS {quote(name)}" for name in row)
    con.execute(f"CREATE OR REPLACE TABLE {quote(RUN_TABLE)} AS SELECT {columns}",
                list(row.values()))
    return [RUN_TABLE]


def fingerprint(found: str, day: dt.date | None) -> str:
    """A run's fingerprint (digests.run_fingerprint) with the as-of day it depends on
    (None: it depends on none)."""
    if day is None:
        return found
    return hashlib.sha256(f"{found}\0{day.isoformat()}".encode()).hexdigest()[:16]
