"""Headers, downloads and file modes (issue 15, items 12 and 14): every response carries
the security headers (pages, JSON, errors, files); pages have no inline script; /api/docs
loads nothing from another site; a download's name survives Chinese, quotes and CR/LF;
the store's SQLite file and the session secret are readable by their owner only."""

from __future__ import annotations

import re
import stat
from urllib.parse import quote, unquote

import pytest
from starlette.testclient import TestClient

from paymaster.services import accounts
from paymaster.web.app import create_app
from paymaster.workspace import Workspace

PROGRAM = "trade-in-accelerator"
EXPECTED = {"x-frame-options": "DENY", "x-content-type-options": "nosniff",
            "referrer-policy": "same-origin"}


def filename_of(header: str) -> str:
    """The name a browser takes (RFC 6266: filename* wins over filename)."""
    exact = re.search(r"filename\*=UTF-8''([^;\s]+)", header)
    assert exact, header
    return unquote(exact.group(1), errors="strict")


def fallback_of(header: str) -> str:
    plain = re.search(r'filename="([^"\\]*)"', header)
    assert plain, header
    return plain.group(1)


@pytest.fixture
def admin(demo_workspace):
    client = TestClient(create_app(demo_workspace), follow_redirects=False)
    answer = client.post("/api/login", json={"username": "admin",
                                             "password": "admin-demo-pass"})
    assert answer.status_code == 200
    return client


def test_every_response_has_the_security_headers(demo_workspace, admin) -> None:
    anonymous = TestClient(create_app(demo_workspace), follow_redirects=False)
    answers = [anonymous.get("/login"), anonymous.get("/office"), anonymous.get("/api/me"),
               anonymous.post("/api/login", json={"username": "x", "password": "y"}),
               anonymous.get("/static/app.css"), anonymous.get("/api/docs"),
               anonymous.get("/api/openapi.json"),
               admin.get("/office"), admin.get("/office/nope/runs"), admin.get("/no/such/page"),
               admin.get(f"/programs/{PROGRAM}/statement/D?format=csv"),
               admin.post("/api/office/users", json={})]  # 403: no CSRF token
    assert {a.status_code for a in answers} >= {200, 303, 401, 403, 404}
    for answer in answers:
        for name, value in EXPECTED.items():
            assert answer.headers.get(name) == value, (answer.url, name)
        policy = answer.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy, answer.url
        scripts = policy.split("script-src")[1].split(";")[0]
        assert "unsafe-inline" not in scripts and "unsafe-eval" not in scripts


def test_pages_have_no_inline_script(admin) -> None:
    for path in ("/office", "/office/users", f"/office/{PROGRAM}/runs",
                 f"/programs/{PROGRAM}/statement/D", "/login"):
        page = admin.get(path)
        assert page.status_code == 200, path
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text), path
        assert not re.search(r"\son[a-z]+\s*=", page.text), path


def test_api_docs_load_nothing_from_another_site(admin) -> None:
    page = admin.get("/api/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources)
    for source in sources:
        assert admin.get(source).status_code == 200, source


@pytest.mark.parametrize("payee", ["张三", 'a"b', "a\r\nSet-Cookie: x=1"])
def test_downloads_name_any_payee_safely(admin, payee) -> None:
    # the office's status download takes any payee id (Chinese: a 500 before; CR/LF: a
    # dropped connection; a quote: a broken name)
    answer = admin.get(f"/programs/{PROGRAM}/status?payee={quote(payee)}&format=csv")
    assert answer.status_code == 200, answer.text[:300]
    header = answer.headers["content-disposition"]
    assert header.isascii() and "\r" not in header and "\n" not in header
    assert "set-cookie" not in answer.headers
    clean = "".join(ch for ch in payee if ch.isprintable())
    assert filename_of(header) == f"status-{PROGRAM}-{clean}.csv"
    assert fallback_of(header).isascii() and '"' not in fallback_of(header)


def test_every_statement_download_uses_the_same_header(admin) -> None:
    for fmt, kind in (("csv", "attachment"), ("xlsx", "attachment"), ("pdf", "attachment"),
                      ("html", "inline")):
        answer = admin.get(f"/programs/{PROGRAM}/statement/D", params={"format": fmt})
        assert answer.status_code == 200, fmt
        header = answer.headers["content-disposition"]
        assert header.startswith(kind + ";"), header
        assert filename_of(header) == f"statement-{PROGRAM}-D.{fmt}"


def test_the_disposition_helper() -> None:
    from paymaster.web.downloads import disposition

    header = disposition('统计 "q".pdf', inline=True)["Content-Disposition"]
    assert header.startswith('inline; filename="')
    assert filename_of(header) == '统计 "q".pdf'
    assert fallback_of(header) == "_ _q_.pdf"
    header = disposition("a\r\nb.csv")["Content-Disposition"]
    assert header.isascii() and "\r" not in header and "\n" not in header
    assert filename_of(header) == "ab.csv"


def test_the_store_and_the_secret_are_owner_only(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    ws = Workspace.init(tmp_path / "ws")
    try:
        accounts.create_user(ws, "admin", "the-right-password", "admin", actor="test")
        create_app(ws)
        for name in ("paymaster.db", ".paymaster-secret"):
            mode = stat.S_IMODE((ws.folder / name).stat().st_mode)
            assert mode == 0o600, (name, oct(mode))
        wal = ws.folder / "paymaster.db-wal"
        if wal.exists():
            assert stat.S_IMODE(wal.stat().st_mode) == 0o600
        # a secret left readable by others (an older version, a loose copy) is tightened
        (ws.folder / ".paymaster-secret").chmod(0o644)
        create_app(ws)
        assert stat.S_IMODE((ws.folder / ".paymaster-secret").stat().st_mode) == 0o600
    finally:
        ws.close()
