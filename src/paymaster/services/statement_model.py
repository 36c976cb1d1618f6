"""What a statement shows, independent of how it is rendered (HTML, PDF, Excel).

The statement service fills these from the ledger and the posted run's result tables;
the renderers only format them for a locale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from paymaster.money import round_money


@dataclass(frozen=True)
class StatementLine:
    """One payout line of the posted run: what was earned and why (or why not), and where
    its money is: `state` is not_earned, earned (calculated only), posted (in the ledger,
    not yet in a payout batch) or paid (in a payout batch: `batches`, `paid_on`)."""

    period: str
    measure: str            # measure id from the plan, e.g. "deal"
    label: str              # the measure's human label, e.g. "Closed deal"
    source_id: str | None   # the record it comes from (sale id, line id), if any
    date: date | None
    amount: Decimal         # earned amount, rounded to the currency's minor unit
    earns: bool             # the engine's verdict: the line earns (not: it was paid)
    reason: str | None      # why it earns nothing (or was cut), e.g. "budget_exhausted"
    explanation: str        # the engine's arithmetic in words and figures
    state: str = "earned"   # not_earned, earned, posted, paid (services.paid.STATES)
    posted: Decimal = Decimal("0.00")   # what the ledger holds for the line
    paid: Decimal = Decimal("0.00")     # what of that is in a payout batch
    batches: tuple[str, ...] = ()       # the payout batches that paid it
    paid_on: date | None = None         # the latest of their dates


@dataclass(frozen=True)
class GateProgress:
    """One gate or threshold evaluation, e.g. returns 81.2% of 85% required."""

    period: str
    evaluation: str         # e.g. "evaluation_1"
    subject: str | None     # the gate's name, e.g. "returns" or "minimum"
    as_of: date | None
    passed: bool
    value: Decimal | None           # amount reached (minimum gates)
    threshold: Decimal | None       # amount required (minimum gates)
    ratio: Decimal | None           # ratio reached, 0.812 for 81.2% (ratio gates)
    required_ratio: Decimal | None  # ratio required, 0.85
    reason: str | None
    explanation: str


@dataclass(frozen=True)
class LedgerEntry:
    """One posted ledger entry for the payee; corrections point to what they correct."""

    entry_id: int
    run_id: int
    posted_at: datetime
    kind: str               # payout, adjustment, clawback, cancellation
    period: str
    measure: str
    source_id: str | None
    amount: Decimal
    corrects: int | None    # entry id this one corrects
    batch: str | None = None        # the payout batch that paid it; None: posted, not paid
    paid_at: datetime | None = None
    # A correction of a closed period posted into `period`: the closed period whose line
    # it corrects, and the run that posted the entry it corrects.
    adjusts_period: str | None = None
    corrects_run: int | None = None

    @property
    def line_period(self) -> str:
        return self.adjusts_period or self.period


@dataclass(frozen=True)
class Statement:
    program: str
    program_title: str
    payee_id: str
    payee_name: str
    period: str | None      # None: every period of the program
    currency: str           # ISO 4217, e.g. PLN, USD, CNY
    generated_on: date
    run_id: int | None      # the latest posted run the lines come from
    lines: list[StatementLine] = field(default_factory=list)
    gates: list[GateProgress] = field(default_factory=list)
    titles: list[tuple[str, str, int]] = field(default_factory=list)  # (period, title, place)
    # Of a period's statement: the entries posted into the period and, with their
    # reference, later corrections of its lines posted into the next open period.
    entries: list[LedgerEntry] = field(default_factory=list)

    def _posted_here(self) -> list[LedgerEntry]:
        return [e for e in self.entries if self.period is None or e.period == self.period]

    @property
    def total_earned(self) -> Decimal:
        return round_money(sum((line.amount for line in self.lines if line.earns), Decimal(0)),
                           self.currency)

    @property
    def total_posted(self) -> Decimal:
        """Posted into the statement's period: a closed period's total never changes."""
        return round_money(sum((entry.amount for entry in self._posted_here()), Decimal(0)),
                           self.currency)

    @property
    def total_paid(self) -> Decimal:
        """Of what is posted, what is in a payout batch: money that has left."""
        return round_money(sum((entry.amount for entry in self._posted_here() if entry.batch),
                               Decimal(0)), self.currency)

    @property
    def total_unpaid(self) -> Decimal:
        return self.total_posted - self.total_paid

    @property
    def reconciles(self) -> bool:
        """The lines' earnings equal what the ledger holds for them, wherever posted."""
        held = sum((e.amount for e in self.entries
                    if self.period is None or e.line_period == self.period), Decimal(0))
        return self.total_earned == round_money(held, self.currency)
