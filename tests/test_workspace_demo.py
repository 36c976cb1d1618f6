"""The whole workspace journey on a real PostgreSQL server (the SQLite one runs in
test_cli's demo test): imports, registrations, enrollments, runs posted, a correction
re-run posting only the difference, a dispute, statements in three languages."""

from __future__ import annotations

from pathlib import Path

from conftest import check_demo_workspace
from paymaster.services.demo import run_workspace_demo


def test_workspace_journey_on_postgresql(postgres_server, tmp_path: Path,
                                         shared_sql_cache) -> None:
    url = postgres_server.create_database("journey")
    said: list[str] = []
    run_workspace_demo(tmp_path / "ws", said.append, url).close()
    assert any("re-run" in line and "1 change(s) posted, 2250.00" in line for line in said)
    check_demo_workspace(tmp_path / "ws")
