"""Issue 15, item 13: the portal survives a PostgreSQL restart.

A real server of its own (restarting the session's shared one would pull it from under
other tests): the first request after a restart is answered (pooled connections are
checked before use), and while the server is down the answer is a 503 to retry, not a 500.
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from paymaster.services import accounts
from paymaster.web.app import create_app
from paymaster.workspace import Workspace
from pgserver import TemporaryPostgres

# Without the session's SQL cache (tests/conftest.py): injects faults into the store and
# services around runs.
pytestmark = pytest.mark.no_sql_cache


@pytest.fixture
def server():
    with TemporaryPostgres() as pg:
        yield pg


def _pg_ctl(server: TemporaryPostgres, *args: str) -> None:
    # Same data folder, same port (postgresql.auto.conf keeps it): the URL stays valid.
    done = server._run("pg_ctl", *args, "-w", "-D", str(server.data), "-l", str(server.log))
    assert done.returncode == 0, done.stdout + done.stderr


def test_requests_after_a_database_restart_succeed(server, tmp_path, monkeypatch):
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    ws = Workspace.init(tmp_path / "ws", database=server.create_database("restart"))
    try:
        accounts.create_user(ws, "owner", "owner-pass-123", "admin", actor="test")
        client = TestClient(create_app(ws, secret="x" * 64), raise_server_exceptions=False)
        assert client.post("/api/login", json={"username": "owner",
                                               "password": "owner-pass-123"}).status_code == 200
        assert client.get("/api/me").status_code == 200  # the pool holds a connection now

        _pg_ctl(server, "restart", "-m", "fast")
        for _ in range(3):
            me = client.get("/api/me")
            assert me.status_code == 200, me.text
            assert me.json()["user"]["username"] == "owner"

        _pg_ctl(server, "stop", "-m", "fast")
        down = client.get("/api/me")
        assert down.status_code == 503, down.text
        assert down.headers["retry-after"] == "5"
        assert down.json()["error"]["title"] == "the database is unavailable"

        _pg_ctl(server, "start")
        assert client.get("/api/me").status_code == 200
    finally:
        ws.close()
