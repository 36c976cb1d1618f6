"""Where a problem inside an expression is: its character offset in the expression's
text, and that offset as a line and column of the plan file the expression is written in."""

from __future__ import annotations

from sqlglot import exp


class ExprError(Exception):
    """A problem inside one expression, at a character offset of its text."""

    def __init__(self, message: str, node: exp.Expression | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.offset = offset_of(node)
        self.hint = hint


def offset_of(node: exp.Expression | None) -> int | None:
    """Where in its expression's text `node` starts (sqlglot keeps it on names and literals)."""
    if node is None:
        return None
    for candidate in [node, *node.find_all(exp.Identifier, exp.Literal)]:
        meta = getattr(candidate, "meta", None) or {}
        if "start" in meta:
            return int(meta["start"])
        inner = getattr(candidate, "this", None)
        meta = getattr(inner, "meta", None) or {}
        if "start" in meta:
            return int(meta["start"])
    return None


def plan_position(text: str, offset: int, line: int, col: int, style: str | None) -> tuple[int, int]:
    """Line and column of `offset` in an expression written at (line, col) of the plan."""
    before = text[:offset]
    rows = before.count("\n")
    if style in ("|", ">"):
        return line + 1 + rows, col + len(before.split("\n")[-1])
    if rows:
        return line + rows, len(before.split("\n")[-1]) + 1
    quote = 1 if style in ("'", '"') else 0
    return line, col + quote + offset
