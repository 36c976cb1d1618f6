"""Logging in and out, who am I, and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from paymaster.services import accounts
from paymaster.web import render
from paymaster.web.security import NotLoggedIn, Principal, check_csrf, csrf_token
from paymaster.workspace import Workspace

router = APIRouter()


def workspace(request: Request) -> Workspace:
    return request.app.state.ws


def optional_user(request: Request) -> Principal | None:
    uid = request.session.get("uid")
    if uid is None:
        return None
    user = accounts.get_user(request.app.state.ws, int(uid))
    return Principal.of(user) if user else None


def current_user(request: Request) -> Principal:
    user = optional_user(request)
    if user is None:
        raise NotLoggedIn()
    return user


User = Annotated[Principal, Depends(current_user)]
# Record ids in URLs: positive and within a database integer, or the request is invalid.
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Ws = Annotated[Workspace, Depends(workspace)]
Csrf = Depends(check_csrf)


def _login(request: Request, username: str, password: str) -> Principal | None:
    limiter = request.app.state.limiter
    keys = (f"ip:{request.client.host if request.client else '?'}", f"user:{username}")
    limiter.check(*keys)
    user = accounts.authenticate(request.app.state.ws, username, password)
    if user is None:
        limiter.failed(*keys)
        return None
    limiter.succeeded(*keys)
    request.session.clear()  # a new session on login: no fixation
    request.session["uid"] = user.id
    csrf_token(request)
    return Principal.of(user)


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
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


class Credentials(BaseModel):
    username: str
    password: str


@router.post("/api/login", tags=["auth"])
def login_api(request: Request, credentials: Credentials) -> Response:
    """Log in; the session cookie is set, and the CSRF token to send as X-CSRF-Token."""
    user = _login(request, credentials.username, credentials.password)
    if user is None:
        from paymaster.web.app import error_response

        return error_response(request, 401, "wrong username or password")
    return render.json({"user": user.as_json(), "csrf_token": csrf_token(request)})


@router.post("/api/logout", tags=["auth"], dependencies=[Csrf])
def logout_api(request: Request) -> Response:
    request.session.clear()
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
