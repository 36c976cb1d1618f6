"""Explanations rendered at the edge: (plan, a line's or evaluation's trace, locale) ->
the text a person reads, in their language (gettext catalogs in web/locales, numbers
through Babel). The engine builds no prose: each row carries a template key and typed
trace columns (docs/traces.md); everything said here is read from them and the plan.

Rows are dicts as the result tables give them (Decimals) or as the store keeps them
(JSON: Decimals as text): every figure goes through `_number` first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import Any

import pyarrow as pa
from babel import Locale
from babel.dates import format_date
from babel.numbers import (
    format_currency,
    get_decimal_symbol,
    get_group_symbol,
    get_minus_sign_symbol,
)
from sqlglot import exp

from paymaster import asof
from paymaster.messages import LOCALES, translations
from paymaster.plan.expressions import parse
from paymaster.plan.model import Aggregate, AnswerWithin, PerRecord, Plan, Screening, Streak
from paymaster.plan import trace as t
from paymaster.plan.words import word
from paymaster.reasons import reason_words

SEP = "; "
CENT = Decimal("0.01")
_OPERATORS = {exp.Mul: " x ", exp.Add: " + ", exp.Sub: " - ", exp.Div: " / "}


def _(message: str) -> str:
    """Marks a message for the catalogs (python -m paymaster.web.catalog); `Speaker.say`
    translates it."""
    return message


class Speaker:
    """One language's words and number formats: the locale's decimal point, minus and
    percent signs and digit groups (Babel's symbols); formatted here rather than through
    Babel's pattern engine, which costs a millisecond a line. English numbers stay
    ungrouped and bare: the programs' specs write its explanations so (15000.00 of
    12500.00). Other languages show an amount with the plan's currency as CLDR places it
    (1 234,50 zł, ¥1,234.50): the sign and its side taken once from Babel."""

    def __init__(self, locale: str = "en", currency: str | None = None) -> None:
        language = locale.split("_")[0].split("-")[0] if locale else "en"
        self.language = language if language in LOCALES else "en"
        self.babel = LOCALES[self.language]
        self._gettext = translations(self.language).gettext
        self._point = get_decimal_symbol(self.babel)
        self._minus = get_minus_sign_symbol(self.babel)
        self._percent = Locale.parse(self.babel).number_symbols["latn"]["percentSign"]
        self._group = "" if self.language == "en" else get_group_symbol(self.babel)
        self._currency = self._currency_sides(currency) \
            if currency and self.language != "en" else None

    def _currency_sides(self, currency: str) -> tuple[tuple[str, str], tuple[str, str]]:
        """What stands before and after an amount, positive and negative, in this locale
        (CLDR's currency pattern, read off Babel's formatting of one unit)."""
        one = self._local(Decimal("1.00"))
        sides = []
        for unit in (Decimal("1.00"), Decimal("-1.00")):
            text = format_currency(unit, currency, locale=self.babel)
            before, found, after = text.partition(one)
            if not found:  # a currency without cents: Babel wrote 1 (or ¥1); keep bare
                return (("", ""), (self._minus, ""))
            sides.append((before, after))
        return sides[0], sides[1]

    def say(self, message: str, **values: Any) -> str:
        return self._gettext(message) % values if values else self._gettext(message)

    def _local(self, number: Decimal) -> str:
        text = format(number, "f")
        if self._group:
            text = _grouped(text, self._group)
        if self._point != ".":
            text = text.replace(".", self._point)
        return text.replace("-", self._minus) if self._minus != "-" else text

    def money(self, value: Any) -> str:
        number = _number(value)
        if number is None:
            return "NULL"
        number = number.quantize(CENT, rounding=ROUND_HALF_UP)
        if self._currency is None:
            return self._local(number)
        before, after = self._currency[1 if number < 0 else 0]
        return before + self._local(abs(number)) + after

    def figure(self, value: Any) -> str:
        """A number as short text: trailing zeros after the point dropped."""
        number = _number(value)
        return "NULL" if number is None else self._local(_trimmed(number))

    def input(self, value: Any, decimal: bool = False) -> str:
        """An input figure: a decimal column's with at least two places (57.10), other
        whole numbers bare."""
        number = _number(value)
        if number is None:
            return "NULL"
        trimmed = _trimmed(number)
        if (decimal or trimmed != trimmed.to_integral_value()) and trimmed.as_tuple().exponent > -2:
            trimmed = trimmed.quantize(CENT)
        return self._local(trimmed)

    def day(self, value: Any) -> str:
        """A date in the locale's medium form (2018年5月10日); English keeps ISO (specs)."""
        if not hasattr(value, "isoformat"):
            try:
                value = dt.date.fromisoformat(str(value))
            except ValueError:
                return str(value or "")
        if self.language == "en":
            return value.isoformat()
        return format_date(value, format="medium", locale=self.babel)

    def percent(self, value: Any) -> str:
        number = _number(value)
        if number is None:
            return "NULL"
        shown = (number * 100).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        return self._local(_trimmed(shown)) + self._percent


def _grouped(text: str, group: str) -> str:
    """'-1234567.50' -> '-1,234,567.50' (with `group` between thousands)."""
    sign, rest = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, point, fraction = rest.partition(".")
    if len(whole) <= 3:
        return text
    head = len(whole) % 3 or 3
    groups = [whole[:head]] + [whole[i:i + 3] for i in range(head, len(whole), 3)]
    return sign + group.join(groups) + point + fraction


def _number(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _trimmed(number: Decimal) -> Decimal:
    normal = number.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


@cache
def _speaker(locale: str, currency: str | None = None) -> Speaker:
    return Speaker(locale, currency)


def explain_line(plan: Plan, row: dict, locale: str = "en") -> str:
    """A payout line's explanation, rendered from its trace."""
    speak = _speaker(locale or "en", plan.currency)
    template = row.get("template")
    if not template:  # an old stored line: its text was kept as it was written
        return row.get("explanation") or ""
    try:
        measure = plan.measure(row.get("measure"))
    except KeyError:
        measure = None
    # No target: nothing was calculated, so only why it is not paid (no made-up figures).
    render = _empty if row.get("reason") == NO_TARGET else _LINES.get(template)
    parts = render(speak, plan, measure, row) if render is not None else []
    return SEP.join(p for p in [*parts, *_budget(speak, plan, row)] if p)


def explain_evaluation(plan: Plan, row: dict, locale: str = "en") -> str:
    """An evaluation row's explanation (a screened record, a gate at an evaluation date)."""
    speak = _speaker(locale or "en", plan.currency)
    template = row.get("template")
    if template == t.SCREENING:
        return _screening(speak, plan, row)
    if template == t.GATE:
        return SEP.join(_gate(speak, plan, row))
    return row.get("explanation") or ""


def explain_rows(plan: Plan, rows: Iterable[dict], kind: str = "payouts",
                 locale: str = "en") -> list[str]:
    """Every row's explanation; `kind` is payouts or evaluations."""
    explain: Callable[[Plan, dict, str], str] = (
        explain_evaluation if kind == "evaluations" else explain_line)
    return [explain(plan, row, locale) for row in rows]


EXPLAINED = ("payouts", "evaluations")  # the tables `--explanations text` adds a column to
CHOICES = ("none", "text")


def with_explanations(data: pa.Table | pa.RecordBatchReader, plan: Plan, kind: str,
                      locale: str = "en") -> pa.RecordBatchReader:
    """`data` (a payouts or evaluations table, whole or streamed) with an `explanation`
    column rendered from each row's trace, a batch at a time."""
    schema = data.schema.append(pa.field("explanation", pa.string()))
    pieces = data.to_batches() if isinstance(data, pa.Table) else data

    def batches():
        for batch in pieces:
            texts = explain_rows(plan, batch.to_pylist(), kind, locale)
            yield pa.RecordBatch.from_arrays([*batch.columns, pa.array(texts, pa.string())],
                                             schema=schema)
    return pa.RecordBatchReader.from_batches(schema, batches())


# ------------------------------------------------------------------ per-record lines
def _record(speak: Speaker, plan: Plan, measure: Any, row: dict) -> list[str]:
    parts = []
    if isinstance(measure, PerRecord):
        parts += _claim(speak, plan, measure, row)
        parts += _caps(speak, plan, measure, row)
    if row.get("template") == t.RECORD_AMOUNT:
        figures = _base_figures(speak, plan, measure, row, amount=True)
        if figures and _number(row.get("raw")) is not None:
            # the formula written out with the line's figures: -(3333.33 x 0.05) = -166.67
            parts.append(speak.say(_("amount %(figures)s = %(amount)s"), figures=figures,
                                   amount=speak.money(row.get("earned"))))
        else:
            parts.append(speak.say(_("amount %(amount)s"), amount=speak.money(row.get("earned"))))
    elif _number(row.get("rate")) is not None and _number(row.get("base")) is not None:
        label = _word(speak, plan, measure.base_label if isinstance(measure, PerRecord) else "base")
        figures = _base_figures(speak, plan, measure, row)
        values = dict(label=label, figures=figures, base=speak.money(row.get("base")),
                      rate=speak.percent(row.get("rate")), amount=speak.money(row.get("earned")))
        if row.get("band"):
            parts.append(speak.say(
                _("%(label)s %(figures)s = %(base)s; %(rate)s band %(band)s -> %(amount)s"),
                band=_word(speak, plan, row["band"]), **values))
        else:
            parts.append(speak.say(_("%(label)s %(figures)s = %(base)s; %(rate)s -> %(amount)s"),
                                   **values))
    text = SEP.join(parts)
    slot, count = row.get("slot"), _number(row.get("slot_limit"))
    if slot is not None and count is not None and int(slot) > count:
        text += SEP + speak.say(_("deal %(slot)s of the month, only %(count)s are paid"),
                                slot=int(slot), count=speak.figure(count))
    return [text]


def _claim(speak: Speaker, plan: Plan, measure: PerRecord, row: dict) -> list[str]:
    claim, status = measure.claim, row.get("claim_status")
    if claim is None or not status or not row.get("claim"):
        return []
    screening = _word(speak, plan, claim.screening)
    values = dict(screening=screening, registration=row["claim"],
                  reason=_why(speak, plan, row.get("claim_reason")),
                  sale=row.get("claim_sale") or "?")
    if status == t.CLAIM_CLOSED:
        return [f"{screening} {row['claim']}"]
    if status == t.CLAIM_USED:
        return [speak.say(_("%(screening)s %(registration)s already used by %(sale)s"), **values)]
    if status == t.CLAIM_PENDING:
        return [speak.say(_("%(screening)s %(registration)s not accepted yet: %(reason)s"),
                          **values)]
    if row.get("claim_note"):
        return [speak.say(_("%(screening)s %(registration)s rejected: %(reason)s (%(note)s)"),
                          note=row["claim_note"], **values)]
    return [speak.say(_("%(screening)s %(registration)s rejected: %(reason)s"), **values)]


def _caps(speak: Speaker, plan: Plan, measure: PerRecord, row: dict) -> list[str]:
    notes = []
    for i, cap in enumerate(measure.caps, start=1):
        value_column, max_column = t.cap_columns(i)
        value, maximum = _number(row.get(value_column)), _number(row.get(max_column))
        if value is not None and maximum is not None and value > maximum:
            notes.append(speak.say(_("%(what)s %(value)s capped at %(max)s"),
                                   what=_word(speak, plan, cap.value),
                                   value=speak.figure(value), max=speak.figure(maximum)))
    return notes


def _base_figures(speak: Speaker, plan: Plan, measure: Any, row: dict,
                  amount: bool = False) -> str:
    """The base (or the `amount` formula) written out with the line's figures:
    `57.10 x 12 x 500`."""
    formula = getattr(measure, "amount" if amount else "base", None)
    if not isinstance(measure, PerRecord) or formula is None:
        return ""
    source = plan.inputs.get(measure.source)
    columns = source.columns if source is not None else {}
    parts = _base_parts(formula)
    if speak.language != "en" and any(name is None and text.strip() not in _ARITHMETIC
                                      and not _is_number(text) for text, _q, name in parts):
        return ""  # a formula beyond arithmetic (CASE WHEN ...) is SQL, not the reader's words
    out = []
    for text, qualifier, name in parts:
        if name is None:
            out.append(text)
        else:
            spec = columns.get(name) if qualifier in ("", measure.source) else None
            out.append(speak.input(row.get(t.input_column(qualifier, name)),
                                   getattr(spec, "type", spec) == "decimal"))
    return "".join(out)


_ARITHMETIC = {"x", "+", "-", "/", "(", ")", ""}


def _is_number(text: str) -> bool:
    return _number(text) is not None


@cache
def _base_parts(text: str) -> tuple[tuple[str, str, str | None], ...]:
    """The base expression as text pieces and named inputs, parsed once per plan text."""
    parts: list[tuple[str, str, str | None]] = []

    def walk(node: exp.Expression) -> None:
        if isinstance(node, exp.Neg):
            parts.append(("-", "", None))
            walk(node.this)
        elif isinstance(node, exp.Paren):
            parts.append(("(", "", None))
            walk(node.this)
            parts.append((")", "", None))
        elif type(node) in _OPERATORS:
            walk(node.this)
            parts.append((_OPERATORS[type(node)], "", None))
            walk(node.expression)
        elif isinstance(node, exp.Column):
            parts.append(("", node.table, node.name))
        elif isinstance(node, exp.Literal):
            parts.append((node.this, "", None))
        else:
            parts.append((node.sql(dialect="duckdb"), "", None))

    walk(parse(text))
    return tuple(parts)


def _one_off(speak: Speaker, plan: Plan, measure: Any, row: dict) -> list[str]:
    amount, line = speak.money(row.get("earned")), row.get("source_id") or ""
    cancelled = row.get("reason") and not _number(row.get("cut_by_budget"))
    if cancelled:
        return [speak.say(_("one-off %(amount)s on first closed line %(line)s; cancelled: %(reason)s"),
                          amount=amount, line=line, reason=_why(speak, plan, row["reason"]))]
    return [speak.say(_("one-off %(amount)s on first paid line %(line)s"), amount=amount, line=line)]


# ------------------------------------------------------------------ aggregates
def _aggregate(speak: Speaker, plan: Plan, measure: Any, row: dict) -> list[str]:
    value, target = row.get("value"), row.get("target")
    figures = [speak.say(_("value %(value)s of target %(target)s"), value=speak.figure(value),
                         target=speak.figure(target)) if _number(target) is not None
               else speak.say(_("value %(value)s"), value=speak.figure(value))]
    group, group_target = row.get("group_value"), row.get("group_target")
    if _number(group) is not None:
        figures.append(speak.say(_("group %(value)s of target %(target)s"), value=speak.figure(group),
                                 target=speak.figure(group_target))
                       if _number(group_target) is not None
                       else speak.say(_("group %(value)s"), value=speak.figure(group)))
    text = SEP.join(figures)
    amount = row.get("earned") if _number(row.get("raw")) is None else row.get("raw")
    if not row.get("reason") or _number(row.get("raw")) is not None:
        text = speak.say(_("%(figures)s -> %(amount)s"), figures=text, amount=speak.money(amount))
    return [text, *_not_paid(speak, plan, row)]


def _tiered(speak: Speaker, plan: Plan, measure: Any, row: dict) -> list[str]:
    value, target = _number(row.get("value")), _number(row.get("target"))
    tiers = measure.tiers if isinstance(measure, Aggregate) else None
    if tiers is None or value is None:
        return [*_not_paid(speak, plan, row)]
    head = speak.say(_("value %(value)s"), value=speak.figure(value))
    if tiers.relative_to == "target":
        head = speak.say(_("value %(value)s against target %(target)s"),
                         value=speak.figure(value), target=speak.figure(target))
    scale = target if tiers.relative_to == "target" else Decimal(1)
    parts, total, lower = [head], Decimal(0), Decimal(0)
    for i, tier in enumerate(tiers.tiers):
        rate = t.plan_number(plan, tier.rate, row.get("version"))
        upto = t.plan_number(plan, tier.upto, row.get("version")) if tier.upto is not None else None
        if rate is None or (tier.upto is not None and (upto is None or scale is None)):
            return [head, *_not_paid(speak, plan, row)]
        upper = upto * scale if upto is not None else None
        label = tier.label or t.band_label(tiers, tier, i)
        if tiers.mode == "graduated":
            inside = max((value if upper is None else min(value, upper)) - lower, Decimal(0))
            if inside > 0:
                piece = inside * rate
                total += piece
                parts.append(speak.say(_("%(rate)s x %(part)s (%(band)s) = %(amount)s"),
                                       rate=speak.percent(rate), part=speak.figure(inside),
                                       band=_word(speak, plan, label), amount=speak.figure(piece)))
        elif label == row.get("band"):
            total = value * rate
        lower = upper if upper is not None else lower
    if tiers.mode == "retroactive":
        parts.append(speak.say(_("whole value %(value)s at the rate of band %(band)s = %(amount)s"),
                               value=speak.figure(value), band=_word(speak, plan, row.get("band")),
                               amount=speak.figure(total)))
    parts.append(speak.say(_("total %(amount)s"), amount=speak.money(total)))
    return [*parts, *_not_paid(speak, plan, row)]


def _not_paid(speak: Speaker, plan: Plan, row: dict) -> list[str]:
    """An aggregate's failed gate (a budget's reason is said by `_budget`)."""
    if not row.get("reason") or _number(row.get("cut_by_budget")):
        return []
    return [speak.say(_("not paid: %(reason)s"), reason=_why(speak, plan, row["reason"]))]


def _why(speak: Speaker, plan: Plan, code: str | None) -> str:
    return reason_words(code, speak.language, plan)


def _word(speak: Speaker, plan: Plan, text: str | None) -> str:
    return word(plan, text, speak.language)


# ------------------------------------------------------------------ rankings, streaks
def _ranking(speak: Speaker, plan: Plan, measure: Any, row: dict) -> list[str]:
    growth = row.get("template") == t.RANKING_GROWTH
    metric = speak.figure(row.get("growth") if growth else row.get("value"))
    values = dict(metric=metric, place=row.get("place"), tied=row.get("tied"),
                  amount=speak.money(row.get("earned")))
    shared = row.get("tied") is not None and int(row["tied"]) > 1
    if growth:
        message = (_("growth %(metric)s; place %(place)s shared by %(tied)s -> %(amount)s") if shared
                   else _("growth %(metric)s; place %(place)s -> %(amount)s"))
    else:
        message = (_("total %(metric)s; place %(place)s shared by %(tied)s -> %(amount)s") if shared
                   else _("total %(metric)s; place %(place)s -> %(amount)s"))
    return [speak.say(message, **values)]


def _streak(speak: Speaker, plan: Plan, measure: Any, row: dict) -> list[str]:
    # the places that count, as the run had them (a parameter's value): slot_limit
    top = row.get("slot_limit")
    top = int(Decimal(str(top))) if top is not None else (measure.top if isinstance(measure, Streak) else "?")
    return [speak.say(
        _("in the top %(top)s for %(run)s periods running (place %(place)s this period) -> %(amount)s"),
        top=top, run=row.get("run"), place=row.get("place"), amount=speak.money(row.get("earned")))]


# ------------------------------------------------------------------ balances, empty lines
def _balance(speak: Speaker, plan: Plan, measure: Any, row: dict) -> list[str]:
    parts = [speak.say(_("earned %(earned)s of a guarantee of %(guarantee)s"),
                       earned=speak.money(row.get("value")), guarantee=speak.money(row.get("target")))]
    for column, message in (("topped_up", _("topped up %(amount)s")),
                            ("advanced", _("advance %(amount)s")),
                            ("base", _("owed before %(amount)s")),
                            ("recovered", _("recovered %(amount)s")),
                            ("owed", _("owed after %(amount)s"))):
        if (_number(row.get(column)) or 0) > 0:
            parts.append(speak.say(message, amount=speak.money(row.get(column))))
    return parts


def _empty(speak: Speaker, plan: Plan, measure: Any, row: dict) -> list[str]:
    """A roster's line for a payee and period the measure had nothing for: only why."""
    return [*_not_paid(speak, plan, row)]


# ------------------------------------------------------------------ gated rebates
def _rebate(speak: Speaker, plan: Plan, measure: Any, row: dict) -> list[str]:
    if row.get("template") == t.REBATE_PASSED:
        return [speak.say(_("evaluation %(evaluation)s on %(date)s passed: %(rate)s x %(base)s = %(amount)s"),
                          evaluation=row.get("evaluation"), date=speak.day(row.get("date")),
                          rate=speak.percent(row.get("rate")), base=speak.money(row.get("base")),
                          amount=speak.money(row.get("earned")))]
    gates = _gate(speak, plan, {**row, "passed": False, "threshold": row.get("threshold")})
    return [speak.say(_("no rebate: %(gates)s"), gates=SEP.join(gates))]


def _gate(speak: Speaker, plan: Plan, row: dict) -> list[str]:
    parts = [speak.say(_("qualifying %(value)s of %(minimum)s required"),
                       value=speak.money(row.get("value")), minimum=speak.money(row.get("threshold")))]
    if _number(row.get("ratio")) is None:
        parts.append(speak.say(_("returns: no lines count yet")))
    else:
        parts.append(speak.say(_("returns %(ratio)s of %(required)s required"),
                               ratio=speak.percent(row.get("ratio")),
                               required=speak.percent(row.get("required_ratio"))))
    passed = row.get("passed") in (True, 1, "true", "True")
    parts.append(speak.say(_("passed")) if passed
                 else speak.say(_("failed: %(reasons)s"), reasons=SEP.join(  # engine: "a; b"
                     _why(speak, plan, r.strip()) for r in (row.get("reason") or "").split(";")
                     if r.strip())))
    return parts


# ------------------------------------------------------------------ screening, budgets
def _screening(speak: Speaker, plan: Plan, row: dict) -> str:
    parts = []
    if row.get("missing"):
        parts.append(speak.say(_("missing: %(fields)s"), fields=row["missing"]))
    reason = row.get("reason")
    try:
        measure = plan.measure(row.get("evaluation"))
    except KeyError:
        measure = None
    decision = measure.decision if isinstance(measure, Screening) else None
    if not reason:
        parts.append(speak.say(_("accepted: passes every check")))
    elif decision is not None and decision.answer_within is not None \
            and reason == decision.overdue_reason:
        parts.append(_overdue(speak, plan, decision.answer_within, row))
    elif decision is not None and decision.pending_value is not None \
            and reason == decision.pending_reason:
        parts.append(speak.say(_("not accepted yet: %(reason)s"), reason=_why(speak, plan, reason)))
    elif row.get("note"):
        parts.append(speak.say(_("rejected: %(reason)s (%(note)s)"), reason=_why(speak, plan, reason),
                               note=row["note"]))
    else:
        parts.append(speak.say(_("rejected: %(reason)s"), reason=_why(speak, plan, reason)))
    return SEP.join(parts)


def _overdue(speak: Speaker, plan: Plan, within: AnswerWithin, row: dict) -> str:
    """Waiting for the owner past its due date: not rejected, and when it was due."""
    values = dict(reason=_why(speak, plan, row["reason"]), days=within.business_days)
    day = row.get("as_of")
    if day is None:
        return speak.say(_("not accepted yet: %(reason)s (no answer within %(days)s business "
                           "days)"), **values)
    day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)[:10])
    return speak.say(_("not accepted yet: %(reason)s (no answer within %(days)s business days, "
                       "due %(due)s)"), due=speak.day(asof.due_on(day, within, plan)), **values)


def _budget(speak: Speaker, plan: Plan, row: dict) -> list[str]:
    cut, pool = _number(row.get("cut_by_budget")), _word(speak, plan, row.get("budget"))
    if not cut or not pool:
        return []
    if not _number(row.get("amount")):
        return [speak.say(_("budget '%(budget)s' exhausted"), budget=pool)]
    return [speak.say(_("budget '%(budget)s' pays only the remaining %(amount)s"), budget=pool,
                      amount=speak.money(row.get("amount")))]


NO_TARGET = "no_target"
_LINES: dict[str, Callable[[Speaker, Plan, Any, dict], list[str]]] = {
    t.RECORD_RATE: _record,
    t.RECORD_AMOUNT: _record,
    t.ONE_OFF: _one_off,
    t.AGGREGATE_AMOUNT: _aggregate,
    t.AGGREGATE_GRADUATED: _tiered,
    t.AGGREGATE_RETROACTIVE: _tiered,
    t.RANKING_PLACE: _ranking,
    t.RANKING_GROWTH: _ranking,
    t.STREAK: _streak,
    t.REBATE_PASSED: _rebate,
    t.REBATE_FAILED: _rebate,
    t.BALANCE: _balance,
    t.EMPTY: _empty,
}
