"""Incremental recalculation: after a small change to the input, recompute only what
depends on it and give exactly the result of a full run.

A state file (a DuckDB database) keeps, from the previous run, every validated input
table with a 128-bit hash per row (`in_<table>`) and every measure's result tables
(`st_<measure>__<lines|evaluations|credits|titles|accepted>`). The next run:

1. loads and validates the input folder as a full run does;
2. diffs each table against the stored one by row hash (a multiset difference);
3. finds the affected payees: the payees of the changed rows (old and new version, payee
   expression with lookups evaluated in the old and in the new state), of the records
   that read a changed row of another table (links found in the plan: lookups, targets,
   correlated `EXISTS` equalities, `cover`, `payees_from`), and, through the couplings
   between payees, of every record sharing a coupling key with a touched record
   (first-registration-wins keys, group totals such as teams, self-correlated `EXISTS`
   such as "first-ever order of the customer");
4. recomputes each per-payee measure (screening, per_record, one_off, aggregate,
   gated_rebate) on the records of those payees only (widened to whole coupling groups
   where a window needs them), replaces those payees' rows in the stored result tables,
   recomputes the global measures (rankings, streaks, titles) whole, and builds budgets
   and outputs over the spliced tables with the engine's own code;
5. stores the new input rows.

Whatever cannot be localised (no stored state, another plan, a changed table read with
no link to a payee) falls back to a full run, and says so.

Modules, each importing only those above it:

- `base`: the fallback and the measure kinds;
- `links`: the plan's links and couplings (`analyse`);
- `state`: the state file;
- `diff`: the changed rows of the input folder;
- `affected`: the affected payees;
- `splice`: the build's scope and the splicing of results;
- `run`: `calculate`.
"""

from paymaster.incremental.affected import affected_payees
from paymaster.incremental.base import Fallback
from paymaster.incremental.links import analyse
from paymaster.incremental.run import STATE_FILE, Report, calculate

__all__ = ["STATE_FILE", "Fallback", "Report", "affected_payees", "analyse", "calculate"]
