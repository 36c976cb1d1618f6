"""Generuj-leady's pool and bonus stages read only the rows they charge or rank (issue 16,
fifth round): the pool's running sum is one window; the deals check their ids' shape once
(sixth round). (Natural order's shape check on the filtered rows of a stored table:
tests/test_ordering.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from paymaster import runs
from paymaster.backends import sqlcache

pytestmark = pytest.mark.no_sql_cache  # reads the SQL this run compiles

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "examples" / "generuj-leady" / "plan.yaml"
CASE = ROOT / "tests" / "cases" / "generuj-leady" / "data"


def test_pool_sums_once(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PAYMASTER_SQL_CACHE", str(tmp_path / "sql"))
    result = runs.calculate(PLAN, CASE)
    (entry_file,) = (tmp_path / "sql").glob("*.json")
    stages = {stage["name"]: "\n".join(stage["statements"])
              for stage in sqlcache.load(entry_file.stem).stages}
    # the running sum is one window, read by every figure of the charged lines (each
    # figure was a window of its own)
    assert len(re.findall(r"SUM\([^()]*\) OVER", stages["budget_fund"])) == 1
    # the deals' two natural orders (the claims' numbering, the monthly cap's slots) both
    # check the shape of the sale ids as they are in `sales`: the cap's rows come through
    # the claims' union of numbered and other records, whose ids are the sales' (its check
    # was a regular expression over every row of that union)
    checks = re.findall(r"REGEXP_MATCHES\([^()]*\) AS BOOLEAN\)\) AS \"__shaped\" FROM (\S+)",
                        stages["deal__records"], re.IGNORECASE)
    assert checks and set(checks) == {'"sales"'}, checks
    # and the payouts are the hand-worked ones (tests/test_golden.py): the pool's lines
    payouts = result.tables["payouts"].to_pylist()
    charged = [r for r in payouts if r["budget_left"] is not None]
    assert charged and all(r["amount"] == min(r["earned"], r["budget_left"]) for r in charged)
