"""Close and post at once never let a post land in a closed period, on SQLite and
PostgreSQL (issue 18, item 9): both take the program's lock first, so either the post is
in before the close (and the close counts it) or it sees the close and posts the closed
period's lines into the next open one. The closed period's total at the close is its
total for good."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

from sqlalchemy import select

from paymaster.services import closes, ledger, programs
from paymaster.services.calc import fingerprint_stored
from paymaster.services.demo import EXAMPLES
from paymaster.store.models import AuditEvent, Run, RunLine
from paymaster.workspace import Workspace

PROGRAM = "generuj-leady"
AS_OF = dt.date(2026, 1, 2)
NOW = dt.datetime(2026, 1, 2, 9, 0)


def _approved_run(ws: Workspace) -> int:
    """An approved run of April and May 2018, as `runs new` + `runs approve` leave it
    (lines written here: the race is about the ledger, not the engine)."""
    with ws.store.session() as session:
        run = Run(program=PROGRAM, period=None, as_of=AS_OF, plan_sha=ws.plan_sha(PROGRAM),
                  fingerprint=fingerprint_stored(ws, session, PROGRAM, AS_OF), ledger_mark=0,
                  status="approved", created_at=NOW, created_by="office", approved_at=NOW,
                  approved_by="approver", total=Decimal("0.00"), timings={},
                  evaluations={"rows": []}, titles={"rows": []})
        session.add(run)
        session.flush()
        session.add_all(RunLine(
            run_id=run.id, line_key=f"P{n % 3}|{period}|deal|S{n}", payee_id=f"P{n % 3}",
            period=period, measure="deal", source_id=f"S{n}", date=None,
            amount=Decimal("10.05") * n, paid=True, budget=None, band=None, value=None,
            reason=None, trace=None)
            for n in range(1, 41) for period in ["2018-04" if n <= 20 else "2018-05"])
        return run.id


def test_close_and_post_at_once_leave_the_closed_total_alone(tmp_path, store_url,
                                                             monkeypatch):
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    ws = Workspace.init(tmp_path / "ws", store_url)
    try:
        programs.add_program(ws, EXAMPLES / PROGRAM / "plan.yaml", "office")
        run_id = _approved_run(ws)
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
