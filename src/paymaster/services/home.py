"""A payee's home in a program: the few figures it looks at first, from its status lines.

Earned this period and this year, where the money is (posted, paid, pending), attainment
against each target, what the next tier or the next contest place needs, and the next
payout date. Everything here is plain data (codes and exact figures) made from what the
status already calculated; the pages word and format it in the reader's language.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections import defaultdict
from decimal import Decimal

from paymaster.money import round_money
from paymaster.plan.model import Plan, Ranking
from paymaster.plan.periods import label_of

ZERO = Decimal("0.00")
# A line's period label tells its kind; the finest kind a program pays on is "the period".
KINDS = (("month", re.compile(r"^\d{4}-\d{2}$")), ("quarter", re.compile(r"^\d{4}-Q\d$")),
         ("year", re.compile(r"^\d{4}$")))
FINEST_FIRST = ("month", "quarter", "phase", "year")


def period_kind(period: str) -> str:
    return next((kind for kind, pattern in KINDS if pattern.match(period)), "phase")


def current_period(plan: Plan, lines: list[dict], today: dt.date) -> str | None:
    """The label of today's period of the finest kind the payee's lines have (a month
    before a quarter, a phase before a year); None when today is in no phase."""
    kinds = {period_kind(line["period"]) for line in lines}
    kind = next((k for k in FINEST_FIRST if k in kinds), None)
    if kind is None:
        return None
    if kind == "phase":
        return next((p.id for p in plan.phases if p.start <= today <= p.end), None)
    return label_of(today, kind)


def next_payout(today: dt.date, payout_day: int | None) -> dt.date | None:
    """The next payout day from today on (the month's last day when the month is shorter);
    None without a payout day in the workspace: no date is better than a guess."""
    if payout_day is None:
        return None
    year, month = today.year, today.month
    for _ in range(2):
        day = dt.date(year, month, min(payout_day, calendar.monthrange(year, month)[1]))
        if day >= today:
            return day
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise AssertionError("a payout day is at most a month away")


def summary(plan: Plan, payee_id: str, today: dt.date, payout_day: int | None,
            status: dict, payouts: list[dict]) -> dict:
    """The home of `payee_id`: `status` is its payee_status without the home, `payouts`
    every payee's live lines (for the contest places)."""
    currency = plan.currency
    lines = status["lines"]
    earning = [line for line in lines if line["earns"]]
    period = current_period(plan, lines, today)
    earned, posted, paid = status["total"], status["total_posted"], status["total_paid"]
    return {
        "today": today, "period": period, "year": today.year,
        "earned_period": _sum(line["amount"] for line in earning if line["period"] == period),
        "earned_year": _sum(line["amount"] for line in earning
                            if line["date"] and line["date"].year == today.year
                            and line["date"] <= today),
        "money": {"earned": earned, "posted": posted, "paid": paid,
                  "pending": round_money(posted - paid, currency),
                  "not_posted": round_money(max(ZERO, earned - posted), currency)},
        "attainment": attainment(plan, lines, today),
        "gauges": [_gauge(g) for g in status["gates"] if g["threshold"] is not None
                   or g["required_ratio"] is not None],
        "next_steps": next_tiers(lines) + next_places(plan, payee_id, lines, payouts),
        "payout_date": next_payout(today, payout_day),
        "earnings": earnings_by_month(earning),
    }


def _sum(amounts) -> Decimal:
    return sum(amounts, ZERO)


def _current(plan: Plan, lines: list[dict], today: dt.date) -> set[tuple[str, str]]:
    """Per measure, (measure, period) of its line of today's period (a quarter for a
    quarterly measure) when it has one, else of its latest period."""
    by_measure: dict[str, list[dict]] = defaultdict(list)
    for line in lines:
        by_measure[line["measure"]].append(line)
    out = set()
    for measure, rows in by_measure.items():
        now = current_period(plan, rows, today)
        periods = {r["period"] for r in rows}
        out.add((measure, now if now in periods else max(periods)))
    return out


def attainment(plan: Plan, lines: list[dict], today: dt.date) -> list[dict]:
    """Each measure with a target: value against target in every period it has a figure
    for (the chart), `current` in today's period or else its latest (the gauge)."""
    targeted = [line for line in lines if line["target"] and line["value"] is not None]
    current = _current(plan, targeted, today)
    return [{"measure": line["measure"], "label": line["label"], "period": line["period"],
             "value": line["value"], "target": line["target"],
             "ratio": (line["value"] / line["target"]).quantize(Decimal("0.0001")),
             "current": (line["measure"], line["period"]) in current}
            for line in sorted(targeted, key=lambda x: (x["measure"], x["period"]))]


def _gauge(gate: dict) -> dict:
    return {"period": gate["period"], "subject": gate["subject"], "passed": gate["passed"],
            "progress": gate["progress"], "value": gate["value"],
            "threshold": gate["threshold"], "ratio": gate["ratio"],
            "required_ratio": gate["required_ratio"], "text": gate["text"]}


def next_tiers(lines: list[dict]) -> list[dict]:
    """The tier above the one reached, in the latest period each tiered measure has a
    figure for (as the attainment gauges)."""
    latest = {line["measure"]: line["period"] for line in sorted(lines, key=lambda x: x["period"])
              if line["value"] is not None}
    return [{"kind": "tier", "measure": line["measure"], "label": line["label"],
             "period": line["period"], "needed": line["next_tier"]["needed"],
             "tier": line["next_tier"]["label"]}
            for line in lines
            if line["next_tier"] and latest.get(line["measure"]) == line["period"]]


def _place(band: str | None) -> int | None:
    match = re.fullmatch(r"place (\d+)", band or "")
    return int(match.group(1)) if match else None


def next_places(plan: Plan, payee_id: str, lines: list[dict], payouts: list[dict]) -> list[dict]:
    """In each contest ranked by its total: how much more the payee needs, in the latest
    period it has a figure for, to draw level with the next place above its own that wins
    a prize. Nothing for a leader."""
    out = []
    contests = {m.id for m in plan.measures if isinstance(m, Ranking) and m.metric == "total"}
    for measure in sorted(contests):
        mine = [line for line in lines if line["measure"] == measure and line["value"] is not None]
        if not mine:
            continue
        line = max(mine, key=lambda x: x["period"])
        own = _place(line["band"])
        others = [(p, row["value"]) for row in payouts
                  if row["measure"] == measure and row["period"] == line["period"]
                  and row["payee_id"] != payee_id and row["value"] is not None
                  and (p := _place(row["band"])) is not None and row["paid"]]
        # The next place that wins a prize: a place with no prize is no step worth naming.
        better = [p for p, _ in others if own is None or p < own]
        if not better:
            continue
        goal = max(better)
        above = [value for p, value in others if p == goal]
        needed = min(above) - line["value"]
        if needed > 0:
            out.append({"kind": "place", "measure": measure, "label": line["label"],
                        "period": line["period"], "needed": needed.quantize(Decimal("0.01")),
                        "place": goal})
    return out


def earnings_by_month(earning: list[dict]) -> list[dict]:
    """What the payee earned in each month (by the lines' dates), and the running total."""
    months: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in earning:
        if line["date"] is not None:
            months[label_of(line["date"], "month")] += line["amount"]
    total, out = ZERO, []
    for month in sorted(months):
        total += months[month]
        out.append({"month": month, "earned": months[month], "cumulative": total})
    return out
