"""Who may read and act in the program office: a viewer reads every page and may not
act, a partner gets 403 on every office route, and every write needs the CSRF token;
a refused request changes nothing in the store."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from paymaster.services import disputes, enrollments
from paymaster.store.models import Run

from office_support import GL, TIA, login, new_registration, store_snapshot

READ_PAGES = ["/office", "/api/office"] + [
    f"{prefix}/office/{program}/{page}" for prefix in ("", "/api")
    for program in (GL, "trade-in-accelerator", "sales-team")
    for page in ("registrations", "enrollments", "imports", "runs", "disputes", "plan",
                 "budget", "registrations.csv", "disputes.csv")] + [
    "/office/runs/1", "/api/office/runs/1"]


def actions(ws, run_id: int, reg_id: str, dispute_id: int) -> list[tuple[str, dict]]:
    """Every write route, with a body that would pass validation."""
    upload = {"data": {"table": "partners"},
              "files": {"file": ("p.csv", b"partner_id\nP1\n", "text/csv")}}
    resolve = {"data": {"accept": "false", "resolution": "no"}}
    return [
        (f"/office/{GL}/registrations/{reg_id}/decision", {"data": {"accept": "true"}}),
        (f"/api/office/{GL}/registrations/{reg_id}/decision", {"json": {"accept": True}}),
        (f"/office/{TIA}/enrollments/E-L/decision", {"data": {"accept": "true"}}),
        (f"/api/office/{TIA}/enrollments/E-L/decision", {"json": {"accept": True}}),
        (f"/office/{GL}/imports", upload),
        (f"/api/office/{GL}/imports", upload),
        (f"/office/{GL}/runs", {"data": {}}),
        (f"/api/office/{GL}/runs", {"json": {}}),
        (f"/office/runs/{run_id}/approve", {}),
        (f"/api/office/runs/{run_id}/approve", {}),
        (f"/office/runs/{run_id}/post", {}),
        (f"/api/office/runs/{run_id}/post", {}),
        (f"/office/{TIA}/disputes/{dispute_id}/resolve", resolve),
        (f"/api/office/{TIA}/disputes/{dispute_id}/resolve", resolve),
        (f"/office/{GL}/registrations/bulk", {"data": {"ids": [reg_id], "accept": "false",
                                                       "reason": "no"}}),
        (f"/api/office/{GL}/registrations/bulk", {"json": {"ids": [reg_id], "accept": False,
                                                           "reason": "no"}}),
        (f"/api/office/{TIA}/enrollments/bulk", {"json": {"ids": ["E-L"], "accept": True}}),
        (f"/api/office/{TIA}/disputes/bulk", {"json": {"ids": [str(dispute_id)],
                                                       "accept": False, "reason": "no"}}),
    ]


def _setup_targets(ws, monkeypatch) -> tuple[int, str, int]:
    reg = new_registration(ws, monkeypatch)
    monkeypatch.setenv("PAYMASTER_TODAY", "2008-02-10T09:00:00")
    enrollments.move(ws, TIA, "E-L", "submit", actor="L")
    monkeypatch.delenv("PAYMASTER_TODAY")
    case = disputes.open_case(ws, TIA, "A", "missing", actor="A", details={
        "items": "1", "return_date": "2008-07-01", "rma_number": "R", "tmp_quote": "T",
        "sales_order": "S"})
    with ws.store.session() as session:
        # a preview run, made directly: cheaper than calculating one
        last = session.scalars(select(Run).where(Run.program == GL)).first()
        run = Run(program=GL, period=None, as_of=last.as_of, plan_sha=last.plan_sha,
                  fingerprint=last.fingerprint, ledger_mark=0, status="preview",
                  created_at=dt.datetime(2026, 1, 1), created_by="test", total=Decimal(0),
                  timings={}, evaluations={"rows": []}, titles={"rows": []})
        session.add(run)
        session.flush()
        run_id = run.id
    return run_id, reg.registration_id, case.id


def test_a_viewer_sees_every_page_but_may_not_act(demo_workspace, monkeypatch):
    ws = demo_workspace
    run_id, reg_id, dispute_id = _setup_targets(ws, monkeypatch)
    client = login(ws, "viewer")
    for path in READ_PAGES + [f"/office/runs/{run_id}"]:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text[:300])
    queue = client.get(f"/office/{GL}/registrations").text
    assert "<form method=\"post\" action=\"/office/generuj-leady/registrations" not in queue
    before = store_snapshot(ws)
    for path, body in actions(ws, run_id, reg_id, dispute_id):
        answer = client.post(path, **body)
        assert answer.status_code == 403, (path, answer.status_code, answer.text[:300])
    assert store_snapshot(ws) == before


def test_a_partner_gets_403_on_every_office_route(demo_workspace, monkeypatch):
    ws = demo_workspace
    run_id, reg_id, dispute_id = _setup_targets(ws, monkeypatch)
    client = login(ws, "alfa")
    guessed = ["/office/runs/999999", "/api/office/runs/999999", "/office/runs/2",
               f"/office/{GL}/budget/fund.svg", "/office/nope/runs"]
    for path in READ_PAGES + guessed:
        answer = client.get(path)
        assert answer.status_code == 403, (path, answer.status_code)
        # alfa reads Polish: "not allowed" (the JSON twin keeps the English title)
        assert ("not allowed" if path.startswith("/api") else "brak uprawnień") in answer.text
    before = store_snapshot(ws)
    for path, body in actions(ws, run_id, reg_id, dispute_id) + [
            ("/api/office/runs/999999/post", {}), ("/office/runs/999999/approve", {})]:
        assert client.post(path, **body).status_code == 403, path
    assert store_snapshot(ws) == before


def test_posting_without_the_csrf_token_is_refused(demo_workspace, monkeypatch):
    ws = demo_workspace
    run_id, reg_id, dispute_id = _setup_targets(ws, monkeypatch)
    client = login(ws, "admin", csrf=False)
    before = store_snapshot(ws)
    for path, body in actions(ws, run_id, reg_id, dispute_id):
        answer = client.post(path, **body)
        assert answer.status_code == 403, (path, answer.status_code)
    assert store_snapshot(ws) == before
