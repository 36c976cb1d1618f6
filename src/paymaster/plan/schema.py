"""The JSON Schema of plan files, generated from the models, shipped for editors."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from paymaster.plan.model import Plan

SCHEMA_ID = "https://paymaster.dev/plan.schema.json"


def plan_json_schema() -> dict:
    schema = _closed(Plan.model_json_schema())
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "Paymaster plan", **{k: v for k, v in schema.items() if k != "title"}}


def _closed(node):
    """A mapping whose keys are names (columns, tables, parameters) allows no other key: the
    models give `patternProperties`, which alone would let any other key through."""
    if isinstance(node, dict):
        node = {k: _closed(v) for k, v in node.items()}
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_closed(v) for v in node]
    return node


def shipped_schema() -> dict:
    text = resources.files("paymaster").joinpath("schema/plan.schema.json").read_text("utf-8")
    return json.loads(text)


def write_schema(path: Path) -> None:
    path.write_text(json.dumps(plan_json_schema(), indent=2) + "\n", encoding="utf-8")
