"""The sales-team plan computed the straightforward way: Python loops over records, Decimal.

Written from shared/programs/sales-team.md alone, independent of the engine, with the
data contract of docs/data.md. Benchmark baseline and second oracle (tests/test_reference.py).

    python benchmarks/reference/sales_team.py DATA_DIR
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from common import natural, read

YEAR = 2025
CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def quarter(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def month(day: dt.date) -> str:
    return f"{day.year}-{day.month:02d}"


def line(payee, period, measure, amount, reason=None, source=""):
    amount = money(amount) if reason is None else Decimal("0.00")
    return {"payee_id": payee, "period": period, "measure": measure, "source_id": source,
            "amount": amount, "paid": reason is None, "reason": reason}


def places(totals: dict[str, Decimal]) -> dict[str, tuple[int, int]]:
    """Place = 1 + number strictly better; and how many share it. Only totals above zero."""
    ranked = {p: v for p, v in totals.items() if v > 0}
    out = {}
    for payee, value in ranked.items():
        better = sum(1 for v in ranked.values() if v > value)
        tied = sum(1 for v in ranked.values() if v == value)
        out[payee] = (better + 1, tied)
    return out


def prizes(ranking: dict[str, tuple[int, int]], amounts: list[Decimal]) -> dict[str, Decimal]:
    won = {}
    for payee, (place, tied) in ranking.items():
        covered = amounts[place - 1: place - 1 + tied]
        if covered:
            won[payee] = sum(covered, Decimal(0)) / tied
    return won


def run(folder: Path) -> dict[str, list[dict]]:
    folder = Path(folder)
    reps = {r["rep_id"]: r for r in read(folder, "reps")}
    manager = {t["team_id"]: t["manager_id"] for t in read(folder, "teams")}
    targets = {(t["rep_id"], t["period"]): Decimal(t["target"]) for t in read(folder, "rep_targets")}
    team_targets = {(t["team_id"], t["quarter"]): Decimal(t["target"])
                    for t in read(folder, "team_targets")}
    all_sales = read(folder, "sales")
    for s in all_sales:
        s["day"] = dt.date.fromisoformat(s["order_date"][:10])
        s["value"] = Decimal(s["amount"])
        s["new"] = s["new_product"].strip().lower() in ("true", "t", "yes", "1")
    sales = [s for s in all_sales if s["day"].year == YEAR]
    lines: list[dict] = []
    by_q, by_m, by_y, new_q = (defaultdict(Decimal) for _ in range(4))
    for s in sales:
        by_q[(s["rep_id"], quarter(s["day"]))] += s["value"]
        by_m[(s["rep_id"], month(s["day"]))] += s["value"]
        by_y[s["rep_id"]] += s["value"]
        if s["new"]:
            new_q[(s["rep_id"], quarter(s["day"]))] += s["value"]
    ladder_raw, team_paid = {}, {}
    for (rep, q), total in by_q.items():  # 1. ladder, graduated
        target = targets[(rep, q)]
        raw = (Decimal("0.03") * min(total, target)
               + Decimal("0.05") * max(Decimal(0), min(total, Decimal("1.2") * target) - target)
               + Decimal("0.08") * max(Decimal(0), total - Decimal("1.2") * target))
        ladder_raw[(rep, q)] = raw
        lines.append(line(rep, q, "ladder", raw))
    for (rep, q), total in new_q.items():  # 2. new products
        lines.append(line(rep, q, "new_product", Decimal("0.02") * total))
    first: dict[str, dict] = {}  # 3. new customers: first-ever order over all history
    for s in sorted(all_sales, key=lambda s: (s["day"], natural(s["sale_id"]))):
        first.setdefault(s["customer_id"], s)
    new_customers = defaultdict(int)
    for s in first.values():
        if s["day"].year == YEAR:
            new_customers[(s["rep_id"], quarter(s["day"]))] += 1
    for (rep, q), count in new_customers.items():
        lines.append(line(rep, q, "new_customer", Decimal(500 * count)))
    team_q = defaultdict(Decimal)  # 4. team commission
    for (rep, q), total in by_q.items():
        team_q[(reps[rep]["team_id"], q)] += total
    for (rep, q), total in by_q.items():
        team = reps[rep]["team_id"]
        reached = team_q[(team, q)] >= team_targets.get((team, q), Decimal("Infinity"))
        team_paid[(rep, q)] = reached
        lines.append(line(rep, q, "team_member", Decimal("0.01") * total,
                          None if reached else "team_below_target"))
    for (team, q), total in team_q.items():
        reached = total >= team_targets.get((team, q), Decimal("Infinity"))
        lines.append(line(manager[team], q, "team_manager", Decimal("0.005") * total,
                          None if reached else "team_below_target"))
    periods_q = sorted({q for _, q in by_q})
    for q in periods_q:  # 5. quarterly contest
        totals = {rep: v for (rep, qq), v in by_q.items() if qq == q}
        ranking = places(totals)
        won = prizes(ranking, [Decimal(10000), Decimal(6000), Decimal(3000)])
        for rep in ranking:  # a ranked rep below the prizes: 0.00, not_placed
            lines.append(line(rep, q, "quarterly_contest", won.get(rep, 0),
                              None if rep in won else "not_placed"))
    months = [f"{YEAR}-{m:02d}" for m in range(1, 13)]
    titles, streak = [], defaultdict(int)
    for index, m in enumerate(months):
        totals = {rep: v for (rep, mm), v in by_m.items() if mm == m}
        ranking = places(totals)
        won = prizes(ranking, [Decimal(2000)])
        for rep in ranking:  # 6. champion
            lines.append(line(rep, m, "monthly_champion", won.get(rep, 0),
                              None if rep in won else "not_placed"))
            if rep in won:
                titles.append({"payee_id": rep, "period": m, "title": "monthly_champion"})
        if index > 0:  # 7. best progress
            previous = {rep: v for (rep, mm), v in by_m.items() if mm == months[index - 1]}
            growth = {rep: totals.get(rep, Decimal(0)) / v - 1 for rep, v in previous.items()
                      if v >= 50000}
            if growth:
                best = max(growth.values())
                winners = [rep for rep, g in growth.items() if g == best]
                for rep in growth:
                    lines.append(line(rep, m, "best_progress", Decimal(1000) / len(winners),
                                      None if rep in winners else "not_placed"))
        for rep in reps:  # 8. top five three months running
            if rep in ranking and ranking[rep][0] <= 5:
                streak[rep] += 1
                done = streak[rep] % 3 == 0
                lines.append(line(rep, m, "top5_streak", Decimal(3000),
                                  None if done else "streak_incomplete"))
            else:
                streak[rep] = 0
    for s in read(folder, "scores"):  # 9. scores
        if not s["quarter"].startswith(f"{YEAR}-Q"):
            continue
        lines.append(line(s["rep_id"], s["quarter"], "csat", Decimal(1500),
                          None if Decimal(s["csat"]) >= Decimal("4.5") else "csat_below_4.5"))
        lines.append(line(s["rep_id"], s["quarter"], "training", Decimal(500),
                          None if Decimal(s["training"]) >= 90 else "training_below_90"))
    for rep, total in by_y.items():  # 10. annual bonus
        target = sum((v for (r, p), v in targets.items() if r == rep and p.startswith(f"{YEAR}-Q")),
                     Decimal(0))
        reached = total >= target
        amount = Decimal(20000) * min(total / target, Decimal("1.5")) if reached else Decimal(0)
        lines.append(line(rep, str(YEAR), "annual_bonus", amount,
                          None if reached else "below_annual_target"))
    top = math.ceil(Decimal("0.1") * len(reps))  # 11. sales elite
    for rep, (place, _) in places(dict(by_y)).items():
        if place <= top:
            titles.append({"payee_id": rep, "period": str(YEAR), "title": "sales_elite"})
    sale_by_id = {s["sale_id"]: s for s in all_sales}
    for r in read(folder, "returns"):  # 12. clawback
        sale = sale_by_id[r["sale_id"]]
        if sale["day"].year != YEAR:
            continue
        returned = dt.date.fromisoformat(r["return_date"][:10])
        rep, q = sale["rep_id"], quarter(sale["day"])
        value = abs(Decimal(r["amount"]))
        if (returned - sale["day"]).days > 90:
            lines.append(line(rep, quarter(returned), "clawback", 0, "returned_after_90_days",
                              r["return_id"]))
            continue
        amount = value * ladder_raw[(rep, q)] / by_q[(rep, q)]
        amount += Decimal("0.02") * value if sale["new"] else 0
        amount += Decimal("0.01") * value if team_paid[(rep, q)] else 0
        lines.append(line(rep, quarter(returned), "clawback", -amount, None, r["return_id"]))
    every_period(lines, list(reps), sorted(set(manager.values())), months)
    return {"payouts": lines, "titles": titles}


# The reason of a rep's (or manager's) 0.00 line where a measure gave none in a period.
EMPTY = {"ladder": "no_sales", "new_product": "no_new_product_sales",
         "new_customer": "no_new_customers", "team_member": "no_sales",
         "quarterly_contest": "no_sales", "csat": "no_score", "training": "no_score",
         "clawback": "no_returns", "monthly_champion": "no_sales",
         "best_progress": "below_min_previous", "top5_streak": "not_in_top_5",
         "annual_bonus": "no_sales"}
MONTHLY = ("monthly_champion", "best_progress", "top5_streak")


def every_period(lines: list[dict], reps: list[str], managers: list[str], months: list[str]) -> None:
    """Each measure gives one line per rep per period of 2025 (its quarters, months or the
    year): a 0.00 line with its reason where it gave none. Best progress has no previous
    month in January; the team manager's line is per manager."""
    have = {(r["payee_id"], r["period"], r["measure"]) for r in lines}
    quarters = [f"{YEAR}-Q{q}" for q in range(1, 5)]
    wanted = [(m, "team_manager", q, "no_team_sales") for m in managers for q in quarters]
    for measure, reason in EMPTY.items():
        periods = months if measure in MONTHLY else [str(YEAR)] if measure == "annual_bonus" \
            else quarters
        for period in periods:
            why = "no_previous_period" if measure == "best_progress" and period == months[0] \
                else reason
            wanted += [(rep, measure, period, why) for rep in reps]
    for payee, measure, period, reason in wanted:
        if (payee, period, measure) not in have:
            lines.append(line(payee, period, measure, 0, reason))


if __name__ == "__main__":
    for row in run(Path(sys.argv[1]))["payouts"]:
        print(row)
