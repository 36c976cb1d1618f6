"""Close and post at once never let a post land in a closed period, on SQLite and
PostgreSQL (issue 18, item 9): both take the program's lock first, so either the post is
in before the close (and the close counts it) or it sees the close and posts the closed
period's lines into the next open one. The closed period's total at the close is its
total for good."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from paymaster.services import closes, ledger, programs
from paymaster.services.demo import EXAMPLES
from paymaster.store.models import AuditEvent
from paymaster.workspace import Workspace
from test_period_close import LEADS as PROGRAM
from test_period_close import approved_run

# Without the session's SQL cache (tests/conftest.py): injects faults into the store and
# services around runs.
pytestmark = pytest.mark.no_sql_cache


def test_close_and_post_at_once_leave_the_closed_total_alone(tmp_path, store_url,
                                                             monkeypatch):
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    ws = Workspace.init(tmp_path / "ws", store_url)
    try:
        programs.add_program(ws, EXAMPLES / PROGRAM / "plan.yaml", "office")
        run_id = approved_run(ws)
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def act(what: str) -> None:
            other = Workspace.open(ws.folder)
            try:
                barrier.wait(timeout=30)
                if what == "close":
                    closes.close(other, PROGRAM, "2018-04", actor="office")
                else:
                    ledger.post(other, run_id, actor="office")
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)
            finally:
                other.close()

        threads = [threading.Thread(target=act, args=(w,)) for w in ("close", "post")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        entries = ledger.entries(ws, PROGRAM)
        april = sum((Decimal("10.05") * n for n in range(1, 21)), Decimal(0))   # 2110.50
        may = sum((Decimal("10.05") * n for n in range(21, 41)), Decimal(0))    # 6130.50
        assert len(entries) == 40  # every line posted once, whichever came first
        assert sum((e.amount for e in entries), Decimal(0)) == april + may
        with ws.store.reading() as session:
            event = session.scalars(select(AuditEvent).where(AuditEvent.action == "close")).one()
        in_april = [e for e in entries if e.period == "2018-04"]
        # what April held at its close is what it holds now: nothing landed in it after
        assert event.after["total"] == str(sum((e.amount for e in in_april), Decimal(0)))
        assert event.after["entries"] == len(in_april)
        if in_april:  # the post went first
            assert len(in_april) == 20 and all(e.adjusts_period is None for e in entries)
        else:  # the close went first: April's lines went into May, marked as its corrections
            moved = [e for e in entries if e.adjusts_period == "2018-04"]
            assert len(moved) == 20 and {e.period for e in moved} == {"2018-05"}
            assert {e.kind for e in moved} == {"adjustment"}
    finally:
        ws.close()
