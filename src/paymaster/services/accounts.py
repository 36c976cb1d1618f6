"""Portal accounts: argon2 password hashes, roles, and which payee a partner/rep user is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from paymaster.errors import N_, Word, Problem, WorkflowError
from paymaster.mail_config import valid_address
from paymaster.services import audit, sessions
from paymaster.services.payees import known_payee
from paymaster.store.models import User

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

ROLES = ("admin", "approver", "finance", "partner", "rep", "viewer")
# see every payee of every program; finance reads the office pages, pays, and has its own
# pages (ledger, accruals, audit log)
OFFICE = ("admin", "approver", "finance", "viewer")
LOCALES = ("en", "pl", "zh")
MIN_PASSWORD = 10
MAX_PASSWORD = 1000  # argon2 hashes any length; a megabyte of password is an attack
MAX_NAME = 200
_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the answer time the same, so
# timing does not tell which usernames exist.
_DUMMY = _hasher.hash("not a real password")

# The demo workspace's accounts (printed by `paymaster serve`): not for real use.
DEMO_ACCOUNTS = (
    ("admin", "admin-demo-pass", "admin", None, "Anna Kowalczyk", "en"),
    ("approver", "approver-demo-pass", "approver", None, "Piotr Nowak", "en"),
    ("viewer", "viewer-demo-pass", "viewer", None, "Fiona Lee", "en"),
    ("finance", "finance-demo-pass", "finance", None, "Zofia Wiśniewska", "pl"),
    ("alfa", "alfa-demo-pass", "partner", "P1", "Alfa sp. z o.o.", "pl"),
    ("beta", "beta-demo-pass", "partner", "P2", "Beta sp. z o.o.", "pl"),
    ("partner-d", "partner-d-demo-pass", "partner", "D", "Partner D", "zh"),
    ("partner-a", "partner-a-demo-pass", "partner", "A", "Partner A", "en"),
    ("rep01", "rep01-demo-pass", "rep", "R01", "Rep R01", "en"),
)


def create_user(ws: Workspace, username: str, password: str, role: str, *, actor: str,
                payee_id: str | None = None, display_name: str = "",
                locale: str = "en", check_payee: bool = True,
                email: str | None = None) -> User:
    problems = []
    if email and not valid_address(email):
        problems.append(Problem.of(N_("'%(email)s' is not an e-mail address"), field="email",
                                   email=email, hint=N_("e.g. anna@example.com")))
    if not username.strip() or len(username) > MAX_NAME:
        problems.append(Problem.of(N_("a username has 1 to %(limit)s characters"),
                                   field="username", limit=MAX_NAME))
    problems += _role_problems(ws, role, payee_id, check_payee)
    problems += _password_problems(password)
    if locale not in LOCALES:
        problems.append(Problem.of(N_("unknown language '%(language)s'"), language=locale,
                                   languages=tuple(LOCALES), hint=N_("one of: %(languages)s")))
    if problems:
        raise WorkflowError(problems)
    with ws.store.session() as session:
        if session.scalars(select(User).where(User.username == username)).first():
            raise WorkflowError(Problem.of(N_("user '%(user)s' exists already"), user=username))
        user = User(username=username, password_hash=_hasher.hash(password), role=role,
                    payee_id=payee_id if role in ("partner", "rep") else None,
                    display_name=display_name or username, locale=locale,
                    created_at=ws.now(), active=True, email=email or None)
        session.add(user)
        audit.record(session, actor=actor, action="create", entity="user", key=username,
                     after={"role": role, "payee_id": payee_id, "locale": locale,
                            "email": email or None})
        return user


def _password_problems(password: str) -> list[Problem]:
    if len(password) < MIN_PASSWORD:
        return [Problem.of(N_("the password needs at least %(limit)s characters"),
                           field="password", limit=MIN_PASSWORD)]
    if len(password) > MAX_PASSWORD:
        return [Problem.of(N_("the password has more than %(limit)s characters"),
                           field="password", limit=MAX_PASSWORD)]
    return []


def _role_problems(ws: Workspace, role: str, payee_id: str | None,
                   check_payee: bool = True) -> list[Problem]:
    if role not in ROLES:
        return [Problem.of(N_("unknown role '%(role)s'"), role=role,
                           roles=tuple(Word(r) for r in ROLES), hint=N_("one of: %(roles)s"))]
    if role in ("partner", "rep"):
        if not payee_id:
            return [Problem.of(N_("a %(role)s user belongs to one payee"), field="payee",
                               role=Word(role), hint=N_("give the payee's id"),
                               cli_hint="give --payee ID")]
        if check_payee and not known_payee(ws, payee_id):
            return [Problem.of(N_("payee '%(payee)s' is in no program of this workspace"),
                               field="payee", payee=payee_id,
                               hint=N_("check the id, or import the payee's master data "
                                       "(partners, reps) first"))]
    return []


def authenticate(ws: Workspace, username: str, password: str) -> User | None:
    with ws.store.session() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        try:
            _hasher.verify(user.password_hash if user else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or not user.active:
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        return user


def set_locale(ws: Workspace, user_id: int, locale: str) -> None:
    if locale not in LOCALES:
        raise WorkflowError(Problem.of(N_("unknown language '%(language)s'"), language=locale,
                                       languages=tuple(LOCALES),
                                       hint=N_("one of: %(languages)s")))
    with ws.store.session() as session:
        user = session.get(User, user_id)
        if user is not None:
            user.locale = locale


def has_users(ws: Workspace) -> bool:
    with ws.store.reading() as session:
        return session.scalars(select(User.id).limit(1)).first() is not None


def has_demo_accounts(ws: Workspace) -> bool:
    """The demo's accounts are there (a workspace the demo made), so they can be shown."""
    names = [account[0] for account in DEMO_ACCOUNTS]
    with ws.store.reading() as session:
        found = session.scalars(select(User.username).where(User.username.in_(names))).all()
    return len(found) == len(names)


def add_demo_accounts(ws: Workspace) -> None:
    for username, password, role, payee, name, locale in DEMO_ACCOUNTS:
        # check_payee off: `serve --demo-accounts` may add them to any workspace
        create_user(ws, username, password, role, actor="demo", payee_id=payee,
                    display_name=name, locale=locale, check_payee=False)


# ---------------------------------------------------------------- administration
# Each change below ends every session of the user: whoever held one must log in again
# under the new password, role or state (a deactivated user cannot).
def list_users(ws: Workspace) -> list[dict]:
    live = sessions.live_sessions(ws)
    with ws.store.session() as session:
        users = session.scalars(select(User).order_by(User.username)).all()
    return [{"username": u.username, "role": u.role, "payee_id": u.payee_id,
             "display_name": u.display_name, "locale": u.locale, "active": u.active,
             "created_at": u.created_at, "sessions": live.get(u.id, 0), "email": u.email,
             "notify_off": u.notify_off or []} for u in users]


def user_named(session, username: str) -> User:
    """The user called `username`, or a WorkflowError saying there is none."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise WorkflowError(Problem.of(N_("unknown user '%(user)s'"), user=username,
                                       cli_hint="paymaster user list shows the users"))
    return user


def _change(ws: Workspace, username: str, actor: str, action: str, change) -> None:
    with ws.store.session() as session:
        user = user_named(session, username)
        before = {"role": user.role, "payee_id": user.payee_id, "active": user.active}
        change(user)
        session.flush()
        if not session.scalar(select(User.id).where(User.role == "admin",
                                                    User.active.is_(True)).limit(1)):
            raise WorkflowError(Problem.of(N_("'%(user)s' is the last active admin"),
                                           user=username,
                                           hint=N_("make another user admin first")))
        sessions.revoke_all(session, user.id)
        audit.record(session, actor=actor, action=action, entity="user", key=username,
                     before=before, after={"role": user.role, "payee_id": user.payee_id,
                                           "active": user.active})


def set_active(ws: Workspace, username: str, active: bool, *, actor: str) -> None:
    if not active and username == actor:
        raise WorkflowError(Problem.of(N_("you cannot deactivate yourself"),
                                       hint=N_("ask another admin")))
    _change(ws, username, actor, "reactivate" if active else "deactivate",
            lambda user: setattr(user, "active", active))


def reset_password(ws: Workspace, username: str, password: str, *, actor: str) -> None:
    problems = _password_problems(password)
    if problems:
        raise WorkflowError(problems)
    digest = _hasher.hash(password)
    _change(ws, username, actor, "reset password",
            lambda user: setattr(user, "password_hash", digest))


def change_role(ws: Workspace, username: str, role: str, *, actor: str,
                payee_id: str | None = None) -> None:
    problems = _role_problems(ws, role, payee_id)
    if problems:
        raise WorkflowError(problems)

    def change(user: User) -> None:
        user.role = role
        user.payee_id = payee_id if role in ("partner", "rep") else None

    _change(ws, username, actor, "change role", change)
