"""Rendering a page or its JSON twin from the same data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from paymaster.services.audit import jsonable
from paymaster.web.i18n import Formatter
from paymaster.web.security import Principal, csrf_token

TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(),
                   trim_blocks=True, lstrip_blocks=True)


def language(request: Request, user: Principal | None) -> str:
    return request.session.get("lang") or (user.locale if user else "en")


def html(request: Request, template: str, user: Principal | None, status: int = 200,
         **context: Any) -> HTMLResponse:
    program = context.get("program")
    ws = request.app.state.ws
    # `program` may also be a page's filter value (empty, or not a program): no plan then
    known = isinstance(program, str) and program in ws.config.programs
    plan = ws.plan(program).plan if known and user else None
    fmt = Formatter(language(request, user), plan, ws.plan)
    if plan is not None and isinstance(context.get("title"), str):
        context["title"] = fmt.word(context["title"])  # the program's title
    body = _env.get_template(template).render(
        request=request, user=user, csrf_token=csrf_token(request), fmt=fmt, _=fmt._,
        lang=fmt.language, **context)
    return HTMLResponse(body, status_code=status)


def json(data: Any, status: int = 200) -> JSONResponse:
    """Money and dates as exact text: a JSON number would be a binary float."""
    return JSONResponse(jsonable(data), status_code=status)
