"""Access as a matrix: every route of the portal (HTML and JSON) for every role, with
the ids of other partners' records put in the URLs. The rules, on the server:
- nobody logged in: pages send to the login form, the API answers 401;
- partner and rep users: nothing under /office or /api/office (403); nothing of another
  payee (403 or 404), whichever id they guess;
- viewer: reads everything but user administration and the finance pages, changes
  nothing (403);
- every change needs the CSRF token (403 without)."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from paymaster.services import accounts
from paymaster.web import (
    routes_auth,
    routes_finance,
    routes_office,
    routes_office_ledger,
    routes_office_payees,
    routes_office_users,
    routes_payee,
    routes_results,
)
from paymaster.web.app import create_app

PASSWORDS = {u: p for u, p, *_ in accounts.DEMO_ACCOUNTS}
OPEN = {"/login", "/api/login", "/logout", "/api/logout"}
# Path parameters: records that belong to partner P2 (beta) of generuj-leady, or to
# trade-in partner B; alfa (P1) and partner-d (D) must not reach them.
OTHERS = {"program": "generuj-leady", "payee": "P2", "registration_id": "R02",
          "enrollment_id": "E-B", "run_id": "1", "dispute_id": "1", "pool": "fund",
          "action": "submit", "username": "beta"}


def routes(method: str) -> list[str]:
    found = []
    for router in (routes_auth.router, routes_payee.router, routes_results.router,
                   routes_office.router, routes_office_ledger.router,
                   routes_office_users.router, routes_office_payees.router,
                   routes_finance.router):
        for route in router.routes:
            if method in route.methods and route.path not in OPEN:
                found.append(route.path)
    return sorted(set(found))


def fill(path: str, **values: str) -> str:
    params = OTHERS | values
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: params[m.group(1)], path)


@pytest.fixture
def app(demo_workspace):
    return create_app(demo_workspace)


def client_for(app, username: str | None) -> tuple[TestClient, dict]:
    client = TestClient(app, follow_redirects=False)
    if username is None:
        return client, {}
    answer = client.post("/api/login", json={"username": username,
                                             "password": PASSWORDS[username]})
    assert answer.status_code == 200
    return client, {"X-CSRF-Token": answer.json()["csrf_token"]}


def test_the_matrix_covers_every_route() -> None:
    assert len(routes("GET")) > 30 and len(routes("POST")) > 15


def test_nobody_logged_in_gets_nothing(app) -> None:
    client, _ = client_for(app, None)
    for method in ("GET", "POST"):
        for path in routes(method):
            answer = client.request(method, fill(path))
            if path.startswith("/api"):
                assert answer.status_code in (401, 403), (method, path, answer.status_code)
                assert "error" in answer.json()
            else:
                assert answer.status_code in (303, 403), (method, path, answer.status_code)


@pytest.mark.parametrize("username", ["alfa", "partner-d", "rep01"])
def test_payee_users_reach_neither_the_office_nor_other_payees(app, username) -> None:
    client, headers = client_for(app, username)
    mine = {"alfa": "P1", "partner-d": "D", "rep01": "R01"}[username]
    for path in routes("GET"):
        answer = client.get(fill(path))
        where = (path, answer.status_code)
        if "/office" in path:
            assert answer.status_code == 403, where
        elif any(k in path for k in ("{payee}", "{registration_id}", "{enrollment_id}",
                                     "{dispute_id}")):
            assert answer.status_code in (403, 404), where
        else:
            assert answer.status_code < 500, where
        if answer.status_code == 200 and mine != "P2":
            # nothing of P2's own records: its registrations, its statement
            assert "5208790090" not in answer.text, where  # P2's NIP
    for path in routes("POST"):
        if "/office" in path:
            answer = client.post(fill(path), headers=headers, json={})
            assert answer.status_code == 403, (path, answer.status_code)


def test_the_viewer_reads_everything_and_changes_nothing(app) -> None:
    client, headers = client_for(app, "viewer")
    for path in routes("GET"):
        if "/office" in path:
            answer = client.get(fill(path))
            # user administration is the admin's alone; the finance pages finance's
            finance = path.startswith(("/office/ledger", "/api/office/ledger",
                                       "/office/accruals", "/api/office/accruals",
                                       "/office/audit", "/api/office/audit",
                                       "/office/{program}/ledger"))
            allowed = (403,) if "/office/users" in path or finance else (200, 404)
            assert answer.status_code in allowed, (path, answer.status_code)
    for path in routes("POST"):
        if "/office" in path:
            answer = client.post(fill(path), headers=headers, json={"accept": True})
            assert answer.status_code == 403, (path, answer.status_code)


def test_every_change_needs_the_csrf_token(app) -> None:
    client, _ = client_for(app, "admin")
    for path in routes("POST"):
        answer = client.post(fill(path), json={})
        assert answer.status_code == 403, (path, answer.status_code)
        assert "security token" in answer.text
