"""The mail outbox: each notification written in the same transaction as the decision it
tells of, delivered after that commits (docs/workspace.md, "Notifications").

Kept apart from models.py (same declarative base): operational state, updated as delivery
is tried. `dedup_key` is unique, so one event never queues the same message twice (a
reminder run daily, a decision retried)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paymaster.store.models import Base


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unsent", "sent_at", "id"),
                      UniqueConstraint("dedup_key", name="uq_outbox_dedup"))
    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(400))
    kind: Mapped[str] = mapped_column(String(20))
    program: Mapped[str | None]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recipient: Mapped[str] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(10))
    payload: Mapped[dict]  # codes and figures (Decimals as text), rendered when sent
    created_at: Mapped[datetime]
    # A sender claims a message until this time, so two senders never both send it.
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
