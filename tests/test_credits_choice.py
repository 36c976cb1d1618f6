"""Which credits a run writes (`paymaster run --credits records|all`, issue 16): by default
the per-record measures' and rebates' credits alone, the aggregates' summed records neither
written nor computed; `all` as every run wrote them before; a choice that is not one is
refused before anything is written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ibis

from conftest import EXAMPLES
from paymaster.plan import load_plan
from stage_support import built_example

PLAN = EXAMPLES / "sales-team" / "plan.yaml"
AGGREGATES = {m.id for m in load_plan(PLAN).plan.measures if m.type == "aggregate"}


def test_the_default_computes_no_aggregate_credit_and_pays_the_same() -> None:
    with built_example("sales-team", record=True, credits="all") as every:
        every_stored = set(every.stored)
        every_rows = every.backend.to_pyarrow(every.outputs.credits).to_pylist()
        every_payouts = every.backend.to_pyarrow(every.outputs.payouts)
        every_lines = every_payouts.to_pylist()
    with built_example("sales-team", record=True) as built:
        stored = set(built.stored)
        sql = ibis.to_sql(built.outputs.credits, dialect="duckdb")
        rows = built.backend.to_pyarrow(built.outputs.credits).to_pylist()
        assert built.backend.to_pyarrow(built.outputs.payouts).equals(every_payouts)
    # The new-customer records (a customer's first order, chosen by a subquery) are stored
    # for the totals and the credits to read; without the credits the totals read them
    # alone, as they are: nothing stored. Every other stage is the same.
    assert every_stored - stored == {"new_customer__records"} and stored <= every_stored
    # The credits read no sale, no total: the per-record measures' stages only.
    assert '"sales"' not in sql and "__totals" not in sql
    assert {r["measure"] for r in rows} == {"csat", "training", "clawback"}
    assert rows == [r for r in every_rows if r["measure"] not in AGGREGATES]
    # With `all`, an aggregate line's value is the sum of its credits' values (each summed
    # sale counted: no aggregate of this plan is `only_positive`).
    summed: dict[tuple, int] = {}
    for r in every_rows:
        if r["measure"] in AGGREGATES:
            key = (r["payee_id"], r["period"], r["measure"])
            summed[key] = summed.get(key, 0) + r["value"]
            assert r["counts"] and r["reason"] is None
    lines = {(r["payee_id"], r["period"], r["measure"]): r["value"] for r in every_lines
             if r["measure"] in AGGREGATES and r["value"] is not None}
    assert summed and all(lines[key] == value for key, value in summed.items())


def _run(out: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "paymaster.cli", "run", str(PLAN), "--data",
                           str(EXAMPLES / "sales-team" / "data"), "--out", str(out), *options],
                          capture_output=True, text=True, check=False)


def test_the_choice_is_recorded_and_a_bad_one_refused(tmp_path: Path) -> None:
    done = _run(tmp_path / "records")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "records" / "run.json").read_text())["credits"] == "records"
    done = _run(tmp_path / "all", "--credits", "all")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "all" / "run.json").read_text())["credits"] == "all"
    written = {name: (tmp_path / "all" / f"{name}.csv").read_bytes()
               for name in ("payouts", "summary", "titles", "evaluations", "effect")}
    assert written == {name: (tmp_path / "records" / f"{name}.csv").read_bytes()
                       for name in written}
    rows = [(tmp_path / choice / "credits.csv").read_text().splitlines()
            for choice in ("records", "all")]
    assert len(rows[1]) > len(rows[0]) > 1
    assert rows[0] == [line for line in rows[1]
                       if not any(f'"{measure}"' in line for measure in AGGREGATES)]
    done = _run(tmp_path / "bad" / "out", "--credits", "some")
    assert done.returncode == 1
    assert "unknown credits choice 'some'; use records or all" in done.stdout + done.stderr
    assert not (tmp_path / "bad").exists()
