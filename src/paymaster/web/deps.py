"""What every route asks of a request: the workspace, the logged-in user, the CSRF check,
record ids in URLs. Below the route modules and the app, so each imports it downward."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from paymaster.services import sessions
from paymaster.web.security import NotLoggedIn, Principal, check_csrf
from paymaster.workspace import Workspace


def workspace(request: Request) -> Workspace:
    return request.app.state.ws


def optional_user(request: Request) -> Principal | None:
    """The user of a live server-side session (one lookup per request, then remembered)."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    user = sessions.user_of(request.app.state.ws, request.session.get("sid"))
    request.state.principal = Principal.of(user) if user else None
    return request.state.principal


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
