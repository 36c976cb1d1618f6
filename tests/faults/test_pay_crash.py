"""`pay` killed at every step never pays an entry twice (issue 15, item 2).

Each scenario copies the session's demo workspace (generuj-leady posted, nothing paid),
runs the real `paymaster pay` in a subprocess that SIGKILLs itself at one named point
(services.ledger.CRASH_HOOK), and then checks the store and the folder: no entry in two
batches, paid + unpaid = the ledger, no file under the final name unless complete, a
committed batch written again by `pay show`, and the next `pay` paying nothing again.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from paymaster.services import ledger
from paymaster.store.models import LedgerEntry, Payment, PayoutBatch
from paymaster.workspace import Workspace

# Without the session's SQL cache (tests/conftest.py): injects faults into the store and
# services around runs.
pytestmark = pytest.mark.no_sql_cache

PROGRAM = "generuj-leady"
PAYMASTER = Path(sys.executable).parent / "paymaster"
ZERO = Decimal("0.00")


def paymaster(folder: Path, *args: str, crash: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PAYMASTER_DATABASE_URL", "PAYMASTER_WORKSPACE", ledger.CRASH_HOOK)}
    if crash:
        env[ledger.CRASH_HOOK] = crash
    return subprocess.run([str(PAYMASTER), *args, "-w", str(folder)], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def folder(demo_workspace_master: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "workspace"
    shutil.copytree(demo_workspace_master, copy)
    return copy


def state(folder: Path) -> dict:
    """What the store says about payments, checked for the invariants on the way."""
    ws = Workspace.open(folder)
    try:
        with ws.store.session() as session:
            entries = {e.id: e.amount for e in session.scalars(
                select(LedgerEntry).where(LedgerEntry.program == PROGRAM))}
            payments = session.scalars(select(Payment)).all()
            batches = session.scalars(select(PayoutBatch)).all()
            ids = [p.entry_id for p in payments]
            assert len(ids) == len(set(ids)), "an entry is in two batches"
            assert session.scalar(select(func.count(func.distinct(Payment.entry_id)))) == len(ids)
    finally:
        ws.close()
    paid = sum((entries[i] for i in ids), ZERO)
    unpaid = sum((a for i, a in entries.items() if i not in set(ids)), ZERO)
    assert paid + unpaid == sum(entries.values(), ZERO)  # the ledger balances
    for batch in batches:  # each batch's rows add up to its entries
        amount = sum((entries[p.entry_id] for p in payments if p.batch == batch.id), ZERO)
        assert batch.totals == {"PLN": str(amount)}
        money = batch.rows["columns"].index("amount")  # a batch keeps its own columns
        assert sum((Decimal(r[money]) for r in batch.rows["rows"]), ZERO) == amount
    return {"batches": [b.id for b in batches], "paid": paid, "unpaid": unpaid,
            "posted": sum(entries.values(), ZERO)}


def file_total(path: Path) -> Decimal:
    with path.open(encoding="utf-8", newline="") as handle:
        return sum((Decimal(r["amount"]) for r in csv.DictReader(handle)), ZERO)


def test_killed_before_the_commit_nothing_is_paid_and_pay_starts_over(folder, tmp_path):
    out = tmp_path / "pay.csv"
    done = paymaster(folder, "pay", PROGRAM, "--out", str(out), crash="pay:before_commit")
    assert done.returncode == -9, done.stdout + done.stderr
    assert not out.exists()
    before = state(folder)
    assert before["batches"] == [] and before["paid"] == 0 and before["unpaid"] > 0

    done = paymaster(folder, "pay", PROGRAM, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    after = state(folder)
    assert len(after["batches"]) == 1 and after["unpaid"] == 0
    assert file_total(out) == after["paid"] == before["posted"]


@pytest.mark.parametrize("point", ["pay:after_commit", "pay:during_write"])
def test_killed_after_the_commit_the_batch_is_kept_and_written_again(folder, tmp_path, point):
    out = tmp_path / "pay.csv"
    done = paymaster(folder, "pay", PROGRAM, "--out", str(out), crash=point)
    assert done.returncode == -9, done.stdout + done.stderr
    assert not out.exists()  # never a partial file under the final name
    killed = state(folder)
    assert len(killed["batches"]) == 1 and killed["unpaid"] == 0
    batch = killed["batches"][0]

    again = tmp_path / "again.csv"
    done = paymaster(folder, "pay", PROGRAM, "--out", str(again))
    assert done.returncode == 0 and "nothing to pay" in done.stdout, done.stdout + done.stderr
    assert not again.exists()
    assert state(folder) == killed  # the next pay does not pay again

    done = paymaster(folder, "pay", "show", batch, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert file_total(out) == killed["paid"] == killed["posted"]
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["batch"] for r in rows} == {batch}
    assert all(r["payee_name"] and r["tax_id"] and r["periods"] and r["currency"] == "PLN"
               for r in rows), rows  # what accounts payable needs, from the partners table


def test_pay_never_overwrites_and_never_makes_a_folder(folder, tmp_path):
    taken = tmp_path / "taken.csv"
    taken.write_text("someone else's file\n", encoding="utf-8")
    done = paymaster(folder, "pay", PROGRAM, "--out", str(taken))
    assert done.returncode == 1 and "exists already" in done.stderr + done.stdout
    assert taken.read_text(encoding="utf-8") == "someone else's file\n"

    missing = tmp_path / "no such folder" / "pay.csv"
    done = paymaster(folder, "pay", PROGRAM, "--out", str(missing))
    assert done.returncode == 1 and "does not exist" in done.stderr + done.stdout
    assert not missing.parent.exists()
    assert state(folder)["batches"] == []  # refused before anything was recorded
