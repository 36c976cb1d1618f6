"""The portal application: `create_app(workspace)`.

Every page is server-rendered HTML (Jinja2, enhanced by HTMX, no build step) and has a
JSON twin under /api with the same data; the OpenAPI document is /api/openapi.json.
Errors have one JSON shape: {"error": {"status", "title", "problems": [...]}}.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from paymaster.errors import PaymasterError, Problem
from paymaster.web import render
from paymaster.web.i18n import N_
from paymaster.web.inputguard import text_guard
from paymaster.web.security import CsrfFailed, Forbidden, LoginLimiter, NotLoggedIn, TooManyAttempts
from paymaster.workspace import Workspace

STATIC = Path(__file__).parent / "static"
PUBLIC = ("/login", "/api/login", "/static/", "/api/openapi.json", "/api/docs")
OFFICE = ("/office", "/api/office")
ACTORS = ("admin", "approver")  # of the office roles, those who may change things
SESSION_HOURS = 8


def create_app(ws: Workspace, *, secure_cookies: bool = False,
               secret: str | None = None) -> FastAPI:
    app = FastAPI(title="Paymaster", version="0.1.0", openapi_url="/api/openapi.json",
                  docs_url="/api/docs", redoc_url=None,
                  description="Sales incentive programs: registrations, enrollments, runs, "
                              "ledger, statements, disputes. Money is exact decimal text.",
                  dependencies=[Depends(text_guard)])
    app.state.ws = ws
    app.state.limiter = LoginLimiter()

    @app.middleware("http")
    async def _logged_in_first(request: Request, call_next):
        """Secure by default: without a session nothing but the login and the API's
        description is served, before any route parses a body or looks anything up."""
        path = request.url.path
        if "uid" not in request.session and not path.startswith(PUBLIC):
            return await _login(request, NotLoggedIn())
        if path.startswith(OFFICE):
            from paymaster.web.routes_auth import optional_user

            user = optional_user(request)
            if user is None:
                return await _login(request, NotLoggedIn())
            if not user.is_office:
                return error_response(request, 403, N_("not allowed"), [Problem(
                    f"{user.username} is a {user.role} user: the program office's pages "
                    "are for the office")])
            if request.method not in ("GET", "HEAD") and user.role not in ACTORS:
                return error_response(request, 403, N_("not allowed"), [Problem(
                    f"{user.username} may read, not change: that needs the role "
                    + " or ".join(ACTORS))])
        return await call_next(request)

    # Added after, so it runs first: the session is read before the check above.
    app.add_middleware(SessionMiddleware, secret_key=secret or workspace_secret(ws),
                       session_cookie="paymaster_session", max_age=SESSION_HOURS * 3600,
                       same_site="lax", https_only=secure_cookies)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _error_handlers(app)
    from paymaster.web import (
        routes_auth,
        routes_office,
        routes_office_ledger,
        routes_payee,
        routes_results,
    )

    app.include_router(routes_auth.router)
    app.include_router(routes_payee.router)
    app.include_router(routes_results.router)
    app.include_router(routes_office.router)
    app.include_router(routes_office_ledger.router)
    return app


def workspace_secret(ws: Workspace) -> str:
    """The key that signs session cookies: kept in the workspace, so sessions survive a
    restart; made on first use, readable by its owner only."""
    path = ws.folder / ".paymaster-secret"
    if not path.is_file():
        path.write_text(secrets.token_hex(32), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


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
    from paymaster.web.routes_auth import optional_user

    try:
        return optional_user(request)
    except Exception:  # noqa: BLE001 - an error page must render even without a user
        return None


async def _login(request: Request, _exc: NotLoggedIn) -> Response:
    if wants_json(request):
        return error_response(request, 401, N_("log in first"))
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


def _error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NotLoggedIn, _login)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return error_response(request, 403, N_("not allowed"), [Problem(exc.message)])

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, _exc: CsrfFailed) -> Response:
        return error_response(request, 403, N_("the form's security token is missing or old"),
                              [Problem("reload the page and try again")])

    @app.exception_handler(TooManyAttempts)
    async def _too_many(request: Request, exc: TooManyAttempts) -> Response:
        return error_response(request, 429, N_("too many failed logins"),
                              [Problem(f"try again in {exc.retry_after} seconds")],
                              {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(PaymasterError)
    async def _ours(request: Request, exc: PaymasterError) -> Response:
        status = 404 if any(p.message.startswith("unknown") for p in exc.problems) else 400
        return error_response(request, status, f"{exc.kind} problem", exc.problems)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [Problem(str(e.get("msg")), field=".".join(str(x) for x in e.get("loc", ())))
                    for e in exc.errors()]
        return error_response(request, 422, N_("invalid request"), problems)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        return error_response(request, exc.status_code, str(exc.detail))
