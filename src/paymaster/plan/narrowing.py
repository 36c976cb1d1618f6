"""Which records a screening's verdict on one record can depend on: its group.

A registration check asks the plan's screening about one new record (or a batch). The
screening's verdict on a record reads that record alone, except for a `first_wins` rule,
which reads the earlier records of the same key (whether one of them is accepted, which
again depends only on its own fields and its key's earlier records). So when every other
part of the screening is *row-local* (its rules, fields, lookups, filter and dates read
the record's own columns, constants and other tables, never other records of its own
table), the verdicts on the subjects are those of a run on the subjects' key groups
alone: the check screens those, not the whole table (docs/performance.md).

Where that cannot be shown from the plan's text, there is no narrowing and the check
screens the whole table as before: more than one `first_wins` rule (their groups chain),
an expression naming its own table other than as the record's qualifier (a subquery
over it), a window (`OVER`), or `checks` on the table (sums over groups of rows).

The groups are taken coarser than the engine's key equality, never finer: each key
value compared as lower-case text without spaces or dashes, nulls equal (a valid tax id
is compared cleaned of spaces and dashes; allowed values whatever their case). A coarser
group is a union of whole key groups, so every group it keeps is complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from paymaster.plan.model import Plan, Screening
from paymaster.plan.taxids import TAX_ID_SEPARATORS
from paymaster.sqlnames import NAME, literal, quote

_CROSS_ROW = re.compile(r"\b(over|window|qualify)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Narrowing:
    """Keep, of `table`, the rows of the subjects' groups (by `key`; no key: the subjects
    alone), the subjects named by their `id` column."""

    table: str
    id: str
    key: tuple[str, ...]
    subjects: tuple[str, ...]

    def apply(self, con) -> bool:
        """Delete the other rows from the loaded (typed) table; False when the table is not
        one that can be narrowed here (a view over a file): then nothing is deleted."""
        kind = con.execute("SELECT table_type FROM information_schema.tables "
                           "WHERE table_name = ?", [self.table]).fetchall()
        if [row[0] for row in kind] != ["LOCAL TEMPORARY"] or not self.subjects:
            return False
        name = quote(self.table)
        same = [f"{_coarse('s.' + quote(c))} IS NOT DISTINCT FROM {_coarse(name + '.' + quote(c))}"
                for c in self.key] or [f"s.{quote(self.id)} = {name}.{quote(self.id)}"]
        marks = ", ".join("?" for _ in self.subjects)
        con.execute(f"DELETE FROM {name} WHERE NOT EXISTS (SELECT 1 FROM {name} s WHERE "
                    f"CAST(s.{quote(self.id)} AS VARCHAR) IN ({marks}) AND "
                    + " AND ".join(same) + ")", list(self.subjects))
        return True


def _coarse(column: str) -> str:
    return (f"regexp_replace(lower(CAST({column} AS VARCHAR)), {literal(TAX_ID_SEPARATORS)}, "
            "'', 'g')")


def narrowing(plan: Plan, measure: Screening, subjects: list[str]) -> Narrowing | None:
    """The narrowing of `measure`'s source to the groups of `subjects` (their ids), or None
    when the screening is not shown to be group-local (module docstring)."""
    source = measure.source
    first_wins = [rule.first_wins for rule in measure.rules if rule.first_wins is not None]
    if len(first_wins) > 1 or plan.inputs[source].checks or not NAME.fullmatch(measure.source_id):
        return None
    if measure.source_id not in plan.inputs[source].columns:
        return None
    text = measure.model_dump_json(exclude={"source", "label", "description", "order_by"})
    own = re.compile(rf"\b{re.escape(source)}\b(?!\s*\.\s*[A-Za-z_])")
    if own.search(text) or _CROSS_ROW.search(text):
        return None
    key = tuple(first_wins[0].key) if first_wins else ()
    return Narrowing(source, measure.source_id, key, tuple(subjects))
