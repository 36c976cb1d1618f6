"""The payout line's trace columns hold the largest figures a plan allows, exactly.

docs/plan-language.md ("Magnitudes"): an input decimal is below 10^14 with 4 places, a
product below 10^22, any value below 10^30. The payouts keep every trace figure in
`DECIMAL(38, 8)` (docs/traces.md) whether it is sorted with the line or put back over the
sorted lines as a literal (engine/build.py `sorted_lines`): nothing narrower may cut it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from property_support import DAY0, half_up, header, run

INPUT_MAX = Decimal("99999999999999.9999")  # DECIMAL(18, 4): the largest input decimal
CAP = Decimal("90000000000000")
SCALE = Decimal("10000000")  # base = capped x 10^7 < 10^21, inside a product's 10^22
RATE = Decimal("0.000001")   # so that the amount, in DECIMAL(18, 2), stays below 10^15

PLAN = header() + f"""
measures:
  - id: deal
    type: per_record
    source: sales
    payee: rep
    source_id: sale_id
    date: day
    period: month
    caps: [{{name: capped, value: amount, max: {CAP}}}]
    base: capped * {SCALE}
    rate: {RATE}
"""

AMOUNTS = st.integers(min_value=0, max_value=int(INPUT_MAX * 10_000)).map(
    lambda units: Decimal(units).scaleb(-4))


@settings(max_examples=8, deadline=None)  # (each example compiles the plan)
@given(st.lists(AMOUNTS, min_size=1, max_size=4))
@example([INPUT_MAX, CAP, Decimal("0.0001")])
def test_the_largest_figures_a_plan_allows_are_kept_exactly(amounts) -> None:
    rows = [{"sale_id": str(i), "rep": "R1", "amount": amount,
             "day": DAY0 + dt.timedelta(days=i)} for i, amount in enumerate(amounts)]
    lines = {line["source_id"]: line for line in run(PLAN, rows)["payouts"]}
    for i, amount in enumerate(amounts):
        line = lines[str(i)]
        capped = min(amount, CAP)
        assert line["cap1_value"] == amount and line["cap1_max"] == CAP
        assert line["in_capped"] == capped
        assert line["cut_by_cap"] == amount - capped
        assert line["base"] == capped * SCALE
        assert line["rate"] == RATE
        assert line["raw"] == capped * SCALE * RATE
        assert line["earned"] == half_up(capped * SCALE * RATE)
        # (put back over the sorted lines: a per_record line sets no ranking's trace)
        assert line["place"] is None and line["program"] == "prop"
