"""Which credits a run writes: the `--credits` choice of `paymaster run`.

A credit is one record a measure judged (docs/data.md, "### `credits`"). A per-record
measure's and a gated rebate's credits are its records' own verdicts, a few per line; an
aggregate's are every record its totals summed, one per record and measure, which for
a plan of sales totals is millions of rows (sales-team at 1M lines: 2.8M rows, 2.3 s of
a 3.6 s run) that nothing but a person drilling down reads. So they are written when
asked for (`all`) and otherwise not even computed (`records`, the default): the
aggregate's own line carries its total, count and amount either way.

Light on purpose (no pyarrow, no Ibis): the fast path of `paymaster run` reads it.
"""

from __future__ import annotations

from paymaster.errors import UsageError

RECORDS = "records"  # the per-record measures' and the gated rebates' credits
ALL = "all"  # and every record an aggregate summed
CHOICES = (RECORDS, ALL)
DEFAULT = RECORDS


def check(choice: str) -> None:
    """A UsageError (said before any work is done) for a choice that is not one."""
    if choice not in CHOICES:
        raise UsageError(f"unknown credits choice '{choice}'; use {' or '.join(CHOICES)} "
                         "(records: the per-record measures' and rebates' credits; all: "
                         "also every record an aggregate summed)")
