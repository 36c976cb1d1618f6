"""An incremental run returns only what changed: its delta, applied to the previous run's
tables, gives exactly a full run's tables (every row, every cent, in the same order), and
names exactly the payees whose rows differ."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import AS_OF
from paymaster import incremental
from paymaster.changes import CHANGES, Folder
from paymaster.incremental.delta import BY_PAYEE
from paymaster.runs import calculate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

# (program, kind) pairs: every kind of change of every program.
KINDS = [(program, kind) for program in sorted(CHANGES) for kind in CHANGES[program]]


@pytest.fixture(scope="module")
def first_runs(tmp_path_factory):
    """Per program, generated data with its first incremental run (state and tables), made
    once and copied for each example."""
    from generate import generate

    made: dict[tuple[str, str], tuple[Path, dict[str, pa.Table]]] = {}

    def first(program: str, credits: str) -> tuple[Path, dict[str, pa.Table]]:
        if (program, credits) not in made:
            base = tmp_path_factory.mktemp(program)
            generate(program, 300, base / "data", seed=5)
            result, report = incremental.calculate(_plan(program), base / "data",
                                                   base / "out" / incremental.STATE_FILE,
                                                   credits=credits, as_of=AS_OF)
            assert report.mode == "full" and report.delta.full
            made[program, credits] = (base, result.tables)
        return made[program, credits]

    return first


def _plan(program: str) -> Path:
    return ROOT / "examples" / program / "plan.yaml"


def _by_payee(table: pa.Table) -> dict:
    rows: dict = {}
    for row in table.to_pylist():
        rows.setdefault(row["payee_id"], []).append(repr(sorted(row.items())))
    return {payee: sorted(found) for payee, found in rows.items()}


@settings(max_examples=2, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(which=st.sampled_from(KINDS), seed=st.integers(0, 2**16),
       credits=st.sampled_from(["records", "all"]))
def test_the_delta_applied_to_the_previous_result_is_a_full_run(first_runs, tmp_path_factory,
                                                                which, seed, credits) -> None:
    program, kind = which
    base, previous = first_runs(program, credits)
    work = tmp_path_factory.mktemp("change")
    shutil.copytree(base, work, dirs_exist_ok=True)
    what = CHANGES[program][kind](Folder(work / "data", seed=seed))
    _, report = incremental.calculate(_plan(program), work / "data",
                                      work / "out" / incremental.STATE_FILE, outputs="delta",
                                      credits=credits, as_of=AS_OF)
    label = f"{program} {kind} (seed {seed}, --credits {credits}): {what}"
    assert report.mode == "incremental", f"{label}: {report.reason}"
    want = calculate(_plan(program), work / "data", credits=credits, as_of=AS_OF).tables
    got = report.delta.apply(previous)
    assert set(got) == set(want)
    for name, table in want.items():  # every row, to the cent, in the full run's order
        assert got[name].schema == table.schema, f"{label}: {name} schema"
        assert got[name].equals(table), f"{label}: {name} differs"
    # Only what changed: the payees named are those whose rows differ in some table, and
    # the rows added and removed are the difference of those payees' rows.
    differ = set()
    for name in BY_PAYEE:
        before, after = _by_payee(previous[name]), _by_payee(want[name])
        differ |= {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
        if name in report.delta.removed:  # (the summary's rows are totalled from them)
            removed = [r for p in before if before.get(p) != after.get(p) for r in before[p]]
            assert len(removed) >= report.delta.removed[name].num_rows, f"{label}: {name}"
    assert set(report.delta.payees) == differ, label
    lines = report.delta.lines()
    assert sum(t.num_rows for t in lines.values()) <= (
        report.delta.added["payouts"].num_rows + report.delta.removed["payouts"].num_rows)


def test_the_benchmarks_verifier_applies_deltas_on_disk_and_finds_a_missed_one(
        first_runs, tmp_path_factory) -> None:
    """benchmarks/incremental.py --verify keeps the tables as Parquet files and applies each
    delta with DuckDB (at 10M lines Arrow copies did not fit in memory): two changes, both
    applied, give a full run's tables; the second left out, the tables it changed differ."""
    from incremental import Applied

    program = "generuj-leady"
    base, previous = first_runs(program, "records")
    work = tmp_path_factory.mktemp("verifier")
    shutil.copytree(base, work, dirs_exist_ok=True)
    folder, state = Folder(work / "data", seed=3), work / "out" / incremental.STATE_FILE
    applied = Applied(work / "applied", previous)
    missed = Applied(work / "missed", previous)
    for kind in ("corrected record", "late line"):
        CHANGES[program][kind](folder)
        _, report = incremental.calculate(_plan(program), work / "data", state, outputs="delta",
                                          credits="records", as_of=AS_OF)
        assert report.mode == "incremental" and report.delta.units
        applied.apply(report.delta)
        if kind == "corrected record":
            missed.apply(report.delta)
    want = calculate(_plan(program), work / "data", credits="records", as_of=AS_OF).tables
    assert applied.same_as(dict(want)) == {name: True for name in want}
    differ = {name for name, same in missed.same_as(dict(want)).items() if not same}
    assert differ and differ <= set(report.delta.rows) | {"effect"}
    applied.close()
    missed.close()
