"""Payout batches: money moves once.

`pay` hands every posted, not yet paid ledger entry to payroll / accounts payable. The
order is what makes it safe to run with real money:

1. the target file is checked (a known suffix, an existing folder, no file of that name):
   a refused target records nothing;
2. the batch (its id, rows, totals, who, when) and one payment per ledger entry are
   committed in one transaction. `payments.entry_id` is unique, so the database itself
   refuses to put an entry in two batches, whoever races;
3. the file is written under a temporary name in the target folder and linked into place
   (atomic, never over an existing file).

A crash after 2 leaves a recorded batch and no file: `write_batch` (`paymaster pay show`)
writes it again, identical, from the rows the batch keeps; the next `pay` pays nothing of
it again. A crash before 2 leaves nothing at all.
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paymaster.errors import N_, Problem, UsageError
from paymaster.money import plain, round_money
from paymaster.services import audit
from paymaster.services.inputs import current_rows
from paymaster.services.ledger import _crash_point
from paymaster.services.registrations import WorkflowError
from paymaster.store.models import LedgerEntry, Payment, PayoutBatch, Program

if TYPE_CHECKING:
    from paymaster.plan.model import Plan
    from paymaster.workspace import Workspace

ZERO = Decimal("0.00")
# What accounts payable needs per payee. A batch keeps its own columns, so a batch made
# before a column was added is written again as it was.
COLUMNS = ["batch", "batch_date", "program", "payee_id", "payee_name", "tax_id",
           "bank_reference", "periods", "currency", "amount", "entries"]
BANK_REFERENCE = "bank_reference"  # an optional column of a payee table (IBAN, vendor no.)


@dataclass
class PaidState:
    """Where one ledger entry's money is: in a batch (paid), or not yet (posted only)."""

    batch: str
    paid_at: object  # datetime


def check_target(out: Path) -> str:
    """Refuse a payout file that cannot be written cleanly, before anything is recorded:
    an unknown suffix, a missing folder, or a file already there (never overwritten)."""
    from paymaster.outputs import rows_format

    fmt = rows_format(out)
    if not out.parent.is_dir():
        raise UsageError(Problem.of(
            N_("%(out)s: folder %(folder)s does not exist"), file=str(out), out=str(out),
            folder=str(out.parent),
            hint=N_("create the folder first; pay does not make folders, so a typo in the "
                    "path cannot send a payout file somewhere unexpected")))
    if out.exists() or out.is_symlink():
        raise UsageError(Problem.of(
            N_("%(out)s exists already: a payout file is never overwritten"), file=str(out),
            out=str(out), hint=N_("choose a new file name"),
            cli_hint="choose a new file name; an earlier batch is written again with "
                     "paymaster pay show BATCH --out FILE"))
    return fmt


def pay(ws: Workspace, program: str, out: Path, *, actor: str) -> PayoutBatch | None:
    """Check the target, commit a batch of everything unpaid, then write its file.
    None (nothing recorded, nothing written) when nothing is owed."""
    check_target(out)
    batch = create_batch(ws, program, actor=actor)
    if batch is None:
        return None
    _crash_point("pay:after_commit")
    write_batch(ws, batch.id, out)
    return batch


def create_batch(ws: Workspace, program: str, *, actor: str) -> PayoutBatch | None:
    """Record every posted, unpaid ledger entry of the program in a new batch, in one
    transaction. Payees whose unpaid entries net to zero are owed nothing and left out."""
    plan = ws.plan(program).plan
    with ws.store.session() as session:
        # One payer per program at a time (SQLite: the transaction holds the write lock).
        session.scalars(select(Program).where(Program.name == program).with_for_update()).one()
        unpaid = list(session.scalars(
            select(LedgerEntry).outerjoin(Payment, Payment.entry_id == LedgerEntry.id)
            .where(LedgerEntry.program == program, Payment.id.is_(None))
            .order_by(LedgerEntry.id)))
        per_payee: dict[str, list[LedgerEntry]] = defaultdict(list)
        for entry in unpaid:
            per_payee[entry.payee_id].append(entry)
        owed = {payee: entries for payee, entries in per_payee.items()
                if sum((e.amount for e in entries), ZERO) != 0}
        if not owed:
            return None
        now = ws.now()
        batch_id = _new_id(session, program, now)
        rows = _rows(session, plan, program, batch_id, now, owed)
        total = round_money(sum((Decimal(r[COLUMNS.index("amount")]) for r in rows), ZERO),
                            plan.currency)
        batch = PayoutBatch(
            id=batch_id, program=program, created_at=now, created_by=actor, payees=len(rows),
            entries=sum(len(e) for e in owed.values()), totals={plan.currency: plain(total)},
            rows={"columns": COLUMNS, "rows": rows})
        session.add(batch)
        session.flush()  # the batch exists before its payments point at it
        session.add_all(Payment(entry_id=e.id, batch=batch_id, paid_at=now, paid_by=actor)
                        for entries in owed.values() for e in entries)
        audit.record(session, actor=actor, action="pay", entity="payout_batch", key=batch_id,
                     program=program, after={"payees": len(rows), "entries": batch.entries,
                                             "totals": batch.totals})
        session.flush()
        _crash_point("pay:before_commit")
        return batch


def write_batch(ws: Workspace, batch_id: str, out: Path) -> Path:
    """Write a recorded batch's file: to a temporary name in the target folder, then linked
    to `out` in one step, so `out` is either absent or complete, and never replaced."""
    check_target(out)
    batch = get_batch(ws, batch_id)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as folder:
        part = _write_rows(batch, Path(folder) / out.name)
        _crash_point("pay:during_write")
        _link(part, out)
    return out


def file_bytes(ws: Workspace, batch_id: str, fmt: str) -> bytes:
    """A recorded batch's file as bytes (for a download)."""
    batch = get_batch(ws, batch_id)
    with tempfile.TemporaryDirectory() as folder:
        return _write_rows(batch, Path(folder) / f"{batch_id}.{fmt}").read_bytes()


def get_batch(ws: Workspace, batch_id: str) -> PayoutBatch:
    with ws.store.session() as session:
        batch = session.get(PayoutBatch, batch_id)
    if batch is None:
        raise WorkflowError(Problem.of(N_("unknown payout batch '%(batch)s'"), batch=batch_id,
                                       cli_hint="list them with: paymaster pay list PROGRAM"))
    return batch


def batches(ws: Workspace, program: str) -> list[PayoutBatch]:
    ws.program(program)  # an unknown program is an error, not an empty list
    with ws.store.session() as session:
        return list(session.scalars(select(PayoutBatch).where(PayoutBatch.program == program)
                                    .order_by(PayoutBatch.created_at, PayoutBatch.id)))


def paid_entries(session: Session, entry_ids: list[int]) -> dict[int, PaidState]:
    """The batch and date of each of these ledger entries that is paid."""
    out: dict[int, PaidState] = {}
    for start in range(0, len(entry_ids), 500):  # stay under the database's bound-parameter limit
        chunk = entry_ids[start:start + 500]
        for payment in session.scalars(select(Payment).where(Payment.entry_id.in_(chunk))):
            out[payment.entry_id] = PaidState(payment.batch, payment.paid_at)
    return out


# ---------------------------------------------------------------- internals
def _new_id(session: Session, program: str, now) -> str:
    taken = session.scalar(select(func.count()).select_from(PayoutBatch)
                           .where(PayoutBatch.program == program)) or 0
    number = taken + 1
    while session.get(PayoutBatch, f"{program}-{now:%Y%m%d}-{number:03d}") is not None:
        number += 1
    return f"{program}-{now:%Y%m%d}-{number:03d}"


def _rows(session: Session, plan: Plan, program: str, batch_id: str, now,
          owed: dict[str, list[LedgerEntry]]) -> list[list]:
    names, tax_ids, banks = _payee_master(session, plan, program)
    rows = []
    for payee, entries in sorted(owed.items()):
        amount = round_money(sum((e.amount for e in entries), ZERO), plan.currency)
        rows.append([batch_id, now.date().isoformat(), program, payee, names.get(payee, ""),
                     tax_ids.get(payee, ""), banks.get(payee, ""),
                     ";".join(sorted({e.period for e in entries})),
                     plan.currency, plain(amount), len(entries)])
    return rows


def _payee_master(session: Session, plan: Plan, program: str
                  ) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Each payee's name, tax id and bank reference, from the input tables that list
    payees (keyed by the column a measure pays): `name`, the first column declared as a
    tax id, and `bank_reference` where the table has it (empty where unknown)."""
    payees = {getattr(m, "payee", None) for m in plan.measures}
    names: dict[str, str] = {}
    tax_ids: dict[str, str] = {}
    banks: dict[str, str] = {}
    for table, spec in plan.inputs.items():
        if len(spec.key) != 1 or spec.key[0] not in payees:
            continue
        key = spec.key[0]
        tax = next((c for c, s in spec.columns.items() if getattr(s, "tax_id", None)), None)
        for row in current_rows(session, program, table):
            if row.get(key):
                names.setdefault(row[key], row.get("name") or "")
                if tax and row.get(tax):
                    tax_ids.setdefault(row[key], row[tax])
                if row.get(BANK_REFERENCE):
                    banks.setdefault(row[key], str(row[BANK_REFERENCE]))
    return names, tax_ids, banks


def _write_rows(batch: PayoutBatch, path: Path) -> Path:
    from paymaster.outputs import write_rows

    columns = batch.rows["columns"]
    money = columns.index("amount")
    rows = [dict(zip(columns, [Decimal(v) if i == money else v for i, v in enumerate(row)],
                     strict=True)) for row in batch.rows["rows"]]
    write_rows(rows, path)
    with path.open("rb") as handle:  # on disk before it gets its final name
        os.fsync(handle.fileno())
    return path


def _link(part: Path, out: Path) -> None:
    try:
        os.link(part, out)  # atomic, and fails if `out` appeared meanwhile: no overwrite
    except FileExistsError as err:
        raise UsageError(Problem.of(
            N_("%(out)s exists already: a payout file is never overwritten"), file=str(out),
            out=str(out), hint=N_("choose a new file name"))) from err
    except OSError:
        if out.exists():  # a filesystem without hard links: the same check, then a rename
            raise
        os.replace(part, out)
    _sync_folder(out.parent)


def _sync_folder(folder: Path) -> None:
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some platforms cannot open a folder; the file itself is synced
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
