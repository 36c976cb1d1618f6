"""Business days for SLAs: public holidays off, and China's weekend make-up days worked."""

from __future__ import annotations

import datetime as dt

from paymaster.calendar import add_business_days, business_days_between, is_business_day


def test_china_counts_its_weekend_make_up_days_as_working_days() -> None:
    # 2026 Spring Festival (State Council notice): Feb 15-23 off, Sat Feb 14 and Sat Feb 28
    # worked. 10 business days after Thu 2026-02-12, counted by hand: Fri 13 (1), Sat 14
    # make-up (2), Sun 15 - Mon 23 off, Tue 24 - Fri 27 (3-6), Sat 28 make-up (7),
    # Mon Mar 2 - Wed Mar 4 (8-10).
    assert add_business_days(dt.date(2026, 2, 12), 10, "CN") == dt.date(2026, 3, 4)
    assert business_days_between(dt.date(2026, 2, 12), dt.date(2026, 3, 4), "CN") == 10
    assert is_business_day(dt.date(2026, 2, 14), "CN")
    assert not is_business_day(dt.date(2026, 2, 15), "CN")  # an ordinary Sunday
    assert not is_business_day(dt.date(2026, 2, 23), "CN")  # the Monday given for Feb 28


def test_a_make_up_day_before_new_year_belongs_to_the_year_it_falls_in() -> None:
    # Jan 2-3, 2002 off, worked on Sat-Sun Dec 29-30, 2001.
    assert is_business_day(dt.date(2001, 12, 29), "CN")
    assert is_business_day(dt.date(2001, 12, 30), "CN")
    assert not is_business_day(dt.date(2002, 1, 2), "CN")


def test_countries_without_swaps_never_work_on_weekends() -> None:
    # Poland: Sat 2026-11-07 is a weekend day; Wed Nov 11 is Independence Day.
    assert not is_business_day(dt.date(2026, 11, 7), "PL")
    assert add_business_days(dt.date(2026, 11, 6), 5, "PL") == dt.date(2026, 11, 16)
