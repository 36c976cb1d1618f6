"""A payee's home (issue 18, item 6) and the interactive charts' data (item 11), on the
demo workspace, with every figure worked out from the example programs' files."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from html import escape
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote

from fastapi.testclient import TestClient

from paymaster.services import payouts
from paymaster.plan import load_plan
from paymaster.services.home import attainment, next_payout, next_places
from paymaster.services.accounts import DEMO_ACCOUNTS
from paymaster.web.app import create_app
from paymaster.web.i18n import Formatter

D = Decimal
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PASSWORDS = {name: password for name, password, *_ in DEMO_ACCOUNTS}
GL, SALES = "generuj-leady", "sales-team"


def rows(program: str, folder: str, table: str) -> list[dict[str, str]]:
    with (EXAMPLES / program / folder / f"{table}.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def login(client: TestClient, username: str, lang: str = "en") -> None:
    client.cookies.clear()
    answer = client.post("/api/login", json={"username": username,
                                              "password": PASSWORDS[username]})
    assert answer.status_code == 200, answer.text
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    client.post("/language", data={"lang": lang, "back": "/me"}, follow_redirects=False)


def chart(html: str, name: str) -> dict:
    found = re.search(rf'<script type="application/json" id="chart-{name}">(.*?)</script>',
                      html, re.S)
    assert found, f"no chart {name}"
    return json.loads(found.group(1))


def next_prize_place(totals: dict[str, Decimal], rep: str, prizes: int):
    """The next place above `rep`'s that wins a prize and the sales it needs to draw level,
    ranking ties together (two firsts, then third)."""
    def place(value: Decimal) -> int:
        return 1 + sum(1 for other in totals.values() if other > value)

    mine = place(totals[rep])
    better = {place(v) for r, v in totals.items() if r != rep and place(v) <= prizes
              and place(v) < mine}
    if not better:
        return None
    goal = max(better)
    needed = min(v for r, v in totals.items() if r != rep and place(v) == goal) - totals[rep]
    return (needed, goal) if needed > 0 else None


def test_a_partner_home_from_the_figures_to_a_dispute_on_a_statement_line(demo_workspace):
    ws = demo_workspace
    client = TestClient(create_app(ws))
    login(client, "alfa")
    # Alfa (P1) earns 1 200 + 365 in 2018-04 and 120 000 in 2018-06 (expected payouts);
    # the demo clock is 2018-06-12, so the month is 2018-06, and the demo pays on the
    # 10th: the next payout is on 2018-07-10. Every line is posted, none paid yet.
    mine = [r for r in rows(GL, "expected", "payouts") if r["payee_id"] == "P1"
            and r["paid"] == "true"]
    year = sum(D(r["amount"]) for r in mine)
    month = sum(D(r["amount"]) for r in mine if r["period"] == "2018-06")
    assert (year, month) == (D("121565.00"), D("120000.00"))
    home = client.get(f"/api/programs/{GL}/status").json()["home"]
    assert home["period"] == "2018-06" and home["year"] == 2018
    assert (D(home["earned_period"]), D(home["earned_year"])) == (month, year)
    money = {k: D(v) for k, v in home["money"].items()}
    assert money == {"earned": year, "posted": year, "paid": 0, "pending": year,
                     "not_posted": 0}
    assert home["payout_date"] == "2018-07-10"
    # Landing on /me: the same home, for each program Alfa takes part in (one here).
    me = {p["program"]: p for p in client.get("/api/me/programs").json()["programs"]}
    assert list(me) == [GL] and me[GL]["home"] == home
    # The page says it in the reader's language and formats: Polish here.
    login(client, "alfa", "pl")
    pl = Formatter("pl")
    page = client.get("/me").text
    for tile, amount in (("earned-period", month), ("earned-year", year),
                         ("money-posted", year), ("money-paid", D(0)),
                         ("money-pending", year)):
        assert re.search(rf'id="{GL}-{tile}".*?<strong>' + re.escape(pl.money(amount, "PLN")),
                         page, re.S), tile
    assert re.search(rf'id="{GL}-payout-date".*?<strong>' + re.escape(
        pl.date(dt.date(2018, 7, 10))), page, re.S)
    assert f'href="/programs/{GL}/status"' in page and f'href="/programs/{GL}/statement"' in page
    assert "Zarobione w tym okresie" in page and "Earned this period" not in page
    page = client.get(f"/programs/{GL}/status").text
    assert re.search(r'id="earned-period".*?<strong>' + re.escape(pl.money(month, "PLN")),
                     page, re.S)
    assert pl.money(year, "PLN") in page and pl.date(dt.date(2018, 7, 10)) in page
    assert "Zarobione w tym okresie" in page and "Earned this period" not in page
    earnings = chart(page, "earnings")  # by month of the lines' dates, and the running total
    assert earnings["series"][0]["values"] == [1565.0, 120000.0]
    assert earnings["series"][1]["texts"] == [pl.money(D("1565.00"), "PLN"), pl.money(year, "PLN")]
    # Paid in a batch: the money moves from pending to paid.
    assert payouts.create_batch(ws, GL, actor="finance") is not None
    money = {k: D(v) for k, v in client.get(f"/api/programs/{GL}/status").json()["home"][
        "money"].items()}
    assert (money["paid"], money["pending"]) == (year, 0)
    # No payout day in the workspace: no date rather than a guess.
    ws.config.programs[GL].payout_day = None
    assert client.get(f"/api/programs/{GL}/status").json()["home"]["payout_date"] is None
    assert 'id="payout-date"' not in client.get(f"/programs/{GL}/status").text
    # A statement line opens a dispute about itself.
    login(client, "alfa")
    statement = client.get(f"/programs/{GL}/statement").text
    links = re.findall(r'href="(/programs/[^"]+/disputes\?line=[^"#]+)', statement)
    assert len(links) == len(mine)
    key = unquote(links[-1].split("line=")[1])
    assert key.startswith("P1|2018-")
    form = client.get(links[-1]).text
    assert f'<option value="{escape(key)}" selected>' in form


def test_a_rep_home_shows_attainment_the_next_tier_and_the_next_place(demo_workspace):
    """Sales team, from its data files: the ladder pays 3% up to 100% of the quarter's
    target, 5% to 120%, 8% above; the monthly champion's prize is the month's first place,
    the quarterly contest pays three places."""
    ws = demo_workspace
    client = TestClient(create_app(ws))
    targets = {(r["rep_id"], r["period"]): D(r["target"])
               for r in rows(SALES, "data", "rep_targets")}
    quarter_sales: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    month_sales: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for sale in rows(SALES, "data", "sales"):
        day = dt.date.fromisoformat(sale["order_date"])
        if day.year == 2025:
            quarter_sales[(sale["rep_id"], f"2025-Q{(day.month - 1) // 3 + 1}")] += D(sale["amount"])
            month_sales[(sale["rep_id"], f"{day:%Y-%m}")] += D(sale["amount"])
    login(client, "viewer")
    seen_tier = seen_place = 0
    for rep in sorted({r["rep_id"] for r in rows(SALES, "data", "reps")}):
        home = client.get(f"/api/programs/{SALES}/status?payee={rep}").json()["home"]
        assert home["period"] == "2025-12"  # the demo clock, by month (the finest period)
        ladder = [a for a in home["attainment"] if a["measure"] == "ladder"]
        for a in ladder:
            value = quarter_sales.get((rep, a["period"]), D(0))
            assert D(a["value"]) == value and D(a["target"]) == targets[(rep, a["period"])]
            assert D(a["ratio"]) == (value / targets[(rep, a["period"])]).quantize(D("0.0001"))
        latest = max((a["period"] for a in ladder), default=None)
        assert [a["period"] for a in ladder if a["current"]] == ([latest] if latest else [])
        steps = {s["kind"]: s for s in home["next_steps"] if s["kind"] == "tier"}
        if latest:
            value, target = quarter_sales.get((rep, latest), D(0)), targets[(rep, latest)]
            edge, tier = ((target, "100-120% of target") if value < target else
                          (target * D("1.2"), "above 120% of target") if value < target * D("1.2")
                          else (None, None))
            if edge is None:
                assert "tier" not in steps, (rep, steps)
            else:
                assert (D(steps["tier"]["needed"]), steps["tier"]["tier"]) == (edge - value, tier)
                seen_tier += 1
        places = {(s["measure"], s["period"], D(s["needed"]), s["place"])
                  for s in home["next_steps"] if s["kind"] == "place"}
        want = set()
        for measure, sales, prizes in (("monthly_champion", month_sales, 1),
                                       ("quarterly_contest", quarter_sales, 3)):
            periods = [period for (r, period) in sales if r == rep]
            if periods:  # the latest period it sold in
                step = next_prize_place(
                    {r: v for (r, period), v in sales.items() if period == max(periods)},
                    rep, prizes)
                if step:
                    want.add((measure, max(periods)) + step)
        assert places == want, rep
        seen_place += len(want)
    assert seen_tier and seen_place
    # The rep's own page: a real gauge with its numbers written, and the attainment chart.
    login(client, "rep01")
    page = client.get(f"/programs/{SALES}/status").text
    assert re.search(r'<meter id="gauge-1" min="0" max="[0-9.]+"', page)
    en = Formatter("en")
    quarter = max(p for (r, p) in quarter_sales if r == "R01")  # its latest quarter with sales
    value, target = quarter_sales.get(("R01", quarter), D(0)), targets[("R01", quarter)]
    words = f"{en.money(value, 'CNY')} of {en.money(target, 'CNY')} ({en.percent(value / target)})"
    assert words in page, words
    attainment = chart(page, "attainment")
    assert attainment["series"][1]["values"][0] == 100.0
    # The rep lands on /me: the same gauge under its program; the office's /me has none.
    me = client.get("/me").text
    assert re.search(rf'<meter id="{SALES}-gauge-1" min="0"', me) and words in me
    login(client, "viewer")
    assert 'class="tiles"' not in client.get("/me").text


def test_the_budget_page_draws_the_burn_chart_from_the_forecast(demo_workspace):
    """Generuj Leady: the 150 000 PLN fund ran out (examples/.../WORKSHEET.md): the chart's
    cumulative line ends at what was charged, its limit line at 150 000."""
    client = TestClient(create_app(demo_workspace))
    login(client, "viewer", "zh")
    api = client.get(f"/api/office/{GL}/budget").json()["pools"][0]
    assert api["ends_on"] == "2018-06-27" and api["used_at_end"] is None
    page = client.get(f"/office/{GL}/budget").text
    data = chart(page, "fund")
    zh = Formatter("zh")
    used = D(api["spent"]) + D(api["committed"])
    charged, projected, limit = data["series"]
    assert data["time"] is True and len(data["x"]) == len(data["xtexts"]) == len(charged["values"])
    assert charged["values"][-1] == float(used) and charged["texts"][-1] == zh.money(used, "PLN")
    assert set(limit["values"]) == {150000.0} and limit["texts"][0] == zh.money(D(150000), "PLN")
    assert [v for v in projected["values"] if v is not None] == [float(used)]  # ran out: none ahead
    assert data["x"] == sorted(data["x"])
    assert f"/office/{GL}/budget/fund.svg" in page  # the static image stays (PDF, no script)


def test_the_next_payout_date_comes_from_the_workspace_payout_day() -> None:
    day = dt.date
    assert next_payout(day(2025, 2, 15), 31) == day(2025, 2, 28)  # a short month: its last day
    assert next_payout(day(2025, 2, 28), 31) == day(2025, 2, 28)  # today is payout day
    assert next_payout(day(2025, 3, 11), 10) == day(2025, 4, 10)
    assert next_payout(day(2025, 12, 11), 10) == day(2026, 1, 10)
    assert next_payout(day(2025, 12, 11), None) is None  # no schedule: no guess


def test_attainment_gauges_read_todays_period_of_each_measure_else_its_latest() -> None:
    """The sales team's ladder is quarterly: in November its gauge is Q4's (4 000 of a
    10 000 target = 40%), in January of the next year (no Q1 line) still Q4's; a contest
    place is named only when it wins a prize."""
    plan = load_plan(EXAMPLES / SALES / "plan.yaml").plan

    def line(period: str, value: str, target: str | None, measure: str = "ladder",
             band: str | None = None) -> dict:
        return {"measure": measure, "label": measure, "period": period, "value": D(value),
                "target": D(target) if target else None, "band": band}

    lines = [line("2025-Q3", "9000", "10000"), line("2025-Q4", "4000", "10000"),
             line("2025-11", "100", None, "monthly_champion")]
    november = attainment(plan, lines, dt.date(2025, 11, 15))
    assert [(a["period"], a["ratio"], a["current"]) for a in november] == [
        ("2025-Q3", D("0.9000"), False), ("2025-Q4", D("0.4000"), True)]
    january = attainment(plan, lines, dt.date(2026, 1, 5))
    assert [a["period"] for a in january if a["current"]] == ["2025-Q4"]
    # Monthly champion pays place 1 only: at place 3 the step is place 1 (500 - 100).
    me = [line("2025-11", "100", None, "monthly_champion", "place 3")]
    everyone = [{"payee_id": p, "measure": "monthly_champion", "period": "2025-11",
                 "value": D(v), "band": f"place {n}", "paid": n == 1}
                for p, v, n in (("R02", "500", 1), ("R03", "300", 2))]
    assert [(s["place"], s["needed"]) for s in next_places(plan, "R01", me, everyone)] == [
        (1, D("400.00"))]
