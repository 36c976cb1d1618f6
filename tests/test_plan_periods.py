"""The period's own start, end and length in expressions (issue 20 item 3), worked by
hand for May 2026 in Poland: 31 days, 21 weekdays, less 1 May (Labour Day, a Friday);
3 May (Constitution Day) and Whit Sunday (24 May) fall on Sundays: 20 business days."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from paymaster.errors import PlanError
from paymaster.engine import check
from paymaster.plan import parse_plan
from paymaster.runs import calculate

PLAN = """
program: periods
currency: PLN
country: PL
scope: {start: 2026-01-01, end: 2026-12-31}
inputs:
  visits:
    key: [visit_id]
    columns: {visit_id: string, rep_id: string, visited_on: date}
measures:
  - id: per_day
    type: per_record
    source: visits
    payee: rep_id
    source_id: visit_id
    date: visited_on
    rules:
      - {name: first_half, require: "days_between(period.start, visited_on) * 2 >= period.days"}
    amount: 100 * period.business_days + days_between(period.start, period.end)
"""


def test_period_attributes_of_a_calendar_month(tmp_path):
    (tmp_path / "visits.csv").write_text(
        "visit_id,rep_id,visited_on\nV1,R1,2026-05-20\nV2,R1,2026-05-05\nV3,R2,2026-02-27\n",
        encoding="utf-8")
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    lines = {r["source_id"]: (r["amount"], r["reason"])
             for r in calculate(plan, tmp_path).tables["payouts"].to_pylist()}
    assert lines["V1"] == (Decimal("2030.00"), None)  # 100 x 20 + 30
    assert lines["V2"] == (Decimal("0.00"), "first_half")  # 4 days in: 8 < 31
    # February 2026: 20 weekdays, no Polish holiday; 28 days
    assert lines["V3"] == (Decimal("2027.00"), None)


def test_period_of_needs_a_kind_it_knows():
    text = PLAN.replace("amount: 100 * period.business_days + days_between(period.start, period.end)",
                        "amount: \"CASE WHEN period_of(visited_on, 'week') = 'x' THEN 1 ELSE 0 END\"")
    with pytest.raises(PlanError, match="period_of needs the kind of period"):
        check(parse_plan(text, "p.yaml"))
    assert dt.date(2026, 5, 1).weekday() == 4  # the worksheet's premise: a Friday
