"""periods of a program are closed; a correction of a closed period is posted into an open one

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

`period_closes` holds one row per closed (program, period): append-only, as a close is
final (a correction after it goes into the next open period, see services/closes.py).
`ledger_entries.adjusts_period` is the closed period a correction belongs to when it was
posted into a later period (`period`); NULL for every other entry, so the entries already
written need no update (the table refuses UPDATE).
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (not a batch copy of the table): SQLite keeps the table and its
    # append-only triggers; the new column is NULL in every row already there.
    op.add_column("ledger_entries", sa.Column("adjusts_period", sa.String(200), nullable=True))
    op.create_table(
        "period_closes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("program", sa.String(200), nullable=False),
        sa.Column("period", sa.String(200), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=False),
        sa.Column("closed_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("program", "period", name="uq_period_close"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # paymaster_append_only() is the function migration 0001 made for the other tables
        op.execute("CREATE TRIGGER period_closes_append_only BEFORE UPDATE OR DELETE ON "
                   "period_closes FOR EACH ROW EXECUTE FUNCTION paymaster_append_only()")
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER period_closes_no_{action.lower()} BEFORE {action} ON period_closes "
            "BEGIN SELECT RAISE(ABORT, 'period_closes is append-only: write a correcting row "
            "instead'); END")


def downgrade() -> None:
    op.drop_table("period_closes")  # its triggers go with it
    op.drop_column("ledger_entries", "adjusts_period")
