"""payout batches

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

A payout batch is recorded (and committed) before its file is written. Payments point at
their batch: a foreign key on PostgreSQL; on SQLite, which cannot add a constraint to an
existing table, a trigger refuses a payment whose batch does not exist. Batches made
before this migration (payments with a batch name only) are recorded from their payments.
payments.entry_id stays unique: one ledger entry is never in two batches.
"""
from collections import defaultdict
from decimal import Decimal

from alembic import op
import sqlalchemy as sa


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payout_batches",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("program", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("payees", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_payout_batches_program", "payout_batches", ["program"])
    _record_old_batches()
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.create_foreign_key("fk_payments_batch", "payments", "payout_batches",
                              ["batch"], ["id"])
        op.execute("CREATE TRIGGER payout_batches_append_only BEFORE UPDATE OR DELETE ON "
                   "payout_batches FOR EACH ROW EXECUTE FUNCTION paymaster_append_only()")
        return
    op.execute("CREATE TRIGGER payments_batch_exists BEFORE INSERT ON payments "
               "WHEN NOT EXISTS (SELECT 1 FROM payout_batches WHERE id = NEW.batch) "
               "BEGIN SELECT RAISE(ABORT, 'payments.batch: no such payout batch'); END")
    for action in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER payout_batches_no_{action.lower()} BEFORE {action} ON "
                   "payout_batches BEGIN SELECT RAISE(ABORT, 'payout_batches is "
                   "append-only: write a correcting row instead'); END")


def _record_old_batches() -> None:
    """Each batch name found on payments becomes a batch, its rows summed per payee."""
    bind = op.get_bind()
    found = bind.execute(sa.text(
        "SELECT p.batch, p.paid_at, p.paid_by, e.program, e.payee_id, e.period, "
        "CAST(e.amount AS VARCHAR(60)) FROM payments p "
        "JOIN ledger_entries e ON e.id = p.entry_id ORDER BY p.id")).all()
    batches: dict[str, dict] = {}
    for name, at, by, program, payee, period, amount in found:
        batch = batches.setdefault(name, {"at": at, "by": by, "program": program,
                                          "payees": defaultdict(lambda: [Decimal(0), 0, set()])})
        row = batch["payees"][payee]
        row[0] += Decimal(amount)
        row[1] += 1
        row[2].add(period)
    table = sa.table("payout_batches", *(sa.column(c) for c in (
        "id", "program", "created_at", "created_by", "payees", "entries")),
        sa.column("totals", sa.JSON()), sa.column("rows", sa.JSON()))
    columns = ["batch", "program", "payee_id", "periods", "currency", "amount", "entries"]
    currencies = _currencies(bind)
    for name, batch in batches.items():
        currency = currencies.get(batch["program"], "")
        rows = [[name, batch["program"], payee, ";".join(sorted(periods)), currency,
                 str(amount), count]
                for payee, (amount, count, periods) in sorted(batch["payees"].items())]
        op.bulk_insert(table, [{
            "id": name, "program": batch["program"], "created_at": batch["at"],
            "created_by": batch["by"], "payees": len(rows),
            "entries": sum(r[6] for r in rows),
            "totals": {currency: str(sum((Decimal(r[5]) for r in rows), Decimal(0)))},
            "rows": {"columns": columns, "rows": rows}}])


def _currencies(bind) -> dict[str, str]:
    """Each program's currency, read from the plan text the store keeps."""
    import yaml

    out = {}
    for name, text in bind.execute(sa.text("SELECT name, plan_text FROM programs")):
        try:
            out[name] = str((yaml.safe_load(text) or {}).get("currency") or "")
        except (yaml.YAMLError, AttributeError):
            out[name] = ""  # the batch is still recorded; its currency is unknown
    return out


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("fk_payments_batch", "payments", type_="foreignkey")
    else:
        op.execute("DROP TRIGGER payments_batch_exists")
    op.drop_table("payout_batches")
