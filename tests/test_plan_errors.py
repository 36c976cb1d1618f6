"""Errors for people: every problem at once, located as file:line:col, with suggestions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES
from paymaster.engine import check
from paymaster.errors import PlanError
from paymaster.plan import parse_plan

BASE = (EXAMPLES / "generuj-leady" / "plan.yaml").read_text(encoding="utf-8")


def problems_of(text: str) -> list:
    with pytest.raises(PlanError) as caught:
        check(parse_plan(text, "plan.yaml"))
    return caught.value.problems


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_misspelt_column_is_located_with_a_suggestion() -> None:
    text = BASE.replace("fail_when: licences < param.min_licences",
                        "fail_when: licencs < param.min_licences")
    [problem] = problems_of(text)
    assert problem.message == "unknown column 'licencs'"
    assert problem.hint == "did you mean 'licences'?"
    assert problem.line == line_of(text, "licencs <")
    assert problem.column == text.splitlines()[problem.line - 1].index("licencs") + 1


def test_every_problem_is_reported_at_once() -> None:
    text = (BASE.replace("billing = 'monthly'", "biling = 'monthly'")
                .replace("p.new_to_program)", "p.new_to_programme)"))
    problems = problems_of(text)
    messages = sorted(p.message for p in problems)
    assert messages == ["unknown column 'biling'", "unknown column 'p.new_to_programme'"]
    assert {p.hint for p in problems} == {"did you mean 'billing'?", "did you mean 'new_to_program'?"}


def test_misspelt_block_key_and_type() -> None:
    text = BASE.replace("    limit: {name: monthly_cap", "    limt: {name: monthly_cap")
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml")
    [problem] = [p for p in caught.value.problems if "limt" in p.message]
    assert problem.hint == "did you mean 'limit'?"
    assert problem.line == line_of(text, "limt:")
    text = BASE.replace("type: one_off", "type: one_of")
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml")
    assert any(p.hint == "did you mean 'one_off'?" for p in caught.value.problems)


def test_type_errors_are_found_before_reading_data() -> None:
    text = BASE.replace("fail_when: licences < param.min_licences",
                        "fail_when: licences < 'three'")
    [problem] = problems_of(text)
    assert "compare" in problem.message
    assert problem.line == line_of(text, "licences < 'three'")


def test_disallowed_sql_is_refused() -> None:
    text = BASE.replace("fail_when: licences < param.min_licences",
                        "fail_when: licences < (SELECT max(licences) FROM sales)")
    [problem] = problems_of(text)
    assert "not allowed" in problem.message


def test_ambiguous_name_inside_exists_must_be_qualified() -> None:
    text = BASE.replace("WHERE v.customer_nip = registrations.customer_nip",
                        "WHERE v.customer_nip = customer_nip")
    [problem] = problems_of(text)
    assert "ambiguous" in problem.message


def test_unknown_table_and_budget() -> None:
    text = BASE.replace("source: sales", "source: sale").replace("budget: fund\n\n", "budget: fnd\n\n")
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml")
    hints = {p.hint for p in caught.value.problems}
    assert "did you mean 'sales'?" in hints
    assert "did you mean 'fund'?" in hints


def test_invalid_yaml_is_located() -> None:
    with pytest.raises(PlanError) as caught:
        parse_plan("program: x\n  bad: [\n", "plan.yaml")
    assert caught.value.problems[0].line is not None


def test_check_command_json_and_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace("billing = 'annual'", "billng = 'annual'"), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "paymaster.cli", "check", str(bad), "--json"],
                         capture_output=True, text=True)
    assert run.returncode == 1
    report = json.loads(run.stdout)
    assert report["ok"] is False
    assert {p["message"] for p in report["problems"]} == {"unknown column 'billng'"}
    assert all(p["file"] == str(bad) and p["line"] and p["column"] for p in report["problems"])
    human = subprocess.run([sys.executable, "-m", "paymaster.cli", "check", str(bad)],
                           capture_output=True, text=True)
    assert human.returncode == 1
    assert f"{bad}:" in human.stderr and "did you mean 'billing'?" in human.stderr


def test_examples_check_clean() -> None:
    plans = sorted(EXAMPLES.glob("*/*.yaml"))
    run = subprocess.run([sys.executable, "-m", "paymaster.cli", "check", *map(str, plans)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


TRADE_IN = (EXAMPLES / "trade-in-accelerator" / "plan.yaml").read_text(encoding="utf-8")
RATE_CHANGE = (EXAMPLES / "generuj-leady" / "rate-change.yaml").read_text(encoding="utf-8")


def load_problems(text: str) -> list:
    """Problems found when the plan file is loaded, before any expression is compiled."""
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml")
    return caught.value.problems


def test_a_claim_must_name_a_screening_defined_above() -> None:
    text = BASE.replace("      screening: registration", "      screening: registrations")
    [problem] = load_problems(text)
    assert problem.message == "'registrations' is not a screening measure defined above"
    assert problem.hint == "did you mean 'registration'?"
    assert problem.line == line_of(text, "screening: registrations")


def test_versions_must_be_in_date_order() -> None:
    text = RATE_CHANGE.replace("""    parameters:
      rate_m365_annual: 0.22
""", """    parameters:
      rate_m365_annual: 0.22
  - effective_from: 2018-05-01
    label: v3
""", 1)
    [problem] = load_problems(text)
    assert problem.message == ("version effective from 2018-05-01 must come after the one "
                               "before it (2018-05-16)")
    assert problem.line == line_of(text, "effective_from: 2018-05-01")


def test_unknown_period_kind_is_named_with_a_suggestion() -> None:
    text = BASE.replace("    period: month\n", "    period: monht\n", 1)
    [problem] = load_problems(text)
    assert (problem.message, problem.hint) == ("unknown period 'monht'", "did you mean 'month'?")
    assert problem.line == line_of(text, "period: monht")


def test_a_tax_id_column_must_be_text() -> None:
    text = BASE.replace("nip: {type: string, tax_id: pl.nip}", "nip: {type: integer, tax_id: pl.nip}", 1)
    [problem] = load_problems(text)
    assert problem.message == "a tax id column must be a string, not integer"
    assert problem.line == line_of(text, "type: integer, tax_id")


def test_every_phase_has_the_attributes_the_others_have() -> None:
    text = TRADE_IN.replace("    minimum: 25000\n", "", 1)
    [problem] = load_problems(text)
    assert problem.message == "phase 'phase-7' has no 'minimum' (other phases have it)"
    assert problem.line == line_of(text, "- id: phase-7")


def test_a_gated_rebate_needs_phases() -> None:
    start = TRADE_IN.index("phases:")
    end = TRADE_IN.index("inputs:")
    problems = load_problems(TRADE_IN[:start] + TRADE_IN[end:])
    assert "a gated_rebate is paid per phase, but the plan declares no phases" in [
        p.message for p in problems]


def test_a_missing_required_key_is_named_and_its_misspelling_suggested() -> None:
    """`curency:` instead of `currency:`: the missing key by name, and the unknown key
    beside it with the suggestion (pydantic alone says "Field required" at the parent)."""
    text = BASE.replace("\ncurrency:", "\ncurency:")
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml")
    found = {(p.message, p.hint) for p in caught.value.problems}
    assert found == {("plan: the required key 'currency' is missing", None),
                     ("unknown key 'curency'", "did you mean 'currency'?")}


def test_a_misspelt_column_option_is_one_problem_with_a_suggestion() -> None:
    """`optinal: true` in a column's long form: one problem (not also "Input should be
    'string', ..." from the short form `column: date`), with the key it meant."""
    text = (EXAMPLES / "trade-in-accelerator" / "plan.yaml").read_text(encoding="utf-8")
    text = text.replace("optional: true", "optinal: true", 1)
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml")
    [problem] = caught.value.problems
    assert (problem.message, problem.hint) == ("unknown key 'optinal'", "did you mean 'optional'?")
    assert problem.line == line_of(text, "optinal: true")
