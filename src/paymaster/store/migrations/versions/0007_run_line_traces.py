"""run lines keep their trace (template key and typed figures), not explanation text

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Old lines keep the text they were stored with (`explanation`); new ones leave it
    # empty and are explained from `trace` where they are read, in the reader's language.
    with op.batch_alter_table("run_lines") as batch:
        batch.add_column(sa.Column("trace", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_lines") as batch:
        batch.drop_column("trace")
