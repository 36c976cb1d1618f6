"""Group checks over related input rows (issue 20 item 2): a deal's split shares and a
rep's objective weights must add up to 100%; the plan says whether a group that does not
is refused (with its rows named) or kept with its lines held unpaid."""

from __future__ import annotations

import shutil
from decimal import Decimal

import duckdb
import pytest

from conftest import EXAMPLES
from paymaster.datafiles import load_table
from paymaster.errors import DataError, PlanError
from paymaster.plan import load_plan, parse_plan
from paymaster.runs import calculate
from paymaster.web.i18n import Formatter

CATALOG = EXAMPLES / "catalog"


def _copy(tmp_path, name):
    folder = tmp_path / name
    shutil.copytree(CATALOG / name, folder)
    return folder


def test_a_split_over_100_percent_is_refused_with_its_rows(tmp_path):
    folder = _copy(tmp_path, "credit-splits")
    with (folder / "data" / "deal_credits.csv").open("a", encoding="utf-8") as f:
        f.write("D5,A,0.7\nD5,B,0.6\n")  # 130%: rows 8 and 9 of the file
    with (folder / "data" / "deals.csv").open("a", encoding="utf-8") as f:
        f.write("D5,cloud,500,2026-04-01\n")
    with pytest.raises(DataError) as err:
        calculate(folder / "plan.yaml", folder / "data")
    [problem] = err.value.problems
    assert problem.row == 8 and problem.field == "share"
    assert problem.message == ("split_not_100_percent: deal_id D5: share adds up to 1.3, "
                               "not 1 (rows 8, 9)")
    # On the office's imports page, in the reader's language with its figures.
    assert Formatter("pl").problem(problem) == (
        "<code>split_not_100_percent</code>: <code>deal_id D5</code>: suma <code>share</code> "
        "wynosi <code>1.3</code> zamiast <code>1</code> (wiersze <code>8, 9</code>) (popraw "
        "wiersze tak, by suma <code>share</code> wynosiła <code>1</code> dla każdego "
        "<code>deal_id</code>)")
    # An upload of the one file (a workspace import) is refused the same way.
    plan = load_plan(folder / "plan.yaml").plan
    with pytest.raises(DataError, match="deal_id D5: share adds up to 1.3"):
        load_table(plan, "deal_credits", folder / "data" / "deal_credits.csv",
                   duckdb.connect())


def test_weights_off_100_percent_hold_that_reps_lines(tmp_path):
    folder = _copy(tmp_path, "mbo")
    with (folder / "data" / "objectives.csv").open("a", encoding="utf-8") as f:
        # R2's Q2 weights add up to 90%: both lines held; R1's Q2 (100%) is paid.
        f.write("R2,2026-Q2,pipeline,0.5,1.0\nR2,2026-Q2,renewals,0.4,1.0\n"
                "R1,2026-Q2,pipeline,1,0.5\n")
    result = calculate(folder / "plan.yaml", folder / "data")
    lines = {(r["payee_id"], r["period"], r["source_id"]): (r["amount"], r["reason"])
             for r in result.tables["payouts"].to_pylist()}
    assert lines[("R2", "2026-Q2", "pipeline")] == (Decimal("0.00"), "weights_not_100_percent")
    assert lines[("R2", "2026-Q2", "renewals")] == (Decimal("0.00"), "weights_not_100_percent")
    assert lines[("R1", "2026-Q2", "pipeline")] == (Decimal("2500.00"), None)  # 5000 x 1 x 0.5
    assert lines[("R2", "2026-Q1", "pipeline")] == (Decimal("2040.00"), None)  # Q1 adds up


def test_a_group_check_naming_unknown_columns_is_a_located_plan_error():
    text = (CATALOG / "mbo" / "plan.yaml").read_text(encoding="utf-8").replace(
        "by: [rep_id, quarter], sum: weight", "by: [rep_id, quater], sum: name")
    with pytest.raises(PlanError) as err:
        parse_plan(text, "mbo.yaml")
    shown = str(err.value)
    assert "'quater' is not a column of objectives" in shown and "quarter" in shown
    assert "'name' is not a column of objectives" in shown  # both, in one report
