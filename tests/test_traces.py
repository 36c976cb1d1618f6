"""An auditor's check of the structured traces (docs/traces.md): every line's amount is
rebuilt from its stored trace columns and the plan alone (base from its named inputs,
x the band's rate, caps, the count limit's slot, tiers, shared prizes, gates, the budget
left before it), for every line of the three examples and of generated data. A trace
column missing or wrong fails it. Every row also renders in en, pl and zh."""

from __future__ import annotations

import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from sqlglot import exp

from conftest import EXAMPLES
from test_golden import _result as golden_result
from paymaster.explanations import explain_evaluation, explain_line
from paymaster.plan.expressions import parse
from paymaster.plan.model import (
    Aggregate,
    GatedRebate,
    OneOff,
    PerRecord,
    Plan,
    RateTable,
    Ranking,
    Streak,
)
from paymaster.plan import trace as t
from paymaster.runs import calculate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import generate  # noqa: E402

PROGRAMS = ("generuj-leady", "trade-in-accelerator", "sales-team")
CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def number(plan: Plan, value, row: dict) -> Decimal:
    found = t.plan_number(plan, value, row["version"])
    assert found is not None, f"{value!r} is not a plan number"
    return found


def evaluate(text: str, row: dict) -> Decimal:
    """The base expression over the line's `in_*` columns (+ - x / and literals)."""
    def walk(node: exp.Expression) -> Decimal:
        if isinstance(node, exp.Paren):
            return walk(node.this)
        if isinstance(node, exp.Column):
            value = row[t.input_column(node.table, node.name)]
            assert value is not None, f"trace column {t.input_column(node.table, node.name)} empty"
            return value
        if isinstance(node, exp.Literal):
            return Decimal(node.this)
        if isinstance(node, exp.Neg):
            return -walk(node.this)
        ops = {exp.Mul: lambda a, b: a * b, exp.Add: lambda a, b: a + b,
               exp.Sub: lambda a, b: a - b, exp.Div: lambda a, b: a / b}
        return ops[type(node)](walk(node.this), walk(node.expression))
    return walk(parse(text))


def _arithmetic(text) -> bool:
    """Is the expression + - x / over columns and numbers only (what `evaluate` reads)?"""
    plain = (exp.Paren, exp.Neg, exp.Mul, exp.Add, exp.Sub, exp.Div, exp.Column, exp.Literal,
             exp.Identifier)
    return isinstance(text, str) and all(isinstance(n, plain) for n in parse(text).walk())


def earned_from_trace(plan: Plan, measure, row: dict) -> Decimal:
    """What the line earned (before the limit and the budget), from its trace alone."""
    template = row["template"]
    if template == t.RECORD_RATE:
        assert isinstance(measure, PerRecord)
        for i, cap in enumerate(measure.caps, start=1):
            value_column, max_column = t.cap_columns(i)
            capped = min(row[value_column], row[max_column])
            if t.input_column("", cap.name) in row:
                assert row[t.input_column("", cap.name)] == capped, cap.name
        if measure.caps:
            assert row["cut_by_cap"] == sum(
                row[t.cap_columns(i)[0]] - min(row[t.cap_columns(i)[0]], row[t.cap_columns(i)[1]])
                for i in range(1, len(measure.caps) + 1))
        if row["rate"] is None:
            return Decimal(0)
        if isinstance(measure.rate, RateTable):
            [band] = [b for b in measure.rate.bands if b.label == row["band"]]
            assert row["rate"] == number(plan, band.rate, row)
        base = evaluate(measure.base, row)
        assert row["base"] == base
        return cents(base * row["rate"])
    if template == t.RECORD_AMOUNT:
        if row["raw"] is None:
            return Decimal(0)
        if _arithmetic(measure.amount):  # a formula of named inputs: rebuild it from them
            assert cents(evaluate(measure.amount, row)) == cents(row["raw"]), measure.amount
        return cents(row["raw"])
    if template == t.ONE_OFF:
        assert isinstance(measure, OneOff)
        return cents(number(plan, measure.amount, row))
    if template in (t.AGGREGATE_GRADUATED, t.AGGREGATE_RETROACTIVE):
        return Decimal(0) if row["reason"] else cents(_tiers(plan, measure, row))
    if template == t.AGGREGATE_AMOUNT:
        return Decimal(0) if row["reason"] else cents(row["raw"])
    if template in (t.RANKING_PLACE, t.RANKING_GROWTH):
        assert isinstance(measure, Ranking)
        prizes = [number(plan, p, row) for p in measure.prizes]
        place, tied = row["place"], row["tied"]
        return cents(sum(prizes[place - 1:place - 1 + tied], Decimal(0)) / tied)
    if template == t.STREAK:
        assert isinstance(measure, Streak)
        assert row["place"] <= number(plan, measure.top, row)
        if row["run"] % number(plan, measure.length, row) != 0:  # a roster's unfinished run
            assert row["reason"] == "streak_incomplete"
            return Decimal(0)
        return cents(number(plan, measure.amount, row))
    if template == t.BALANCE:
        topped_up = max(Decimal(0), row["target"] - row["value"])
        assert row["topped_up"] == topped_up
        advanced = row["advanced"] or Decimal(0)
        if measure.recoverable:
            assert row["owed"] == row["base"] + topped_up + advanced - row["recovered"]
            assert row["owed"] == max(Decimal(0),
                                      row["base"] + row["target"] + advanced - row["value"])
        return cents(topped_up + advanced - row["recovered"])
    if template == t.EMPTY:
        assert row["reason"]
        return Decimal(0)
    if template == t.REBATE_PASSED:
        assert isinstance(measure, GatedRebate)
        assert row["value"] >= row["threshold"] and row["ratio"] >= row["required_ratio"]
        assert row["rate"] == number(plan, measure.rate, row)
        return cents(row["base"] * row["rate"])
    if template == t.REBATE_FAILED:
        assert row["value"] < row["threshold"] or row["ratio"] is None \
            or row["ratio"] < row["required_ratio"] or row["reason"]
        return Decimal(0)
    raise AssertionError(f"unknown template {template!r}")


def _tiers(plan: Plan, measure: Aggregate, row: dict) -> Decimal:
    tiers, value = measure.tiers, row["value"]
    scale = row["target"] if tiers.relative_to == "target" else Decimal(1)
    lower, total = Decimal(0), Decimal(0)
    for i, tier in enumerate(tiers.tiers):
        rate = number(plan, tier.rate, row)
        upper = number(plan, tier.upto, row) * scale if tier.upto is not None else None
        if tiers.mode == "graduated":
            total += max((value if upper is None else min(value, upper)) - lower, Decimal(0)) * rate
        elif i == 0 or value > lower:
            total = value * rate
            assert (tier.label or t.band_label(tiers, tier, i)) == row["band"] or upper is not None \
                and value > upper
        lower = upper if upper is not None else lower
    return total


def audit(plan: Plan, rows: list[dict]) -> None:
    for row in rows:
        where = f"{row['measure']} {row['payee_id']} {row['period']} {row['source_id']}"
        measure = plan.measure(row["measure"])
        assert row["earned"] == earned_from_trace(plan, measure, row), where
        limit = getattr(measure, "limit", None)
        over = limit is not None and row["slot"] is not None and row["slot"] > row["slot_limit"]
        if over:
            assert row["reason"] == limit.name and row["cut_by_limit"] == row["earned"], where
        if row["budget_left"] is not None:  # charged to a pool
            assert row["amount"] == min(row["earned"], row["budget_left"]), where
            assert row["cut_by_budget"] == row["earned"] - row["amount"], where
        elif row["paid"]:
            assert row["amount"] == row["earned"] and not row["cut_by_budget"], where
        if not row["paid"]:
            assert row["amount"] == 0 and row["reason"], where


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> list:
    # The examples' runs are the golden tests' own (one run each per session).
    out = [golden_result(p, EXAMPLES / p, "plan.yaml") for p in PROGRAMS]
    for program, lines in (("generuj-leady", 1000), ("trade-in-accelerator", 1000),
                           ("sales-team", 400)):
        folder = tmp_path_factory.mktemp(program)
        generate.generate(program, lines, folder, seed=11)
        out.append(calculate(EXAMPLES / program / "plan.yaml", folder))
    return out


def test_every_amount_rebuilds_from_its_trace(results) -> None:
    templates = set()
    for result in results:
        rows = result.tables["payouts"].to_pylist()
        audit(result.loaded.plan, rows)
        templates |= {r["template"] for r in rows}
    # every line template of the three programs was audited at least once
    assert templates >= {t.RECORD_RATE, t.ONE_OFF, t.AGGREGATE_AMOUNT, t.AGGREGATE_GRADUATED,
                         t.RANKING_PLACE, t.STREAK, t.REBATE_PASSED, t.REBATE_FAILED}


def test_a_wrong_trace_column_is_caught(results) -> None:
    plan = results[0].loaded.plan
    rows = results[0].tables["payouts"].to_pylist()
    charged = next(r for r in rows if r["budget_left"] is not None and r["amount"] < r["earned"])
    for column, wrong in (("in_unit_price", Decimal("1")), ("budget_left", Decimal("0")),
                          ("cap1_value", Decimal("9999"))):
        row = next(r for r in rows if r[column] is not None and r["template"] == t.RECORD_RATE) \
            if column != "budget_left" else charged
        with pytest.raises((AssertionError, TypeError)):
            audit(plan, [{**row, column: wrong}])


def test_every_row_renders_in_each_language(results) -> None:
    result = results[0]
    plan = result.loaded.plan
    for locale in ("en", "pl", "zh"):
        texts = [explain_line(plan, r, locale) for r in result.tables["payouts"].to_pylist()]
        texts += [explain_evaluation(plan, r, locale)
                  for r in result.tables["evaluations"].to_pylist()]
        assert all(texts)
    s07 = next(r for r in result.tables["payouts"].to_pylist() if r["source_id"] == "S07"
               and r["measure"] == "deal")
    # WORKSHEET: S07 has 501 licences, capped at 500: 10.00 x 12 x 500 = 60 000 at 2%.
    assert explain_line(plan, s07) == ("registration R18; licences 501 capped at 500; annual "
                                       "value 10.00 x 12 x 500 = 60000.00; 2% band 251+ -> 1200.00")
    # Polish and Chinese: the plan's own words (its translations:), grouped figures, and
    # amounts with the plan's currency (PLN) where CLDR puts it: after in Polish (zł),
    # before in Chinese (the code, no space)
    assert explain_line(plan, s07, "pl") == (
        "rejestracja R18; licencje 501 ograniczone do 500; wartość roczna 10,00 x 12 x 500 = "
        "60\xa0000,00\xa0zł; 2% próg 251+ -> 1\xa0200,00\xa0zł")
    assert explain_line(plan, s07, "zh").startswith("登记 R18; 许可数 501")
    assert "年度金额 10.00 x 12 x 500 = PLN60,000.00" in explain_line(plan, s07, "zh")
    assert explain_line(plan, s07, "zh").endswith("-> PLN1,200.00")
    # a program paying in CNY: its Chinese explanations carry ¥ before the grouped amount
    cny = next(r for r in results if r.loaded.plan.currency == "CNY")
    paid = [r for r in cny.tables["payouts"].to_pylist() if r["earned"] and r["earned"] >= 1000]
    assert paid and any(f"¥{r['earned']:,.2f}" in explain_line(cny.loaded.plan, r, "zh")
                        for r in paid)


def test_the_store_keeps_the_trace_and_statements_render_it(demo_workspace) -> None:
    """A posted run's lines keep their trace, not text; a statement renders it in its
    language; a line stored before traces (text, no trace) still shows its text."""
    from sqlalchemy import select

    from paymaster.services import statements
    from paymaster.store.models import RunLine

    ws = demo_workspace
    with ws.store.session() as session:
        stored = session.scalars(select(RunLine).where(RunLine.payee_id == "P1",
                                                       RunLine.source_id == "S01",
                                                       RunLine.measure == "deal")).first()
        assert stored.explanation is None and stored.trace["template"] == t.RECORD_RATE
        assert stored.trace["in_unit_price"] == "50.00000000" and stored.trace["claim"] == "R01"
        stored_id = stored.id
    texts = {locale: next(line.explanation for line in statements.build(
        ws, "generuj-leady", "P1", locale=locale).lines if line.source_id == "S01"
        and line.measure == "deal") for locale in ("en", "pl", "zh")}
    assert texts["en"] == ("registration R01; annual value 50.00 x 12 x 10 = 6000.00; 20% band "
                           "3-250 M365 annual -> 1200.00")
    assert "próg" in texts["pl"] and "6\xa0000,00" in texts["pl"] and "档位" in texts["zh"]
    with ws.store.session() as session:
        old = session.get(RunLine, stored_id)
        old.trace, old.explanation = None, "written by an older version"
    assert any(line.explanation == "written by an older version"
               for line in statements.build(ws, "generuj-leady", "P1", locale="pl").lines)
