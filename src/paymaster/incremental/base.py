"""What every layer of incremental recalculation shares: the fallback, the measure kinds,
and the part of a measure to recompute."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir

ATTRS = ("lines", "evaluations", "credits", "titles", "verdicts")
GLOBAL = {"ranking", "streak", "title"}
Progress = Callable[[str], None]
SEP = "\x1f"  # between a payee and a period in one key (a control character: in neither)


class Fallback(Exception):
    """The change cannot be localised: run in full."""


@dataclass
class Affected:
    """The part of a measure to recompute: whole payees, some periods of others, or (for
    a screening recomputed by first-wins groups) whole groups."""

    payees: set[str] = field(default_factory=set)
    periods: set[tuple[str, str]] = field(default_factory=set)  # (payee, period)
    groups: set[str] = field(default_factory=set)  # `group_key`s
    ids: set[str] = field(default_factory=set)  # source ids of the groups' records
    others: set[str] = field(default_factory=set)  # payees of the groups' records
    # A per-record measure recomputed by period whose claims no change can have moved
    # (a corrected amount, say): its records keep the claims stored with their lines.
    claims_kept: bool = False

    def __bool__(self) -> bool:
        return bool(self.payees or self.periods or self.groups)

    def update(self, other: Affected) -> None:
        self.payees |= other.payees
        self.periods |= other.periods
        self.groups |= other.groups
        self.ids |= other.ids
        self.others |= other.others

    def everyone(self) -> set[str]:
        """Every payee with something to recompute."""
        return self.payees | {payee for payee, _ in self.periods} | self.others

    def partial(self) -> list[str]:
        """Payee-period keys of the payees recomputed for some periods only."""
        return sorted(f"{payee}{SEP}{period}" for payee, period in self.periods
                      if payee not in self.payees)


def group_key(table: ir.Table, columns: list[str]) -> ir.Value:
    """The columns as one text, NULL as a value of its own (as `IS NOT DISTINCT FROM`, as
    first-wins compares its keys)."""
    parts = [ibis.ifelse(table[c].isnull(), ibis.literal("N"),
                         ibis.literal("V").concat(table[c].cast("string"))) for c in columns]
    return ibis.literal(SEP).join(parts)
