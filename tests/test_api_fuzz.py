"""Schemathesis against the OpenAPI document: generated requests to every /api operation,
logged in as the program office (and as a partner), never a server error."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from paymaster.web.app import create_app

PASSWORDS = {"admin": "admin-demo-pass", "alfa": "alfa-demo-pass"}


@pytest.fixture
def api(demo_workspace):
    app = create_app(demo_workspace)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    return app, schema


def _session(app, username: str) -> tuple[dict, dict]:
    client = TestClient(app)
    answer = client.post("/api/login", json={"username": username,
                                             "password": PASSWORDS[username]})
    assert answer.status_code == 200, answer.text
    return dict(client.cookies), {"X-CSRF-Token": answer.json()["csrf_token"]}


@pytest.mark.parametrize("username", ["admin", "alfa"])
def test_no_operation_answers_with_a_server_error(api, username) -> None:
    app, schema = api
    cookies, headers = _session(app, username)
    operations = list(schema.get_all_operations())
    assert len(operations) > 30  # every page's JSON twin is in the document
    failures: list[str] = []
    statuses: list[int] = []
    for result in operations:
        if result.ok().path == "/api/logout":
            continue  # it ends the session on the server: every later case would be a 401
        _fuzz(result.ok(), headers, cookies, failures, statuses)
    assert failures == []
    # the requests really reached the app: some answered, some were refused
    assert len(statuses) >= len(operations) and any(s < 300 for s in statuses)
    assert any(400 <= s < 500 for s in statuses)


def _fuzz(operation, headers: dict, cookies: dict, failures: list[str],
          statuses: list[int]) -> None:
    # The engine runs behind some operations: a handful of cases each keeps this short.
    @settings(max_examples=8, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case) -> None:
        response = case.call(headers=headers, cookies=cookies)
        statuses.append(response.status_code)
        if response.status_code >= 500:
            failures.append(f"{operation.method.upper()} {operation.path}: "
                            f"{response.status_code} for {case.path_parameters} "
                            f"{case.query} {case.body!r}"[:300])

    check()
