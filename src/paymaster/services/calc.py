"""Calculating a program on the store's data: the engine, fed the state as of a date."""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from paymaster.errors import DataError, Problem
from paymaster.plan import LoadedPlan
from paymaster.runs import Progress, RunResult, calculate, fingerprint
from paymaster.services.inputs import export_inputs

if TYPE_CHECKING:
    from paymaster.workspace import Workspace


def fingerprint_stored(ws: Workspace, session: Session, program: str,
                       as_of: dt.date | None) -> str:
    """The fingerprint a run on the store's data as of a date would have, without running."""
    loaded = ws.plan(program)
    with tempfile.TemporaryDirectory(prefix="paymaster-") as tmp:
        return fingerprint(loaded, export_inputs(ws, session, program, as_of, Path(tmp)))


def calculate_stored(ws: Workspace, session: Session, program: str, as_of: dt.date | None, *,
                     plan: LoadedPlan | None = None, overrides: dict[str, dict] | None = None,
                     progress: Progress | None = None) -> RunResult:
    """Export the inputs (inside the caller's transaction, so it sees its own writes) and
    run the engine on them; the result's fingerprint is that of the exported data."""
    with tempfile.TemporaryDirectory(prefix="paymaster-") as tmp:
        folder = export_inputs(ws, session, program, as_of, Path(tmp), overrides,
                               plan.plan if plan else None)
        try:
            return calculate(plan or ws.plan(program), folder, progress)
        except DataError as err:
            exported = re.compile(re.escape(str(folder)) + r"/([\w-]+)\.csv")
            raise DataError([_in_store_terms(p, exported) for p in err.problems]) from err


def _in_store_terms(problem: Problem, exported: re.Pattern) -> Problem:
    """A problem found in the exported files (`exported` matches their paths), said of the
    stored table: the temporary file it was read from is gone, and was never the user's."""

    def said(text: str | None) -> str | None:
        return exported.sub(r"stored table \1", text) if text else text

    return replace(problem, file=said(problem.file) or "", message=said(problem.message) or "",
                   hint=said(problem.hint))
