"""YAML with positions: plain Python data plus the line and column of every node."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from paymaster.errors import PlanError, Problem

Path_ = tuple[str | int, ...]


@dataclass
class Source:
    """A loaded YAML document: data, and where each path came from (1-based)."""

    file: str
    data: Any
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    styles: dict[Path_, str] = field(default_factory=dict)

    def where(self, path: Path_) -> tuple[int | None, int | None]:
        """Position of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return self.positions.get((), (1, 1))

    def problem(self, path: Path_, message: str, hint: str | None = None) -> Problem:
        line, col = self.where(path)
        return Problem(message, file=self.file, line=line, column=col, hint=hint)


def load_yaml(path: Path) -> Source:
    text = path.read_text(encoding="utf-8")
    return parse_yaml(text, str(path))


def parse_yaml(text: str, file: str) -> Source:
    yaml = YAML(typ="rt")
    try:
        node = yaml.load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        raise PlanError(Problem(f"not valid YAML: {err.problem}", file, line, col)) from err
    source = Source(file=file, data=None, positions={(): (1, 1)})
    source.data = _plain(node, (), source)
    return source


def _plain(node: Any, path: Path_, source: Source) -> Any:
    if isinstance(node, CommentedMap):
        out = {}
        for key, value in node.items():
            key_line, key_col = node.lc.key(key)
            val_line, val_col = node.lc.value(key)
            source.positions[path + (str(key),)] = (val_line + 1, val_col + 1)
            source.positions[path + (str(key), "<key>")] = (key_line + 1, key_col + 1)
            style = getattr(value, "style", None)
            if style:
                source.styles[path + (str(key),)] = style
            out[str(key)] = _plain(value, path + (str(key),), source)
        return out
    if isinstance(node, CommentedSeq):
        out_list = []
        for index, value in enumerate(node):
            line, col = node.lc.item(index)
            source.positions[path + (index,)] = (line + 1, col + 1)
            out_list.append(_plain(value, path + (index,), source))
        return out_list
    if hasattr(node, "__str__") and type(node).__module__.startswith("ruamel"):
        # ruamel's scalar wrappers (ScalarFloat, ScalarString...) -> plain values.
        if isinstance(node, str):
            return str(node)
        if isinstance(node, bool):
            return bool(node)
        if isinstance(node, int):
            return int(node)
        return str(node)
    if isinstance(node, float):
        # Keep the written digits: 0.20 must stay exactly 0.20, never a binary float.
        return str(node)
    return node
