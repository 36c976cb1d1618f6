"""Logging in and out, who am I, and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from paymaster.services import accounts, sessions, throttle
from paymaster.web import render
from paymaster.web.deps import Csrf, User, Ws
from paymaster.web.errorpages import error_response
from paymaster.web.security import Principal, TooManyAttempts, csrf_token

router = APIRouter()


def _login(request: Request, username: str, password: str) -> Principal | None:
    ws = request.app.state.ws
    if len(username) > accounts.MAX_NAME or len(password) > accounts.MAX_PASSWORD:
        return None  # no such account can exist: nothing to check or count
    address = client_address(request)
    try:
        throttle.reserve(ws, username, address)
    except throttle.Throttled as exc:
        raise TooManyAttempts(exc.retry_after) from None
    user = accounts.authenticate(ws, username, password)
    if user is None:
        return None  # the reserved failure stands
    throttle.succeeded(ws, username, address)
    request.session.clear()  # a new session on login: no fixation
    request.session["sid"] = sessions.start(ws, user.id, address)
    request.state.principal = Principal.of(user)
    csrf_token(request)
    return request.state.principal


def client_address(request: Request) -> str:
    return (request.client.host if request.client else "") or "?"


def _logout(request: Request) -> None:
    sessions.end(request.app.state.ws, request.session.get("sid"))
    request.session.clear()


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str = "/") -> Response:
    return render.html(request, "login.html", None, next=next, failed=False)


@router.post("/login", include_in_schema=False, dependencies=[Csrf])
def login_page(request: Request, username: Annotated[str, Form()],
               password: Annotated[str, Form()], next: Annotated[str, Form()] = "/") -> Response:
    user = _login(request, username, password)
    if user is None:
        return render.html(request, "login.html", None, status=401, next=next, failed=True)
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    return RedirectResponse(target, status_code=303)


@router.post("/logout", include_in_schema=False, dependencies=[Csrf])
def logout_page(request: Request) -> Response:
    _logout(request)
    return RedirectResponse("/login", status_code=303)


class Credentials(BaseModel):
    username: str
    password: str


@router.post("/api/login", tags=["auth"])
def login_api(request: Request, credentials: Credentials) -> Response:
    """Log in; the session cookie is set, and the CSRF token to send as X-CSRF-Token."""
    user = _login(request, credentials.username, credentials.password)
    if user is None:
        return error_response(request, 401, "wrong username or password")
    return render.json({"user": user.as_json(), "csrf_token": csrf_token(request)})


@router.post("/api/logout", tags=["auth"], dependencies=[Csrf])
def logout_api(request: Request) -> Response:
    _logout(request)
    return render.json({"ok": True})


@router.get("/api/me", tags=["auth"])
def me(request: Request, user: User) -> Response:
    return render.json({"user": user.as_json(), "csrf_token": csrf_token(request)})


@router.post("/language", include_in_schema=False, dependencies=[Csrf])
def language(request: Request, user: User, ws: Ws, lang: Annotated[str, Form()],
             back: Annotated[str, Form()] = "/") -> Response:
    accounts.set_locale(ws, user.id, lang)
    request.session["lang"] = lang
    return RedirectResponse(back if back.startswith("/") and not back.startswith("//") else "/",
                            status_code=303)


@router.get("/", include_in_schema=False)
def home(user: User) -> Response:
    return RedirectResponse("/office" if user.is_office else "/me", status_code=303)
