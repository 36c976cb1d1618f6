"""The portal application: `create_app(workspace)`.

Every page is server-rendered HTML (Jinja2, enhanced by HTMX, no build step) and has a
JSON twin under /api with the same data; the OpenAPI document is /api/openapi.json.
Errors have one JSON shape: {"error": {"status", "title", "problems": [...]}}.
"""

from __future__ import annotations

import logging
import os
import secrets
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from paymaster.errors import PaymasterError, Problem, Word
from paymaster.services.notifications import Courier
from paymaster.services.sessions import SESSION_HOURS
from paymaster.web import (
    api_docs,
    routes_account,
    routes_auth,
    routes_finance,
    routes_office,
    routes_office_ledger,
    routes_office_payees,
    routes_office_queues,
    routes_office_payouts,
    routes_office_periods,
    routes_office_users,
    routes_payee,
    routes_results,
    validation,
)
from paymaster.web.deps import optional_user
from paymaster.web.errorpages import error_response, wants_json
from paymaster.web.i18n import N_
from paymaster.web.inputguard import text_guard
from paymaster.web.security import (
    SECURITY_HEADERS,
    CsrfFailed,
    Forbidden,
    NotLoggedIn,
    TooManyAttempts,
)
from paymaster.workspace import Workspace

STATIC = Path(__file__).parent / "static"
PUBLIC = ("/login", "/api/login", "/static/", "/api/openapi.json", "/api/docs")
OFFICE = ("/office", "/api/office")
# Of the office roles, those who may change something (each route checks which change:
# finance may only pay a batch).
ACTORS = ("admin", "approver", "finance")
# An error page's title by the kind of error (PaymasterError.kind), in the catalogs.
KIND_TITLES = {
    "error": N_("error problem"),
    "workflow": N_("workflow problem"),
    "plan": N_("plan problem"),
    "data": N_("data problem"),
    "engine": N_("engine problem"),
    "usage": N_("usage problem"),
    "resource": N_("resource problem"),
    "output": N_("output problem"),
    "workspace": N_("workspace problem"),
}


def create_app(ws: Workspace, *, secure_cookies: bool = False,
               secret: str | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        # The mail of a decision goes out after the response, from one thread of the app's.
        courier = Courier(ws).start()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(courier.stop)

    app = FastAPI(lifespan=lifespan,title="Paymaster", version="0.1.0", openapi_url="/api/openapi.json",
                  docs_url=None, redoc_url=None,
                  description="Sales incentive programs: registrations, enrollments, runs, "
                              "ledger, statements, disputes. Money is exact decimal text.",
                  dependencies=[Depends(text_guard)])
    app.state.ws = ws

    @app.middleware("http")
    async def _logged_in_first(request: Request, call_next):
        """Secure by default: without a session nothing but the login and the API's
        description is served, before any route parses a body or looks anything up."""
        path = request.url.path
        if "sid" not in request.session and not path.startswith(PUBLIC):
            return await _login(request, NotLoggedIn())
        if path.startswith(OFFICE):
            user = optional_user(request)
            if user is None:
                return await _login(request, NotLoggedIn())
            if not user.is_office:
                return error_response(request, 403, N_("not allowed"), [Problem.of(
                    N_("%(user)s is a %(role)s user: the program office's pages are for "
                       "the office"), user=user.username, role=Word(user.role))])
            if request.method not in ("GET", "HEAD") and user.role not in ACTORS:
                return error_response(request, 403, N_("not allowed"), [Problem.of(
                    N_("%(user)s may read, not change: that needs the role %(roles)s"),
                    user=user.username, roles=tuple(Word(r) for r in ACTORS))])
        return await call_next(request)

    # Added after, so it runs first: the session is read before the check above.
    app.add_middleware(SessionMiddleware, secret_key=secret or workspace_secret(ws),
                       session_cookie="paymaster_session", max_age=SESSION_HOURS * 3600,
                       same_site="lax", https_only=secure_cookies)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    api_docs.add(app)
    _error_handlers(app)
    app.include_router(routes_auth.router)
    app.include_router(routes_account.router)
    app.include_router(routes_payee.router)
    app.include_router(routes_results.router)
    app.include_router(routes_office.router)
    app.include_router(routes_office_queues.router)
    app.include_router(routes_office_ledger.router)
    app.include_router(routes_office_users.router)
    app.include_router(routes_office_payouts.router)
    app.include_router(routes_office_payees.router)
    app.include_router(routes_office_periods.router)
    app.include_router(routes_finance.router)
    # Outermost, around Starlette's own error middleware: even a 500 gets the headers.
    inner = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(inner())
    return app


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP response that does not set them itself."""

    def __init__(self, app):
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def sending(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in self.headers if h[0] not in present]
            await send(message)

        await self.app(scope, receive, sending)


def workspace_secret(ws: Workspace) -> str:
    """The key that signs session cookies: kept in the workspace, so sessions survive a
    restart; made on first use, readable by its owner only."""
    path = ws.folder / ".paymaster-secret"
    try:
        # created with its final mode: never readable by others, not even for a moment
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # one made by an older version, or copied loosely
    else:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text(encoding="utf-8").strip()


async def _login(request: Request, _exc: NotLoggedIn) -> Response:
    if wants_json(request):
        return error_response(request, 401, N_("log in first"))
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


def _error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NotLoggedIn, _login)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return error_response(request, 403, N_("not allowed"), [exc.problem])

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, _exc: CsrfFailed) -> Response:
        return error_response(request, 403, N_("the form's security token is missing or old"),
                              [Problem(N_("reload the page and try again"))])

    @app.exception_handler(TooManyAttempts)
    async def _too_many(request: Request, exc: TooManyAttempts) -> Response:
        return error_response(request, 429, N_("too many failed logins"),
                              [Problem.of(N_("try again in %(seconds)s seconds"),
                                          seconds=exc.retry_after)],
                              {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(PaymasterError)
    async def _ours(request: Request, exc: PaymasterError) -> Response:
        status = 404 if any(p.message.startswith("unknown") for p in exc.problems) else 400
        return error_response(request, status, KIND_TITLES.get(exc.kind, N_("error problem")),
                              exc.problems)

    @app.exception_handler(OperationalError)
    async def _database_unavailable(request: Request, exc: OperationalError) -> Response:
        """The database went away (restarted, unreachable, locked beyond the wait): a
        503 to retry, not a 500. The pool drops the broken connection, and checks each
        one before use (pool_pre_ping), so the retry gets a live one; the error is logged
        for the operator."""
        logging.getLogger("paymaster.web").warning("database unavailable on %s %s: %s",
                                                   request.method, request.url.path, exc.orig)
        return error_response(request, 503, N_("the database is unavailable"),
                              [Problem(N_("the request was not carried out: try again in a "
                                          "moment"))], {"Retry-After": "5"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, 422, N_("invalid request"),
                              validation.problems(list(exc.errors())))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        return error_response(request, exc.status_code, str(exc.detail))
