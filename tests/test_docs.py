"""Docs are part of the work: every plan field, block type and command is documented."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from pydantic import BaseModel

from paymaster.cli import app
from paymaster.plan import model

ROOT = Path(__file__).resolve().parents[1]
PLAN_DOC = (ROOT / "docs" / "plan-language.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def models() -> set[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    todo: list = [model.Plan]
    while todo:
        current = todo.pop()
        if isinstance(current, type) and issubclass(current, BaseModel) and current not in seen:
            seen.add(current)
            for field in current.model_fields.values():
                todo.extend(_types(field.annotation))
    return seen


def _types(annotation) -> list:
    args = typing.get_args(annotation)
    return [annotation, *[t for arg in args for t in _types(arg)]]


def test_every_plan_field_is_documented() -> None:
    spans = re.findall(r"`([^`]+)`", PLAN_DOC.replace("```yaml", "").replace("```", ""))
    documented = {word for span in spans for word in re.findall(r"[a-z_]+", span)}
    missing = sorted({f"{m.__name__}.{name}" for m in models() for name in m.model_fields
                      if name not in documented})
    assert missing == [], f"document these in docs/plan-language.md: {missing}"


def test_every_measure_type_has_a_section() -> None:
    union = typing.get_args(model.Measure)[0]
    kinds = [typing.get_args(m.model_fields["type"].annotation)[0] for m in typing.get_args(union)]
    assert len(kinds) == 8
    for kind in kinds:
        assert f"### `{kind}`" in PLAN_DOC, kind


def test_every_command_is_in_the_readme() -> None:
    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        assert f"paymaster {name}" in README, name


def test_readme_starts_with_the_two_commands() -> None:
    head = "\n".join(README.splitlines()[:6])
    assert "./dev demo" in head and "./dev test" in head
    assert "./dev test" in (ROOT / ".ci" / "run").read_text() or "dev test" in (
        ROOT / ".ci" / "run").read_text()
