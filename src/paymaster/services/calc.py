"""Calculating a program on the store's data: the engine, fed the state as of a date."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

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
        return calculate(plan or ws.plan(program), folder, progress)
