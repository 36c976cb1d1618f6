"""The plan language: strict models of a program file and its building blocks.

Every block is chosen by its `type:`; unknown keys are errors (extra="forbid"), so a typo
in a plan is reported with its line instead of being silently ignored. Expressions are
kept as text here and checked by `paymaster.plan.expressions` against the input schema.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from paymaster.sqlnames import NAME


class Written:
    """Marks, in a model's annotation, what kind of plan value a text is (for checks that
    walk the plan, such as `paymaster check`'s warnings); pydantic ignores it."""

    def __init__(self, kind: str):
        self.kind = kind


EXPRESSION, NUMBER = Written("expression"), Written("number")
# a SQL-subset expression, checked when the plan is loaded
Expr = Annotated[str, EXPRESSION]
# a literal amount/rate, or an expression ("param.x", "param.base * 2")
Number = Annotated[Decimal | str, NUMBER]

# A name that becomes a table, column or stage in SQL (or a reason, a parameter): checked
# against sqlnames.NAME when the plan is loaded, so no quote, space or semicolon from a
# plan file can reach a statement. The loader words the error (sqlnames.NAME_RULE).
NAME_PATTERN = f"^{NAME.pattern}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
# A reason a line is not paid (a rule's, gate's or limit's name): a value in the outputs,
# and a column only through Ibis, which quotes it. Plans write thresholds into them
# ('csat_below_4.5'), so dots and hyphens are allowed; never a quote, space or semicolon.
REASON_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,62}$"
Reason = Annotated[str, StringConstraints(pattern=REASON_PATTERN)]
# `table.column`, as a column's `references:` is written.
REFERENCE_PATTERN = f"^{NAME.pattern}[.]{NAME.pattern}$"
# Put before the columns a lookup brings in: with the column's name, still a name.
PREFIX_PATTERN = r"^([A-Za-z][A-Za-z0-9_]{0,30})?$"

COLUMN_TYPES = ("string", "integer", "decimal", "date", "timestamp", "boolean")


class Strict(BaseModel):
    # defer_build: pydantic builds a model's validator when it first validates, not when
    # this module is imported (0.13 s of CPU): a run whose plan comes from the run cache
    # (paymaster.runcache) validates nothing. Every model is defined before a field names
    # it, so its fields are complete (annotations resolved) without a model_rebuild(),
    # which would build the validators at once.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              defer_build=True)


# ---------------------------------------------------------------- inputs
ColumnType = Literal["string", "integer", "decimal", "date", "timestamp", "boolean"]


TaxIdKind = Literal["pl.nip", "pl.regon", "cn.uscc", "cn.ric", "eu.vat", "de.vat", "gb.vat",
                    "fr.tva", "in_.gstin", "au.abn", "kr.brn", "sg.uen", "us.ein"]


class ColumnSpec(Strict):
    type: ColumnType
    optional: bool = False
    min: Decimal | None = None
    max: Decimal | None = None
    values: list[str] | None = None
    references: str | None = Field(None, pattern=REFERENCE_PATTERN,
                                    description="table.column this value must exist in")
    tax_id: TaxIdKind | None = Field(
        None, description="the kind of tax id this column holds (a python-stdnum module), "
        "checked on every import and run: pl.nip, cn.uscc, eu.vat, ...")
    invalid_tax_id: Literal["error", "keep"] = Field(
        "error", description="an invalid tax id: an input error (the default), or kept as "
        "written and compared as it is (for data that only refers to tax ids, such as sales); "
        "a valid pl.nip is kept in its cleaned form either way")
    description: str = ""


class GroupCheck(Strict):
    """A check over groups of rows of one input table: the split shares of each deal add
    up to 100%, the objective weights of each rep and quarter too."""

    name: Reason = Field(description="the check's name: the reason of the lines it holds")
    description: str = ""
    by: list[Name] = Field(min_length=1, description="the columns whose rows form a group")
    sum: Name = Field(description="the numeric column totalled per group")
    equals: Decimal = Field(description="what each group's total must be")
    tolerance: Decimal = Field(Decimal(0), ge=0, description="how far a total may be from "
                               "`equals` (0.0001 lets three shares of 0.3333 pass)")
    action: Literal["refuse", "hold"] = Field(
        "refuse", description="refuse: the input is refused with the group's rows named; "
        "hold: the input is kept, and every per_record line of a failing group's row is "
        "not paid, with the check's name as its reason")


class InputTable(Strict):
    description: str = ""
    optional: bool = Field(False, description="a missing file means an empty table")
    key: list[Name] = Field(default_factory=list)
    checks: list[GroupCheck] = Field(default_factory=list,
                                     description="checks over groups of this table's rows")
    # `licences: integer` is the short form of `licences: {type: integer}`.
    columns: dict[Name, ColumnSpec | ColumnType]

    @field_validator("columns", mode="after")
    @classmethod
    def _short_form(cls, value: dict) -> dict:
        return {k: ColumnSpec(type=v) if isinstance(v, str) else v for k, v in value.items()}


# ---------------------------------------------------------------- shared parts
class Lookup(Strict):
    """Many-to-one enrichment: columns of `table` joined on `on` (their column: ours)."""

    table: Name
    on: dict[Name, Expr] = Field(description="their column: our column, or an expression "
                                 "over the record (`period_of(closed_on, 'month')`)")
    columns: list[Name]
    prefix: str = Field("", pattern=PREFIX_PATTERN)


class FirstWins(Strict):
    """Duplicate check: an earlier accepted record with the same key by another payee blocks."""

    key: list[Name]
    other: Name = Field(description="column that must differ for the earlier record to block")


class Rule(Strict):
    """A named eligibility rule; its name is the reason a record is not paid."""

    name: Reason
    fail_when: Expr | None = None
    require: Expr | None = None
    first_wins: FirstWins | None = None
    cancels: bool = Field(
        False, description="a cancellation (say, the payee was removed): the record's amount "
        "is kept on record, unpaid, with this reason; a record that passes every other check "
        "still counts as closed, so a `one_off` bonus on it is kept on record too (0.00, unpaid, "
        "with this reason)")
    description: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        kinds = [k for k in ("fail_when", "require", "first_wins") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("a rule needs exactly one of fail_when, require, first_wins")
        return self


class Cap(Strict):
    """Per-line cap: the field `name` is `value` limited to `max` (traced when it cuts)."""

    name: Name
    value: Expr
    max: Number


class Band(Strict):
    label: str
    when: Expr = "TRUE"
    rate: Number


class RateTable(Strict):
    """First matching band wins; a record matching none earns nothing (reason `no_band`)."""

    bands: list[Band]


class Limit(Strict):
    """Best N per group: only the first `count` eligible lines per payee and period are paid."""

    name: Reason
    count: Number
    per: Literal["period", "payee"] = "period"
    order_by: list[Name]


class Claim(Strict):
    """Each record must be claimed by an accepted record of a screening measure.

    Claimants are taken in their screening order; each takes the earliest unclaimed record
    with the same `on` keys dated on or after its own date. That record is its only chance.
    """

    screening: Name
    on: list[Name]
    order_by: list[Name]
    reason: Reason = "not_claimed"
    rejected_reason: Reason | None = Field(
        None, description="when set: a record left unclaimed whose latest screened record of "
        "the same keys, dated on or before it, was rejected gets this reason (the explanation "
        "names that record and its own reason), not `reason`")
    pending_reason: Reason | None = Field(
        None, description="when set: as `rejected_reason`, for a screened record still waiting "
        "for the owner's decision")
    used_reason: Reason | None = Field(
        None, description="when set: as `rejected_reason`, for an accepted screened record that "
        "already claimed an earlier record (the explanation names it)")


class Tier(Strict):
    upto: Number | None = None  # upper edge, relative to the target when relative_to is set
    rate: Number
    label: str = ""


class Tiers(Strict):
    mode: Literal["graduated", "retroactive"]
    relative_to: Literal["target"] | None = None
    tiers: list[Tier]


class TargetLookup(Strict):
    """Target of an aggregate line: the sum of `column` over rows of `table` matching `on`."""

    table: Name
    on: dict[Name, Name]
    column: Expr = Field(description="a column of the table, or an expression over its row "
                         "(its columns, its `lookups`, and period.start/end/days/business_days "
                         "of the period the row is matched to)")
    where: Expr | None = None
    lookups: list[Lookup] = Field(default_factory=list)


class GroupTotal(Strict):
    """The total of a group the line belongs to (e.g. the team), and its target."""

    by: Name
    target: TargetLookup | None = None


class Gate(Strict):
    name: Reason
    require: Expr
    description: str = ""


class DurationRule(Strict):
    """Records whose `end - start` exceeds `max_days` earn nothing, reason `name`."""

    name: Reason
    start: Expr
    end: Expr
    max_days: Number


class Roster(Strict):
    """Every payee of a roster gets a line for every period of the plan's scope: a payee
    and period the measure gives no line get a 0.00 line, unpaid, with `reason`."""

    table: Name = Field(description="the input table listing the payees (e.g. reps)")
    column: Name = Field(description="its column holding the payee id (e.g. rep_id)")
    reason: Reason = Field(description="the reason on a line the measure gave nothing for, "
                           "e.g. no_sales, no_score")
    period: Literal["month", "quarter", "year", "phases"] | None = Field(
        None, description="the kind of the periods to fill, for a measure whose `period` is "
        "column:<name> (its values must be written as the engine's labels: 2025-Q1, ...)")


def _roster() -> Any:
    return Field(None, description="one line per payee of `table` and period of the scope, "
                 "a 0.00 line with `reason` where the measure gives none")


class Refer(Strict):
    """Lines of an earlier measure for the same payee, in the period of `period_of`."""

    measure: Name
    period_of: Expr


# ---------------------------------------------------------------- measures
class MeasureBase(Strict):
    id: Name
    label: str = ""
    description: str = ""
    source: Name
    payee: Expr
    lookups: list[Lookup] = Field(default_factory=list)
    fields: dict[Name, Expr] = Field(default_factory=dict)
    filter: Expr | None = None
    date: Expr | None = None
    period: str = "month"  # month | quarter | year | phases | column:<name>
    budget: Name | None = None


class PerRecord(MeasureBase):
    """One line per source record: (base x rate) or an amount, after rules and caps."""

    type: Literal["per_record"]
    claim: Claim | None = None
    rules: list[Rule] = Field(default_factory=list)
    caps: list[Cap] = Field(default_factory=list)
    base: Expr | None = None
    base_label: str = Field("base", description="what the base is called in explanations")
    rate: RateTable | Number | None = None
    amount: Expr | None = None
    limit: Limit | None = None
    source_id: Expr
    duration: DurationRule | None = None
    refers: list[Refer] = Field(default_factory=list)
    roster: Roster | None = _roster()

    @model_validator(mode="after")
    def _amount_or_rate(self) -> PerRecord:
        if (self.amount is None) == (self.base is None or self.rate is None):
            raise ValueError("give either `amount`, or both `base` and `rate`")
        return self


class OneOff(Strict):
    """Once per payee: a fixed bonus on its first paid line of measure `of`."""

    type: Literal["one_off"]
    id: Name
    label: str = ""
    description: str = ""
    of: Name
    when: Expr = "TRUE"
    amount: Number
    budget: Name | None = None


class AnswerWithin(Strict):
    """How long the owner has to answer a record waiting for it."""

    business_days: int = Field(ge=1, description="business days after the record's day "
                               "(that day not counted); unanswered past the last: overdue")
    country: str = Field("", pattern=r"^([A-Z]{2})?$", description="whose weekends and "
                         "public holidays are not business days (empty: the plan's `country`)")


class Decision(Strict):
    column: Name
    rejected_value: str = "rejected"
    reason: Reason = "rejected_by_owner"
    pending_value: str | None = Field(
        None, description="a record whose decision column holds this value is still waiting "
        "for the owner: not accepted (reason `pending_reason`) and blocks no later record")
    pending_reason: Reason = "awaiting_decision"
    answer_within: AnswerWithin | None = Field(
        None, description="with `pending_value`: a record still waiting after this many "
        "business days (from its `date`, to the run's as-of day) fails with `overdue_reason` "
        "instead; like a pending one it is not accepted and blocks no later record")
    overdue_reason: Reason = "overdue"
    reason_column: Name | None = Field(
        None, description="the column with the owner's stated reason, shown with a rejection")

    @model_validator(mode="after")
    def _overdue_needs_pending(self) -> Decision:
        if self.answer_within is not None and self.pending_value is None:
            raise ValueError("`answer_within` needs `pending_value`: only a record waiting "
                             "for the owner can be overdue")
        return self


class Screening(MeasureBase):
    """Checks records (e.g. lead registrations) in order; first failing rule is the reason."""

    type: Literal["screening"]
    source_id: Expr
    order_by: list[Name]
    required: list[Name] = Field(default_factory=list)
    tax_ids: dict[Name, str] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    decision: Decision | None = None


class Aggregate(MeasureBase):
    """One line per payee and period from the sum (and count) of the source's `value`."""

    type: Literal["aggregate"]
    value: Expr
    keys: list[Name] = Field(default_factory=list)
    target: TargetLookup | None = None
    group: GroupTotal | None = None
    tiers: Tiers | None = None
    amount: Expr | None = None
    gates: list[Gate] = Field(default_factory=list)
    only_positive: bool = True
    source_id: Expr | None = Field(None, description="identifies each record summed, in the "
                                   "credits output (default: the source table's key)")
    roster: Roster | None = _roster()

    @model_validator(mode="after")
    def _amount_or_tiers(self) -> Aggregate:
        if (self.amount is None) == (self.tiers is None):
            raise ValueError("give either `amount` or `tiers`")
        if self.tiers and self.tiers.relative_to == "target" and self.target is None:
            raise ValueError("tiers relative to the target need a `target`")
        return self


class Ranking(MeasureBase):
    """Rank payees by the period's total (or its growth); prizes by place, ties share."""

    type: Literal["ranking"]
    value: Expr
    prizes: list[Number]
    metric: Literal["total", "growth"] = "total"
    min_previous: Number | None = None
    ranked_from: Number | None = Field(
        None, description="the first period ranked, counted from the scope's first period "
        "(1: the first; a number, e.g. param.progress_from_month); earlier periods pay nothing. "
        "Default: every period (with `growth`, from the second: the first has no previous one)")
    title: str | None = None
    roster: Roster | None = _roster()


class Streak(MeasureBase):
    """A prize each time a payee has been in the top N for `length` periods running."""

    type: Literal["streak"]
    value: Expr
    top: Number = Field(description="the number of places that count (a whole number)")
    length: Number = Field(description="consecutive periods that make a streak (a whole number)")
    amount: Number
    roster: Roster | None = _roster()


class PayeesFrom(Strict):
    table: Name
    payee: Expr
    period: Expr


class Cover(Strict):
    """The union of matching intervals of `table` must cover every day of the period."""

    name: Reason
    table: Name
    match: Expr
    start: Name
    end: Name


class Minimum(Strict):
    name: Reason
    threshold: Number
    label: str = Field("", description="what statements call this gate (default: name)")


class RatioGate(Strict):
    name: Reason
    required: Number
    label: str = Field("", description="what statements call this gate (default: name)")


class GatedRebate(MeasureBase):
    """Rate x qualifying value per payee and phase, paid at the first evaluation it passes."""

    type: Literal["gated_rebate"]
    source_id: Expr
    value: Expr
    rate: Number
    rules: list[Rule] = Field(default_factory=list)
    counts_when: Expr = "TRUE"
    returned_when: Expr
    payees_from: PayeesFrom | None = None
    population_when: Expr = Field(
        "TRUE", description="records that bring their payee into the population")
    eligibility: list[Gate] = Field(default_factory=list)
    cover: Cover | None = None
    minimum: Minimum
    ratio: RatioGate


class BalanceRoster(Strict):
    """Who has a balance: every payee of a table, whether or not they earned anything."""

    table: Name
    column: Name = Field(description="its column holding the payee id")
    where: Expr = Field("TRUE", description="which of the table's rows are on the roster")


class Balance(Strict):
    """A balance carried from one period to the next (a draw against commission): each
    period, a payee earning less than `guarantee` from the measures `of` is topped up to
    it; with `recoverable`, what was topped up is owed and taken back from later periods'
    earnings above the guarantee. With `guarantee` 0 it carries a negative period (after
    clawbacks) forward instead of paying it: recovered from later earnings."""

    type: Literal["balance"]
    id: Name
    label: str = ""
    description: str = ""
    of: list[Name] = Field(min_length=1, description="the earlier measures whose lines "
                           "(their amounts before budgets) are the period's earnings")
    roster: BalanceRoster | None = Field(None, description="the payees who have the balance, with a "
                                  "line every period (default: every payee with lines of `of`)")
    period: Literal["month", "quarter", "year"] = "month"
    guarantee: Number = Field(Decimal(0), description="the least a payee is paid per period")
    recoverable: bool = Field(True, description="a top-up is owed and recovered later")
    advance: Number = Field(Decimal(0), description="paid in a period on top of what is "
                            "earned, and owed back like a top-up: a number, or an expression "
                            "of the period (IF(period.start = scope.start, 5000, 0))")


class TitleRank(MeasureBase):
    """A title for the payees ranked within the top `fraction` of `count_table` rows
    (ties at the boundary included). A title pays nothing."""

    type: Literal["title"]
    value: Expr
    period: str = "year"
    fraction: Number
    count_table: Name


Measure = Annotated[
    PerRecord | OneOff | Screening | Aggregate | Ranking | Streak | GatedRebate | TitleRank
    | Balance,
    Field(discriminator="type"),
]


# ---------------------------------------------------------------- program
class Phase(Strict):
    model_config = ConfigDict(extra="allow", frozen=True)
    id: str
    start: dt.date
    end: dt.date
    evaluations: list[dt.date] = Field(default_factory=list)


class Version(Strict):
    effective_from: dt.date
    label: str = ""
    parameters: dict[Name, Decimal | str | int | bool] = Field(default_factory=dict)


class Budget(Strict):
    id: Name
    amount: Number
    reason: Reason = "budget_exhausted"
    description: str = ""


class Effect(Strict):
    """What the program's effect is measured on: the sales it pays for."""

    source: Name
    value: Expr
    date: Expr


class Scope(Strict):
    start: dt.date
    end: dt.date


class Plan(Strict):
    program: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = ""
    description: str = ""
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    country: str = Field("", pattern=r"^([A-Z]{2})?$")
    scope: Scope
    parameters: dict[Name, Decimal | str | int | bool] = Field(default_factory=dict)
    versions: list[Version] = Field(default_factory=list)
    phases: list[Phase] = Field(default_factory=list)
    inputs: dict[Name, InputTable]
    measures: list[Measure]
    budgets: list[Budget] = Field(default_factory=list)
    annual_budget: Decimal | None = None
    effect: Effect | None = None
    translations: dict[Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")], dict[str, str]] = Field(
        default_factory=dict,
        description="the plan's own words in other languages: language -> {the text as "
                    "written in the plan (a label, a rule or reason name, a title): its "
                    "translation}; what is not listed is shown as written")

    def measure(self, measure_id: str) -> Any:
        for measure in self.measures:
            if measure.id == measure_id:
                return measure
        raise KeyError(measure_id)
