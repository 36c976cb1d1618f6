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
    """Every pydantic model reachable from Plan through its fields' annotations."""
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


def _code_spans(text: str) -> set[str]:
    """Inline code spans (`x`) outside fenced blocks: a YAML example is not a description."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return set(re.findall(r"`([^`\n]+)`", prose))


def measure_models() -> dict[str, type[BaseModel]]:
    union = typing.get_args(model.Measure)[0]
    return {typing.get_args(m.model_fields["type"].annotation)[0]: m for m in typing.get_args(union)}


def _section(kind: str) -> str:
    """From the measure's heading to the next heading of level 2 or 3."""
    start = PLAN_DOC.index(f"\n### `{kind}`") + 1
    body = PLAN_DOC.index("\n", start)
    following = re.search(r"^#{2,3} ", PLAN_DOC[body:], flags=re.M)
    return PLAN_DOC[start:body + following.start()] if following else PLAN_DOC[start:]


def test_models_are_found() -> None:
    names = {m.__name__ for m in models()}
    assert {"Plan", "PerRecord", "Rule", "FirstWins", "Tier", "Cover", "Version"} <= names


def test_every_plan_field_is_documented() -> None:
    """Each field of each model is named on its own, as `field`, in the reference."""
    spans = _code_spans(PLAN_DOC)
    missing = sorted({f"{m.__name__}.{name}" for m in models() for name in m.model_fields
                      if name not in spans})
    assert missing == [], f"document these in docs/plan-language.md: {missing}"


def test_every_measure_type_has_a_section() -> None:
    kinds = measure_models()
    assert len(kinds) == 9
    for kind in kinds:
        assert f"### `{kind}`" in PLAN_DOC, kind


def test_each_measure_section_names_its_own_fields() -> None:
    """A block's own keys (beyond the common ones) are described in its own section."""
    common = set(model.MeasureBase.model_fields) | {"type"}
    missing = []
    for kind, cls in measure_models().items():
        spans = _code_spans(_section(kind))
        missing += [f"{kind}.{name}" for name in cls.model_fields
                    if name not in common and name not in spans]
    assert missing == [], f"describe these in their measure's section: {missing}"


def test_each_measure_section_has_a_yaml_example() -> None:
    for kind in measure_models():
        section = _section(kind)
        assert "```yaml" in section and re.search(rf"type: {kind}\b", section), kind


def test_fixed_reasons_are_documented() -> None:
    """Reasons the engine writes on its own (not named in a plan) are in the reference."""
    engine = ROOT / "src" / "paymaster" / "engine"
    code = "\n".join(p.read_text(encoding="utf-8") for p in engine.rglob("*.py"))
    fixed = set(re.findall(r'checks\.append\(\("([a-z_]+)"', code))
    defaults = {field.default for m in models() for name, field in m.model_fields.items()
                if name == "reason" and isinstance(field.default, str)}
    spans = _code_spans(PLAN_DOC)
    assert fixed and defaults
    assert sorted((fixed | defaults) - spans) == []


def _command_names() -> list[str]:
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    for group in app.registered_groups:
        names += [f"{group.name} {c.name or c.callback.__name__}"
                  for c in group.typer_instance.registered_commands]
    return names


def test_every_command_is_in_the_readme() -> None:
    names = _command_names()
    assert "runs new" in names and "import" in names
    for name in names:
        assert f"paymaster {name}" in README, name


def test_every_workspace_setting_is_documented() -> None:
    from paymaster.workspace import Config, ProgramConfig

    text = (ROOT / "docs" / "workspace.md").read_text(encoding="utf-8")
    for field in Config.model_fields:
        assert f"`{field}`" in text or f"`{field}." in text, field
    for field in ProgramConfig.model_fields:
        assert f"`programs.NAME.{field}`" in text, field


def test_readme_starts_with_the_two_commands() -> None:
    head = "\n".join(README.splitlines()[:6])
    assert "./dev demo" in head and "./dev test" in head
    assert "./dev test" in (ROOT / ".ci" / "run").read_text() or "dev test" in (
        ROOT / ".ci" / "run").read_text()


def test_the_readme_says_how_to_reach_paymaster_and_that_way_works(tmp_path) -> None:
    """`paymaster` is in .venv, not on the PATH after `./dev demo`: the README says so,
    and `./dev paymaster ARGS` runs it in the caller's folder (a relative path is the
    caller's); ./dev installs the PostgreSQL server the tests start when it is missing."""
    import subprocess

    assert "./dev paymaster" in README and ".venv/bin/paymaster" in README
    done = subprocess.run([str(ROOT / "dev"), "paymaster", "schema", "--out", "s.json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert '"$schema"' in (tmp_path / "s.json").read_text(encoding="utf-8")
    dev = (ROOT / "dev").read_text(encoding="utf-8")
    assert "missing+=(postgresql)" in dev and "/usr/lib/postgresql/*/bin/initdb" in dev
