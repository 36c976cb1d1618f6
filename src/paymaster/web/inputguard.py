"""Every text a request brings (query, form field, JSON string) checked before a route acts.

A form field or query value is hostile input: it may carry NUL (which PostgreSQL cannot
store: a 500 instead of a refusal) or other control characters, or megabytes of text that
then fill every page showing it. This dependency runs for every route, after the body is
parsed and before the route's own code: a value longer than the workspace's
`description_chars` or carrying a control character other than tab and line breaks is a
400 naming the field. Uploaded files are not text fields: the importer checks them.
Shorter limits for ids and names are the services' own (`limits.check_text`).
"""

from __future__ import annotations

from fastapi import Request

from paymaster.errors import DataError
from paymaster.limits import check_text

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def text_guard(request: Request) -> None:
    limit = request.app.state.ws.config.limits.description_chars
    for name, value in request.query_params.multi_items():
        _check(name, value, limit)
    kind = request.headers.get("content-type", "")
    if kind.startswith(FORM_TYPES):
        form = await request.form()  # parsed once: the route gets the same, cached form
        for name, value in form.multi_items():
            if isinstance(value, str):
                _check(name, value, limit)
    elif kind.startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            return  # the route's own validation answers a malformed body
        _walk("body", body, limit)


def _walk(name: str, value, limit: int) -> None:
    if isinstance(value, str):
        _check(name, value, limit)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(name, str(key), limit)
            _walk(str(key), item, limit)
    elif isinstance(value, list):
        for item in value:
            _walk(name, item, limit)


def _check(name: str, value: str, limit: int) -> None:
    check_text(value, name, limit, limit_name="description_chars", error=DataError)
