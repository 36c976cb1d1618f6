"""The shipped JSON Schema is current, and every example plan validates against it."""

from __future__ import annotations

import json

import jsonschema
import pytest
from ruamel.yaml import YAML

from conftest import EXAMPLES
from paymaster.plan.schema import plan_json_schema, shipped_schema

PLANS = sorted([*EXAMPLES.glob("*/*.yaml"), *EXAMPLES.glob("catalog/*/plan.yaml")])


def test_shipped_schema_is_generated_from_the_models() -> None:
    assert shipped_schema() == plan_json_schema(), (
        "run: paymaster schema --out src/paymaster/schema/plan.schema.json")


@pytest.mark.parametrize("plan", PLANS, ids=[f"{p.parent.name}/{p.name}" for p in PLANS])
def test_example_plan_validates_against_schema(plan) -> None:
    data = json.loads(json.dumps(YAML(typ="safe").load(plan.read_text("utf-8")), default=str))
    errors = [e.message for e in jsonschema.Draft202012Validator(shipped_schema()).iter_errors(data)]
    assert errors == []


def test_schema_rejects_a_misspelt_key() -> None:
    data = json.loads(json.dumps(YAML(typ="safe").load(PLANS[0].read_text("utf-8")), default=str))
    data["curency"] = data.pop("currency")
    assert list(jsonschema.Draft202012Validator(shipped_schema()).iter_errors(data))
