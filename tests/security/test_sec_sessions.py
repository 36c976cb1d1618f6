"""Sessions end on the server (issue 15, item 4): a copy of the cookie taken before logout,
a password reset, a deactivation or a role change is refused afterwards; user
administration from the CLI and the office page; an unknown payee is refused."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from paymaster.cli import app as cli
from paymaster.web.app import create_app

DISPUTE = {"description": "line missing", "details": {}}
PROGRAM = "generuj-leady"


@pytest.fixture
def app(demo_workspace):
    return create_app(demo_workspace)


def login(app, username: str, password: str) -> tuple[TestClient, dict]:
    client = TestClient(app, follow_redirects=False)
    answer = client.post("/api/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return client, {"X-CSRF-Token": answer.json()["csrf_token"]}


def copy_of(app, client: TestClient) -> TestClient:
    """Another browser holding a copy of the session cookie (a stolen cookie)."""
    thief = TestClient(app, follow_redirects=False)
    thief.cookies.set("paymaster_session", client.cookies["paymaster_session"])
    return thief


def test_a_cookie_copied_before_logout_is_refused_after_it(app) -> None:
    alfa, headers = login(app, "alfa", "alfa-demo-pass")
    thief = copy_of(app, alfa)
    assert thief.get("/api/me").status_code == 200  # the copy works while the session lives
    assert alfa.post("/api/logout", headers=headers).status_code == 200
    assert thief.get("/api/me").status_code == 401
    answer = thief.post(f"/api/programs/{PROGRAM}/disputes", headers=headers, json=DISPUTE)
    assert answer.status_code in (401, 403)
    assert thief.get("/me").status_code == 303  # the page sends to the login form
    # and from the page: the form's logout ends it too
    alfa, headers = login(app, "alfa", "alfa-demo-pass")
    thief = copy_of(app, alfa)
    alfa.post("/logout", data={"csrf_token": headers["X-CSRF-Token"]})
    assert thief.get("/api/me").status_code == 401


def test_password_reset_deactivation_and_role_change_end_sessions(app) -> None:
    admin, admin_headers = login(app, "admin", "admin-demo-pass")
    alfa, _ = login(app, "alfa", "alfa-demo-pass")
    answer = admin.post("/api/office/users/alfa/password", headers=admin_headers,
                        json={"password": "a-new-long-password"})
    assert answer.status_code == 200, answer.text
    assert alfa.get("/api/me").status_code == 401
    refused = TestClient(app).post("/api/login", json={"username": "alfa",
                                                       "password": "alfa-demo-pass"})
    assert refused.status_code == 401
    alfa, _ = login(app, "alfa", "a-new-long-password")

    answer = admin.post("/api/office/users/alfa/active", headers=admin_headers,
                        json={"active": False})
    assert answer.status_code == 200, answer.text
    assert alfa.get("/api/me").status_code == 401
    assert TestClient(app).post("/api/login", json={
        "username": "alfa", "password": "a-new-long-password"}).status_code == 401
    admin.post("/api/office/users/alfa/active", headers=admin_headers, json={"active": True})
    alfa, _ = login(app, "alfa", "a-new-long-password")

    answer = admin.post("/api/office/users/alfa/role", headers=admin_headers,
                        json={"role": "partner", "payee_id": "P2"})
    assert answer.status_code == 200, answer.text
    assert alfa.get("/api/me").status_code == 401
    # the admin's own session is untouched by changes to another user
    assert admin.get("/api/me").status_code == 200


def test_an_unknown_payee_and_the_admin_only_page(app) -> None:
    admin, headers = login(app, "admin", "admin-demo-pass")
    answer = admin.post("/api/office/users", headers=headers, json={
        "username": "ghost", "password": "ghost-password-1", "role": "partner",
        "payee_id": "NOPE"})
    assert answer.status_code == 400
    assert "payee 'NOPE' is in no program" in answer.text
    answer = admin.post("/api/office/users/beta/role", headers=headers,
                        json={"role": "rep", "payee_id": "NOPE"})
    assert answer.status_code == 400
    page = admin.get("/office/users")
    assert page.status_code == 200 and "partner-d" in page.text
    form = admin.post("/office/users", data={
        "csrf_token": headers["X-CSRF-Token"], "username": "ghost",
        "password": "ghost-password-1", "role": "partner", "payee_id": "NOPE"})
    assert form.status_code == 400 and "is in no program" in form.text
    form = admin.post("/office/users", data={
        "csrf_token": headers["X-CSRF-Token"], "username": "gamma",
        "password": "gamma-password-1", "role": "partner", "payee_id": "P2"})
    assert form.status_code == 303
    login(app, "gamma", "gamma-password-1")
    form = admin.post("/office/users/gamma/deactivate",
                      data={"csrf_token": headers["X-CSRF-Token"]})
    assert form.status_code == 303
    assert not next(u for u in admin.get("/api/office/users").json()["users"]
                    if u["username"] == "gamma")["active"]
    for username, password in (("approver", "approver-demo-pass"),
                               ("viewer", "viewer-demo-pass")):
        other, _ = login(app, username, password)
        assert other.get("/office/users").status_code == 403
        assert other.get("/api/office/users").status_code == 403


def test_the_cli_administers_users(demo_workspace, tmp_path) -> None:
    folder = str(demo_workspace.folder)
    runner = CliRunner()
    secret = tmp_path / "pw"
    secret.write_text("from-a-file-123\n", encoding="utf-8")
    done = runner.invoke(cli, ["user", "password", "beta", "--password-file", str(secret),
                               "-w", folder, "--as", "ops"])
    assert done.exit_code == 0, done.output
    app = create_app(demo_workspace)
    beta, _ = login(app, "beta", "from-a-file-123")
    done = runner.invoke(cli, ["user", "deactivate", "beta", "-w", folder, "--as", "ops"])
    assert done.exit_code == 0, done.output
    assert beta.get("/api/me").status_code == 401
    done = runner.invoke(cli, ["user", "reactivate", "beta", "-w", folder, "--as", "ops"])
    assert done.exit_code == 0, done.output
    done = runner.invoke(cli, ["user", "add", "zeta", "--role", "rep", "--payee", "NOPE",
                               "--password-stdin", "-w", folder], input="zeta-password-1\n")
    assert done.exit_code != 0 and "payee 'NOPE' is in no program" in str(done.exception)
    done = runner.invoke(cli, ["user", "add", "zeta", "--role", "rep", "--payee", "R01",
                               "--password-stdin", "-w", folder], input="zeta-password-1\n")
    assert done.exit_code == 0, done.output
    zeta, _ = login(app, "zeta", "zeta-password-1")
    done = runner.invoke(cli, ["user", "role", "zeta", "viewer", "-w", folder])
    assert done.exit_code == 0, done.output
    assert zeta.get("/api/me").status_code == 401
    listed = runner.invoke(cli, ["user", "list", "-w", folder])
    assert "zeta" in listed.output and "viewer" in listed.output
