"""Incremental recalculation: after a small change to the input, recompute only what
depends on it and give exactly the result of a full run.

A state file (a DuckDB database) keeps, from the previous run, every validated input
table with a 128-bit hash per row (`in_<table>`), each file's row hashes in the file's
order (`fh_<table>`) and every measure's result tables
(`st_<measure>__<lines|evaluations|credits|titles|verdicts>`). The next run:

1. reads only the files whose SHA-256 changed, finds their changed rows (line by line
   against `fh_`, or by hash), and validates only those;
2. finds, per measure, what to recompute: the payees of the changed rows (old and new
   version), of the records that read a changed row of another table (the plan's links:
   lookups, targets, correlated `EXISTS` equalities, `cover`, `payees_from`), of every
   record sharing a coupling key with a touched one (first-registration-wins keys, group
   totals, self-correlated `EXISTS`), and of the measures it reads (claims, `of`,
   `refers`); a per-record measure limited per period gets payee-periods instead;
3. recomputes each per-payee measure on that part only (widened to whole coupling or
   claim groups where a window needs them), replaces that part of its stored results,
   recomputes global measures (rankings, streaks, titles) whose inputs changed, charges
   the budgets on the lines that may be charged, and builds the outputs over the whole
   with the engine's own code;
4. stores the new input rows.

Whatever cannot be localised (no stored state, another plan, a changed table read with
no link to a payee) falls back to a full run, and says so.

Modules, each importing only those above it:

- `base`: the fallback, the measure kinds, the part of a measure to recompute;
- `links`: the plan's links and couplings (`analyse`);
- `compiled`: the runs' compiled SQL, kept between runs (any payees' scope);
- `state`: the state file;
- `diff`: the changed rows of the input folder;
- `affected`: what each measure recomputes;
- `claims`: a per-record measure's claims read back from its stored lines;
- `splice`: the build's scope and the splicing of results;
- `budget`: the budgets over the spliced lines;
- `run`: `calculate`.
"""

from paymaster.incremental.affected import affected_payees
from paymaster.incremental.base import Fallback
from paymaster.incremental.links import analyse
from paymaster.incremental.run import STATE_FILE, Report, calculate

__all__ = ["STATE_FILE", "Fallback", "Report", "affected_payees", "analyse", "calculate"]
