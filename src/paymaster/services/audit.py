"""The audit log: who changed what, when, with the state before and after."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from paymaster.money import plain
from paymaster.store.models import AuditEvent


def jsonable(value: Any) -> Any:
    """Dates, decimals and nested rows as JSON-safe text (exact: no float)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return plain(value)  # never "0E-8"
    return value


def record(session: Session, *, actor: str, action: str, entity: str, key: str,
           program: str | None = None, before: Any = None, after: Any = None,
           at: dt.datetime | None = None) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    session.add(AuditEvent(
        at=at or now, recorded_at=now, actor=actor, action=action,
        entity=entity, entity_key=key, program=program,
        before=jsonable(before), after=jsonable(after),
    ))


def row_state(obj: Any, fields: tuple[str, ...]) -> dict:
    return jsonable({f: getattr(obj, f) for f in fields})
