"""Plan YAML that would cost minutes, gigabytes or a traceback is a located plan error at once.

Each file is checked by `paymaster check` in a subprocess with a timeout, so a regression
fails this test instead of hanging the suite; the time the check takes is measured inside
the subprocess (without Python's start) and must stay under two seconds of CPU (CPU, not
wall-clock time: the machine may be busy with other work).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES

LAUGHS = "\n".join(
    ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]"
       for i in range(9)]) + "\n"

CASES = {
    # a 1 KB "billion laughs": 9^10 values once the aliases are expanded
    "billion-laughs": (LAUGHS, "more than 20,000 values once its aliases are expanded", 5),
    "python-object": ("program: x\nrun: !!python/object/apply:os.system ['touch pwned']\n",
                      "the tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed",
                      2),
    "local-tag": ("program: !include /etc/passwd\n", "the tag '!include' is not allowed", 1),
    "deep-flow": ("a: " + "[" * 50_000 + "]" * 50_000 + "\n",
                  "nests mappings and lists more than 64 deep", 1),
    "deep-block": ("".join(" " * i + f"k{i}:\n" for i in range(200)),
                   "nests mappings and lists more than 64 deep", 65),
    "many-values": ("a: [" + ", ".join(["1"] * 30_000) + "]\n", "more than 20,000 values", 1),
    "too-large": ("program: x\n# " + "x" * (300 << 10) + "\n",
                  "more than the 131,072 a plan may have", 1),
    "self-alias": ("a: &a [1, *a]\n", "alias *a refers to no anchor before it", 1),
}

CHECK = """
import json, sys, time
from paymaster.errors import PlanError
from paymaster.plan import load_plan
started, wall = time.process_time(), time.perf_counter()
try:
    load_plan(sys.argv[1])
    said = []
except PlanError as err:
    said = [str(p) for p in err.problems]
print(json.dumps({"seconds": time.process_time() - started,
                  "wall": time.perf_counter() - wall, "said": said}))
"""


@pytest.mark.parametrize("name", CASES)
def test_hostile_yaml_is_refused_within_two_seconds(name: str, tmp_path: Path) -> None:
    text, expected, line = CASES[name]
    plan = tmp_path / f"{name}.yaml"
    plan.write_text(text, encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", CHECK, str(plan)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]  # no traceback
    result = json.loads(done.stdout)
    assert result["seconds"] < 2, result
    assert len(result["said"]) == 1 and expected in result["said"][0], result
    assert result["said"][0].startswith(f"{plan}:{line}:"), result
    assert sorted(p.name for p in tmp_path.iterdir()) == [plan.name]


def test_the_example_plans_are_far_within_the_limits() -> None:
    from ruamel.yaml import YAML

    from paymaster.plan.yamlsource import MAX_BYTES, MAX_NODES

    for plan in EXAMPLES.glob("*/*.yaml"):
        assert plan.stat().st_size * 10 < MAX_BYTES
        assert sum(1 for _ in YAML(typ="rt").parse(plan.read_text("utf-8"))) * 5 < MAX_NODES


def test_a_limit_can_be_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paymaster.errors import PlanError
    from paymaster.plan import load_plan

    plan = tmp_path / "plan.yaml"
    plan.write_text("a: " + "[" * 70 + "]" * 70 + "\n", encoding="utf-8")
    monkeypatch.setenv("PAYMASTER_PLAN_MAX_DEPTH", "100")
    with pytest.raises(PlanError, match="a plan file must be a mapping|required key"):
        load_plan(plan)  # read: refused for what it holds, no longer for its depth
    monkeypatch.setenv("PAYMASTER_PLAN_MAX_DEPTH", "lots")
    with pytest.raises(PlanError, match="PAYMASTER_PLAN_MAX_DEPTH is not a positive whole"):
        load_plan(plan)


def test_aliases_of_a_few_values_still_load(tmp_path: Path) -> None:
    from paymaster.plan import load_plan

    text = (EXAMPLES / "generuj-leady" / "plan.yaml").read_text(encoding="utf-8")
    # (the claim's order, repeated by the limit: both read the sales' own columns)
    text = text.replace("      order_by: [order_date, sale_id]\n",
                        "      order_by: &order [order_date, sale_id]\n")
    text = text.replace("order_by: [order_date, sale_id]}", "order_by: *order}")
    plan = tmp_path / "plan.yaml"
    plan.write_text(text, encoding="utf-8")
    assert load_plan(plan).plan.measure("deal").limit.order_by == ["order_date", "sale_id"]
    assert "*order" in text
