"""Calendar periods (month, quarter, year) as expressions see them: the label a line
carries ('2026-03', '2026-Q1', '2026'), and `period.start`, `period.end`, `period.days`,
`period.business_days` of the period a record or a target row falls in."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from paymaster.calendar import business_days_between
from paymaster.plan.model import Plan

PERIOD_PREFIX = "period__"
CALENDAR_KINDS = ("month", "quarter", "year")
ATTRIBUTES = ("start", "end", "days", "business_days")


def period_label(day: ir.Value, kind: str) -> ir.Value:
    if kind == "month":
        return day.strftime("%Y-%m")
    if kind == "quarter":
        return day.year().cast("string").concat("-Q", day.quarter().cast("string"))
    if kind == "year":
        return day.year().cast("string")
    raise ValueError(f"unknown period kind '{kind}'")


def period_start(day: ir.Value, kind: str) -> ir.Value:
    unit = {"month": "M", "quarter": "Q", "year": "Y"}[kind]
    return day.truncate(unit).cast("date")


def period_index(day: ir.Value, kind: str) -> ir.Value:
    """Consecutive numbers for consecutive periods (for streaks)."""
    if kind == "month":
        return day.year() * 12 + day.month()
    if kind == "quarter":
        return day.year() * 4 + day.quarter()
    return day.year()


STEP_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def label_of(day: dt.date, kind: str) -> str:
    """The label of the calendar period containing `day`, as `period_label` writes it."""
    if kind == "month":
        return f"{day.year}-{day.month:02d}"
    if kind == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return str(day.year)


def _starts(first: dt.date, last: dt.date, kind: str) -> list[dt.date]:
    """The first days of the periods of `kind` from the one containing `first` to the one
    containing `last`."""
    step = STEP_MONTHS[kind]
    day, out = dt.date(first.year, (first.month - 1) // step * step + 1, 1), []
    while day <= last:
        out.append(day)
        months = day.month - 1 + step
        day = dt.date(day.year + months // 12, months % 12 + 1, 1)
    return out


def scope_periods(plan: Plan, kind: str) -> list[str]:
    """The labels of the periods of `kind` the plan's scope touches, in order."""
    if kind == "phases":
        return [p.id for p in plan.phases
                if p.start <= plan.scope.end and p.end >= plan.scope.start]
    return [label_of(day, kind) for day in _starts(plan.scope.start, plan.scope.end, kind)]


def calendar_periods(kind: str, first: dt.date, last: dt.date, country: str) -> ir.Table:
    """One row per period of `kind` from the year of `first` to the year of `last`:
    `period__label` and the attributes. Business days are Monday to Friday less the
    country's public holidays (plus its make-up working days); without a country,
    Monday to Friday."""
    rows: dict[str, list] = {PERIOD_PREFIX + a: [] for a in ("label", *ATTRIBUTES)}
    for start in _starts(dt.date(first.year, 1, 1), dt.date(last.year, 12, 31), kind):
        months = start.month - 1 + STEP_MONTHS[kind]
        end = dt.date(start.year + months // 12, months % 12 + 1, 1) - dt.timedelta(days=1)
        for name, value in (("label", label_of(start, kind)), ("start", start), ("end", end),
                            ("days", (end - start).days + 1),
                            ("business_days", _business_days(start, end, country))):
            rows[PERIOD_PREFIX + name].append(value)
    return ibis.memtable(rows, schema={
        PERIOD_PREFIX + "label": "string", PERIOD_PREFIX + "start": "date",
        PERIOD_PREFIX + "end": "date", PERIOD_PREFIX + "days": "int64",
        PERIOD_PREFIX + "business_days": "int64"})


def _business_days(start: dt.date, end: dt.date, country: str) -> int:
    if country:
        # business_days_between counts the days after its start: begin the day before
        return business_days_between(start - dt.timedelta(days=1), end, country)
    return sum((start + dt.timedelta(days=i)).weekday() < 5 for i in range((end - start).days + 1))
