"""Generuj-leady's stages without sorting or splitting every wide row (issue 16, fifth
round).

A claim is found on the few columns it reads and joined back to every record by the
record's unique id; a pool's running sum is one window. Both must give exactly what the
general path gives (the records split by claimed key; a plan whose record id is not its
source's key keeps that path), for the example and for a plan whose claim keys differ."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from paymaster import runs
from paymaster.backends import sqlcache
from paymaster.engine.blocks import records

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


def _general(monkeypatch, plan: Path, folder: Path) -> dict:
    """The same plan on the general path: the records split by claimed key, numbered
    with every column (as for record ids that are not unique)."""
    with monkeypatch.context() as patch:
        patch.setattr(records, "_unique_ids", lambda _ctx, _measure: False)
        tables, stages = _run(plan, folder, patch)
    assert "ANTI" in stages["deal__records"]
    return tables


@pytest.mark.parametrize("claim_on", [
    "[partner_id, customer_nip, family]",  # the example
    "[partner_id, family]",  # a claim on other keys than first wins
])
def test_claims_by_record_id_equal_the_general_path(tmp_path, monkeypatch, claim_on) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.read_text().replace("on: [partner_id, customer_nip, family]",
                                             f"on: {claim_on}"))
    tables, stages = _run(plan, tmp_path / "new", monkeypatch)
    # no split of every wide record into those of a claimed key and the rest
    assert "ANTI" not in stages["deal__records"]
    # the pool's running sum is one window, read by every figure of the charged lines
    assert len(re.findall(r"SUM\([^()]*\) OVER", stages["budget_fund"])) == 1
    if claim_on != "[partner_id, customer_nip, family]":  # (the example: test_golden.py)
        assert tables == _general(monkeypatch, plan, tmp_path / "old")
    paid = [r for r in tables["payouts"] if r["measure"] == "deal" and r["paid"]]
    assert paid and all(r["claim_status"] == "closed" for r in paid)
    unclaimed = {r["claim_status"] for r in tables["payouts"] if r["reason"] and
                 r["reason"].startswith("registration_")}
    assert unclaimed  # "why unclaimed" still names the registration of the sale's keys
