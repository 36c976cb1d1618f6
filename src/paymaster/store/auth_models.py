"""The store's tables for portal sign-in: server-side sessions and login throttles.

Kept apart from models.py (same declarative base) because they are operational state of the
portal, not business records: rows here are updated and deleted freely.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from paymaster.store.models import Base


class AuthSession(Base):
    """One login. The cookie carries a random token; only its SHA-256 is stored, so a copy
    of the database does not give working sessions. A session is valid while it is not
    revoked, not expired and its user is active."""

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_user", "user_id"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    last_seen: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    address: Mapped[str | None] = mapped_column(String(100))


class LoginThrottle(Base):
    """Failed logins counted under one key: a (username, address) pair or an address.
    `failures` is raised *before* the password is checked (a reservation), so parallel
    attempts cannot all slip past the limit; a correct password clears its pair."""

    __tablename__ = "login_throttles"
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    username: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(100))
    failures: Mapped[int]
    last_failure: Mapped[datetime]
    blocked_until: Mapped[datetime | None]
