"""The engine: a plan and input tables in, result tables (Ibis expressions) out.

It never reads or writes anything itself; the caller binds the inputs to a backend
(DuckDB by default) and executes the expressions it gets back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Protocol

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from paymaster import asof
from paymaster.credits import ALL as ALL_CREDITS
from paymaster.credits import DEFAULT as DEFAULT_CREDITS
from paymaster.credits import check as check_credits
from paymaster.engine.blocks.aggregates import build_aggregate
from paymaster.engine.blocks.balances import build_balance
from paymaster.engine.blocks.rankings import build_ranking, build_streak, build_title
from paymaster.engine.blocks.rebate import build_gated_rebate
from paymaster.engine.blocks.records import build_one_off, build_per_record
from paymaster.engine.blocks.screening import build_screening
from paymaster.engine.budget import apply_budgets
from paymaster.engine.context import (
    BlockResult,
    Context,
    is_stored,
    literal_columns,
    store_varying,
    union_all,
)
from paymaster.engine.effect import effect
from paymaster.engine.roster import with_roster_lines
from paymaster.engine.lines import (
    CREDIT_SCHEMA,
    EVALUATION_SCHEMA,
    TITLE_SCHEMA,
    memtable,
)
from paymaster.errors import Collector, PlanError, ResourceError, suggest
from paymaster.money import MONEY_TYPE, money_type
from paymaster.plan.expressions import COLUMN_DTYPES, Compiler, hide_internal, plan_columns
from paymaster.plan.loader import LoadedPlan
from paymaster.plan.trace import trace_columns

BLOCKS: dict[str, Callable[..., BlockResult]] = {
    "per_record": build_per_record,
    "one_off": build_one_off,
    "screening": build_screening,
    "aggregate": build_aggregate,
    "ranking": build_ranking,
    "streak": build_streak,
    "title": build_title,
    "gated_rebate": build_gated_rebate,
    "balance": build_balance,
}

PAYOUT_COLUMNS = [
    "program", "payee_id", "period", "measure", "source_id", "earned", "amount", "paid",
    "reason", "base", "rate", "band", "value", "target", "cut_by_cap", "cut_by_limit",
    "cut_by_budget", "budget", "version", "date", "raw", "template", "claim", "claim_status",
    "claim_reason", "claim_note", "claim_sale", "slot", "slot_limit", "budget_left", "place",
    "tied", "run", "growth", "group_value", "group_target", "evaluation", "threshold", "ratio",
    "required_ratio",
]


def payout_columns(plan) -> list[str]:
    """The payouts file's columns: PAYOUT_COLUMNS and the plan's own trace columns (a
    balance's only in a plan that has one: the file stays as narrow as the plan allows)."""
    balances = ["topped_up", "advanced", "recovered", "owed"] if any(
        m.type == "balance" for m in plan.measures) else []
    return [*PAYOUT_COLUMNS, *balances, *trace_columns(plan)]
OUTPUT_TABLES = ("payouts", "summary", "titles", "evaluations", "credits", "effect")


@dataclass
class Outputs:
    """The engine's result: one Ibis expression per output table."""

    payouts: ir.Table
    summary: ir.Table
    titles: ir.Table
    evaluations: ir.Table
    credits: ir.Table
    effect: ir.Table
    # the payout lines unsorted, for totals, when `payouts` cannot be unsorted (a view)
    totals: ir.Table | None = None

    def tables(self) -> dict[str, ir.Table]:
        return {
            "payouts": self.payouts,
            "summary": self.summary,
            "titles": self.titles,
            "evaluations": self.evaluations,
            "credits": self.credits,
            "effect": self.effect,
        }


def input_schemas(loaded: LoadedPlan) -> dict[str, ibis.Schema]:
    return {
        name: ibis.schema({c: COLUMN_DTYPES[spec.type] for c, spec in table.columns.items()})
        for name, table in loaded.plan.inputs.items()
    }


def check(loaded: LoadedPlan) -> None:
    """Compile every expression against the declared input schema, reading no data.
    Raises PlanError with every problem found."""
    tables = {name: ibis.table(schema, name=name) for name, schema in input_schemas(loaded).items()}
    tables |= {name: ibis.table(columns, name=name)  # (the run's as-of day: asof.py)
               for name, columns in asof.schemas(loaded.plan).items()}
    try:
        build(loaded, tables, credits=ALL_CREDITS)  # (every expression, the credits' too)
    except PlanError as err:
        if not loaded.problems:
            raise
        # (a plan loaded `partial`: what it was loaded with and what compiling found, in
        # the order of the file)
        raise PlanError(sorted([*loaded.problems, *err.problems], key=_place)) from err
    if loaded.problems:
        raise PlanError(sorted(loaded.problems, key=_place))


def _place(problem) -> tuple:
    return (problem.file, problem.line or 0, problem.column or 0)


Materialize = Callable[[str, ir.Table], ir.Table]


class Scope(Protocol):
    """A partial recalculation (see paymaster.incremental): which part of each measure to
    compute, and how its partial results join the stored ones."""

    def narrow(self, measure, table: ir.Table) -> ir.Table:
        """The measure's records (after payee and period are known) to compute."""

    def claimed(self, measure, table: ir.Table) -> ir.Table:
        """The records to go on with once their claims are known."""

    def stored_claims(self, measure, table: ir.Table, claimant: dt.DataType) -> ir.Table | None:
        """The records with their stored claims (`claimant`: the claimant's type), or None."""

    def splice(self, measure, result: BlockResult) -> tuple[BlockResult, BlockResult]:
        """Store a measure's (partial) result; returns (the whole result, for the outputs;
        the part later measures read)."""

    def compact(self, measure) -> ir.Table | None:
        """A smaller table standing for the measure's source (rows pre-summed), or None."""

    def tables(self, measure, tables: dict[str, ir.Table]) -> dict[str, ir.Table]:
        """The input tables the measure is built on (some narrowed to the scope)."""


@dataclass
class _ScopedContext(Context):
    scope: Scope | None = None

    def payee_period(self, table: ir.Table, measure, path: tuple) -> ir.Table:
        table = super().payee_period(table, measure, path)
        return table if self.scope is None else self.scope.narrow(measure, table)

    def claimed(self, table: ir.Table, measure) -> ir.Table:
        return table if self.scope is None else self.scope.claimed(measure, table)

    def stored_claims(self, table: ir.Table, measure) -> ir.Table | None:
        if self.scope is None:
            return None
        verdicts = self.results[measure.claim.screening].verdicts
        return self.scope.stored_claims(measure, table, verdicts["__claimant"].type())

    def source(self, measure, path: tuple) -> ir.Table:
        compact = self.scope.compact(measure) if self.scope is not None else None
        if compact is None:
            return super().source(measure, path)
        tables, self.tables = self.tables, {**self.tables, measure.source: compact}
        try:
            return super().source(measure, path)
        finally:
            self.tables = tables


def build(loaded: LoadedPlan, tables: dict[str, ir.Table],
          materialize: Materialize | None = None, scope: Scope | None = None,
          credits: str = DEFAULT_CREDITS, narrow_claims: bool = True) -> Outputs:
    """Compose the pipeline. `materialize`, when given by the caller, turns each stage's
    table into a stored one (a temp table on the backend) and returns a reference to it:
    the engine stays free of I/O, while a run executes stage by stage with progress and
    keeps the generated SQL small.

    `scope` (with `materialize`) recalculates only part of each measure and splices it
    into the results of an earlier run: the outputs are built over the spliced whole.

    `credits` (paymaster.credits): `all` adds every record an aggregate summed to the
    credits; `records` builds none of them.

    `narrow_claims`: a per-record measure with claims numbers them over narrow rows and
    joins the records back by their key, where the key names one record (the same
    results, other SQL: cheaper where the wide windows would spill)."""
    check_credits(credits)
    collector = Collector()
    ctx = _ScopedContext(loaded=loaded, tables=tables, compiler=Compiler(loaded.source, collector),
                         materialize=materialize, scope=scope,
                         shared={} if scope is None else None,
                         aggregate_credits=credits == ALL_CREDITS,
                         narrow_claims=narrow_claims)
    whole: dict[str, BlockResult] = {}
    for index, measure in enumerate(loaded.plan.measures):
        path = ("measures", index)
        try:
            if scope is not None:
                ctx.tables = scope.tables(measure, tables)
            result = BLOCKS[measure.type](ctx, measure, path, index)
            ctx.tables = tables
            whole[measure.id] = result
            if materialize is not None and not collector:
                if scope is not None:
                    whole[measure.id], result = scope.splice(measure, result)
                else:
                    _store(result, measure.id, materialize)
            ctx.results[measure.id] = result
        except (PlanError, ResourceError):
            raise
        except Exception as err:  # noqa: BLE001 - located as a plan problem, never swallowed
            if not collector:
                ctx.compiler.report(path, *_said(err, measure))
            ctx.results[measure.id] = whole[measure.id] = BlockResult()
    collector.raise_if_any(PlanError)
    return _assemble(replace(ctx, results=whole, scope=None), materialize,
                     all_lines=scope is not None)


MISSING_COLUMN = re.compile(r"Column '([^']*)' is not found in table\. Existing columns: (.*)")


def _said(err: Exception, measure) -> tuple[str, str | None]:
    """Why a measure cannot be built, in the plan's terms: a missing column named with the
    plan's own columns as suggestions, and never an internal column of the engine."""
    text = str(err)
    found = MISSING_COLUMN.search(text)
    if found:
        name = found.group(1)
        columns = plan_columns(re.findall(r"'([^']*)'", found.group(2)))
        source = getattr(measure, "source", None) or "its records"
        return (f"measure '{measure.id}': '{name}' is not a column of {source}",
                suggest(name, columns))
    return f"measure '{measure.id}' cannot be built: {hide_internal(text)}", None


def _store(result: BlockResult, name: str, materialize: Materialize) -> None:
    # Evaluations and credits are read once, by the output: not stored (a stored copy of a
    # projection of the measure's own stage costs a full write of millions of rows).
    # (One already stored, a block's own stage, is not copied.)
    for attr in ("lines", "titles", "verdicts"):
        table = getattr(result, attr)
        if table is not None and not is_stored(table):
            setattr(result, attr, store_varying(materialize, f"{name}__{attr}", table))


def _assemble(ctx: Context, materialize: Materialize | None = None,
              all_lines: bool = False) -> Outputs:
    """The output tables over every measure's lines. A full run stores only the lines a
    budget charges (the rest are read from the measures' own stages); a partial
    recalculation (`all_lines`) stores every line as the stage "lines", which it keeps."""
    results = list(ctx.results.values())
    program = ctx.plan.program
    parts = [r.lines for r in results if r.lines is not None] or [memtable({}, ctx.line_schema())]
    lines = apply_budgets(ctx.plan, parts,
                          lambda v, table: ctx.number(v, ctx.namespace(table), ("budgets",)),
                          stage=(partial(store_varying, materialize)
                                 if materialize is not None and not all_lines else None))
    if materialize is not None and all_lines:
        lines = materialize("lines", lines)
    rostered = with_roster_lines(ctx, lines)
    if rostered is not lines and materialize is not None and not all_lines:
        # A roster's empty lines are an anti-join against every line, and the payouts, the
        # summary, the effect and the printed totals each read the lines: stored once, they
        # read one table, not each the whole union again (sales-team: 8 queries of 35 KB).
        # (without the columns that are one literal on every line: the payouts sort them not)
        rostered = store_varying(materialize, "payout_lines", rostered)
    lines = rostered
    # Ties (one sale paid under two measures) broken by the plan's measure order, so the
    # same inputs always give the same files, row for row.
    places = ctx.places
    payouts = sorted_lines(lines, ["payee_id", "period", "date", "source_id", "seq"],
                           payout_columns(ctx.plan))
    summary = lines.group_by(["program", "payee_id"]).aggregate(
        lines=lines.count(),
        paid_lines=lines["paid"].sum().cast("int64"),
        unpaid_lines=(~lines["paid"]).sum().cast("int64"),
        earned=lines["earned"].sum().cast(money_type(places, 38)),
        amount=lines["amount"].sum().cast(money_type(places, 38)),
    ).order_by("payee_id")
    return Outputs(
        payouts=_in_currency(payouts, places),
        summary=summary,
        titles=_in_currency(_union([r.titles for r in results], TITLE_SCHEMA, program), places)
        .order_by(["payee_id", "period", "title", "rank"]),
        evaluations=_in_currency(
            _union([r.evaluations for r in results], EVALUATION_SCHEMA, program), places)
        .order_by(["payee_id", "period", "subject", "as_of", "evaluation"]),
        credits=_in_currency(_union([r.credits for r in results], CREDIT_SCHEMA, program),
                             places).order_by(["payee_id", "period", "measure", "source_id"]),
        effect=_in_currency(effect(ctx, lines), places),
    )


def sorted_lines(lines: ir.Table, keys: list[str], columns: list[str]) -> ir.Table:
    """`columns` of `lines` in the order of `keys`. A column that is one literal on every
    line (a trace column no measure of the plan sets, the program's name) is put back over
    the sorted rows, not carried through the sort: a sort stores every carried column of
    every row (and at 10M lines spills them), where a literal costs nothing. The same
    rows, values and order as sorting every column."""
    constant = {name: value for name, value in literal_columns(lines).items()
                if name in columns and name not in keys}
    carried = lines.select(*dict.fromkeys([*(c for c in columns if c not in constant), *keys]))
    # (a view: Ibis would otherwise compute the literals in the sorted query's own SELECT,
    # which DuckDB sorts with the rest)
    ordered = carried.order_by(keys).view()
    return ordered.select(*[constant[c].name(c) if c in constant else ordered[c]
                            for c in columns])


def _in_currency(table: ir.Table, places: int) -> ir.Table:
    """The money columns with exactly the currency's places (50 yen reads "50", not
    "50.000"). Every amount is rounded to those places already: the cast only narrows
    the engine's common MONEY_TYPE, it changes no value."""
    money = {name: table[name].cast(money_type(places)) for name, dtype in table.schema().items()
             if dtype == ibis.dtype(MONEY_TYPE)}
    return table.mutate(**money) if money else table


def _union(tables: list[ir.Table | None], schema: dict, program: str = "") -> ir.Table:
    present = [t for t in tables if t is not None]
    if not present:
        return memtable({}, schema)
    return union_all(present)
