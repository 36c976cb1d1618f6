"""What the outputs of a run read (issue 16, sixth round): a plan with a roster stores its
payout lines once, and the payouts, the summary, the effect and the printed totals read
that one table, not each the union of every measure's lines and the roster's anti-join
again. The files stay the same, byte for byte, whether the run compiled its SQL or
replayed it from the cache."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

import pytest

from paymaster import runs
from paymaster.backends import sqlcache

pytestmark = pytest.mark.no_sql_cache  # reads the SQL this run compiles

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "sales-team"


def test_roster_lines_stored_once_and_files_reproducible(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PAYMASTER_SQL_CACHE", str(tmp_path / "sql"))
    first = runs.calculate_into(EXAMPLE / "plan.yaml", EXAMPLE / "data", tmp_path / "a", "csv")
    (entry_file,) = (tmp_path / "sql").glob("*.json")
    entry = sqlcache.load(entry_file.stem)
    assert [s["name"] for s in entry.stages].count("payout_lines") == 1
    readers = {**{n: entry.outputs[n] for n in ("payouts", "summary", "effect")},
               **entry.figures}
    for name, output in readers.items():
        stages = set(re.findall(r'"(stage_[a-z0-9_]+)"', output["sql"]))
        assert stages == {"stage_payout_lines"}, (name, stages)
    # the same bytes again from the cached SQL (a fresh process would do the same)
    second = runs.calculate_into(EXAMPLE / "plan.yaml", EXAMPLE / "data", tmp_path / "b", "csv")
    names = sorted(p.name for p in first.paths if p.name != "run.json")
    assert names == sorted(p.name for p in second.paths if p.name != "run.json")
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    # the printed totals are the written file's (a CSV run counts them from the stage)
    with open(tmp_path / "a" / "payouts.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert first.figures.lines == second.figures.lines == len(rows)
    assert first.figures.total == sum(Decimal(r["amount"]) for r in rows)
    assert first.figures.paid == sum(r["paid"] == "true" for r in rows)
