"""The figures of the portal's interactive charts, as the JSON a page embeds (in a
<script type="application/json">: the CSP allows no inline script) for static/charts.js.

Each point carries its words already formatted for the reader's locale (the tooltip shows
them as they are); the numbers are only where the point is drawn. The static SVG images
(analytics/charts.py) stay for the PDF and for a browser without scripts.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from babel.dates import format_skeleton

from paymaster.web.i18n import Formatter

BLUE, RED, AMBER, GREEN = "#1f6feb", "#cf222e", "#9a6700", "#1a7f37"


def _seconds(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def _number(value: Decimal | None) -> float | None:
    # A chart draws a picture of exact figures: the float only places the point.
    return None if value is None else float(value)


def month_label(month: str, fmt: Formatter) -> str:
    """'2025-03' as the reader's locale writes a month ("Mar 2025", "mar 2025", "2025年3月")."""
    year, number = month.split("-")
    return format_skeleton("yMMM", dt.date(int(year), int(number), 1), locale=fmt.locale)


def earnings_chart(earnings: list[dict], currency: str, fmt: Formatter) -> dict | None:
    """A payee's earnings by month (bars) and their running total (a line)."""
    if not earnings:
        return None
    labels = [month_label(r["month"], fmt) for r in earnings]
    return {
        "title": fmt._("Earnings over time"), "time": False,
        "x": list(range(len(earnings))), "ticks": labels, "xtexts": labels,
        "series": [
            {"label": fmt._("Earned in the month"), "type": "bars", "color": BLUE,
             "values": [_number(r["earned"]) for r in earnings],
             "texts": [fmt.money(r["earned"], currency) for r in earnings]},
            {"label": fmt._("Running total"), "type": "line", "color": GREEN,
             "values": [_number(r["cumulative"]) for r in earnings],
             "texts": [fmt.money(r["cumulative"], currency) for r in earnings]},
        ]}


def attainment_chart(rows: list[dict], currency: str, fmt: Formatter) -> dict | None:
    """Value against target in every period of each targeted measure, as a percentage."""
    if not rows:
        return None
    labels = [f"{r['period']} · {r['label']}" for r in rows]
    return {
        "title": fmt._("Attainment"), "time": False, "percent": True,
        "x": list(range(len(rows))), "ticks": [r["period"] for r in rows], "xtexts": labels,
        "series": [
            {"label": fmt._("Attainment"), "type": "bars", "color": BLUE,
             "values": [_number(r["ratio"] * 100) for r in rows],
             "texts": [fmt._("%(value)s of %(target)s (%(ratio)s)") % {
                 "value": fmt.money(r["value"], currency),
                 "target": fmt.money(r["target"], currency),
                 "ratio": fmt.percent(r["ratio"])} for r in rows]},
            {"label": fmt._("Target"), "type": "dash", "color": RED,
             "values": [100.0] * len(rows), "texts": [None] * len(rows)},
        ]}


def burn_chart_data(pool: dict, fmt: Formatter) -> dict:
    """A budget pool's spend by week (cumulative), its limit, and the projection: to the
    day it runs out, or to the program's end when it lasts."""
    currency = pool["currency"]
    points: dict[dt.date, dict] = {}
    total = Decimal(0)
    for week in pool["weekly"]:
        total += week["amount"]
        points[week["week_start"]] = {"used": total}
    as_of, used = pool["as_of"], pool["spent"] + pool["committed"]
    points.setdefault(as_of, {})["used"] = used
    points[as_of]["projected"] = used
    if pool.get("exhaustion") and pool["exhaustion"] > as_of and pool.get("rate_per_week"):
        points.setdefault(pool["exhaustion"], {})["projected"] = pool["limit"]
    elif pool.get("used_at_end") is not None and pool.get("ends_on"):
        points.setdefault(pool["ends_on"], {})["projected"] = pool["used_at_end"]
    days = sorted(points)
    money = lambda v: None if v is None else fmt.money(v, currency)  # noqa: E731
    used_values = [points[d].get("used") for d in days]
    projected = [points[d].get("projected") for d in days]
    return {
        "title": fmt._("Burn chart of the pool") + f" {pool['pool']}", "time": True,
        "x": [_seconds(d) for d in days], "xtexts": [fmt.date(d) for d in days],
        "series": [
            {"label": fmt._("Charged to the pool"), "type": "step", "color": BLUE,
             "values": [_number(v) for v in used_values], "texts": [money(v) for v in used_values]},
            {"label": fmt._("Projected"), "type": "dash", "color": AMBER,
             "values": [_number(v) for v in projected], "texts": [money(v) for v in projected]},
            {"label": fmt._("Limit"), "type": "dash", "color": RED,
             "values": [_number(pool["limit"])] * len(days),
             "texts": [money(pool["limit"])] * len(days)},
        ]}
