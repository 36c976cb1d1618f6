"""Errors for people: every problem located (file, line, column or row) and actionable.

Problems are values collected along the way; a stage raises once, with all of them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    message: str
    file: str = ""
    line: int | None = None
    column: int | None = None
    row: int | None = None
    field: str | None = None
    hint: str | None = None

    def location(self) -> str:
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        elif self.row is not None:
            parts.append(f"row {self.row}")
        return ":".join(parts)

    def __str__(self) -> str:
        where = self.location()
        field = f" column '{self.field}':" if self.field and self.row is not None else ""
        if not self.file and self.line is None and self.row is None:
            return f"{self.message} ({self.hint})" if self.hint else self.message
        text = f"{where}:{field} {self.message}"
        return f"{text} ({self.hint})" if self.hint else text

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


class PaymasterError(Exception):
    """Base of our errors: carries one or more located problems."""

    exit_code = 1
    kind = "error"

    def __init__(self, problems: Iterable[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class WorkflowError(PaymasterError):
    """A workspace action refused (an unknown user, a decided registration, a closed period)."""

    kind = "workflow"


class PlanError(PaymasterError):
    kind = "plan"


class DataError(PaymasterError):
    kind = "data"


# The start of every error the engine's own checks raise inside a query (plan/exact.py),
# so the backend's error can be told from a bug (backends.arithmetic_errors).
ARITHMETIC_MARK = "paymaster-arithmetic: "


class EngineError(PaymasterError):
    kind = "engine"


class UsageError(PaymasterError, ValueError):
    """A command was given a value it cannot use (a format, a file type): said as a
    message before any work is done, not a traceback."""

    kind = "usage"


class ResourceError(PaymasterError):
    """The machine, not the plan or the data: the backend ran out of memory or disk.
    Raised through the engine unchanged, so it is never reported as a plan problem."""

    kind = "resource"
    exit_code = 3


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """'did you mean' for a misspelt name, or None when nothing is close."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


class Collector:
    """Gathers problems so a stage can report all of them at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self, error: type[PaymasterError]) -> None:
        if self.problems:
            raise error(self.problems)
