"""Portal sessions kept in the store, so they can be ended: logout, a password reset, a
deactivation or a role change revoke every session of the user at once.

The browser's cookie (signed by the web layer) carries a random token; the store keeps only
its SHA-256, the user, when it started, was last seen and expires, and when it was revoked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from paymaster.store.auth_models import AuthSession
from paymaster.store.models import User

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

SESSION_HOURS = 8
# last_seen is written at most this often: a page view should not always be a write.
TOUCH_SECONDS = 60
KEEP_ENDED = dt.timedelta(days=30)


def utcnow() -> dt.datetime:
    """Real time (naive UTC): sessions and throttles ignore PAYMASTER_TODAY."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(ws: Workspace, user_id: int, address: str | None = None) -> str:
    """A new session for the user; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with ws.store.session() as session:
        # ended sessions are kept a while (who was logged in when), then dropped
        session.execute(delete(AuthSession).where(AuthSession.expires_at < now - KEEP_ENDED))
        session.add(AuthSession(id=_digest(token), user_id=user_id, created_at=now,
                                last_seen=now, expires_at=now + dt.timedelta(hours=SESSION_HOURS),
                                revoked_at=None, address=(address or "")[:100] or None))
    return token


def user_of(ws: Workspace, token: str | None) -> User | None:
    """The active user of a live session, or None (unknown, revoked, expired, inactive)."""
    if not token or not isinstance(token, str) or len(token) > 200:
        return None
    now = utcnow()
    digest = _digest(token)
    # every request asks: a read transaction, which never waits for a writer's lock
    with ws.store.reading() as session:
        row = session.execute(
            select(AuthSession.last_seen, User).join(User, User.id == AuthSession.user_id)
            .where(AuthSession.id == digest, AuthSession.revoked_at.is_(None),
                   AuthSession.expires_at > now, User.active.is_(True))).first()
        if row is None:
            return None
        last_seen, user = row
    if (now - last_seen).total_seconds() > TOUCH_SECONDS:
        with ws.store.session() as session:
            session.execute(update(AuthSession).where(AuthSession.id == digest)
                            .values(last_seen=now))
    return user


def end(ws: Workspace, token: str | None) -> None:
    """Logout: every session of the token's user ends (a copied cookie dies with it)."""
    if not token or not isinstance(token, str):
        return
    with ws.store.session() as session:
        user_id = session.scalar(select(AuthSession.user_id).where(
            AuthSession.id == _digest(token)))
        if user_id is not None:
            revoke_all(session, user_id)


def revoke_all(session: Session, user_id: int) -> int:
    """Inside the caller's transaction: end every live session of the user."""
    result = session.execute(update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)).values(
        revoked_at=utcnow()))
    return result.rowcount or 0


def live_sessions(ws: Workspace) -> dict[int, int]:
    """How many live sessions each user has (for the office's user list)."""
    now = utcnow()
    counts: dict[int, int] = {}
    with ws.store.reading() as session:
        for user_id in session.scalars(select(AuthSession.user_id).where(
                AuthSession.revoked_at.is_(None), AuthSession.expires_at > now)):
            counts[user_id] = counts.get(user_id, 0) + 1
    return counts
