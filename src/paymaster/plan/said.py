"""Parse and type errors of plan expressions, said in the plan's words."""

from __future__ import annotations

import re
from decimal import Decimal


def parse_error(text: str, first: dict, said: str) -> tuple[str, str | None, int | None]:
    """sqlglot's parse error in words: `10%` is a percentage written as in a sentence, an
    operator with nothing after it is an unfinished expression; placed at its token."""
    description = str(first.get("description", said))
    highlight = str(first.get("highlight") or "")
    offset = None
    if isinstance(first.get("line"), int) and isinstance(first.get("col"), int):
        lines = text.split("\n")
        before = sum(len(row) + 1 for row in lines[:first["line"] - 1])
        offset = max(0, min(len(text), before + first["col"] - len(highlight)))
    missing = re.match(r"Required keyword: '\w+' missing for <class '[\w.]*\.(\w+)'>", description)
    percent = text.rfind("%", 0, (offset or 0) + len(highlight)) if missing else -1
    if missing and missing.group(1) == "Mod" and percent >= 0:
        number = re.search(r"([0-9]+(?:\.[0-9]+)?)\s*$", text[:percent])
        fixed = f"write {Decimal(number.group(1)).scaleb(-2)}" if number else "write it as a fraction"
        at = number.start() if number else percent
        return (f"'{text[at:percent + 1]}' is a percentage, which expressions do not write "
                "with '%'", f"{fixed}; in expressions, a % b is the remainder of a division", at)
    if missing:
        return (f"the expression is unfinished: nothing follows '{highlight}'" if highlight
                else "the expression is unfinished", None, offset)
    return f"cannot parse expression: {description}", None, offset


KINDS = {"string": "text", "boolean": "true/false", "date": "a date", "timestamp": "a timestamp"}


def argument(name: str, kind: str) -> str:
    """An operand of a failed comparison, as the plan wrote it and what kind it is."""
    literal = re.fullmatch(r"Literal\((.*)\)", name)
    shown = f"'{literal.group(1)}'" if literal and kind == "string" else (
        literal.group(1) if literal else name)
    if kind.startswith(("decimal", "int", "float")):
        return f"{shown} (a number)"
    return f"{shown} ({KINDS.get(kind.split('(')[0], kind)})"
