"""Golden tests: each example program on its sample data, against results computed by
hand from the program's spec (examples/*/WORKSHEET.md), to the cent."""

from __future__ import annotations


from pathlib import Path

import pytest

from conftest import EXAMPLES, project, read_expected
from paymaster.runs import calculate

CASE_ROOT = Path(__file__).resolve().parent / "cases"
PROGRAMS = ("generuj-leady", "trade-in-accelerator", "sales-team")

# (program, folder holding data/ and expected*/, expected folder, table). The examples'
# sample data, and any further cases under tests/cases/, each worked out by hand.
# A further case of a program under tests/cases/ is a folder `<program>--<what>` (say
# sales-team--billions), run with the program's example plan.
CASES = [
    (program, base, expected.name, expected_file.stem)
    for root in (EXAMPLES, CASE_ROOT)
    for program in PROGRAMS
    for base in [root / program, *sorted(root.glob(f"{program}--*"))]
    for expected in sorted(base.glob("expected*"))
    for expected_file in sorted(expected.glob("*.csv"))
]
# A case with a plan of its own (tests/cases/<case>/plan.yaml, say currency-jpy): its
# money is compared as the engine writes it (JPY "51", BHD "0.125"), not re-formatted.
OWN_PLAN_CASES = [
    (base.name, base, expected.name, expected_file.stem)
    for base in sorted(CASE_ROOT.glob("*/plan.yaml"))
    for base in [base.parent]
    for expected in sorted(base.glob("expected*"))
    for expected_file in sorted(expected.glob("*.csv"))
]
PLAN_FOR = {"expected": "plan.yaml", "expected-rate-change": "rate-change.yaml",
            "expected-credits-all": "plan.yaml"}
# The credits a run writes (`paymaster run --credits`) for what a folder expects: every
# record an aggregate summed in `expected-credits-all`, else the default's.
CREDITS_FOR = {"expected-credits-all": "all"}
FORMATS = {"amount": "0.01", "value": "0.01", "cut_by_limit": "0.01", "cut_by_budget": "0.01",
           "ratio": "0.0001", "growth": "0.0001", "cost_share": "0.0001", "budget_used": "0.0001"}

_cache: dict[tuple[Path, str], object] = {}


def _result(program: str, base: Path, plan_file: str, credits: str = "records"):
    key = (base, plan_file, credits)
    if key not in _cache:
        plan = base / plan_file if (base / plan_file).is_file() else EXAMPLES / program / plan_file
        _cache[key] = calculate(plan, base / "data", credits=credits)
    return _cache[key]


@pytest.mark.parametrize(("program", "base", "folder", "table"), CASES,
                         ids=[f"{b.parent.name}/{b.name}/{f}/{t}" for p, b, f, t in CASES])
def test_matches_hand_calculation(program: str, base: Path, folder: str, table: str) -> None:
    columns, expected = read_expected(base / folder / f"{table}.csv")
    result = _result(program, base, PLAN_FOR[folder], CREDITS_FOR.get(folder, "records"))
    actual = project(result.tables[table], columns, FORMATS)
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    assert not missing and not extra, _diff(columns, missing, extra)


CATALOG = EXAMPLES / "catalog"
# The catalog of common plans: each folder has its own plan.yaml, data/ and expected/.
CATALOG_CASES = [(plan.parent, expected.name, table.stem)
                 for plan in sorted(CATALOG.glob("*/plan.yaml"))
                 for expected in sorted(plan.parent.glob("expected*"))
                 for table in sorted(expected.glob("*.csv"))]


@pytest.mark.parametrize(("folder", "expected_in", "table"), CATALOG_CASES,
                         ids=[f"catalog/{f.name}/{e}/{t}" for f, e, t in CATALOG_CASES])
def test_catalog_matches_hand_calculation(folder: Path, expected_in: str, table: str) -> None:
    columns, expected = read_expected(folder / expected_in / f"{table}.csv")
    result = _result(folder.name, folder, "plan.yaml", CREDITS_FOR.get(expected_in, "records"))
    actual = project(result.tables[table], columns, FORMATS)
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    assert not missing and not extra, _diff(columns, missing, extra)


def test_catalog_has_every_plan_worked_by_hand() -> None:
    folders = sorted(p.parent.name for p in CATALOG.glob("*/plan.yaml"))
    assert len(folders) >= 5, folders
    for name in folders:
        assert (CATALOG / name / "WORKSHEET.md").is_file(), name
        assert (CATALOG / name / "expected" / "payouts.csv").is_file(), name
        assert f"`{name}/`" in (CATALOG / "README.md").read_text(encoding="utf-8"), name
@pytest.mark.parametrize(("case", "base", "folder", "table"), OWN_PLAN_CASES,
                         ids=[f"{c}/{f}/{t}" for c, b, f, t in OWN_PLAN_CASES])
def test_own_plan_case_matches_hand_calculation(case: str, base: Path, folder: str,
                                                table: str) -> None:
    columns, expected = read_expected(base / folder / f"{table}.csv")
    actual = project(_result(case, base, PLAN_FOR[folder], CREDITS_FOR.get(folder, "records"))
                     .tables[table], columns)
    assert actual == expected, _diff(columns, sorted(set(expected) - set(actual)),
                                     sorted(set(actual) - set(expected)))


def _diff(columns, missing, extra) -> str:
    lines = [" | ".join(columns)]
    lines += ["expected, not produced: " + " | ".join(r) for r in missing]
    lines += ["produced, not expected: " + " | ".join(r) for r in extra]
    return "\n".join(lines)


def test_every_example_has_expected_results() -> None:
    for program in ("generuj-leady", "trade-in-accelerator", "sales-team"):
        assert (EXAMPLES / program / "expected" / "payouts.csv").is_file(), program
