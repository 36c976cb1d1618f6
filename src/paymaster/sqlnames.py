"""Names that reach SQL: checked against one strict pattern, quoted only by sqlglot.

A plan file, an uploaded file's header or a URL is hostile input. Every table, column,
measure or parameter name that ends up in a SQL statement goes through `quote()` (or
through Ibis/sqlglot expressions, which quote for themselves); none is pasted between
double quotes by hand. The plan loader refuses any name that does not match `NAME`, so a
name can never carry a quote, a semicolon or a space into a statement in the first place:
quoting is the second wall, not the only one.
"""

from __future__ import annotations

import re

# Letters, digits and underscores, starting with a letter, at most 63 characters (the
# longest identifier PostgreSQL keeps). Names starting with "__" are the engine's own.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")
NAME_RULE = "a letter, then letters, digits or underscores (at most 63 characters)"


def is_name(text: str) -> bool:
    return NAME.fullmatch(text) is not None


# Where sqlglot's quoting of a plain name or text is known without asking it: importing
# sqlglot costs 0.15-0.3 s, more than a cached run of an example (docs/performance.md).
# For these dialects it writes a name that matches NAME (or starts with an underscore
# instead of a letter) between double quotes, and text
# without a quote, a backslash or a control character between single quotes, as is (the
# same output, property-tested against sqlglot in tests/test_sqlnames.py); anything else
# is quoted by sqlglot itself.
_PLAIN_DIALECTS = ("duckdb", "postgres", "sqlite")
# A name as NAME, or one of the engine's own ("__run"): written alike.
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_PLAIN_TEXT = re.compile(r"[^'\\\x00-\x1f\x7f]*")


def quote(name: str, dialect: str = "duckdb") -> str:
    """`name` as a quoted SQL identifier, any embedded quote escaped by sqlglot."""
    if dialect in _PLAIN_DIALECTS and _PLAIN_NAME.fullmatch(name):
        return f'"{name}"'
    from sqlglot import exp  # (cost: see _PLAIN_DIALECTS)

    return exp.to_identifier(name, quoted=True).sql(dialect=dialect)


def quote_all(names, dialect: str = "duckdb") -> str:
    """A comma-separated list of quoted identifiers."""
    return ", ".join(quote(n, dialect) for n in names)


def literal(value: str, dialect: str = "duckdb") -> str:
    """A string literal escaped by sqlglot, for the rare statement that cannot take a
    bound parameter (DuckDB's COPY ... TO 'path', ATTACH 'path')."""
    if dialect in _PLAIN_DIALECTS and _PLAIN_TEXT.fullmatch(value):
        return f"'{value}'"
    from sqlglot import exp  # (cost: see _PLAIN_DIALECTS)

    return exp.Literal.string(value).sql(dialect=dialect)
