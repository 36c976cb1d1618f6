"""Error responses in one shape: JSON {"error": {"status", "title", "problems"}} for the
API, the error page for a browser."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.responses import Response

from paymaster.errors import Problem
from paymaster.web import render
from paymaster.web.deps import optional_user


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api") or "application/json" in request.headers.get(
        "accept", "")


def error_response(request: Request, status: int, title: str,
                   problems: list[Problem] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    problems = problems or []
    if wants_json(request):
        response = render.json({"error": {"status": status, "title": title,
                                          "problems": [p.to_json() for p in problems]}},
                               status)
    else:
        response = render.html(request, "error.html", _user_or_none(request), status=status,
                               title=title, problems=problems)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _user_or_none(request: Request):
    try:
        return optional_user(request)
    except Exception:  # noqa: BLE001 - an error page must render even without a user
        # (e.g. the database that holds the sessions is down: the page says so itself)
        logging.getLogger("paymaster.web").warning("no user for the error page of %s",
                                                   request.url.path, exc_info=True)
        return None
