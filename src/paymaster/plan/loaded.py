"""A plan as loaded: the validated model and the YAML it came from, with positions.

Kept apart from the loader (ruamel, the checks) so that a plan restored from the run
cache (paymaster.runcache) needs only the model classes: what a cached run imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paymaster.errors import Problem
from paymaster.plan.model import Plan

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


@dataclass(frozen=True)
class LoadedPlan:
    plan: Plan
    source: Source
    # Loaded with `partial`: the problems found, and `plan` is what could still be checked.
    problems: tuple[Problem, ...] = ()

    @property
    def path(self) -> str:
        return self.source.file
