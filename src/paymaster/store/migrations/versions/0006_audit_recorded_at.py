"""the audit log keeps when an event was recorded, apart from the business time it is about

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Events recorded before this column existed have no recording time (NULL): their
    # `at` is all that is known.
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("recorded_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("recorded_at")
