"""The user's own page: the address notifications go to and which kinds of them (every
role). The page is `settings` rendered as HTML, or returned as JSON by its /api twin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from paymaster.errors import PaymasterError
from paymaster.mail_config import KINDS
from paymaster.services import notifications
from paymaster.web import render
from paymaster.web.deps import Csrf, User, Ws
from paymaster.web.office_common import form_problems
from paymaster.web.i18n import N_

router = APIRouter()
TAGS = ["account"]
# The kinds as the page names them (marked for the catalogs).
KIND_LABELS = {
    "registration": N_("A lead registration of mine is decided"),
    "enrollment": N_("An enrollment of mine is approved or rejected"),
    "dispute": N_("A dispute of mine is answered"),
    "statement": N_("A statement of mine is published"),
    "reminder": N_("A deadline is two business days away"),
}


class Settings(BaseModel):
    email: str | None = Field(None, max_length=320)
    off: list[Annotated[str, Field(max_length=20)]] = Field(default_factory=list,
                                                           max_length=len(KINDS) + 1)


@router.get("/account", include_in_schema=False)
def account_page(request: Request, user: User, ws: Ws) -> Response:
    return _page(request, user, ws, [])


def _page(request: Request, user, ws, problems: list, status: int = 200) -> Response:
    return render.html(request, "account.html", user, status=status, labels=KIND_LABELS,
                       problems=problems, **notifications.settings(ws, user.id))


@router.get("/api/account", tags=TAGS)
def account_api(user: User, ws: Ws) -> Response:
    """Your e-mail address and, per kind of notification, whether it is on."""
    return render.json({"user": user.as_json()} | notifications.settings(ws, user.id))


@router.post("/account/notifications", include_in_schema=False, dependencies=[Csrf])
async def save_page(request: Request, user: User, ws: Ws,
                    email: Annotated[str, Form(max_length=320)] = "") -> Response:
    form = await request.form()
    on = set(form.getlist("on"))
    try:
        notifications.save_settings(ws, user.username, email=email,
                                    off=[k for k in KINDS if k not in on], actor=user.username)
    except PaymasterError as err:
        return _page(request, user, ws, form_problems(err), status=400)
    return RedirectResponse("/account", status_code=303)


@router.post("/api/account/notifications", tags=TAGS, dependencies=[Csrf])
def save_api(user: User, ws: Ws, settings: Settings) -> Response:
    """Set your address and the kinds turned off (registration, enrollment, dispute,
    statement, reminder, or all)."""
    notifications.save_settings(ws, user.username, email=settings.email, off=settings.off,
                                actor=user.username)
    return render.json({"ok": True} | notifications.settings(ws, user.id))
