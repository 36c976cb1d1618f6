"""Period close (issue 18, item 9): the office closes a period;
a run of it is refused and changes nothing; a correction after the close is posted into
the next open period as an adjustment pointing at what it corrects, so the closed
period's posted total never changes; statements show both; accruals agree.

The figures are the sales-team example's hand-computed expected payouts and the
correction worked by hand in tests/test_ledger.py (R11's March sale 1 000 -> 3 000:
Q1 ladder 3% of 5 000 = 150.00 instead of 90.00; R10's January sale 5 000 -> 4 000:
3% of 14 000 = 420.00 instead of 450.00).
"""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal

import pytest
import sqlalchemy
from openpyxl import load_workbook
from sqlalchemy import select, text

from paymaster.analytics.accruals import accruals
from paymaster.services import closes, imports, ledger, programs, statements
from paymaster.services.demo import EXAMPLES
from paymaster.services.registrations import WorkflowError
from paymaster.services.statements_render import render_excel, render_html
from paymaster.services.calc import fingerprint_stored
from paymaster.store.models import AuditEvent, Run, RunLine
from paymaster.workspace import Workspace
from test_workspace_flows import invoke
from test_ledger import (
    CORRECTION,
    SALES,
    ZERO,
    golden,
    golden_total,
    run_approve_post,
    sales_workspace,
    set_amounts,
    write_sales,
)

LEADS = "generuj-leady"
AS_OF = dt.date(2026, 1, 2)
NOW = dt.datetime(2026, 1, 2, 9, 0)
Q1, Q2 = "2025-Q1", "2025-Q2"
R11, R10 = "R11|2025-Q1|ladder|", "R10|2025-Q1|ladder|"


def golden_by_period() -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in golden(SALES):
        if row["paid"] == "true":
            out[row["period"]] += Decimal(row["amount"])
    return out


def posted_by_period(ws) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for entry in ledger.entries(ws, SALES):
        out[entry.period] += entry.amount
    return out


# On SQLite only (three engine runs): the PostgreSQL side of close and post is in
# tests/faults/test_close_race.py and test_period_closes_are_append_only below.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_closed_period_keeps_its_total_and_a_correction_goes_to_the_next(tmp_path,
                                                                          store_url):
    ws = sales_workspace(tmp_path, store_url)
    try:
        first, _ = run_approve_post(ws, SALES)
        original = {e.line_key: e for e in ledger.entries(ws, SALES)}
        expected = golden_by_period()
        assert expected[Q1] == Decimal("72281.54") and expected[Q2] == Decimal("40586.67")
        q1_entries = sum(1 for e in original.values() if e.period == Q1)

        done = closes.close(ws, SALES, Q1, actor="office")
        assert (done.period, done.total, done.entries) == (Q1, expected[Q1], q1_entries)
        with pytest.raises(WorkflowError, match="closed already"):
            closes.close(ws, SALES, Q1, actor="office")
        with pytest.raises(WorkflowError, match="not a period of sales-team"):
            closes.close(ws, SALES, "2025-Q9", actor="office")
        with ws.store.reading() as session:
            events = session.scalars(select(AuditEvent).where(
                AuditEvent.action == "close")).all()
        assert [(e.entity, e.entity_key, e.actor) for e in events] == \
            [("period", f"{SALES}/{Q1}", "office")]
        assert events[0].after == {"status": "closed", "entries": q1_entries,
                                   "total": "72281.54"}

        path = write_sales(tmp_path, "correction", set_amounts(
            {"S-R11-03": "3000.00", "S-R10-01": "4000.00"}))
        imports.import_file(ws, SALES, "sales", path, actor="office", as_of=CORRECTION)

        # a run of every period posts the Q1 differences into Q2, pointing at Q1's entries
        run, result = run_approve_post(ws, SALES)
        new = {e.line_key: e for e in result.entries}
        assert set(new) == {R11, R10}
        assert (new[R11].period, new[R11].adjusts_period, new[R11].kind, new[R11].amount) == \
            (Q2, Q1, "adjustment", Decimal("60.00"))
        assert (new[R10].period, new[R10].adjusts_period, new[R10].kind, new[R10].amount) == \
            (Q2, Q1, "clawback", Decimal("-30.00"))
        assert new[R11].corrects == original[R11].id and new[R10].corrects == original[R10].id
        assert original[R11].run_id == first.id and new[R11].run_id == run.id
        assert ledger.changes(ws, run.id) == []  # the lines' balances hold the new run

        totals = posted_by_period(ws)
        assert totals[Q1] == Decimal("72281.54")                  # closed: unchanged
        assert totals[Q2] == Decimal("40586.67") + 60 - 30 == Decimal("40616.67")
        assert {p: t for p, t in totals.items() if p not in (Q1, Q2)} == \
            {p: t for p, t in expected.items() if p not in (Q1, Q2)}
        assert [(c.period, c.total) for c in closes.list_closed(ws, SALES)] == \
            [(Q1, Decimal("72281.54"))]
        # accruals (nothing paid yet): what is posted, every payee, the correction included
        rows = accruals(ws, program=SALES)
        assert sum((r["posted"] for r in rows), ZERO) == golden_total(SALES) + 30
        assert {r["payee_id"]: r["posted"] for r in rows}["R11"] == Decimal("150.00")

        # R11's statement of Q1: the line now earns 150.00; the ledger shows the 90.00
        # posted in Q1 and the 60.00 posted in Q2 that corrects it; Q1's posted total stays
        q1 = statements.build(ws, SALES, "R11", Q1)
        ladder = [line for line in q1.lines if line.measure == "ladder"]
        assert [line.amount for line in ladder] == [Decimal("150.00")]
        assert [(e.period, e.adjusts_period, e.amount, e.corrects, e.corrects_run)
                for e in q1.entries] == [(Q1, None, Decimal("90.00"), None, None),
                                         (Q2, Q1, Decimal("60.00"), original[R11].id, first.id)]
        assert q1.total_posted == Decimal("90.00") and q1.reconciles
        q2 = statements.build(ws, SALES, "R11", Q2)
        assert [(e.period, e.adjusts_period, e.amount) for e in q2.entries] == \
            [(Q2, Q1, Decimal("60.00"))]
        assert q2.total_earned == ZERO and q2.total_posted == Decimal("60.00")
        assert q2.reconciles
        reference = (f"corrects entry #{original[R11].id} (run {first.id}) of closed period "
                     f"{Q1}")
        assert reference in render_html(q2, "en")
        assert "zamkniętego okresu 2025-Q1" in render_html(q1, "pl")
        ledger_sheet = [[c.value for c in row] for row in
                        _sheet(render_excel(q1, "en"), "Ledger").iter_rows()]
        assert ledger_sheet[0][9] == "Adjusts closed period"
        assert [row[9] for row in ledger_sheet[1:]] == [None, Q1]
    finally:
        ws.close()


def approved_run(ws: Workspace, period: str | None = None) -> int:
    """An approved generuj-leady run of April and May 2018 (or one of them), as `runs new`
    and `runs approve` leave it: its lines are written here (a test of the ledger, not of
    the engine), its fingerprint is that of the store's data."""
    with ws.store.session() as session:
        run = Run(program=LEADS, period=period, as_of=AS_OF, plan_sha=ws.plan_sha(LEADS),
                  fingerprint=fingerprint_stored(ws, session, LEADS, AS_OF), ledger_mark=0,
                  status="approved", created_at=NOW, created_by="office", approved_at=NOW,
                  approved_by="approver", total=Decimal("0.00"), timings={},
                  evaluations={"rows": []}, titles={"rows": []})
        session.add(run)
        session.flush()
        session.add_all(RunLine(
            run_id=run.id, line_key=f"P{n % 3}|{month}|deal|S{n}", payee_id=f"P{n % 3}",
            period=month, measure="deal", source_id=f"S{n}", date=None,
            amount=Decimal("10.05") * n, paid=True, budget=None, band=None, value=None,
            reason=None, trace=None)
            for n in range(1, 41) for month in ["2018-04" if n <= 20 else "2018-05"]
            if period in (None, month))
        return run.id


def test_a_run_of_a_closed_period_is_refused_and_closes_stay(tmp_path, store_url):
    ws = Workspace.init(tmp_path / "ws", database=store_url)
    try:
        programs.add_program(ws, EXAMPLES / LEADS / "plan.yaml", "office")
        run_id = approved_run(ws, "2018-04")
        folder = ("-w", ws.folder)
        code, out, _ = invoke("close", LEADS, "2018-04", *folder, "--as", "office")
        assert code == 0 and f"{LEADS} period 2018-04 closed: 0 ledger entries" in out
        code, _, problems = invoke("close", LEADS, "2018-04", *folder)
        assert code == 1 and "period 2018-04 of generuj-leady was closed already" in problems
        assert "next open period: 2018-05" in problems
        code, out, _ = invoke("close", "list", LEADS, *folder)
        assert code == 0 and "2018-04" in out and "office" in out
        code, _, problems = invoke("close", LEADS, *folder)
        assert code == 1 and "expected close PROGRAM PERIOD or close list PROGRAM" in problems
        with pytest.raises(WorkflowError) as refused:
            ledger.post(ws, run_id, actor="office")
        problem = refused.value.problems[0]
        assert problem.message.startswith(f"period 2018-04 of {LEADS} is closed (")
        assert "nothing was posted" in problem.message
        assert "2018-05, the next open period" in problem.hint and "runs new" in problem.hint
        assert ledger.entries(ws, LEADS) == []
        assert ledger.get_run(ws, run_id).status == "approved"

        for sql in ("UPDATE period_closes SET closed_by = 'x'", "DELETE FROM period_closes"):
            with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"), \
                    ws.store.session() as session:
                session.execute(text(sql))
        assert [c.period for c in closes.list_closed(ws, LEADS)] == ["2018-04"]
        # the next open period steps over closed ones, and goes on past the plan's end
        assert closes.next_open(ws, LEADS, "2018-12", set()) == "2019-01"
        assert closes.next_open(ws, LEADS, "2025-Q3", {"2025-Q4", "2026-Q1"}) == "2026-Q2"
        assert closes.next_open(ws, LEADS, "2025", set()) == "2026"
    finally:
        ws.close()


def _sheet(data: bytes, name: str):
    return load_workbook(io.BytesIO(data))[name]
