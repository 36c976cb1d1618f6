"""Input tables kept in the store: every version of every row, each stamped with the
import it came from and the date its data is valid as of.

The state "as of" a date is, for each natural key, the newest version stamped on or
before that date; so a run can be repeated on exactly the data it saw (the trade-in
program's monthly vendor snapshots).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from paymaster.plan.model import InputTable, Plan
from paymaster.store.models import Enrollment, Record, Registration

if TYPE_CHECKING:
    from paymaster.workspace import Workspace


def canonical(value: Any) -> str | None:
    """One text form per value, so equal data always has equal content hashes."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def content_sha(row: dict[str, str | None]) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True).encode()).hexdigest()


def row_key(row: dict[str, str | None], spec: InputTable) -> str | None:
    """The natural key's text, or None for a table without a key (keyed by content)."""
    if not spec.key:
        return None
    return "|".join(row[k] or "" for k in spec.key)


def current(session: Session, program: str, table: str,
            as_of: dt.date | None = None) -> dict[str, Record]:
    """The newest version of each key stamped on or before `as_of` (removed keys left out)."""
    query = select(Record).where(Record.program == program, Record.table_name == table)
    if as_of is not None:
        query = query.where(Record.as_of <= as_of)
    latest: dict[str, Record] = {}
    for record in session.scalars(query.order_by(Record.as_of, Record.id)):
        latest[record.key] = record
    return {k: r for k, r in latest.items() if r.data is not None}


def current_rows(session: Session, program: str, table: str,
                 as_of: dt.date | None = None) -> list[dict[str, str | None]]:
    return [r.data for r in current(session, program, table, as_of).values()]


def find_row(session: Session, program: str, table: str, column: str,
             value: str) -> dict[str, str | None] | None:
    """The current row of `table` whose `column` holds `value` (a partner by its id)."""
    return next((row for row in current_rows(session, program, table)
                 if row.get(column) == value), None)


def export_inputs(ws: Workspace, session: Session, program: str, as_of: dt.date | None,
                  folder: Path, overrides: dict[str, dict] | None = None,
                  plan: Plan | None = None) -> Path:
    """Write the input tables of the program's plan (or of `plan`, a part of it) as of a
    date into `folder` (CSV), for the engine. `overrides` replaces registration rows by
    id, or adds them when the id is not stored (a check sees its own record undecided,
    before it is stored)."""
    plan = plan or ws.plan(program).plan
    config = ws.program(program)
    folder.mkdir(parents=True, exist_ok=True)
    for table, spec in plan.inputs.items():
        if table == config.registrations:
            rows = registration_rows(session, program, as_of)
            stored = {r["registration_id"] for r in rows}
            rows = [(overrides or {}).get(r["registration_id"], r) for r in rows] + [
                row for key, row in (overrides or {}).items() if key not in stored]
        elif table == config.enrollments:
            rows = enrollment_rows(session, program, as_of)
        else:
            rows = current_rows(session, program, table, as_of)
        _write_csv(folder / f"{table}.csv", list(spec.columns), rows)
    return folder


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else canonical(row.get(c)) for c in columns])


DECISION = {"accepted": "accepted", "rejected": "rejected", "submitted": "pending"}


def registration_rows(session: Session, program: str, as_of: dt.date | None) -> list[dict]:
    """Registrations as the engine's input: the workflow's state becomes the decision."""
    query = select(Registration).where(Registration.program == program)
    if as_of is not None:
        query = query.where(Registration.submitted_at < dt.datetime.combine(
            as_of + dt.timedelta(days=1), dt.time()))
    return [registration_row(r) for r in session.scalars(query.order_by(Registration.id))]


def registration_row(reg: Registration) -> dict:
    return {
        **reg.data, "registration_id": reg.registration_id, "partner_id": reg.partner_id,
        "submitted_at": canonical(reg.submitted_at), "decision": DECISION[reg.status],
        "decision_reason": reg.reason if reg.status == "rejected" else None,
    }


def enrollment_rows(session: Session, program: str, as_of: dt.date | None) -> list[dict]:
    query = select(Enrollment).where(Enrollment.program == program)
    rows = []
    for e in session.scalars(query.order_by(Enrollment.id)):
        rows.append({
            "enrollment_id": e.enrollment_id, "partner_id": e.partner_id, "phase": e.phase,
            "status": e.status, "submitted_on": canonical(e.submitted_on),
            "effective_from": canonical(e.effective_from),
        })
    return rows
