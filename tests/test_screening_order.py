"""Generuj-leady's stages without their global sorts (issue 16, fifth round).

The screening's order is numbered within the columns its first-wins key and its claims'
keys share, on the narrow checked stage; a pool's running sum is one window. Both must
give exactly what one global order gives, for the example and for plans whose keys share
fewer columns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from paymaster import runs
from paymaster.backends import sqlcache
from paymaster.engine.blocks import screening

pytestmark = pytest.mark.no_sql_cache  # patches the engine, reads the compiled SQL

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "examples" / "generuj-leady" / "plan.yaml"
CASE = ROOT / "tests" / "cases" / "generuj-leady" / "data"
TABLES = ("payouts", "evaluations", "credits", "summary")


def _run(plan: Path, folder: Path, monkeypatch) -> tuple[dict, dict[str, str]]:
    """The run's tables, and each stage's SQL as the SQL cache recorded it."""
    monkeypatch.setenv("PAYMASTER_SQL_CACHE", str(folder))
    result = runs.calculate(plan, CASE)
    (entry_file,) = folder.glob("*.json")
    entry = sqlcache.load(entry_file.stem)
    stages = {stage["name"]: "\n".join(stage["statements"]) for stage in entry.stages}
    return {name: result.tables[name].to_pylist() for name in TABLES}, stages


def _global(monkeypatch, plan: Path, folder: Path) -> dict:
    """The same plan with every record numbered at once, before the checks (the general
    path, as before this change)."""
    with monkeypatch.context() as patch:
        patch.setattr(screening, "_order_within", lambda _ctx, _measure: None)
        tables, stages = _run(plan, folder, patch)
    assert "ROW_NUMBER() OVER (ORDER BY" in stages["registration__checked"]
    return tables


@pytest.mark.parametrize("claim_on, shared", [
    ("[partner_id, customer_nip, family]", ["customer_nip", "family"]),  # the example
    ("[partner_id, family]", ["family"]),  # a claim sharing one column with first wins
])
def test_order_within_shared_keys_equals_one_global_order(tmp_path, monkeypatch, claim_on,
                                                          shared) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.read_text().replace("on: [partner_id, customer_nip, family]",
                                             f"on: {claim_on}"))
    tables, stages = _run(plan, tmp_path / "new", monkeypatch)
    # no sort of every registration with every column before the checks: the order is
    # numbered on the checked stage, within the shared key columns
    assert "ROW_NUMBER" not in stages["registration__checked"]
    numbered = re.search(r"ROW_NUMBER\(\) OVER \(PARTITION BY ([^)]*?) ORDER BY",
                         stages["registration__screened"])
    assert numbered and re.findall(r'"(\w+)"(?=\s*(?:,|$))', numbered.group(1)) == shared
    # the pool's running sum is one window, read by every figure of the charged lines
    assert len(re.findall(r"SUM\([^()]*\) OVER", stages["budget_fund"])) == 1
    if claim_on != "[partner_id, customer_nip, family]":  # (the example: test_golden.py)
        assert tables == _global(monkeypatch, plan, tmp_path / "old")
    paid = [r for r in tables["payouts"] if r["measure"] == "deal" and r["paid"]]
    assert paid and all(r["claim_status"] == "closed" for r in paid)
