"""Calendar periods (month, quarter, year) as expressions see them: the label a line
carries ('2026-03', '2026-Q1', '2026'), and `period.start`, `period.end`, `period.days`,
`period.business_days` of the period a record or a target row falls in."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from paymaster.calendar import business_days_between

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


def calendar_periods(kind: str, first: dt.date, last: dt.date, country: str) -> ir.Table:
    """One row per period of `kind` from the year of `first` to the year of `last`:
    `period__label` and the attributes. Business days are Monday to Friday less the
    country's public holidays (plus its make-up working days); without a country,
    Monday to Friday."""
    months = {"month": 1, "quarter": 3, "year": 12}[kind]
    rows: dict[str, list] = {PERIOD_PREFIX + a: [] for a in ("label", *ATTRIBUTES)}
    start = dt.date(first.year, 1, 1)
    while start.year <= last.year:
        month = start.month + months
        following = dt.date(start.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
        end = following - dt.timedelta(days=1)
        label = {"month": f"{start:%Y-%m}", "quarter": f"{start.year}-Q{(start.month + 2) // 3}",
                 "year": f"{start.year}"}[kind]
        for name, value in (("label", label), ("start", start), ("end", end),
                            ("days", (end - start).days + 1),
                            ("business_days", _business_days(start, end, country))):
            rows[PERIOD_PREFIX + name].append(value)
        start = following
    return ibis.memtable(rows, schema={
        PERIOD_PREFIX + "label": "string", PERIOD_PREFIX + "start": "date",
        PERIOD_PREFIX + "end": "date", PERIOD_PREFIX + "days": "int64",
        PERIOD_PREFIX + "business_days": "int64"})


def _business_days(start: dt.date, end: dt.date, country: str) -> int:
    if country:
        # business_days_between counts the days after its start: begin the day before
        return business_days_between(start - dt.timedelta(days=1), end, country)
    return sum((start + dt.timedelta(days=i)).weekday() < 5 for i in range((end - start).days + 1))
