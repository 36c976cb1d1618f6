"""Portal accounts: argon2 password hashes, roles, and which payee a partner/rep user is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from paymaster.errors import Problem
from paymaster.services import audit
from paymaster.services.registrations import WorkflowError
from paymaster.store.models import User

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

ROLES = ("admin", "approver", "partner", "rep", "viewer")
OFFICE = ("admin", "approver", "viewer")  # see every payee of every program
LOCALES = ("en", "pl", "zh")
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the answer time the same, so
# timing does not tell which usernames exist.
_DUMMY = _hasher.hash("not a real password")

# The demo workspace's accounts (printed by `paymaster serve`): not for real use.
DEMO_ACCOUNTS = (
    ("admin", "admin-demo-pass", "admin", None, "Program office (admin)", "en"),
    ("approver", "approver-demo-pass", "approver", None, "Program office (approver)", "en"),
    ("viewer", "viewer-demo-pass", "viewer", None, "Finance (viewer)", "en"),
    ("alfa", "alfa-demo-pass", "partner", "P1", "Alfa sp. z o.o. (partner P1)", "pl"),
    ("beta", "beta-demo-pass", "partner", "P2", "Beta (partner P2)", "pl"),
    ("partner-d", "partner-d-demo-pass", "partner", "D", "Partner D (trade-in)", "zh"),
    ("partner-a", "partner-a-demo-pass", "partner", "A", "Partner A (trade-in)", "en"),
    ("rep01", "rep01-demo-pass", "rep", "R01", "Rep R01 (sales team)", "en"),
)


def create_user(ws: Workspace, username: str, password: str, role: str, *, actor: str,
                payee_id: str | None = None, display_name: str = "",
                locale: str = "en") -> User:
    problems = []
    if role not in ROLES:
        problems.append(Problem(f"unknown role '{role}'", hint="one of: " + ", ".join(ROLES)))
    if role in ("partner", "rep") and not payee_id:
        problems.append(Problem(f"a {role} user belongs to one payee", hint="give --payee ID"))
    if len(password) < MIN_PASSWORD:
        problems.append(Problem(f"the password needs at least {MIN_PASSWORD} characters"))
    if locale not in LOCALES:
        problems.append(Problem(f"unknown language '{locale}'", hint="one of: en, pl, zh"))
    if problems:
        raise WorkflowError(problems)
    with ws.store.session() as session:
        if session.scalars(select(User).where(User.username == username)).first():
            raise WorkflowError(Problem(f"user '{username}' exists already"))
        user = User(username=username, password_hash=_hasher.hash(password), role=role,
                    payee_id=payee_id if role in ("partner", "rep") else None,
                    display_name=display_name or username, locale=locale,
                    created_at=ws.now(), active=True)
        session.add(user)
        audit.record(session, actor=actor, action="create", entity="user", key=username,
                     after={"role": role, "payee_id": payee_id, "locale": locale})
        return user


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


def get_user(ws: Workspace, user_id: int) -> User | None:
    with ws.store.reading() as session:
        user = session.get(User, user_id)
        return user if user is not None and user.active else None


def set_locale(ws: Workspace, user_id: int, locale: str) -> None:
    if locale not in LOCALES:
        raise WorkflowError(Problem(f"unknown language '{locale}'", hint="one of: en, pl, zh"))
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
        create_user(ws, username, password, role, actor="demo", payee_id=payee,
                    display_name=name, locale=locale)
