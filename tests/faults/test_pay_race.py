"""Two payers at once never pay one ledger entry twice, on SQLite and PostgreSQL
(issue 15, item 2): one records the batch, the other finds nothing left to pay."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from paymaster.services import payouts, programs
from paymaster.services.demo import EXAMPLES
from paymaster.store.models import LedgerEntry, Payment, PayoutBatch
from paymaster.workspace import Workspace

# Without the session's SQL cache (tests/conftest.py): injects faults into the store and
# services around runs.
pytestmark = pytest.mark.no_sql_cache

PROGRAM = "generuj-leady"
NOW = dt.datetime(2026, 1, 2, 9, 0)


def test_two_payers_at_once_record_one_batch(tmp_path, store_url, monkeypatch):
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    ws = Workspace.init(tmp_path / "ws", store_url)
    try:
        programs.add_program(ws, EXAMPLES / PROGRAM / "plan.yaml", "office")
        with ws.store.session() as session:  # posted entries, as a posted run leaves them
            session.add_all(LedgerEntry(
                program=PROGRAM, run_id=None, line_key=f"P{n % 3}|2018-04|deal|S{n}",
                payee_id=f"P{n % 3}", period="2018-04", measure="deal", source_id=f"S{n}",
                kind="payout", amount=Decimal("10.05") * n, corrects=None, reason=None,
                posted_at=NOW, posted_by="office") for n in range(1, 41))
        barrier = threading.Barrier(2)
        results: list[PayoutBatch | None] = []
        errors: list[BaseException] = []

        def payer(name: str) -> None:
            other = Workspace.open(ws.folder)
            try:
                barrier.wait(timeout=30)
                results.append(payouts.create_batch(other, PROGRAM, actor=name))
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)
            finally:
                other.close()

        threads = [threading.Thread(target=payer, args=(f"payer{i}",)) for i in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == [] and len(results) == 2
        batches = [b for b in results if b is not None]
        assert len(batches) == 1  # the second payer found nothing left to pay
        with ws.store.session() as session:
            payments = session.scalars(select(Payment)).all()
            assert len(payments) == 40 == len({p.entry_id for p in payments})
            assert {p.batch for p in payments} == {batches[0].id}
        total = sum((Decimal("10.05") * n for n in range(1, 41)), Decimal("0.00"))
        assert batches[0].totals == {"PLN": str(total)}
    finally:
        ws.close()
