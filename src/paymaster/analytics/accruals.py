"""Accruals for finance: what is earned but not yet paid at a date, by program and payee.

  posted     ledger entries posted on or before the date
  paid       of those, what was handed to payroll / accounts payable by the date
  accrued    posted - paid: a liability already approved
  unposted   what the latest run of the program earned beyond the ledger (a preview not
             yet posted, or a correction waiting): earned, not yet approved
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select

from paymaster.services.ledger import pending_changes
from paymaster.store.models import LedgerEntry, Payment, Run

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

ZERO = Decimal("0.00")
COLUMNS = ("program", "payee_id", "currency", "posted", "paid", "accrued", "unposted", "total")


def accruals(ws: Workspace, as_of: dt.date | None = None,
             program: str | None = None) -> list[dict]:
    as_of = as_of or ws.today()
    # the end of the day, inclusive (the day after would overflow at 9999-12-31)
    end = dt.datetime.combine(as_of, dt.time.max)
    names = [program] if program else list(ws.config.programs)
    if program:
        ws.program(program)  # an unknown name is an error, not an empty report
    rows: list[dict] = []
    with ws.store.reading() as session:
        paid_ids = set(session.scalars(select(Payment.entry_id).where(Payment.paid_at <= end)))
        for name in names:
            currency = ws.plan(name).plan.currency
            figures: dict[str, dict[str, Decimal]] = defaultdict(
                lambda: {"posted": ZERO, "paid": ZERO, "unposted": ZERO})
            for entry in session.scalars(select(LedgerEntry).where(
                    LedgerEntry.program == name, LedgerEntry.posted_at <= end)):
                figures[entry.payee_id]["posted"] += entry.amount
                if entry.id in paid_ids:
                    figures[entry.payee_id]["paid"] += entry.amount
            run = session.scalars(select(Run).where(
                Run.program == name, Run.created_at <= end).order_by(Run.id.desc())).first()
            if run is not None and run.status != "posted":
                for change in pending_changes(session, run):
                    figures[change.payee_id]["unposted"] += change.difference
            for payee, f in sorted(figures.items()):
                accrued = f["posted"] - f["paid"]
                if accrued or f["unposted"]:
                    rows.append({"program": name, "payee_id": payee, "currency": currency,
                                 "posted": f["posted"], "paid": f["paid"], "accrued": accrued,
                                 "unposted": f["unposted"], "total": accrued + f["unposted"]})
    return rows
