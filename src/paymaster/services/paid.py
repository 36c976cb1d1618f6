"""Earned, posted, paid: the three states of a payout line's money, kept apart.

*Earned* is what the engine calculates; *posted* is what the ledger holds for the line;
*paid* is what of that is in a payout batch (its id and date). A statement, a status page
or an API field that says "paid" means the last one only.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from paymaster.store.models import LedgerEntry, Payment

ZERO = Decimal("0.00")
STATES = ("not_earned", "earned", "posted", "paid")


@dataclass
class LineMoney:
    """What the ledger and the payout batches hold for one payout line."""

    posted: Decimal = ZERO
    paid: Decimal = ZERO
    entries: int = 0
    unpaid_entries: int = 0
    batches: list[str] = field(default_factory=list)
    paid_on: dt.date | None = None  # the date of the line's latest payout batch


def line_money(session: Session, program: str, payee_id: str) -> dict[str, LineMoney]:
    """By line key: the payee's posted and paid amounts and the batches that paid them."""
    out: dict[str, LineMoney] = defaultdict(LineMoney)
    rows = session.execute(
        select(LedgerEntry.line_key, LedgerEntry.amount, Payment.batch, Payment.paid_at)
        .outerjoin(Payment, Payment.entry_id == LedgerEntry.id)
        .where(LedgerEntry.program == program, LedgerEntry.payee_id == payee_id)
        .order_by(LedgerEntry.id))
    for key, amount, batch, paid_at in rows:
        money = out[key]
        money.posted += amount
        money.entries += 1
        if batch is None:
            money.unpaid_entries += 1
            continue
        money.paid += amount
        if batch not in money.batches:
            money.batches.append(batch)
        day = paid_at.date()
        money.paid_on = day if money.paid_on is None else max(money.paid_on, day)
    return dict(out)


def state(earns: bool, money: LineMoney | None) -> str:
    """not_earned, earned (calculated, not in the ledger), posted (in the ledger, some of
    it in no payout batch yet) or paid (every ledger entry of the line in a batch)."""
    if money is None or money.entries == 0:
        return "earned" if earns else "not_earned"
    return "paid" if money.unpaid_entries == 0 else "posted"


def fields(earns: bool, money: LineMoney | None) -> dict:
    """The money fields every line of a statement, status page and API carries."""
    money = money or LineMoney()
    return {"state": state(earns, money), "posted": money.posted, "paid": money.paid,
            "batches": list(money.batches), "paid_on": money.paid_on}
