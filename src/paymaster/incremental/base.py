"""What every layer of incremental recalculation shares: the fallback, the measure kinds,
and the part of a measure to recompute."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

ATTRS = ("lines", "evaluations", "credits", "titles", "accepted")
GLOBAL = {"ranking", "streak", "title"}
Progress = Callable[[str], None]
SEP = "\x1f"  # between a payee and a period in one key (a control character: in neither)


class Fallback(Exception):
    """The change cannot be localised: run in full."""


@dataclass
class Affected:
    """The part of a measure to recompute: whole payees, and some periods of others."""

    payees: set[str] = field(default_factory=set)
    periods: set[tuple[str, str]] = field(default_factory=set)  # (payee, period)

    def __bool__(self) -> bool:
        return bool(self.payees or self.periods)

    def update(self, other: Affected) -> None:
        self.payees |= other.payees
        self.periods |= other.periods

    def everyone(self) -> set[str]:
        """Every payee with something to recompute."""
        return self.payees | {payee for payee, _ in self.periods}

    def partial(self) -> list[str]:
        """Payee-period keys of the payees recomputed for some periods only."""
        return sorted(f"{payee}{SEP}{period}" for payee, period in self.periods
                      if payee not in self.payees)
