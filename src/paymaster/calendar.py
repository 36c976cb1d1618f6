"""Business days by country (the `holidays` package): for approval and confirmation SLAs.

Period labels live with the engine (engine.context.period_label), which computes them
relationally."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays

@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)


def is_business_day(day: dt.date, country: str) -> bool:
    return day.weekday() < 5 and day not in _holidays(country, day.year)


def add_business_days(start: dt.date, days: int, country: str) -> dt.date:
    """The date `days` business days after `start` (start itself not counted)."""
    day = start
    remaining = days
    while remaining > 0:
        day += dt.timedelta(days=1)
        if is_business_day(day, country):
            remaining -= 1
    return day


def business_days_between(start: dt.date, end: dt.date, country: str) -> int:
    """Business days after `start` up to and including `end`."""
    count = 0
    day = start
    while day < end:
        day += dt.timedelta(days=1)
        count += is_business_day(day, country)
    return count
