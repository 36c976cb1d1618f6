"""money keeps its currency's places

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

Amounts were NUMERIC(18, 2) on PostgreSQL: a dinar line of 0.125 (BHD has 3 places)
would be stored as 0.13, and a yen amount of 51 read back as 51.00. An unconstrained
NUMERIC keeps each amount exactly as the engine rounded it to its currency's minor unit
(JPY 51, USD 12.50, BHD 0.125). SQLite already keeps the exact text: nothing to do there.
The append-only triggers refuse UPDATE and DELETE of rows; a column type change is
neither, and no value changes.
"""
from alembic import op
import sqlalchemy as sa


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

MONEY_COLUMNS = [("runs", "total"), ("run_lines", "amount"), ("ledger_entries", "amount")]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in MONEY_COLUMNS:
        op.alter_column(table, column, type_=sa.Numeric(), existing_type=sa.Numeric(18, 2),
                        existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in MONEY_COLUMNS:
        # Back to 2 places: a 3-place amount would be rounded, so refuse rather than change
        # money on the way down.
        count = op.get_bind().execute(sa.text(
            f'SELECT count(*) FROM "{table}" WHERE "{column}" <> round("{column}", 2)')).scalar()
        if count:
            raise RuntimeError(f"{table}.{column} holds {count} amounts with 3 places: "
                               "they cannot go back to NUMERIC(18, 2)")
        op.alter_column(table, column, type_=sa.Numeric(18, 2), existing_type=sa.Numeric(),
                        existing_nullable=False)
