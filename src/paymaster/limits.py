"""Size limits on hostile input (uploaded files, form fields) and the text they may carry.

An uploaded file or a form field is refused early, before it costs the server minutes or
fills a page with megabytes: its bytes, rows, cells, columns and every text value have a
ceiling. The defaults suit programs of a million lines; a workspace changes them in its
`paymaster.yaml`:

    limits:
      upload_bytes: 104857600   # 100 MiB
      rows: 2000000

Text is refused, not cleaned, when it carries a control character other than tab,
newline or carriage return: NUL cannot be stored in PostgreSQL, and the rest are never
meant in a name, an id or a description.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from paymaster.errors import N_, DataError, PaymasterError, Problem

CONFIG_HINT = "raise it in the workspace's paymaster.yaml under limits: {name}: N"

# C0 controls except tab (09), newline (0A), carriage return (0D); DEL and the C1 block.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
CONTROL_SQL = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]"


class Limits(BaseModel):
    """Ceilings on what a workspace accepts. Each is refused with a message naming it."""

    model_config = ConfigDict(extra="forbid")
    upload_bytes: int = Field(50 * 1024 * 1024, gt=0,
                              description="largest imported or uploaded file, in bytes")
    rows: int = Field(1_000_000, gt=0, description="most data rows in one imported file")
    cells: int = Field(10_000_000, gt=0, description="most cells (rows x columns) in one file")
    columns: int = Field(200, gt=0, description="most columns in one imported file")
    text_chars: int = Field(1000, gt=0,
                            description="longest text in an imported cell, id or name")
    description_chars: int = Field(
        10_000, gt=0, description="longest free text: dispute descriptions, reasons")


DEFAULT = Limits()


def hint(name: str) -> str:
    return CONFIG_HINT.format(name=name)


def control_char(text: str) -> str | None:
    """The first forbidden control character of `text`, shown as U+XXXX, or None."""
    found = CONTROL.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def check_text(value: str | None, field: str, max_chars: int, *, limit_name: str,
               error: type[PaymasterError] = DataError) -> str | None:
    """A form field's text as given, or a refusal saying which field and why: too long
    (with the limit and where to change it) or carrying a control character."""
    if value is None:
        return None
    if len(value) > max_chars:
        raise error(Problem.of(
            N_("%(field)s is %(length)s characters long; at most %(limit)s are accepted"),
            field=field, length=len(value), limit=max_chars,
            hint=N_("raise it in the workspace's paymaster.yaml under limits: %(name)s: N"),
            name=limit_name))
    bad = control_char(value)
    if bad is not None:
        raise error(Problem.of(
            N_("%(field)s contains the control character %(char)s, which is not accepted in "
               "text"), field=field, char=bad,
            hint=N_("remove it (only tab and line breaks are allowed)")))
    return value
