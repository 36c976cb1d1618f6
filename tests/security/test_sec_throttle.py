"""Login throttling (issue 15, item 5): parallel wrong passwords get at most the limit of
password checks, on SQLite and PostgreSQL; failures from one address do not lock the user
out from another; the delays grow; the office lifts a throttle."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from paymaster.cli import app as cli
from paymaster.services import accounts
from paymaster.web.app import create_app
from paymaster.workspace import Workspace

PASSWORD = "the-right-password"
LIMIT = 5  # failed logins of one username from one address before delays start


@pytest.fixture
def workspace(tmp_path, store_url, monkeypatch):
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    ws = Workspace.init(tmp_path / "ws", store_url)
    accounts.create_user(ws, "admin", PASSWORD, "admin", actor="test")
    yield ws
    ws.close()


def attempt(app, password: str, address: str = "10.0.0.1") -> int:
    client = TestClient(app, client=(address, 40000))
    return client.post("/api/login", json={"username": "admin",
                                           "password": password}).status_code


def test_parallel_wrong_passwords_get_at_most_the_limit_of_checks(workspace) -> None:
    app = create_app(workspace)
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: attempt(app, "wrong-password"), range(60)))
    checked = answers.count(401)  # a 401 is a password checked and wrong; 429 is refused
    assert checked <= LIMIT, answers
    assert checked + answers.count(429) == 60, answers
    # the right password from the attacked address waits too...
    assert attempt(app, PASSWORD) == 429
    # ...but the user logs in from their own address
    assert attempt(app, PASSWORD, address="192.0.2.7") == 200


def test_no_lockout_across_addresses_and_the_office_lifts_it(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    ws = Workspace.init(tmp_path / "ws")
    try:
        accounts.create_user(ws, "admin", PASSWORD, "admin", actor="test")
        app = create_app(ws)
        answers = [attempt(app, "wrong-password", "203.0.113.9") for _ in range(8)]
        assert answers == [401] * LIMIT + [429] * (8 - LIMIT)
        good = TestClient(app, client=("198.51.100.1", 40000))
        answer = good.post("/api/login", json={"username": "admin", "password": PASSWORD})
        assert answer.status_code == 200
        headers = {"X-CSRF-Token": answer.json()["csrf_token"]}
        listed = good.get("/api/office/users").json()["throttles"]
        assert any(t["address"] == "203.0.113.9" and t["blocked_until"] for t in listed)
        lifted = good.post("/api/office/throttles/lift", headers=headers,
                           json={"username": "admin"})
        assert lifted.json()["lifted"] >= 1
        assert attempt(app, PASSWORD, "203.0.113.9") == 200
        for _ in range(LIMIT):
            attempt(app, "wrong-password", "203.0.113.9")
        assert attempt(app, PASSWORD, "203.0.113.9") == 429
        done = CliRunner().invoke(cli, ["user", "unthrottle", "admin", "-w", str(ws.folder)])
        assert done.exit_code == 0, done.output
        assert attempt(app, PASSWORD, "203.0.113.9") == 200
    finally:
        ws.close()


def test_delays_grow_and_quiet_keys_are_forgotten(tmp_path, monkeypatch) -> None:
    from paymaster.services import throttle

    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    ws = Workspace.init(tmp_path / "ws")
    try:
        start = dt.datetime(2026, 1, 1, 12, 0, 0)
        for i in range(throttle.PAIR_LIMIT):
            throttle.reserve(ws, "u", "a", now=start + dt.timedelta(seconds=i))
        last = start + dt.timedelta(seconds=throttle.PAIR_LIMIT - 1)
        waits = []
        for _ in range(3):
            with pytest.raises(throttle.Throttled) as refused:
                throttle.reserve(ws, "u", "a", now=last)
            waits.append(refused.value.retry_after)
            last += dt.timedelta(seconds=refused.value.retry_after)
            throttle.reserve(ws, "u", "a", now=last)  # allowed once the wait is over
        assert waits == [throttle.BASE_DELAY, 2 * throttle.BASE_DELAY, 4 * throttle.BASE_DELAY]
        # a pair quiet for FORGET_AFTER starts again from zero (after its block ended)
        later = last + throttle.FORGET_AFTER + dt.timedelta(hours=1)
        for i in range(throttle.PAIR_LIMIT):
            throttle.reserve(ws, "u", "a", now=later + dt.timedelta(seconds=i))
    finally:
        ws.close()
