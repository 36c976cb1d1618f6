"""Errors for people: every problem located (file, line, column or row) and actionable.

Problems are values collected along the way; a stage raises once, with all of them.

A problem a portal user can meet is data first: `Problem.of(N_("unknown dispute
%(dispute)s"), dispute=7)` keeps the English template and its figures (`template`,
`args`) beside the finished English `message` the CLI, the logs and the JSON show, so each
edge can say it in its reader's language (web/i18n.Formatter.problem). Its hint is a
template too (`hint`, filled from the same figures), or a `cli_hint`: a command to type,
English like the commands themselves, shown by the CLI and the JSON but never on a page
(given both, the CLI says the command and a page the hint).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark, translate later"
    """Mark a text for the catalogs where it is defined; it is translated where shown."""
    return message


class Word(str):
    """A figure that is a word of the catalogs (a role, a state, a kind of queue): the
    edge translates it, where an id is shown as written."""

    __slots__ = ()


class Count(int):
    """A figure that is a quantity (bytes, rows), shown with its digits grouped; a plain
    int (a run or case number) is shown as written."""

    __slots__ = ()


@dataclass(frozen=True)
class Problem:
    message: str
    file: str = ""
    line: int | None = None
    column: int | None = None
    row: int | None = None
    field: str | None = None
    hint: str | None = None
    template: str | None = None  # the message's msgid, with %(name)s placeholders
    hint_template: str | None = None  # the hint's msgid; None: a hint for the CLI only
    args: tuple[tuple[str, Any], ...] = ()  # the figures, typed (date, Decimal, Word, id)

    @classmethod
    def of(cls, template: str, *, hint: str | None = None, cli_hint: str | None = None,
           file: str = "", line: int | None = None, column: int | None = None,
           row: int | None = None, field: str | None = None, **args: Any) -> Problem:
        """A problem from a catalog template and its figures: the English message now,
        the reader's language at the edge."""
        if field is not None and "%(field)s" in template + (hint or ""):
            args["field"] = field  # the field it is located at, named in the text too
        english = {name: _said(value) for name, value in args.items()}
        return cls(template % english, file=file, line=line, column=column, row=row,
                   field=field, hint=cli_hint or (hint % english if hint else None),
                   template=template, hint_template=hint,
                   args=tuple(sorted(args.items())))

    def at(self, **where: Any) -> Problem:
        """The same problem, located (a row of a file, a field)."""
        return dataclasses.replace(self, **where)

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
        """The English text and where; for a templated problem also its msgid, the hint's,
        and the figures as text (dates ISO, amounts exact), so a client can translate."""
        data = {k: getattr(self, k) for k in ("message", "file", "line", "column", "row",
                                               "field", "hint", "template", "hint_template")}
        data = {k: v for k, v in data.items() if v is not None}
        if self.args:
            data["args"] = {name: _english(value) for name, value in self.args}
        return data


def _english(value: Any) -> Any:
    """A figure in the JSON: dates ISO, amounts exact text, a list as a list."""
    if isinstance(value, dt.date | Decimal):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if isinstance(value, tuple | list):
        return [_english(v) for v in value]
    return value


def _said(value: Any) -> Any:
    """A figure in the English message: a time to the minute, a list joined."""
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, Count):
        return f"{value:,}"
    if isinstance(value, tuple | list):
        return ", ".join(str(_said(v)) for v in value)
    return _english(value)


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
