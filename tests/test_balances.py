"""Balances carried from period to period (issue 20 item 1): a `balance` measure against a
plain loop over the months, for many payees with random earnings in one run, and a
negative month (clawbacks above commission) carried forward with a zero guarantee."""

from __future__ import annotations

import random
from decimal import Decimal

from paymaster.runs import calculate

PLAN = """
program: balances
currency: USD
scope: {start: 2026-01-01, end: 2026-12-31}
inputs:
  reps:
    key: [rep_id]
    columns: {rep_id: string}
  lines:
    key: [line_id]
    columns: {line_id: string, rep_id: string, amount: decimal, booked_on: date}
measures:
  - id: commission
    type: per_record
    source: lines
    payee: rep_id
    source_id: line_id
    date: booked_on
    amount: amount
  - id: draw
    type: balance
    of: [commission]
    roster: {table: reps, column: rep_id}
    guarantee: GUARANTEE
    recoverable: RECOVERABLE
"""


def _expected(earned: list[Decimal], guarantee: Decimal, recoverable: bool) -> list[Decimal]:
    """The draw line of each month, by the plain definition: top up to the guarantee; with
    recovery, what was topped up is owed and paid back from earnings above it."""
    owed, out = Decimal(0), []
    for month in earned:
        topup = max(Decimal(0), guarantee - month)
        recovered = min(owed, max(Decimal(0), month - guarantee)) if recoverable else Decimal(0)
        owed = owed + topup - recovered if recoverable else Decimal(0)
        out.append(topup - recovered)
    return out


def _run(tmp_path, guarantee: str, recoverable: bool, seed: int):
    rng = random.Random(seed)
    data = tmp_path / f"data-{seed}"
    data.mkdir()
    reps = [f"R{i}" for i in range(1, 41)]
    earned = {rep: [Decimal(0)] * 12 for rep in reps}
    rows = []
    for rep in reps:
        for month in range(1, 13):
            for n in range(rng.choice([0, 1, 1, 2])):
                amount = Decimal(rng.randrange(-60000, 250000)) / 100
                rows.append(f"{rep}-{month}-{n},{rep},{amount},2026-{month:02d}-{n + 10}")
                earned[rep][month - 1] += amount
    (data / "reps.csv").write_text("rep_id\n" + "\n".join(reps) + "\n", encoding="utf-8")
    (data / "lines.csv").write_text("line_id,rep_id,amount,booked_on\n" + "\n".join(rows) + "\n",
                                    encoding="utf-8")
    plan = tmp_path / f"plan-{seed}.yaml"
    plan.write_text(PLAN.replace("GUARANTEE", guarantee).replace(
        "RECOVERABLE", "true" if recoverable else "false"), encoding="utf-8")
    result = calculate(plan, data)
    got: dict[str, list] = {rep: [None] * 12 for rep in reps}
    for row in result.tables["payouts"].to_pylist():
        if row["measure"] == "draw":
            got[row["payee_id"]][int(row["period"][5:]) - 1] = row["amount"]
    return earned, got


def test_recoverable_draw_equals_the_month_by_month_definition(tmp_path):
    earned, got = _run(tmp_path, "1000", True, seed=7)
    for rep, months in earned.items():
        assert got[rep] == _expected(months, Decimal(1000), True), rep


def test_non_recoverable_draw_is_a_floor(tmp_path):
    earned, got = _run(tmp_path, "1000", False, seed=11)
    for rep, months in earned.items():
        assert got[rep] == _expected(months, Decimal(1000), False), rep


def test_a_negative_month_is_carried_forward(tmp_path):
    """Guarantee 0: a month whose clawbacks exceed its commission is brought to 0.00 and
    the deficit taken from the next months' commission."""
    earned, got = _run(tmp_path, "0", True, seed=3)
    assert any(month < 0 for months in earned.values() for month in months)  # it has some
    for rep, months in earned.items():
        expected = _expected(months, Decimal(0), True)
        assert got[rep] == expected, rep
        net = [e + d for e, d in zip(months, expected, strict=True)]
        assert all(n >= 0 for n in net), rep  # no month is paid below zero


ADVANCE_PLAN = """
program: advances
currency: USD
scope: {start: 2026-01-01, end: 2026-04-30}
inputs:
  lines:
    key: [line_id]
    columns: {line_id: string, rep_id: string, amount: decimal, booked_on: date}
measures:
  - id: commission
    type: per_record
    source: lines
    payee: rep_id
    source_id: line_id
    date: booked_on
    amount: amount
  - id: advance
    type: balance
    of: [commission]
    advance: IF(period.start = scope.start, 3000, 0)
"""


def test_an_advance_is_paid_and_recovered_from_later_commission(tmp_path):
    """Worked by hand: 3,000.00 advanced in January, recovered from commission as it is
    earned. Jan earns 1,000: the line pays 2,000 (3,000 in all), 2,000 still owed; Feb
    earns 1,500, all taken back (-1,500), 500 owed; Mar earns 800: -500, nothing owed;
    Apr earns 2,000: 0.00."""
    (tmp_path / "lines.csv").write_text(
        "line_id,rep_id,amount,booked_on\nL1,R1,1000,2026-01-10\nL2,R1,1500,2026-02-10\n"
        "L3,R1,800,2026-03-10\nL4,R1,2000,2026-04-10\n", encoding="utf-8")
    plan = tmp_path / "plan.yaml"
    plan.write_text(ADVANCE_PLAN, encoding="utf-8")
    rows = [r for r in calculate(plan, tmp_path).tables["payouts"].to_pylist()
            if r["measure"] == "advance"]
    got = {r["period"]: (r["amount"], r["advanced"], r["owed"]) for r in rows}
    assert got == {
        "2026-01": (Decimal("2000.00"), Decimal(3000), Decimal(2000)),
        "2026-02": (Decimal("-1500.00"), Decimal(0), Decimal(500)),
        "2026-03": (Decimal("-500.00"), Decimal(0), Decimal(0)),
        "2026-04": (Decimal("0.00"), Decimal(0), Decimal(0)),
    }
