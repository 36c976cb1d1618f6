"""Comparing plan variants: every figure comes from the engine, lined up per payee."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import EXAMPLES
from paymaster.analytics.compare import compare, variants
from paymaster.errors import PlanError

TEAM = EXAMPLES / "sales-team"


def test_parameter_sweep_moves_exactly_the_lines_that_use_it() -> None:
    found = variants(TEAM / "plan.yaml", sets=["new_product_rate=0.03"])
    result = compare(found, TEAM / "data")
    diff = {r["payee_id"]: r["diff"] for r in result.tables["by_payee"].to_pylist() if r["diff"]}
    # R01: new-product extra 3% x 60 000 = 1 800 (+600); its clawback X1 takes 3% x 6 000
    # instead of 2% (-60): +540. R05: 3% x 30 000 = 900 (+300). Nothing else uses the rate.
    assert diff == {"R01": Decimal("540.00"), "R05": Decimal("300.00")}
    by_measure = {r["measure"]: r["diff"] for r in result.tables["by_measure"].to_pylist()}
    assert by_measure["new_product"] == Decimal("900.00")
    assert by_measure["clawback"] == Decimal("-60.00")
    totals = {r["variant"]: r["total"] for r in result.tables["totals"].to_pylist()}
    assert totals["new_product_rate=0.03"] - totals["plan"] == Decimal("840.00")


def test_two_plans_and_crossings() -> None:
    gl = EXAMPLES / "generuj-leady"
    result = compare(variants(gl / "plan.yaml", gl / "rate-change.yaml"), gl / "data")
    [crossing] = result.tables["crossings"].to_pylist()
    # Under the 22% rate S28 takes the rest of the pool and S29 is no longer paid.
    assert (crossing["source_id"], crossing["paid_baseline"], crossing["paid"],
            crossing["reason"]) == ("S29", True, False, "budget_exhausted")
    diff = {r["payee_id"]: r["diff"] for r in result.tables["by_payee"].to_pylist()}
    assert diff["P1"] == Decimal("5789.21") and diff["P2"] == Decimal("-5789.21")


def test_bad_assignments_are_refused() -> None:
    with pytest.raises(PlanError) as caught:
        variants(TEAM / "plan.yaml", sets=["new_product_rat=0.03"])
    assert caught.value.problems[0].hint == "did you mean 'new_product_rate'?"
    with pytest.raises(PlanError):
        variants(TEAM / "plan.yaml", sets=["new_product_rate"])
    with pytest.raises(PlanError):
        variants(TEAM / "plan.yaml")


def test_compare_command_writes_its_tables(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "paymaster.cli", "compare", str(TEAM / "plan.yaml"),
                          "--data", str(TEAM / "data"), "--set", "csat_award=2000",
                          "--out", str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "+500.00" in run.stdout  # R01's csat award 1 500 -> 2 000
    assert sorted(p.stem for p in tmp_path.iterdir()) == [
        "by_measure", "by_payee", "crossings", "distribution", "movers", "totals"]
