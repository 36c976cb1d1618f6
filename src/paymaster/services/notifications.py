"""Notifications: who hears of a decision, the outbox they are queued in, and delivery.

A decision queues its messages in the transaction that makes it (so the message exists
exactly when the decision does) and they are delivered once that transaction commits: at
once on the command line, and in the portal by its Courier, a thread that sends after the
response has gone (a slow mail server never holds a user's request). A delivery that fails leaves the message in the outbox with its error, for `paymaster notify
send` to try again and the office to see (`paymaster notify outbox`). Nothing is queued
when the workspace has no SMTP server configured. A message holds codes and figures only;
it is put in words in the reader's language when it is sent (paymaster.mail_text).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue as queues
import threading
import weakref
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, or_, select
from sqlalchemy.orm import Session

from paymaster import mail
from paymaster.errors import N_, Problem, WorkflowError
from paymaster.mail_config import KINDS, valid_address
from paymaster.money import plain
from paymaster.plan.words import word
from paymaster.services import accounts, audit
from paymaster.store.models import Dispute, Enrollment, Registration, Run, RunLine, User
from paymaster.store.outbox_models import OutboxMessage

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

log = logging.getLogger(__name__)
PAYEE_ROLES = ("partner", "rep")
OFFICE_ROLES = ("admin", "approver")
_PENDING = "paymaster_mail_pending"


# ---------------------------------------------------------------- the decisions' hooks
def registration_decided(ws: Workspace, session: Session, reg: Registration) -> None:
    _queue_payee(ws, session, "registration", reg.program, reg.partner_id,
                 f"{reg.registration_id}:{reg.status}", {
                     "registration_id": reg.registration_id, "status": reg.status,
                     "reason": reg.reason, "opportunity": reg.opportunity})


def enrollment_decided(ws: Workspace, session: Session, enrollment: Enrollment) -> None:
    if enrollment.status not in ("approved", "rejected"):
        return
    _queue_payee(ws, session, "enrollment", enrollment.program, enrollment.partner_id,
                 f"{enrollment.enrollment_id}:{enrollment.status}", {
                     "enrollment_id": enrollment.enrollment_id, "phase": enrollment.phase,
                     "status": enrollment.status, "reason": enrollment.reason})


def dispute_answered(ws: Workspace, session: Session, dispute: Dispute) -> None:
    _queue_payee(ws, session, "dispute", dispute.program, dispute.payee_id,
                 f"{dispute.id}:{dispute.status}", {
                     "dispute_id": dispute.id, "status": dispute.status,
                     "resolution": dispute.resolution, "line_key": dispute.line_key})


def statement_published(ws: Workspace, session: Session, run: Run) -> None:
    """A posted run: each payee with lines in it hears of its statement and its total."""
    if not _enabled(ws):
        return
    totals: dict[str, tuple[Decimal, int]] = {}
    for payee, amount in session.execute(select(RunLine.payee_id, RunLine.amount)
                                         .where(RunLine.run_id == run.id)):
        total, count = totals.get(payee, (Decimal(0), 0))
        totals[payee] = (total + amount, count + 1)
    currency = ws.plan(run.program).plan.currency
    for payee, (total, count) in sorted(totals.items()):
        _queue_payee(ws, session, "statement", run.program, payee, str(run.id), {
            "what": "posted" if run.period else "posted_whole",
            "run_id": run.id, "period": run.period, "payee_id": payee,
            "total": plain(total), "currency": currency, "lines": count})


# ---------------------------------------------------------------- queueing
def _enabled(ws: Workspace) -> bool:
    return ws.config.notifications.smtp is not None


def _queue_payee(ws: Workspace, session: Session, kind: str, program: str, payee_id: str,
                 event_key: str, payload: dict) -> None:
    if not _enabled(ws):
        return
    users = session.scalars(select(User).where(
        User.payee_id == payee_id, User.role.in_(PAYEE_ROLES))).all()
    queue(ws, session, kind, program, f"{program}:{event_key}", payload, users)


def queue(ws: Workspace, session: Session, kind: str, program: str | None, event_key: str,
          payload: dict, users: Any, *, after_commit: bool = True) -> int:
    """One message per user who has an address and wants this kind; an event queued
    before is not queued again. They are sent once the transaction commits (unless
    `after_commit` is off: the caller delivers). Returns how many were queued."""
    wanted = [u for u in users if wants(u, kind)]
    keys = {u.id: f"{kind}:{event_key}:{u.id}" for u in wanted}
    if not keys:
        return 0
    seen = set(session.scalars(select(OutboxMessage.dedup_key).where(
        OutboxMessage.dedup_key.in_(list(keys.values())))))
    plan = ws.plan(program).plan if program else None
    messages = []
    for user in wanted:
        if keys[user.id] in seen:
            continue
        language = _language(ws, user)
        # The program's title in the reader's language where the plan translates it.
        title = word(plan, plan.title, language) if plan is not None else None
        messages.append(OutboxMessage(
            dedup_key=keys[user.id], kind=kind, program=program, user_id=user.id,
            recipient=user.email, locale=language,
            payload=audit.jsonable(payload | {"program": program, "title": title or program}),
            created_at=_utcnow(), attempts=0))
    session.add_all(messages)
    session.flush()
    if after_commit:
        _deliver_after_commit(ws, session, [m.id for m in messages])
    return len(messages)


def wants(user: User, kind: str) -> bool:
    off = set(user.notify_off or ())
    return bool(user.active and user.email) and not off & {kind, "all"}


def _language(ws: Workspace, user: User) -> str:
    return user.locale if user.locale in ("en", "pl", "zh") else ws.config.notifications.language


def _deliver_after_commit(ws: Workspace, session: Session, ids: list[int]) -> None:
    pending = session.info.setdefault(_PENDING, [])
    if not pending:
        # Once the decision is committed, and only then; never while it holds the lock.
        event.listen(session, "after_commit",
                     lambda s: _deliver_committed(ws, s.info.pop(_PENDING, [])), once=True)
        event.listen(session, "after_rollback", lambda s: s.info.pop(_PENDING, None),
                     once=True)
    pending.extend(ids)


def _deliver_committed(ws: Workspace, ids: list[int]) -> None:
    courier = _COURIERS.get(ws)
    if courier is not None:
        courier.hand(ids)
    else:
        _deliver_now(ws, ids)


def _deliver_now(ws: Workspace, ids: list[int]) -> None:
    """The decision is committed: whatever happens to its mail now must not undo or hide
    that (the caller would report a failure for a decision made). A fault here (the store
    unreachable a moment later) is logged; the messages wait in the outbox for `notify send`."""
    try:
        deliver(ws, ids)
    except Exception:  # noqa: BLE001 - logged, and the outbox keeps the messages
        log.exception("messages %s queued but not sent; `paymaster notify send` retries", ids)


# ---------------------------------------------------------------- the portal's courier
class Courier:
    """One thread that delivers a workspace's committed messages in the background (the
    portal starts it with the app and stops it at shutdown). Nothing is lost by handing a
    message over: it stays in the outbox until the server takes it; one still waiting when
    the process ends is sent by `paymaster notify send`."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._queue: queues.SimpleQueue[list[int] | None] = queues.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="paymaster-mail", daemon=True)

    def start(self) -> Courier:
        self._thread.start()
        _COURIERS[self.ws] = self
        return self

    def hand(self, ids: list[int]) -> None:
        self._queue.put(list(ids))

    def stop(self, timeout: float | None = None) -> None:
        """Send what was handed over, waiting at most `timeout` seconds (by default as
        long as one attempt at the mail server may take)."""
        if _COURIERS.get(self.ws) is self:
            del _COURIERS[self.ws]
        self._queue.put(None)
        smtp = self.ws.config.notifications.smtp
        self._thread.join(timeout if timeout is not None
                          else (smtp.timeout * 3 + 5 if smtp else 5))

    def _run(self) -> None:
        while (ids := self._queue.get()) is not None:
            _deliver_now(self.ws, ids)


_COURIERS: weakref.WeakKeyDictionary[Workspace, Courier] = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------- delivery
@dataclass
class Delivery:
    sent: int = 0
    failed: int = 0


def deliver(ws: Workspace, ids: list[int] | None = None) -> Delivery:
    """Send unsent messages (those given, or all). A failure is logged and kept with the
    message; it never reaches the caller, whose decision is committed already."""
    result = Delivery()
    smtp = ws.config.notifications.smtp
    if smtp is None or ids == []:
        return result
    claimed = _claim(ws, ids, dt.timedelta(seconds=smtp.timeout * 3 + 60))
    if not claimed:
        return result
    outcomes = mail.send_all(smtp, ws.config.notifications.html, claimed)
    with ws.store.session() as session:
        for message_id, error in outcomes.items():
            row = session.get(OutboxMessage, message_id)
            row.claimed_until = None
            if error is None:
                row.sent_at, row.last_error = _utcnow(), None
                result.sent += 1
            else:
                row.last_error = error[:2000]
                result.failed += 1
                log.error("mail %s to %s not delivered: %s", message_id, row.recipient, error)
    return result


def _claim(ws: Workspace, ids: list[int] | None, hold: dt.timedelta) -> list[dict]:
    """Take unsent messages for this sender (no other sender takes them meanwhile)."""
    now = _utcnow()
    with ws.store.session() as session:
        query = select(OutboxMessage).where(
            OutboxMessage.sent_at.is_(None),
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
        if ids is not None:
            query = query.where(OutboxMessage.id.in_(ids))
        rows = session.scalars(query.order_by(OutboxMessage.id).with_for_update(
            skip_locked=True)).all()
        for row in rows:
            row.claimed_until, row.attempts = now + hold, row.attempts + 1
        return [{"id": r.id, "kind": r.kind, "recipient": r.recipient, "locale": r.locale,
                 "payload": r.payload} for r in rows]


def outbox(ws: Workspace, unsent: bool = True) -> list[OutboxMessage]:
    with ws.store.reading() as session:
        query = select(OutboxMessage)
        if unsent:
            query = query.where(OutboxMessage.sent_at.is_(None))
        return list(session.scalars(query.order_by(OutboxMessage.id)))


# ---------------------------------------------------------------- users' settings
def set_email(ws: Workspace, username: str, email: str | None, *, actor: str) -> None:
    if email and not valid_address(email):
        raise WorkflowError(Problem.of(N_("'%(email)s' is not an e-mail address"),
                                       field="email", email=email,
                                       hint=N_("e.g. anna@example.com")))
    _update(ws, username, actor, "set email", lambda u: setattr(u, "email", email or None))


def set_notifications(ws: Workspace, username: str, *, actor: str, off: list[str] = (),
                      on: list[str] = ()) -> list[str]:
    """Turn kinds (or "all") off or on; returns the kinds now off."""
    unknown = [k for k in (*off, *on) if k not in (*KINDS, "all")]
    if unknown:
        raise WorkflowError(Problem.of(N_("'%(kind)s' is not a kind of notification"),
                                       kind=unknown[0], kinds=(*KINDS, "all"),
                                       hint=N_("one of: %(kinds)s")))
    result: list[str] = []

    def change(user: User) -> None:
        now_off = set(user.notify_off or ())
        now_off = set() if "all" in on else now_off - set(on)
        if "all" in now_off and on:  # "all" off, one kind on: every other kind stays off
            now_off = set(KINDS) - set(on)
        now_off |= set(off)
        user.notify_off = sorted(now_off) or None
        result.extend(user.notify_off or [])

    _update(ws, username, actor, "set notifications", change)
    return result


def settings(ws: Workspace, user_id: int) -> dict:
    """A user's address and which kinds reach it (the account page)."""
    with ws.store.reading() as session:
        user = session.get(User, user_id)
        off = set(user.notify_off or ()) if user else set()
        return {"email": user.email if user else None,
                "kinds": [{"kind": k, "on": not off & {k, "all"}} for k in KINDS],
                "configured": _enabled(ws)}


def save_settings(ws: Workspace, username: str, *, email: str | None, off: list[str],
                  actor: str) -> None:
    """Set a user's address and exactly which kinds are off (the account page's form)."""
    email = (email or "").strip() or None
    problems = []
    if email and not valid_address(email):
        problems.append(Problem.of(N_("'%(email)s' is not an e-mail address"), field="email",
                                   email=email, hint=N_("e.g. anna@example.com")))
    problems += [Problem.of(N_("'%(kind)s' is not a kind of notification"), field="off",
                            kind=k, kinds=(*KINDS, "all"), hint=N_("one of: %(kinds)s"))
                 for k in off if k not in (*KINDS, "all")]
    if problems:
        raise WorkflowError(problems)
    kinds_off = ["all"] if "all" in off or set(off) >= set(KINDS) else sorted(set(off))

    def change(user: User) -> None:
        user.email, user.notify_off = email, kinds_off or None

    _update(ws, username, actor, "set notifications", change)


def _update(ws: Workspace, username: str, actor: str, action: str, change) -> None:
    with ws.store.session() as session:
        user = accounts.user_named(session, username)
        before = {"email": user.email, "notify_off": user.notify_off}
        change(user)
        audit.record(session, actor=actor, action=action, entity="user", key=username,
                     before=before, after={"email": user.email, "notify_off": user.notify_off})


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
