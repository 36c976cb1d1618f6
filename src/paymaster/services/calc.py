"""Calculating a program on the store's data: the engine, fed the state as of a date.

Two steps, so the engine need not run inside a transaction: `export_stored` writes the
inputs as the transaction sees them into a folder, `calculate_exported` runs the engine on
that folder once the transaction is over. `calculate_stored` does both at once (inside the
caller's transaction, so it sees the caller's own writes).
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from paymaster.digests import files_digest
from paymaster.errors import DataError, Problem
from paymaster.plan import LoadedPlan
from paymaster.plan.narrowing import Narrowing
from paymaster.runcache import CachedPlan
from paymaster.runs import Progress, RunResult, calculate, fingerprint
from paymaster.services.inputs import export_inputs

if TYPE_CHECKING:
    from paymaster.workspace import Workspace


def fingerprint_stored(ws: Workspace, session: Session, program: str,
                       as_of: dt.date | None) -> str:
    """The fingerprint a run on the store's data as of a date would have, without running."""
    loaded = ws.plan(program)
    with tempfile.TemporaryDirectory(prefix="paymaster-") as tmp:
        return fingerprint(loaded, export_inputs(ws, session, program, as_of, Path(tmp)),
                           overdue_as_of(ws, program, as_of))


def overdue_as_of(ws: Workspace, program: str, as_of: dt.date | None) -> dt.date:
    """The day a run on the store's data judges what is overdue on: the day of the state
    it runs on, else the workspace's today (the program's demo clock, when it has one: the
    day its registration queue counts due dates to)."""
    return as_of if as_of is not None else ws.today(program)


def calculate_stored(ws: Workspace, session: Session, program: str, as_of: dt.date | None, *,
                     plan: LoadedPlan | None = None, overrides: dict[str, dict] | None = None,
                     progress: Progress | None = None) -> RunResult:
    """Export the inputs (inside the caller's transaction, so it sees its own writes) and
    run the engine on them; the result's fingerprint is that of the exported data."""
    with tempfile.TemporaryDirectory(prefix="paymaster-") as tmp:
        folder = export_stored(ws, session, program, as_of, Path(tmp), plan=plan,
                               overrides=overrides)
        return calculate_exported(plan or ws.plan(program), folder, progress,
                                  as_of=overdue_as_of(ws, program, as_of))


def export_stored(ws: Workspace, session: Session, program: str, as_of: dt.date | None,
                  folder: Path, *, plan: LoadedPlan | None = None,
                  overrides: dict[str, dict] | None = None) -> Path:
    """The inputs of the program (or of `plan`, a part of it) as the session sees them,
    written into `folder` for `calculate_exported`."""
    return export_inputs(ws, session, program, as_of, folder, overrides,
                         plan.plan if plan else None)


def calculate_exported(loaded: LoadedPlan | CachedPlan, folder: Path,
                       progress: Progress | None = None,
                       only: Collection[str] | None = None,
                       narrow: Narrowing | None = None,
                       as_of: dt.date | None = None) -> RunResult:
    """The engine on inputs `export_stored` wrote (`only` these output tables fetched,
    `narrow`, `as_of`: runs.calculate); no transaction is needed, or held."""
    try:
        return calculate(loaded, folder, progress, only=only, narrow=narrow, as_of=as_of)
    except DataError as err:
        exported = re.compile(re.escape(str(folder)) + r"/([\w-]+)\.csv")
        raise DataError([_in_store_terms(p, exported) for p in err.problems]) from err


def folder_digest(folder: Path) -> str:
    """A digest of every exported file (name and bytes): equal digests, equal inputs."""
    return files_digest((path.name, path) for path in sorted(folder.iterdir()))


def _in_store_terms(problem: Problem, exported: re.Pattern) -> Problem:
    """A problem found in the exported files (`exported` matches their paths), said of the
    stored table: the temporary file it was read from is gone, and was never the user's."""

    def said(text: str | None) -> str | None:
        return exported.sub(r"stored table \1", text) if text else text

    return replace(problem, file=said(problem.file) or "", message=said(problem.message) or "",
                   hint=said(problem.hint))
