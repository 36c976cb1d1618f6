"""The store's tables (SQLAlchemy 2). The schema itself is created by Alembic migrations.

Append-only tables (records, ledger entries, audit) are never updated or deleted: a
correction is a new row that points to what it corrects. The migrations add database
triggers that refuse UPDATE and DELETE on them, so not even a bug can rewrite history.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    TypeDecorator,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

class ExactDecimal(TypeDecorator):
    """DECIMAL on PostgreSQL; on SQLite, which has no decimal type (SQLAlchemy would go
    through a binary float), the exact text of the number. Sum in Python, not in SQL."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int | None = None, scale: int | None = None):
        super().__init__(precision, scale, asdecimal=True)
        self.scale = scale

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(60))
        return dialect.type_descriptor(Numeric(self.impl.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None or dialect.name != "sqlite":
            return value
        return str(Decimal(value))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(value) if dialect.name == "sqlite" else value


# Money: an unconstrained NUMERIC on PostgreSQL (migration 0005), exact text on SQLite.
# Each amount keeps exactly the places the engine rounded it to, its currency's minor
# unit (JPY 51, USD 12.50, BHD 0.125): a fixed scale would round a dinar amount at 2
# places, or write every dollar amount with 3.
MONEY = ExactDecimal()


class Base(DeclarativeBase):
    type_annotation_map = {Decimal: MONEY, dict: JSON, str: String(200)}


class Program(Base):
    __tablename__ = "programs"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    plan_path: Mapped[str] = mapped_column(Text)
    plan_sha: Mapped[str] = mapped_column(String(64))
    plan_text: Mapped[str] = mapped_column(Text)
    added_at: Mapped[datetime]


class ImportBatch(Base):
    """One imported file: stamped with the date its data is valid as of."""

    __tablename__ = "imports"
    __table_args__ = (UniqueConstraint("program", "table_name", "file_sha", "as_of", "snapshot",
                                       name="uq_import_file"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    program: Mapped[str]
    table_name: Mapped[str]
    file_name: Mapped[str] = mapped_column(Text)
    file_sha: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[date]
    snapshot: Mapped[bool]
    imported_at: Mapped[datetime]
    actor: Mapped[str]
    rows: Mapped[int]
    added: Mapped[int]
    changed: Mapped[int]
    removed: Mapped[int]


class Record(Base):
    """One version of one input row, identified by its natural key. `data` None = removed."""

    __tablename__ = "records"
    __table_args__ = (Index("ix_records_key", "program", "table_name", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    program: Mapped[str]
    table_name: Mapped[str]
    key: Mapped[str] = mapped_column(Text)
    content_sha: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict | None]
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id"))
    as_of: Mapped[date]


class Registration(Base):
    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("program", "registration_id", name="uq_registration"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    program: Mapped[str]
    registration_id: Mapped[str]
    partner_id: Mapped[str]
    opportunity: Mapped[str]
    submitted_at: Mapped[datetime]
    data: Mapped[dict]
    status: Mapped[str] = mapped_column(String(20))  # submitted, accepted, rejected
    reason: Mapped[str | None] = mapped_column(Text)
    due_on: Mapped[date]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None]


class Opportunity(Base):
    """One row per (program, opportunity key): the lock that serialises its decisions."""

    __tablename__ = "opportunities"
    __table_args__ = (UniqueConstraint("program", "key", name="uq_opportunity"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    program: Mapped[str]
    key: Mapped[str] = mapped_column(Text)


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("program", "enrollment_id", name="uq_enrollment"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    program: Mapped[str]
    enrollment_id: Mapped[str]
    partner_id: Mapped[str]
    phase: Mapped[str]
    status: Mapped[str] = mapped_column(String(20))  # draft, submitted, approved, rejected, withdrawn
    created_at: Mapped[datetime]
    submitted_on: Mapped[date | None]
    effective_from: Mapped[date]
    due_on: Mapped[date | None]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None]
    reason: Mapped[str | None] = mapped_column(Text)


class Run(Base):
    """A calculation: plan version + input fingerprint + period; preview -> approved -> posted."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    program: Mapped[str]
    period: Mapped[str | None]
    as_of: Mapped[date]
    plan_sha: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    ledger_mark: Mapped[int]  # the program's last ledger entry when the run was made
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    created_by: Mapped[str]
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None]
    posted_at: Mapped[datetime | None]
    posted_by: Mapped[str | None]
    total: Mapped[Decimal]
    timings: Mapped[dict]
    evaluations: Mapped[dict]  # {"rows": [...]}: gates and screening, for statements
    titles: Mapped[dict]


class RunLine(Base):
    __tablename__ = "run_lines"
    __table_args__ = (Index("ix_run_lines_payee", "run_id", "payee_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    line_key: Mapped[str] = mapped_column(Text)
    payee_id: Mapped[str]
    period: Mapped[str]
    measure: Mapped[str]
    source_id: Mapped[str | None]
    date: Mapped[date | None]
    amount: Mapped[Decimal]
    paid: Mapped[bool]
    budget: Mapped[str | None]  # the budget pool the line is charged to, if any
    band: Mapped[str | None]    # the rate band or place ("place 2") the line reached
    value: Mapped[Decimal | None] = mapped_column(ExactDecimal(38, 8))  # measured value
    reason: Mapped[str | None] = mapped_column(Text)
    explanation: Mapped[str | None] = mapped_column(Text)  # lines stored before traces only
    # The line's trace (docs/traces.md): template key and figures, Decimals as text; its
    # explanation is rendered from it where it is read.
    trace: Mapped[dict | None]


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_line", "program", "line_key"),
                      Index("ix_ledger_payee", "program", "payee_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    program: Mapped[str]
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    line_key: Mapped[str] = mapped_column(Text)
    payee_id: Mapped[str]
    period: Mapped[str]
    measure: Mapped[str]
    source_id: Mapped[str | None]
    kind: Mapped[str] = mapped_column(String(20))  # payout, adjustment, clawback, cancellation
    amount: Mapped[Decimal]
    corrects: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    posted_at: Mapped[datetime]
    posted_by: Mapped[str]
    # `period` is the period the entry is posted into (its totals, its payout). A
    # correction of a closed period goes into the next open one: `adjusts_period` is the
    # closed period whose line it corrects (None: the entry's own period).
    adjusts_period: Mapped[str | None]

    @property
    def line_period(self) -> str:
        """The period of the payout line the entry belongs to."""
        return self.adjusts_period or self.period


class PeriodClose(Base):
    """A closed period of a program: nothing more is posted into it. Final: a correction
    after the close is posted into the next open period, pointing at what it corrects."""

    __tablename__ = "period_closes"
    __table_args__ = (UniqueConstraint("program", "period", name="uq_period_close"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    program: Mapped[str]
    period: Mapped[str]
    closed_at: Mapped[datetime]
    closed_by: Mapped[str]


class PayoutBatch(Base):
    """One payout file's content, committed before the file is written: who paid what,
    when, and the rows handed to payroll / accounts payable (so the file can be written
    again, identical, at any time). Never updated: a batch is a fact."""

    __tablename__ = "payout_batches"
    __table_args__ = (Index("ix_payout_batches_program", "program"),)
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    program: Mapped[str]
    created_at: Mapped[datetime]
    created_by: Mapped[str]
    payees: Mapped[int]
    entries: Mapped[int]
    totals: Mapped[dict]  # {currency: amount as text}
    rows: Mapped[dict]    # {"columns": [...], "rows": [[...], ...]}: the file, money as text


class Payment(Base):
    """A ledger entry handed to payroll / accounts payable in a payout batch. `entry_id`
    is unique: the database itself refuses to put one entry in two batches."""

    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    batch: Mapped[str] = mapped_column(ForeignKey("payout_batches.id"))
    paid_at: Mapped[datetime]
    paid_by: Mapped[str]


class Dispute(Base):
    __tablename__ = "disputes"
    id: Mapped[int] = mapped_column(primary_key=True)
    program: Mapped[str]
    payee_id: Mapped[str]
    line_key: Mapped[str | None] = mapped_column(Text)  # a payout line, or None: a missing record
    details: Mapped[dict]
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # open, accepted, rejected
    opened_at: Mapped[datetime]
    opened_by: Mapped[str]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    correction_import: Mapped[int | None] = mapped_column(ForeignKey("imports.id"))


class AuditEvent(Base):
    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]  # the business time the event is about (a command's --at)
    # When it was written (UTC); None for events recorded before migration 0005.
    recorded_at: Mapped[datetime | None]
    actor: Mapped[str]
    action: Mapped[str]
    entity: Mapped[str]
    entity_key: Mapped[str] = mapped_column(Text)
    program: Mapped[str | None]
    before: Mapped[dict | None]
    after: Mapped[dict | None]


class User(Base):
    """A person who logs in to the portal; partner and rep users belong to one payee."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(20))  # admin, approver, finance, partner, rep, viewer
    payee_id: Mapped[str | None]
    display_name: Mapped[str]
    locale: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    active: Mapped[bool]
    email: Mapped[str | None] = mapped_column(String(320))  # where notifications go
    notify_off: Mapped[list | None] = mapped_column(JSON)  # kinds turned off, or ["all"]


APPEND_ONLY = ("records", "ledger_entries", "audit", "payments")  # triggers of migration 0001
# period_closes is append-only too: its triggers come with its table (migration 0008)
