"""What every layer of incremental recalculation shares: the fallback and the measure kinds."""

from __future__ import annotations

from collections.abc import Callable

ATTRS = ("lines", "evaluations", "credits", "titles", "accepted")
GLOBAL = {"ranking", "streak", "title"}
Progress = Callable[[str], None]


class Fallback(Exception):
    """The change cannot be localised: run in full."""

