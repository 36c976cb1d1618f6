"""Login throttling in the store, race-safe on SQLite and PostgreSQL.

Failures are counted per (username, address) pair and per address, never per username
alone: an attacker elsewhere cannot lock a user out of their own address. Each attempt
*reserves* a failure on both keys before the password is checked, through a compare-and-set
UPDATE (one row, one statement: atomic on both databases), so N parallel attempts get at
most the limit of password checks. A correct password clears its pair and gives the
address its reservation back.

After LIMIT failures under a key, every further attempt must wait: BASE_DELAY, doubling
with each failure, at most MAX_DELAY. A key quiet for FORGET_AFTER starts again from zero.
The office lifts a throttle with `paymaster user unthrottle` or on /office/users.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from paymaster.services import audit
from paymaster.services.sessions import utcnow
from paymaster.store.auth_models import LoginThrottle

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

PAIR_LIMIT = 5        # failures of one username from one address before delays start
ADDRESS_LIMIT = 20    # failures from one address, whatever the usernames
BASE_DELAY = 30       # seconds, doubled with each failure past the limit
MAX_DELAY = 3600
FORGET_AFTER = dt.timedelta(hours=1)
STALE = dt.timedelta(seconds=MAX_DELAY, days=1)
_ROUNDS = 200         # compare-and-set retries under contention before giving up (refuse)


class Throttled(Exception):
    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after


def delay(failures: int, limit: int) -> int:
    """Seconds to wait after `failures` failures (0 below the limit)."""
    if failures < limit:
        return 0
    return min(MAX_DELAY, BASE_DELAY * 2 ** min(failures - limit, 20))


def _pair_key(username: str, address: str) -> str:
    return f"pair\x1f{address}\x1f{username}"


def _address_key(address: str) -> str:
    return f"addr\x1f{address}"


def reserve(ws: Workspace, username: str, address: str, now: dt.datetime | None = None) -> None:
    """Count this attempt as a failure in advance, or raise Throttled (nothing checked)."""
    now = now or utcnow()
    _reserve(ws, _address_key(address), None, address, ADDRESS_LIMIT, now)
    _reserve(ws, _pair_key(username, address), username, address, PAIR_LIMIT, now)


def succeeded(ws: Workspace, username: str, address: str) -> None:
    with ws.store.session() as session:
        session.execute(delete(LoginThrottle).where(
            LoginThrottle.key == _pair_key(username, address)))
        session.execute(update(LoginThrottle).where(
            LoginThrottle.key == _address_key(address), LoginThrottle.failures > 0)
            .values(failures=LoginThrottle.failures - 1))


def _reserve(ws: Workspace, key: str, username: str | None, address: str, limit: int,
             now: dt.datetime) -> None:
    for _ in range(_ROUNDS):
        with ws.store.session() as session:
            row = session.get(LoginThrottle, key)
            seen = None if row is None else (row.failures, row.last_failure, row.blocked_until)
        if seen is None:
            try:
                with ws.store.session() as session:
                    # keys long quiet and no longer blocked count nothing: drop them
                    session.execute(delete(LoginThrottle).where(
                        LoginThrottle.last_failure < now - FORGET_AFTER - STALE))
                    session.add(LoginThrottle(key=key, username=username, address=address,
                                              failures=1, last_failure=now,
                                              blocked_until=_until(now, 1, limit)))
                return
            except IntegrityError:
                continue  # another attempt made the row first: count on it
        failures, last, blocked = seen
        if blocked is not None and blocked > now:
            raise Throttled(max(1, math.ceil((blocked - now).total_seconds())))
        counted = failures + 1 if now - last < FORGET_AFTER else 1
        with ws.store.session() as session:
            done = session.execute(update(LoginThrottle).where(
                LoginThrottle.key == key, LoginThrottle.failures == failures,
                LoginThrottle.last_failure == last).values(
                failures=counted, last_failure=now,
                blocked_until=_until(now, counted, limit))).rowcount
        if done == 1:
            return
    raise Throttled(1)  # too busy to count this attempt: refuse it rather than check it


def _until(now: dt.datetime, failures: int, limit: int) -> dt.datetime | None:
    wait = delay(failures, limit)
    return now + dt.timedelta(seconds=wait) if wait else None


def listing(ws: Workspace) -> list[dict]:
    """Every key with failures, newest first, and whether it is blocked now."""
    now = utcnow()
    with ws.store.session() as session:
        rows = session.scalars(select(LoginThrottle).where(LoginThrottle.failures > 0)
                               .order_by(LoginThrottle.last_failure.desc())).all()
    return [{"username": r.username, "address": r.address, "failures": r.failures,
             "last_failure": r.last_failure,
             "blocked_until": r.blocked_until if r.blocked_until and r.blocked_until > now
             else None} for r in rows]


def lift(ws: Workspace, username: str | None = None, address: str | None = None, *,
         actor: str) -> int:
    """Forget the failures of a username (every address) and/or of an address; returns how
    many throttles were lifted."""
    if not username and not address:
        return 0
    conditions = []
    if username:
        conditions.append(LoginThrottle.username == username)
    if address:
        conditions.append(LoginThrottle.address == address)
    with ws.store.session() as session:
        where = conditions[0] if len(conditions) == 1 else or_(*conditions)
        lifted = session.execute(delete(LoginThrottle).where(where)).rowcount or 0
        audit.record(session, actor=actor, action="lift throttle", entity="login",
                     key=f"{username or ''}@{address or ''}", after={"lifted": lifted})
        return lifted
