"""Plan checks (issue 17 items 7, 9, 10): numbers from parameters and dates from the scope,
warnings where a rule repeats them, and every name a measure uses reported where it is
used, in the plan's words (never an internal column of the engine)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import EXAMPLES
from paymaster.cli import app
from paymaster.engine import check
from paymaster.errors import PlanError
from paymaster.plan import parse_plan
from paymaster.plan.literals import literal_warnings

LEADY = (EXAMPLES / "generuj-leady" / "plan.yaml").read_text(encoding="utf-8")
TEAM = (EXAMPLES / "sales-team" / "plan.yaml").read_text(encoding="utf-8")


def problems_of(text: str) -> list:
    with pytest.raises(PlanError) as caught:
        check(parse_plan(text, "plan.yaml"))
    return caught.value.problems


def where(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """(line, column), 1-based, of the `occurrence`-th `needle` in `text`."""
    at = -1
    for _ in range(occurrence):
        at = text.index(needle, at + 1)
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


def said(problems: list) -> list[str]:
    return [str(p) for p in problems]


def replaced(text: str, old: str, new: str, count: int = 1) -> str:
    """`text` with its first `old` replaced, when it holds `count` of them."""
    assert text.count(old) == count, old
    return text.replace(old, new, 1)


# ---------------------------------------------------------------- item 7
def test_numbers_are_read_from_parameters_and_dates_from_the_scope() -> None:
    """The example plans write no figure of the program twice: the clawback window, the
    streak, the title's share, the ladder and the prizes are parameters; the promotion's
    dates are the scope's. Each of them compiles (a `max_days` was a whole number only,
    and no rule could read the scope)."""
    for text in (LEADY, TEAM):
        check(parse_plan(text, "plan.yaml"))
    assert "max_days: param.clawback_days" in TEAM
    assert "top: param.streak_top" in TEAM and "fraction: param.elite_fraction" in TEAM
    assert "NOT BETWEEN scope.start AND scope.end" in LEADY
    assert "licences >= param.large_deal_from" in LEADY
    for text in (LEADY, TEAM):
        assert literal_warnings(parse_plan(text, "plan.yaml")) == []
    # Misspelt, or not whole: said where it is written.
    text = replaced(TEAM, "top: param.streak_top", "top: 2.5")
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml")
    line, col = where(text, "2.5")
    assert said(caught.value.problems) == [f"plan.yaml:{line}:{col}: top must be a whole number, not 2.5"]
    text = replaced(TEAM, "BETWEEN scope.start AND", "BETWEEN scope.begin AND")
    line, col = where(text, "begin AND")
    assert said(problems_of(text)) == [
        f"plan.yaml:{line}:{col}: unknown name 'scope.begin' (scope has start, end)"]


def test_check_warns_where_a_rule_repeats_a_parameter_or_the_scope() -> None:
    """`paymaster check` warns, and passes (exit 0), at the literal's own line and column."""
    team = replaced(TEAM, "max_days: param.clawback_days}", "max_days: 90}")
    team = replaced(team, "rate: param.ladder_top_rate,", "rate: 0.08,")
    leady = replaced(LEADY, "fail_when: order_date NOT BETWEEN scope.start AND scope.end",
                     "fail_when: order_date NOT BETWEEN DATE '2018-03-27' AND scope.end")
    leady = replaced(leady, "licences >= param.large_deal_from", "licences >= 251")
    found = said(literal_warnings(parse_plan(team, "team.yaml")))
    edge = where(leady, "251\"")
    assert found == [
        "team.yaml:{}:{}: the number 0.08 is the value of parameter 'ladder_top_rate' "
        "(write param.ladder_top_rate: a change of the parameter then reaches this rule too)"
        .format(*where(team, "0.08,")),
        "team.yaml:{}:{}: the number 90 is the value of parameters 'training_threshold' and "
        "'clawback_days' (write the one it stands for (param.training_threshold or "
        "param.clawback_days): a change of the parameter then reaches this rule too)"
        .format(*where(team, "90}")),
    ]
    assert said(literal_warnings(parse_plan(leady, "leady.yaml"))) == [
        "leady.yaml:{}:{}: the date 2018-03-27 is the scope's start (write scope.start: a "
        "change of the scope then reaches this rule too)".format(*where(leady, "'2018-03-27'")),
        f"leady.yaml:{edge[0]}:{edge[1]}: the number 251 is the value of parameter "
        "'large_deal_from' (write param.large_deal_from: a change of the parameter then "
        "reaches this rule too)"]


def test_check_command_prints_warnings_and_passes(tmp_path) -> None:
    plan = tmp_path / "team.yaml"
    plan.write_text(replaced(TEAM, "max_days: param.clawback_days}", "max_days: 90}"),
                    encoding="utf-8")
    runner = CliRunner()
    human = runner.invoke(app, ["check", str(plan)])
    assert human.exit_code == 0, human.output
    line, col = where(plan.read_text(encoding="utf-8"), "90}")
    assert f"{plan}:{line}:{col}: warning: the number 90 is the value of parameters" in human.output
    assert "1 plan(s) checked, 1 warning(s)" in human.output
    as_json = runner.invoke(app, ["check", str(plan), "--json"])
    report = json.loads(as_json.stdout)
    assert as_json.exit_code == 0 and report["ok"] is True and report["problems"] == []
    assert [(w["line"], w["column"]) for w in report["warnings"]] == [(line, col)]


# ---------------------------------------------------------------- item 10
def test_a_misspelt_declared_column_is_reported_where_the_real_name_is_used() -> None:
    text = replaced(LEADY, "      customer_address: {type: string, optional: true}",
                    "      customer_addresss: {type: string, optional: true}")
    line, col = where(text, "customer_address,")
    assert said(problems_of(text)) == [
        f"plan.yaml:{line}:{col}: 'customer_address' is not a column of registrations "
        "(did you mean 'customer_addresss'?)"]


def test_no_message_names_an_internal_column() -> None:
    """A misspelt name is never offered one of the engine's own columns (`__date` is close
    to `dte`), and one the loader cannot see (an order column after the caps) is said in
    the plan's words, not as the engine's list of its columns."""
    text = replaced(LEADY, "fail_when: licences < param.min_licences",
                    "fail_when: dte IS NULL")
    [problem] = problems_of(text)
    assert (problem.message, problem.hint) == ("unknown column 'dte'", None)
    text = replaced(LEADY, "order_by: [order_date, sale_id]}", "order_by: [order_dat, sale_id]}")
    line, col = where(text, "order_dat,")
    assert said(problems_of(text)) == [
        f"plan.yaml:{line}:{col}: 'order_dat' is not a column of sales "
        "(did you mean 'order_date'?)"]
    # Names in lists of every kind, at once, each where it is written.
    member = TEAM.index("id: team_member")
    text = TEAM[:member] + replaced(TEAM[member:], "quarter: period}", "quarter: perod}", 2)
    text = replaced(text, "columns: [rep_id, order_date, new_product], prefix: sale_}",
                    "columns: [rep_id, order_dates, new_product], prefix: sale_}")
    problems = problems_of(text)
    assert said(problems) == [
        "plan.yaml:{}:{}: 'perod' is not a column of the lines of team_member (payee_id, "
        "period or a key) (did you mean 'period'?)".format(*where(text, "perod")),
        "plan.yaml:{}:{}: 'order_dates' is not a column of sales (did you mean "
        "'order_date'?)".format(*where(text, "order_dates")),
    ]
    assert not any("__" in str(p) for p in problems)


# ---------------------------------------------------------------- item 9
def test_a_source_column_the_engine_would_replace_is_refused() -> None:
    text = replaced(LEADY, "      order_date: date\n", "      order_date: date\n      period: string\n")
    line, col = where(text, "period: string")
    assert said(problems_of(text)) == [
        f"plan.yaml:{line}:{col}: column 'period' of sales, the source of measure 'deal', has "
        "a name the engine gives every record (payee_id, period, version, source_id): it "
        "would be replaced (rename it, in the plan and in the data (say 'sales_period'); the "
        "engine's own is read as `period`)"]


def test_tax_id_kinds_and_refers_are_checked_when_the_plan_is_loaded() -> None:
    text = replaced(LEADY, "tax_ids: {customer_nip: pl.nip,", "tax_ids: {customer_nip: pl.nipp,")
    line, col = where(text, "pl.nipp")
    assert said(problems_of(text)) == [
        f"plan.yaml:{line}:{col}: 'pl.nipp' is not a tax id kind a screening checks "
        "(did you mean 'pl.nip'?)"]
    text = replaced(TEAM, "{measure: team_member, period_of: sale_order_date}",
                    "{measure: clawback, period_of: sale_order_date}")
    text = replaced(text, "{measure: ladder, period_of: sale_order_date}",
                    "{measure: ladderr, period_of: sale_order_date}")
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml")
    assert said(caught.value.problems) == [
        "plan.yaml:{}:{}: 'ladderr' is not a measure defined above (did you mean "
        "'ladder'?)".format(*where(text, "ladderr")),
        "plan.yaml:{}:{}: 'clawback' is not a measure defined above".format(
            *where(text, "clawback, period_of")),
    ]


MINI = """\
program: progress
currency: CNY
scope: {start: 2025-01-01, end: 2025-12-31}
parameters: {from_month: 3, min_previous: 50000, prize: 1000, window: 30}
inputs:
  sales:
    key: [sale_id]
    columns: {sale_id: string, rep_id: string, amount: decimal, order_date: date}
  returns:
    key: [return_id]
    columns: {return_id: string, sale_id: string, amount: decimal, return_date: date}
measures:
  - id: best_progress
    type: ranking
    source: sales
    payee: rep_id
    date: order_date
    value: amount
    metric: growth
    min_previous: param.min_previous
    ranked_from: param.from_month
    prizes: [param.prize]
  - id: clawback
    type: per_record
    source: returns
    lookups: [{table: sales, on: {sale_id: sale_id}, columns: [rep_id, order_date], prefix: sale_}]
    filter: sale_order_date BETWEEN scope.start AND scope.end
    payee: sale_rep_id
    source_id: return_id
    date: return_date
    duration: {name: too_late, start: sale_order_date, end: return_date, max_days: param.window}
    amount: -ABS(amount)
"""


def test_parameters_decide_where_numbers_were_fixed(tmp_path) -> None:
    """Best progress from the month a parameter says (the third: March), and a clawback
    window in days from a parameter (30), worked by hand:
    - February: R01 60 000 -> 90 000 (+50%) would win, but February is not ranked;
    - March: R01 90 000 -> 30 000 (-66.7%), R02 60 000 -> 120 000 (+100%): R02;
    - April: only R02 had 50 000 in March: 120 000 -> 0 (-100%) still wins;
    - X1 returns S1 (2025-01-10) on 2025-02-09, 30 days: -100.00; X2 on 2025-02-10, 31
      days: too_late; X3 returns S0, a sale of 2024 (before scope.start): no line."""
    from paymaster.runs import calculate

    plan = tmp_path / "plan.yaml"
    plan.write_text(MINI, encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir()
    (data / "sales.csv").write_text(
        "sale_id,rep_id,amount,order_date\nS0,R01,10,2024-12-20\nS1,R01,60000,2025-01-10\n"
        "S2,R01,90000,2025-02-10\nS3,R01,30000,2025-03-10\nS4,R02,60000,2025-02-11\n"
        "S5,R02,120000,2025-03-11\n", encoding="utf-8")
    (data / "returns.csv").write_text(
        "return_id,sale_id,amount,return_date\nX1,S1,-100,2025-02-09\nX2,S1,-100,2025-02-10\n"
        "X3,S0,-10,2025-01-05\n", encoding="utf-8")
    rows = calculate(plan, data).tables["payouts"].to_pylist()
    got = sorted((r["measure"], r["payee_id"], r["period"], r["source_id"], str(r["amount"]),
                  r["reason"]) for r in rows)
    assert got == [
        ("best_progress", "R02", "2025-03", "", "1000.00", None),
        ("best_progress", "R02", "2025-04", "", "1000.00", None),
        ("clawback", "R01", "2025-02", "X1", "-100.00", None),
        ("clawback", "R01", "2025-02", "X2", "0.00", "too_late"),
    ]


# ---------------------------------------------------------------- issue 20, item 6
def planted(text: str, old: str, new: str, after: str = "") -> str:
    at = text.index(old, text.index(after) if after else 0)
    return text[:at] + new + text[at + len(old):]


def test_check_reports_ten_planted_mistakes_of_ten_kinds_at_once(tmp_path) -> None:
    """One run of `paymaster check` reports each mistake at its own line: a bad enum, an
    unknown block type or key, or an unknown source hides nothing else; a join's typo is
    said at the join; `1%` says what to write; an unknown function lists what is allowed."""
    text = TEAM
    mistakes = [  # (what is written, the place to find it, message, hint)
        ("currency: cny", "", "currency: String should match pattern '^[A-Z]{3}$'", None),
        ("mode: graduatd", "", "measures.0.tiers.mode: Input should be 'graduated' or "
         "'retroactive'", "did you mean 'graduated'?"),
        ("type: rankng", "id: quarterly_contest", "unknown block type 'rankng'",
         "did you mean 'ranking'?"),
        ("lable: Best progress", "", "unknown key 'lable'", "did you mean 'label'?"),
        ("source: sale\n", "id: monthly_champion", "unknown input table 'sale'",
         "did you mean 'sales'?"),
        ("{team_idd: team_id}, columns: [manager_id]", "",
         "'team_idd' is not a column of teams", "did you mean 'team_id'?"),
        ("filter: new_prodct", "", "unknown column 'new_prodct'", "did you mean 'new_product'?"),
        ("amount: value * 1%", "", "'1%' is a percentage, which expressions do not write "
         "with '%'", "write 0.01; in expressions, a % b is the remainder of a division"),
        ("fail_when: MEDIAN(csat) < param.csat_threshold", "",
         "'MEDIAN(csat)' is not allowed in plan expressions", None),
        ("require: value >= 'target'", "", "cannot compare value (a number) with 'target' "
         "(text)", None),
    ]
    originals = ["currency: CNY", "mode: graduated", "type: ranking", "label: Best progress",
                 "source: sales\n", "{team_id: team_id}, columns: [manager_id]",
                 "filter: new_product", "amount: value * param.team_member_rate",
                 "fail_when: csat < param.csat_threshold", "require: value >= target"]
    for (wrong, after, _, _), right in zip(mistakes, originals, strict=True):
        text = planted(text, right, wrong, after)
    plan = tmp_path / "plan.yaml"
    plan.write_text(text, encoding="utf-8")
    run = CliRunner().invoke(app, ["check", str(plan), "--json"])
    assert run.exit_code == 1
    found = [(p["line"], p["message"], p.get("hint")) for p in json.loads(run.stdout)["problems"]]
    expected = []
    for wrong, after, message, hint in mistakes:
        at = text.index(wrong, text.index(after) if after else 0)
        expected.append((text.count("\n", 0, at) + 1, message, hint))
    allowed = [p for p in found if p[1].startswith("'MEDIAN(csat)'")][0][2]
    assert all(name in allowed for name in ("days_between", "add_days", "if", "coalesce"))
    assert [(line, message, hint if not message.startswith("'MEDIAN") else None)
            for line, message, hint in found] == sorted(expected)
    assert len({line for line, _, _ in found}) == 10
