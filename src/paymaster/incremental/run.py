"""The run: an incremental calculation when the state allows it, else a full one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from paymaster import asof, duckdb_config
from paymaster.credits import DEFAULT as DEFAULT_CREDITS
from paymaster.credits import check as check_credits
from paymaster.datafiles import find_files
from paymaster.engine import build
from paymaster.incremental.affected import affected_payees
from paymaster.incremental.base import Affected, Fallback, Progress
from paymaster.incremental.budget import budgeted_lines
from paymaster.incremental.delta import (
    BY_PAYEE,
    Candidates,
    Delta,
    compute_delta,
    out_name,
    store_outputs,
)
from paymaster.incremental.diff import load_changes
from paymaster.incremental.output import fetch_outputs
from paymaster.incremental.splice import Splice
from paymaster.incremental.state import State
from paymaster.plan import LoadedPlan
from paymaster.runs import RunResult, cached_plan, fingerprint
from paymaster.stageclock import StageClock
from paymaster.sqlnames import quote

STATE_FILE = ".paymaster-state.duckdb"


@dataclass
class Report:
    """What an incremental run did."""

    mode: str = "full"  # "full" or "incremental"
    reason: str = ""
    changed: dict[str, tuple[int, int]] = field(default_factory=dict)  # table: (old, new) rows
    read: dict[str, int] = field(default_factory=dict)  # rows read of each changed file
    affected: list[str] = field(default_factory=list)
    payees: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    delta: Delta | None = None  # the output rows that changed

    def lines(self) -> list[str]:
        out = []
        if self.changed:
            out.append("changed rows: " + ", ".join(
                f"{t} -{old} +{new}" for t, (old, new) in sorted(self.changed.items())))
        elif self.mode == "incremental":  # (a full run compared nothing: no rows to show)
            out.append("changed rows: none")
        if self.mode == "full":
            out.append(f"full run: {self.reason}")
        else:
            shown = ", ".join(self.affected[:10]) + (" ..." if len(self.affected) > 10 else "")
            out.append(f"incremental: recomputed {len(self.affected)} of {self.payees} payees"
                       + (f" ({shown})" if self.affected else ""))
            if self.delta is not None:
                lines = {k: v.num_rows for k, v in self.delta.lines().items()}
                out.append(f"delta: {len(self.delta.payees)} payees changed; payout lines "
                           f"+{lines['lines_added']} -{lines['lines_removed']} "
                           f"~{lines['lines_changed']}")
        return out


def calculate(plan: LoadedPlan | str | Path, data: Path, state_path: Path,
              progress: Progress | None = None, full: bool = False,
              outputs: str = "all", as_of: dt.date | None = None,
              credits: str = DEFAULT_CREDITS) -> tuple[RunResult, Report]:
    """Calculate `plan` on `data`, incrementally against the state at `state_path` when it
    can (else in full), and leave the new state there. `Report.delta` says which output
    rows changed; with `outputs="delta"` an incremental run returns only that (the
    RunResult's tables are empty: `delta.apply(previous tables)` gives them). `credits`
    as runs.calculate has it: a state kept with the other choice is run again in full."""
    if outputs not in ("all", "delta"):
        raise ValueError(f"outputs must be 'all' or 'delta', not {outputs!r}")
    check_credits(credits)
    say = progress or (lambda _stage: None)
    report = Report()
    clock = StageClock(report.seconds)
    stage = clock.done

    # (from the run cache when the file is unchanged: reading and validating the YAML is
    # most of a small run's fixed cost)
    loaded = plan if isinstance(plan, LoadedPlan) else cached_plan(plan).loaded
    state = State(Path(state_path), loaded, say)
    try:
        backend = state.backend
        day = asof.resolve(as_of) if asof.needed(loaded.plan) else None
        state.as_of = day.isoformat() if day else ""
        state.credits = credits
        reason = "asked for a full run" if full else state.usable()
        diffs = None
        scopes: dict[str, Affected] = {}
        if reason is None:
            say("read the changed input")
            try:
                diffs = load_changes(state, Path(data))
            except Fallback as err:
                reason = str(err)
            stage("read_changes")
        if reason is None:
            report.changed = {t: (d.old_count, d.new_count) for t, d in diffs.items()
                              if d.old_count or d.new_count}
            report.read = {t: d.read_rows for t, d in diffs.items() if d.read_rows}
            new = _tables(state, loaded, day)
            try:
                scopes = affected_payees(loaded, backend, new, diffs)
            except Fallback as err:
                reason = str(err)
            stage("affected")
        if reason is not None:
            say("read and validate input")
            state.load_all(Path(data))
            stage("read_input")
            new = _tables(state, loaded, day)
            report.mode, report.reason = "full", reason
            diffs = None
        else:
            report.mode = "incremental"
            report.affected = sorted(set().union(*(a.everyone() for a in scopes.values())))
        # The input is read: from here the state's connection reads the input files only
        # (the views a full load keeps over Parquet files) and writes its own database.
        duckdb_config.seal(state.con, [item.path for item in find_files(loaded.plan, Path(data))])
        state.mark(complete=False)
        scope = Splice(state, scopes, full=diffs is None, diffs=diffs)

        def store(name: str, expr):
            if name == "lines":  # every line, budgets applied
                return budgeted_lines(scope)
            state.con.execute(f"DROP TABLE IF EXISTS {quote(f'stage_{name}')}")
            if scope.kept(name):  # not even compiled: an empty table of its columns
                return backend.create_table(f"stage_{name}", schema=expr.schema(), temp=True)
            return backend.create_table(f"stage_{name}", expr, temp=True)

        built = build(loaded, new, clock.materializer(store, say), scope=scope, credits=credits)
        stage("calculate")
        if diffs is None:
            results = fetch_outputs(built, backend, say)
            stage("execute")
            report.payees = results["summary"].num_rows
            report.delta = Delta(full=True, rows=results)
        else:
            report.delta = compute_delta(state, built, _candidates(state, scope), say)
            stage("delta")
            results = fetch_outputs(built, backend, say) if outputs == "all" else {}
            stage("execute")
            report.payees = state.con.execute(
                f"SELECT count(*) FROM {quote(out_name('summary'))}").fetchone()[0]
        say("store the state")
        if diffs is None:
            state.save_all(Path(data))
            store_outputs(state.con, results)
        state.mark(complete=True)
        state.con.execute("CHECKPOINT")
        stage("store_state")
        return RunResult(loaded, results, fingerprint(loaded, Path(data), day),
                         dict(report.seconds), day, credits), report
    finally:
        state.con.close()


def _tables(state: State, loaded: LoadedPlan, day: dt.date | None) -> dict:
    """The input tables, and the run's as-of day beside them when the plan depends on it
    (a value in a table, as runs.py gives it)."""
    names = list(loaded.plan.inputs) + asof.register(state.con, loaded.plan, day)
    return {name: state.backend.table(name) for name in names}


def _candidates(state: State, scope: Splice) -> Candidates | None:
    """The payees, or payee-periods, whose output rows may have changed (None: any)."""
    if scope.changed is None or not all(out_name(t) in state.names() for t in BY_PAYEE):
        return None
    found = Candidates()
    for measure_id, affected in scope.scopes.items():
        found.measures.setdefault(measure_id, set()).update(affected.payees | affected.others)
        found.periods |= affected.periods
    for payee, period in scope.changed:
        if period is None:
            found.payees.add(payee)
        else:
            found.periods.add((payee, period))
    for measure in state.loaded.plan.measures:
        roster = getattr(measure, "roster", None)
        if roster is None or measure.type == "balance":
            continue
        diff = scope.diffs.get(roster.table)
        if diff is not None and (diff.old_count or diff.new_count):  # a payee in or out
            column = quote(roster.column)
            for side in ("old", "new"):
                found.payees.update(r[0] for r in state.con.execute(
                    f"SELECT DISTINCT CAST({column} AS VARCHAR) FROM "
                    f"{quote(f'{side}_{roster.table}')}").fetchall() if r[0] is not None)
    return found
