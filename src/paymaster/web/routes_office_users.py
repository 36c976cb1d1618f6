"""User administration for the program office's admins: the users, their sessions and the
login throttles; create a user, deactivate or reactivate one, reset a password, change a
role, lift a throttle. Every change ends the user's sessions (services.accounts).

Admin only: approver and viewer get 403 (the office middleware already stops payee users).
Each page is `users_data` rendered as HTML, or returned as JSON by its /api twin.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from paymaster.errors import PaymasterError
from paymaster.services import accounts, throttle
from paymaster.web import render
from paymaster.web.office_common import office_page
from paymaster.web.deps import Csrf, User, Ws
from paymaster.web.security import Principal
from paymaster.workspace import Workspace

router = APIRouter()
TAGS = ["office"]
Text = Annotated[str, Form(max_length=accounts.MAX_NAME)]
Secret = Annotated[str, Form(max_length=accounts.MAX_PASSWORD)]


def users_data(ws: Workspace) -> dict:
    return {"users": accounts.list_users(ws), "throttles": throttle.listing(ws),
            "roles": list(accounts.ROLES), "locales": list(accounts.LOCALES)}


def _admin(user: Principal) -> None:
    user.require("admin")


@router.get("/office/users", include_in_schema=False)
def users_page(request: Request, user: User, ws: Ws) -> Response:
    _admin(user)
    return office_page(request, "office_users.html", user, users_data(ws), problems=[])


@router.get("/api/office/users", tags=TAGS)
def users_api(user: User, ws: Ws) -> Response:
    """Every portal user (role, payee, active, live sessions) and every login throttle."""
    _admin(user)
    return render.json(users_data(ws))


def _page_action(request: Request, user: Principal, ws: Workspace, action) -> Response:
    """Run a change from a form: back to the list, or the list with the change's problems."""
    _admin(user)
    try:
        action()
    except PaymasterError as err:
        if any(p.message.startswith("unknown user") for p in err.problems):
            raise  # a missing user is a 404, not a form problem
        return office_page(request, "office_users.html", user, users_data(ws), status=400,
                           problems=err.problems)
    return RedirectResponse("/office/users", status_code=303)


class NewUser(BaseModel):
    username: str = Field(max_length=accounts.MAX_NAME)
    password: str = Field(max_length=accounts.MAX_PASSWORD)
    role: str = Field(max_length=20)
    payee_id: str | None = Field(None, max_length=accounts.MAX_NAME)
    display_name: str = Field("", max_length=accounts.MAX_NAME)
    locale: str = Field("en", max_length=10)
    email: str | None = Field(None, max_length=320)


def _create(ws: Workspace, user: Principal, new: NewUser) -> None:
    accounts.create_user(ws, new.username.strip(), new.password, new.role, actor=user.username,
                         payee_id=(new.payee_id or "").strip() or None,
                         display_name=new.display_name.strip(), locale=new.locale,
                         email=(new.email or "").strip() or None)


@router.post("/office/users", include_in_schema=False, dependencies=[Csrf])
def create_page(request: Request, user: User, ws: Ws, username: Text, password: Secret,
                role: Text, payee_id: Text = "", display_name: Text = "",
                locale: Text = "en", email: Text = "") -> Response:
    new = NewUser(username=username, password=password, role=role, payee_id=payee_id,
                  display_name=display_name, locale=locale, email=email)
    return _page_action(request, user, ws, lambda: _create(ws, user, new))


@router.post("/api/office/users", tags=TAGS, dependencies=[Csrf])
def create_api(user: User, ws: Ws, new: NewUser) -> Response:
    """Add a user (a partner or rep user names a payee the workspace knows)."""
    _admin(user)
    _create(ws, user, new)
    return render.json({"ok": True, "username": new.username.strip()}, 201)


@router.post("/office/users/{username}/deactivate", include_in_schema=False,
             dependencies=[Csrf])
def deactivate_page(request: Request, user: User, ws: Ws, username: str) -> Response:
    return _page_action(request, user, ws, lambda: accounts.set_active(
        ws, username, False, actor=user.username))


@router.post("/office/users/{username}/reactivate", include_in_schema=False,
             dependencies=[Csrf])
def reactivate_page(request: Request, user: User, ws: Ws, username: str) -> Response:
    return _page_action(request, user, ws, lambda: accounts.set_active(
        ws, username, True, actor=user.username))


class Active(BaseModel):
    active: bool


@router.post("/api/office/users/{username}/active", tags=TAGS, dependencies=[Csrf])
def active_api(user: User, ws: Ws, username: str, body: Active) -> Response:
    """Deactivate (false) or reactivate (true) a user; its sessions end."""
    _admin(user)
    accounts.set_active(ws, username, body.active, actor=user.username)
    return render.json({"ok": True})


class Password(BaseModel):
    password: str = Field(max_length=accounts.MAX_PASSWORD)


@router.post("/office/users/{username}/password", include_in_schema=False,
             dependencies=[Csrf])
def password_page(request: Request, user: User, ws: Ws, username: str,
                  password: Secret) -> Response:
    return _page_action(request, user, ws, lambda: accounts.reset_password(
        ws, username, password, actor=user.username))


@router.post("/api/office/users/{username}/password", tags=TAGS, dependencies=[Csrf])
def password_api(user: User, ws: Ws, username: str, body: Password) -> Response:
    """Set a new password; the user's sessions end."""
    _admin(user)
    accounts.reset_password(ws, username, body.password, actor=user.username)
    return render.json({"ok": True})


class Role(BaseModel):
    role: str = Field(max_length=20)
    payee_id: str | None = Field(None, max_length=accounts.MAX_NAME)


@router.post("/office/users/{username}/role", include_in_schema=False, dependencies=[Csrf])
def role_page(request: Request, user: User, ws: Ws, username: str, role: Text,
              payee_id: Text = "") -> Response:
    return _page_action(request, user, ws, lambda: accounts.change_role(
        ws, username, role, actor=user.username, payee_id=payee_id.strip() or None))


@router.post("/api/office/users/{username}/role", tags=TAGS, dependencies=[Csrf])
def role_api(user: User, ws: Ws, username: str, body: Role) -> Response:
    """Change a user's role (and payee, for partner and rep); its sessions end."""
    _admin(user)
    accounts.change_role(ws, username, body.role, actor=user.username,
                         payee_id=(body.payee_id or "").strip() or None)
    return render.json({"ok": True})


class Lift(BaseModel):
    username: str | None = Field(None, max_length=accounts.MAX_NAME)
    address: str | None = Field(None, max_length=100)


@router.post("/office/throttles/lift", include_in_schema=False, dependencies=[Csrf])
def lift_page(request: Request, user: User, ws: Ws, username: Text = "",
              address: Text = "") -> Response:
    return _page_action(request, user, ws, lambda: throttle.lift(
        ws, username.strip() or None, address.strip() or None, actor=user.username))


@router.post("/api/office/throttles/lift", tags=TAGS, dependencies=[Csrf])
def lift_api(user: User, ws: Ws, body: Lift) -> Response:
    """Forget the failed logins of a username (every address) and/or of an address."""
    _admin(user)
    return render.json({"lifted": throttle.lift(ws, body.username, body.address,
                                                  actor=user.username)})
