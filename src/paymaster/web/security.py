"""Who is asking, and may they: sessions, CSRF tokens, login rate limits, access rules.

Sessions live in the store (services/sessions.py): the signed cookie (HttpOnly,
SameSite=Lax, Secure when served over HTTPS) carries a random session token and the CSRF
token, and the session ends server-side on logout, password reset, deactivation or role
change. Logins are throttled in the store too (services/throttle.py). Every state-changing request must echo the
token (form field `csrf_token` or header `X-CSRF-Token`). Access is decided on the
server for every route: office roles see every payee; a partner or rep user sees only
its own payee's records, whatever id it puts in a URL.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import Request

from paymaster.errors import N_, Problem, Word
from paymaster.services.accounts import OFFICE
from paymaster.store.models import User

class NotLoggedIn(Exception):
    """No valid session: pages redirect to the login form, the API answers 401."""


class Forbidden(Exception):
    """A 403: who may not do what, as a templated problem (said in the reader's language)."""

    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem
        self.message = problem.message


class CsrfFailed(Exception):
    pass


class TooManyAttempts(Exception):
    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Principal:
    id: int
    username: str
    role: str
    payee_id: str | None
    display_name: str
    locale: str

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(user.id, user.username, user.role, user.payee_id, user.display_name,
                   user.locale)

    @property
    def is_office(self) -> bool:
        return self.role in OFFICE

    def may_see(self, payee_id: str) -> bool:
        return self.is_office or payee_id == self.payee_id

    def check_payee(self, payee_id: str) -> None:
        if not self.may_see(payee_id):
            raise Forbidden(may_not_see(self.username, payee_id))

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            raise Forbidden(Problem.of(N_("this needs the role %(roles)s; %(user)s is %(role)s"),
                                       roles=tuple(Word(r) for r in roles),
                                       user=self.username, role=Word(self.role)))

    def as_json(self) -> dict:
        return {"username": self.username, "role": self.role, "payee_id": self.payee_id,
                "display_name": self.display_name, "locale": self.locale}


def may_not_see(username: str, payee_id: str) -> Problem:
    return Problem.of(N_("%(user)s may not see payee %(payee)s"), user=username, payee=payee_id)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def check_csrf(request: Request) -> None:
    expected = request.session.get("csrf")
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        given = (await request.form()).get("csrf_token")
    if not expected or not given or not secrets.compare_digest(str(given), expected):
        raise CsrfFailed()


# Sent with every response (pages, JSON, errors, files). Scripts only from this server: the
# pages have no inline script (the language selector's auto-submit is /static/app.js);
# inline style attributes stay allowed (progress bars set their width).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
                               "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
