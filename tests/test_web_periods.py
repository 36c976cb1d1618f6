"""Period close in the portal (issue 18, item 9): the office's periods page and its JSON
twin, the close button (admin and approver only, audited), a run of a closed period
refused on the run's page, and the page in Polish and Chinese."""

from __future__ import annotations

import re

from sqlalchemy import select

from paymaster.services import ledger
from paymaster.store.models import AuditEvent
from office_support import GL, login


def test_the_office_closes_a_period_and_a_run_of_it_cannot_post(demo_workspace):
    ws = demo_workspace
    admin = login(ws, "admin")
    periods = admin.get(f"/api/office/{GL}/periods").json()["periods"]
    assert periods and {p["status"] for p in periods} == {"open"}
    period = "2018-05"
    assert period in [p["period"] for p in periods]
    run = admin.post(f"/api/office/{GL}/runs", json={"period": period}).json()["run"]
    admin.post(f"/api/office/runs/{run['id']}/approve")

    viewer = login(ws, "viewer")
    page = viewer.get(f"/office/{GL}/periods")
    assert page.status_code == 200 and "Close period" not in page.text
    assert viewer.post(f"/office/{GL}/periods/close", data={"period": period}).status_code == 403
    assert viewer.post(f"/api/office/{GL}/periods/{period}/close").status_code == 403
    assert login(ws, "alfa").get(f"/office/{GL}/periods").status_code == 403

    assert "Close period" in admin.get(f"/office/{GL}/periods").text
    closed = admin.post(f"/office/{GL}/periods/close", data={"period": period},
                        follow_redirects=False)
    assert closed.status_code == 303
    shown = {p["period"]: p for p in admin.get(f"/api/office/{GL}/periods").json()["periods"]}
    assert shown[period]["status"] == "closed" and shown[period]["closed_by"] == "admin"
    assert {p["status"] for k, p in shown.items() if k != period} == {"open"}
    with ws.store.reading() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "close")).one()
    assert (event.actor, event.entity_key) == ("admin", f"{GL}/{period}")
    again = admin.post(f"/api/office/{GL}/periods/{period}/close")
    assert again.status_code == 400 and "closed already" in again.text
    unknown = admin.post(f"/office/{GL}/periods/close", data={"period": "1999-01"})
    assert unknown.status_code == 400 and "not a period of" in unknown.text

    before = len(ledger.entries(ws, GL))
    refused = admin.post(f"/office/runs/{run['id']}/post")
    assert refused.status_code == 400
    read = re.sub(r"<[^>]+>", "", refused.text)  # ids are shown in <code>
    assert f"period {period} of {GL} is closed" in read
    assert "2018-06, the next open period" in read
    assert len(ledger.entries(ws, GL)) == before
    assert ledger.get_run(ws, run["id"]).status == "approved"

    admin.post("/language", data={"lang": "pl"})
    polish = admin.get(f"/office/{GL}/periods").text
    assert "Okresy" in polish and "zamknięty" in polish and "Zamknij okres" in polish
    admin.post("/language", data={"lang": "zh"})
    chinese = admin.get(f"/office/{GL}/periods").text
    assert "已结账" in chinese and "结账" in chinese
