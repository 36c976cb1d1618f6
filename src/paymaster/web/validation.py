"""A request the portal cannot read (FastAPI's RequestValidationError, a 422) said as
problems in the reader's language: pydantic's error `type` and its `ctx` become a catalog
template with typed figures (errors.Problem.of), never pydantic's English `msg` on a page.
A type not listed here is said as an invalid value of its field."""

from __future__ import annotations

from typing import Any

from paymaster.errors import N_, Count, Problem

# pydantic error types, grouped by what the reader is told; the figure `limit` is taken
# from the ctx key given.
TEMPLATES: dict[str, tuple[str, str | None]] = {
    "missing": (N_("%(field)s is required"), None),
    "string_too_long": (N_("%(field)s is longer than %(limit)s characters"), "max_length"),
    "string_too_short": (N_("%(field)s is shorter than %(limit)s characters"), "min_length"),
    "too_long": (N_("%(field)s has more than %(limit)s items"), "max_length"),
    "too_short": (N_("%(field)s has fewer than %(limit)s items"), "min_length"),
    "string_type": (N_("%(field)s must be text"), None),
    "int_parsing": (N_("%(field)s must be a whole number"), None),
    "int_type": (N_("%(field)s must be a whole number"), None),
    "int_from_float": (N_("%(field)s must be a whole number"), None),
    "decimal_parsing": (N_("%(field)s must be a number"), None),
    "decimal_type": (N_("%(field)s must be a number"), None),
    "float_parsing": (N_("%(field)s must be a number"), None),
    "float_type": (N_("%(field)s must be a number"), None),
    "decimal_max_places": (N_("%(field)s has more than %(limit)s decimal places"),
                           "decimal_places"),
    "date_parsing": (N_("%(field)s must be a date (YYYY-MM-DD)"), None),
    "date_from_datetime_parsing": (N_("%(field)s must be a date (YYYY-MM-DD)"), None),
    "date_type": (N_("%(field)s must be a date (YYYY-MM-DD)"), None),
    "datetime_parsing": (N_("%(field)s must be a date and time (YYYY-MM-DD HH:MM)"), None),
    "datetime_from_date_parsing": (N_("%(field)s must be a date and time (YYYY-MM-DD HH:MM)"),
                                   None),
    "datetime_type": (N_("%(field)s must be a date and time (YYYY-MM-DD HH:MM)"), None),
    "bool_parsing": (N_("%(field)s must be true or false"), None),
    "bool_type": (N_("%(field)s must be true or false"), None),
    "literal_error": (N_("%(field)s must be one of %(expected)s"), None),
    "enum": (N_("%(field)s must be one of %(expected)s"), None),
    "greater_than": (N_("%(field)s must be greater than %(limit)s"), "gt"),
    "greater_than_equal": (N_("%(field)s must be at least %(limit)s"), "ge"),
    "less_than": (N_("%(field)s must be less than %(limit)s"), "lt"),
    "less_than_equal": (N_("%(field)s must be at most %(limit)s"), "le"),
    "json_invalid": (N_("the request body is not valid JSON"), None),
    "model_attributes_type": (N_("%(field)s must be an object"), None),
    "dict_type": (N_("%(field)s must be an object"), None),
    "list_type": (N_("%(field)s must be a list"), None),
    "extra_forbidden": (N_("%(field)s is not a field of this request"), None),
}
INVALID = N_("%(field)s has an invalid value")
# Where the value was looked for: not part of the field's name.
SOURCES = ("body", "query", "path", "header", "cookie")


def problems(errors: list[dict]) -> list[Problem]:
    """Each of pydantic's errors as a templated problem located at its field; pydantic's
    English text is kept among the figures (`reason`, in the JSON) for a client."""
    return [problem(error) for error in errors]


def problem(error: dict) -> Problem:
    loc = [str(part) for part in error.get("loc", ())]
    if loc and loc[0] in SOURCES:
        loc = loc[1:]
    field = ".".join(loc) or "request"
    template, limit_key = TEMPLATES.get(str(error.get("type")), (INVALID, None))
    ctx: dict[str, Any] = error.get("ctx") or {}
    args: dict[str, Any] = {"reason": str(error.get("msg", ""))}
    if limit_key is not None:
        if limit_key not in ctx:  # a figure pydantic did not give: said without it
            return Problem.of(INVALID, field=field, **args)
        args["limit"] = _figure(ctx[limit_key])
    if "%(expected)s" in template:
        args["expected"] = str(ctx.get("expected", ""))
    return Problem.of(template, field=field, **args)


def _figure(value: Any) -> Any:
    """A limit from the ctx: a length as a count, a bound as it was written."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Count(value)
    return str(value)
