"""The JSON Schema of plan files, generated from the models, shipped for editors."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from paymaster.plan.model import Plan

SCHEMA_ID = "https://paymaster.dev/plan.schema.json"


def plan_json_schema() -> dict:
    schema = Plan.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "Paymaster plan", **{k: v for k, v in schema.items() if k != "title"}}


def shipped_schema() -> dict:
    text = resources.files("paymaster").joinpath("schema/plan.schema.json").read_text("utf-8")
    return json.loads(text)


def write_schema(path: Path) -> None:
    path.write_text(json.dumps(plan_json_schema(), indent=2) + "\n", encoding="utf-8")
