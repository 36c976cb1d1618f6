"""Business days by country (the `holidays` package): for approval and confirmation SLAs.

Period labels live with the engine (engine.context.period_label), which computes them
relationally."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)


@lru_cache(maxsize=64)
def _makeup_workdays(country: str, year: int) -> frozenset[dt.date]:
    """Weekend days worked in exchange for a day off (China's 调休: 'Day off (substituted
    from 02/14/2026)'). `holidays` lists only the day off; the Saturday or Sunday it was
    swapped with is a working day, named in the day off's label. A swap may cross the
    year's end, so the next year's days off are read too."""
    found = set()
    for source in (_holidays(country, year), _holidays(country, year + 1)):
        label = getattr(source, "substituted_label", None)
        if label is None:
            continue
        pattern = re.compile(re.escape(source.tr(label)).replace("%s", "(.+?)") + "$")
        date_format = source.tr(source.substituted_date_format)
        for name in source.values():
            for part in name.split("; "):
                if match := pattern.match(part):
                    found.add(dt.datetime.strptime(match.group(1), date_format).date())
    return frozenset(d for d in found if d.year == year)


def is_business_day(day: dt.date, country: str) -> bool:
    if day.weekday() >= 5:
        return day in _makeup_workdays(country, day.year)
    return day not in _holidays(country, day.year)


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
