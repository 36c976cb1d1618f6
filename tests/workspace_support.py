"""Helpers of the workspace tests (test_workspace_imports, test_workspace_flows): a
workspace with the three example programs on the test's database, CSV files, row counts
and the audit trail."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from conftest import EXAMPLES
from paymaster.services import inputs
from paymaster.services.demo import add_examples
from paymaster.store.models import AuditEvent
from paymaster.workspace import Workspace

TI = "trade-in-accelerator"
GL = "generuj-leady"
TI_DATA = EXAMPLES / TI / "data"
GL_DATA = EXAMPLES / GL / "data"
TI_EXPECTED = EXAMPLES / TI / "expected"
JAN_1 = dt.date(2026, 1, 1)


def quiet(_text: str) -> None:
    pass


def examples_workspace(store_url, tmp_path, monkeypatch):
    """A workspace on the test's database with the three example programs (the body of
    each test module's `ws` fixture)."""
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    monkeypatch.delenv("PAYMASTER_TODAY", raising=False)
    workspace = Workspace.init(tmp_path / "ws", store_url)
    add_examples(workspace, "office")
    yield workspace
    workspace.close()


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def count(ws: Workspace, model, program: str, table: str) -> int:
    with ws.store.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(
            model.program == program, model.table_name == table))


def as_set(rows: list[dict]) -> set[tuple]:
    return {tuple(sorted((k, v or "") for k, v in row.items())) for row in rows}


def state(ws: Workspace, program: str, table: str, on: dt.date) -> set[tuple]:
    with ws.store.session() as session:
        return as_set(inputs.current_rows(session, program, table, on))


def audit_of(ws: Workspace, entity: str, key: str) -> list[AuditEvent]:
    with ws.store.session() as session:
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.entity == entity, AuditEvent.entity_key == key).order_by(AuditEvent.id)))


