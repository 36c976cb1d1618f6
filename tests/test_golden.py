"""Golden tests: each example program on its sample data, against results computed by
hand from the program's spec (examples/*/WORKSHEET.md), to the cent."""

from __future__ import annotations


import pytest

from conftest import EXAMPLES, project, read_expected
from paymaster.runs import calculate

# Which plan file each expected folder belongs to.
CASES = [
    (program, expected.name, expected_file.stem)
    for program in ("generuj-leady", "trade-in-accelerator", "sales-team")
    for expected in sorted((EXAMPLES / program).glob("expected*"))
    for expected_file in sorted(expected.glob("*.csv"))
]
PLAN_FOR = {"expected": "plan.yaml", "expected-rate-change": "rate-change.yaml"}
FORMATS = {"amount": "0.01", "value": "0.01", "ratio": "0.0001"}

_cache: dict[tuple[str, str], object] = {}


def _result(program: str, plan_file: str):
    key = (program, plan_file)
    if key not in _cache:
        folder = EXAMPLES / program
        _cache[key] = calculate(folder / plan_file, folder / "data")
    return _cache[key]


@pytest.mark.parametrize(("program", "folder", "table"), CASES,
                         ids=[f"{p}/{f}/{t}" for p, f, t in CASES])
def test_example_matches_hand_calculation(program: str, folder: str, table: str) -> None:
    expected_path = EXAMPLES / program / folder / f"{table}.csv"
    columns, expected = read_expected(expected_path)
    result = _result(program, PLAN_FOR[folder])
    actual = project(result.tables[table], columns, FORMATS)
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    assert not missing and not extra, _diff(columns, missing, extra)


def _diff(columns, missing, extra) -> str:
    lines = [" | ".join(columns)]
    lines += ["expected, not produced: " + " | ".join(r) for r in missing]
    lines += ["produced, not expected: " + " | ".join(r) for r in extra]
    return "\n".join(lines)


def test_every_example_has_expected_results() -> None:
    for program in ("generuj-leady", "trade-in-accelerator", "sales-team"):
        assert (EXAMPLES / program / "expected" / "payouts.csv").is_file(), program
