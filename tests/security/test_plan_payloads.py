"""A plan file is hostile input: SQL smuggled into any of its fields is refused, located.

Data-driven: each file in plan_payloads/ takes one of the example plans, puts a payload
into one field and names the error fragment expected. To add a case, add a file:

    about:   what it tries
    plan:    an example plan, e.g. generuj-leady/plan.yaml
    op:      set (the value at `at`), rename (the key `key` of the mapping at `at`) or
             add (a key `payload` with the value `value` to the mapping at `at`)
    at:      the path to the field, e.g. [measures, 1, filter]
    payload: the text put in; {marker} stands for a file the payload tries to write
             (in the test's folder, the working directory)
    expect:  a fragment of the plan error
    run:     true to also `paymaster run` the plan on the example's data (slower)

Every case must give a plan error at a line and column of the spliced plan, before any
input is read; a `run` case must fail the same way and leave no file anywhere (not even
the output folder).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from conftest import EXAMPLES
from paymaster.engine import check
from paymaster.errors import PlanError
from paymaster.plan import load_plan

CASES = sorted((Path(__file__).parent / "plan_payloads").glob("*.yaml"))


def test_there_are_enough_cases() -> None:
    expressions = [c for c in CASES if c.name.startswith("expr-")]
    assert len(CASES) >= 30 and len(expressions) >= 15 and len(CASES) - len(expressions) >= 15


def spliced(case: dict, marker: str) -> str:
    yaml = YAML(typ="rt")
    plan = yaml.load((EXAMPLES / case["plan"]).read_text(encoding="utf-8"))
    node = plan
    for part in case["at"][:-1] if case["op"] == "set" else case["at"]:
        node = node[part]
    payload = case["payload"].replace("{marker}", marker)
    if case["op"] == "set":
        node[case["at"][-1]] = payload
    elif case["op"] == "rename":
        keys = list(node)
        node.insert(keys.index(case["key"]), payload, node.pop(case["key"]))
    else:
        node[payload] = case["value"]
    out = io.StringIO()
    yaml.dump(plan, out)
    text = out.getvalue()
    node = YAML(typ="safe").load(text)  # the payload is in the plan, as written
    for part in case["at"]:
        node = node[part]
    assert node == payload if case["op"] == "set" else payload in node
    return text


def problems_of(plan: Path) -> list:
    with pytest.raises(PlanError) as raised:
        check(load_plan(plan))
    return raised.value.problems


@pytest.mark.parametrize("path", CASES, ids=[c.stem for c in CASES])
def test_payload_is_a_located_plan_error(path: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    case = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)  # a payload writing 'x.csv' would write it here
    plan = tmp_path / "plan.yaml"
    plan.write_text(spliced(case, "pwned.csv"), encoding="utf-8")

    problems = problems_of(plan)
    said = "\n".join(str(p) for p in problems)
    assert case["expect"] in said, said
    assert any(case["expect"] in str(p) and p.file == str(plan) and p.line and p.column
               for p in problems), said

    if case.get("run"):  # as an operator runs it: paymaster run
        from typer.testing import CliRunner

        from paymaster.cli import app

        data = EXAMPLES / case["plan"].split("/")[0] / "data"
        done = CliRunner().invoke(app, ["run", str(plan), "--data", str(data),
                                        "--out", str(tmp_path / "out")])
        assert isinstance(done.exception, PlanError), done.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.yaml"]


def test_names_with_hyphens_or_dots_are_said_with_the_rule(tmp_path: Path) -> None:
    """Every bad name at once, each at its own key, with the rule and a name that fits."""
    text = (EXAMPLES / "generuj-leady" / "plan.yaml").read_text(encoding="utf-8")
    text = text.replace("      new_to_program: boolean", "      new-to-program: boolean\n"
                        "      removal.note: {type: string, optional: true}")
    text = text.replace("  min_licences: 3", "  min licences: 3")
    plan = tmp_path / "plan.yaml"
    plan.write_text(text, encoding="utf-8")
    with pytest.raises(PlanError) as raised:
        load_plan(plan)
    said = [str(p) for p in raised.value.problems]
    lines = text.splitlines()
    for name, fixed in (("new-to-program", "new_to_program"), ("removal.note", "removal_note"),
                        ("min licences", "min_licences")):
        line = next(i for i, t in enumerate(lines, 1) if t.strip().startswith(name + ":"))
        col = lines[line - 1].index(name) + 1
        assert any(s.startswith(f"{plan}:{line}:{col}: ") and f"'{name}' is not a valid name: "
                   "a letter, then letters, digits or underscores" in s and f"'{fixed}'" in s
                   for s in said), said
