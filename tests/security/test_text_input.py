"""Free text from people (dispute descriptions, reasons, details): refused above its
length limit or with a control character (NUL cannot be stored in PostgreSQL: it was a
500), on the service (CLI) and at the portal's edge (every form, query and JSON string);
and stored text printed by the CLI literally, never as Rich markup."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paymaster.services import disputes
from paymaster.services.accounts import DEMO_ACCOUNTS
from paymaster.services.registrations import WorkflowError
from paymaster.store.models import Dispute
from paymaster.web.app import create_app
from workspace_support import examples_workspace

TIA = "trade-in-accelerator"
PASSWORDS = {a[0]: a[1] for a in DEMO_ACCOUNTS}
DETAILS = {"items": "1 switch", "return_date": "2008-07-01", "rma_number": "RMA-X",
           "tmp_quote": "TMP-X", "sales_order": "SO-X"}


def dispute_count(ws) -> int:
    with ws.store.session() as session:
        return session.scalar(select(func.count()).select_from(Dispute))


@pytest.fixture
def ws(store_url, tmp_path, monkeypatch):
    yield from examples_workspace(store_url, tmp_path, monkeypatch)


@pytest.mark.parametrize("text, fragment", [
    ("the RMA\x00 is missing", "control character U+0000"),
    ("bell\x07", "control character U+0007"),
    ("x" * 10_001, "10001 characters long; at most 10000"),
])
def test_a_dispute_with_bad_text_is_refused_and_nothing_is_stored(ws, text, fragment):
    with pytest.raises(WorkflowError) as refused:
        disputes.open_case(ws, TIA, "A", text, actor="A", details=DETAILS)
    assert fragment in str(refused.value) and "description" in str(refused.value)
    with pytest.raises(WorkflowError, match="rma_number"):
        disputes.open_case(ws, TIA, "A", "fine", actor="A",
                           details=DETAILS | {"rma_number": "R\x00"})
    assert dispute_count(ws) == 0
    fine = disputes.open_case(ws, TIA, "A", "tab\tand\nlines are fine", actor="A",
                              details=DETAILS)
    with pytest.raises(WorkflowError, match="resolution"):
        disputes.resolve(ws, TIA, fine.id, accept=False, resolution="no\x00", actor="office")


def test_the_portal_refuses_control_characters_and_megabytes_in_any_field(demo_workspace):
    ws = demo_workspace
    client = TestClient(create_app(ws), raise_server_exceptions=False)
    login = client.post("/api/login", json={"username": "partner-a",
                                             "password": PASSWORDS["partner-a"]})
    client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    before = dispute_count(ws)
    for description in ("NUL\x00here", "y" * 20_000_000):
        answer = client.post(f"/api/programs/{TIA}/disputes",
                             json={"description": description, "details": DETAILS})
        assert answer.status_code == 400, answer.text[:300]
        problem = answer.json()["error"]["problems"][0]
        assert problem["field"] == "description"
        form = client.post(f"/programs/{TIA}/disputes",
                           data={"kind": "record", "description": description,
                                 **{f"detail_{k}": v for k, v in DETAILS.items()}})
        assert form.status_code == 400 and len(form.content) < 200_000
    query = client.get(f"/api/programs/{TIA}/status", params={"payee": "A\x00"})
    assert query.status_code == 400
    assert dispute_count(ws) == before


def test_dispute_list_prints_markup_in_stored_text_literally(demo_workspace):
    ws = demo_workspace
    text = "closing [/] and [link=http://x]y[/link] [bold]not bold[/bold]"
    disputes.open_case(ws, TIA, "A", text, actor="A", details=DETAILS)
    shown = subprocess.run(
        [sys.executable, "-m", "paymaster.cli", "dispute", "list", TIA, "-w", str(ws.folder)],
        capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert text in shown.stdout, shown.stdout
