"""Expressions: a small SQL subset parsed by sqlglot and compiled to Ibis.

Only allow-listed node types are accepted (never eval). Names resolve against a
`Namespace`: the columns of the record being computed, `param.<name>` for plan
parameters, `<qualifier>.<name>` for attached values (the period, another measure's
line), and other input tables inside `EXISTS (SELECT ... FROM t WHERE ...)`.
Errors carry the plan file, line and column of the offending token.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.datatypes as dtypes
import ibis.expr.types as ir
import sqlglot
from ibis.common.deferred import Deferred
from sqlglot import exp

from paymaster.errors import Collector, Problem, suggest
from paymaster.plan.exact import WHERE, WIDE, divide, multiply  # noqa: F401 - re-exported
from paymaster.plan.exprpositions import ExprError, plan_position
from paymaster.plan.periods import CALENDAR_KINDS, period_label
from paymaster.plan.said import argument, parse_error
from paymaster.plan.yamlsource import Source

COLUMN_DTYPES: dict[str, dtypes.DataType] = {
    "string": dtypes.string,
    "integer": dtypes.int64,
    "decimal": dtypes.Decimal(18, 4),
    "date": dtypes.date,
    "timestamp": dtypes.timestamp,
    "boolean": dtypes.boolean,
}


@dataclass
class Namespace:
    """What names mean while compiling one expression."""

    table: ir.Table
    names: tuple[str, ...] = ()  # qualifiers that mean `table` (its source name)
    qualified: dict[str, dict[str, ir.Value]] = field(default_factory=dict)
    tables: dict[str, ir.Table] = field(default_factory=dict)  # for EXISTS
    outer: Namespace | None = None

    def column(self, name: str) -> ir.Value | None:
        if name in self.table.columns:
            return self.table[name]
        return None

    def lookup(self, qualifier: str, name: str, node: exp.Expression) -> ir.Value:
        if not qualifier:
            found = self.column(name)
            if found is not None:
                if self.outer is not None and self.outer.column(name) is not None:
                    raise ExprError(
                        f"'{name}' is ambiguous inside EXISTS",
                        node,
                        f"write {self.names[0]}.{name} or {self.outer.names[0]}.{name}",
                    )
                return found
            if self.outer is not None:
                return self.outer.lookup("", name, node)
            raise ExprError(f"unknown column '{name}'", node,
                            suggest(name, plan_columns(self.table.columns)))
        if qualifier in self.names:
            found = self.column(name)
            if found is None:
                raise ExprError(f"unknown column '{qualifier}.{name}'", node,
                                suggest(name, plan_columns(self.table.columns)))
            return found
        if qualifier in self.qualified:
            values = self.qualified[qualifier]
            if name not in values:
                raise ExprError(f"unknown name '{qualifier}.{name}'", node, suggest(name, values)
                                or f"{qualifier} has {', '.join(plan_columns(values))}")
            return values[name]
        if self.outer is not None:
            return self.outer.lookup(qualifier, name, node)
        known = list(self.names) + list(self.qualified)
        raise ExprError(f"unknown table or qualifier '{qualifier}'", node, suggest(qualifier, known))


# Whitespace at either end, as `strip()` sees it (space, tab, LF, CR, VT, FF). (\z, not
# $: Spark's Java regular expressions let $ match before a final line break.)
EDGE_SPACE = r"^[ \t\n\r\x0b\x0c]|[ \t\n\r\x0b\x0c]\z"


# The engine's own columns (`__date`, `period__start`, `param__rate`): never offered or
# shown to a person, whose plan cannot name them.
INTERNAL = re.compile(r"\b(__|period__|param__)[A-Za-z0-9_]*")


def plan_columns(columns) -> list[str]:
    return [c for c in columns if not INTERNAL.fullmatch(c)]


def hide_internal(text: str) -> str:
    return INTERNAL.sub("(an internal column)", text)


def parse(text: str) -> exp.Expression:
    try:
        return sqlglot.parse_one(str(text), read="duckdb")
    except sqlglot.errors.ParseError as err:
        first = err.errors[0] if err.errors else {}
        message, hint, offset = parse_error(str(text), first, str(err))
        error = ExprError(message, hint=hint)
        error.offset = offset
        raise error from err


def literal_value(value: Any) -> ir.Value:
    """An Ibis literal for a plan value, exact decimals kept exact."""
    if isinstance(value, bool):
        return ibis.literal(value)
    if isinstance(value, int):
        return ibis.literal(value, type="int64")
    if isinstance(value, Decimal):
        return ibis.literal(value, type=WIDE)
    if isinstance(value, dt.datetime):
        return ibis.literal(value, type="timestamp")
    if isinstance(value, dt.date):
        return ibis.literal(value, type="date")
    if isinstance(value, list):
        return ibis.literal(value)
    return ibis.literal(str(value), type="string")


def _is_decimal(value: ir.Value) -> bool:
    return not isinstance(value, Deferred) and value.type().is_decimal()


def _widen(value: ir.Value) -> ir.Value:
    return value.cast(WIDE) if value.type().is_numeric() and not value.type().is_floating() else value


def _product(left: Any, right: Any) -> Any:
    return left * right


def _arith(op: Callable[[Any, Any], Any]) -> Callable[[ir.Value, ir.Value], ir.Value]:
    def apply(left: ir.Value, right: ir.Value) -> ir.Value:
        if op is _product and (_is_decimal(left) or _is_decimal(right)):
            return multiply(left, right)  # exact, cut (not rounded) at the 8th place
        result = op(left, right)
        if _is_decimal(left) or _is_decimal(right):
            # Keep decimal arithmetic exact and wide; DuckDB would otherwise narrow or
            # turn it into DOUBLE. Money is rounded once, per line, by the engine.
            return result.cast(WIDE)
        return result

    return apply


BINARY: dict[type, Callable[[Any, Any], Any]] = {
    exp.And: lambda a, b: a & b,
    exp.Or: lambda a, b: a | b,
    exp.EQ: lambda a, b: a == b,
    exp.NEQ: lambda a, b: a != b,
    exp.GT: lambda a, b: a > b,
    exp.GTE: lambda a, b: a >= b,
    exp.LT: lambda a, b: a < b,
    exp.LTE: lambda a, b: a <= b,
    exp.Add: _arith(lambda a, b: a + b),
    exp.Sub: _arith(lambda a, b: a - b),
    exp.Mul: _arith(_product),
    exp.Div: divide,
    exp.Mod: lambda a, b: a % b,
    exp.DPipe: lambda a, b: a.cast("string").concat(b.cast("string")),
}

CAST_TYPES = {
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TEXT": "string",
    "VARCHAR": "string",
    "BIGINT": "int64",
    "INT": "int64",
    "INTEGER": "int64",
    "DECIMAL": WIDE,
    "BOOLEAN": "boolean",
}


class Compiler:
    """Compiles expression text in a namespace; collects located problems."""

    def __init__(self, source: Source | None = None, collector: Collector | None = None):
        self.source = source
        self.collector = collector if collector is not None else Collector()
        # Names whose own definition (a field) failed: an expression reading one fails in
        # consequence, with a type error that would mislead; its cause is reported already.
        self.failed: set[str] = set()

    # -- public
    def compile(
        self, text: Any, ns: Namespace, path: tuple, expect: str | None = None
    ) -> ir.Value:
        token = WHERE.set(self._where(text, path))
        try:
            value = self._node(parse(text), ns)
            if isinstance(value, Deferred):
                # EXISTS is correlated with this very table: bind it now. The caller must
                # use the value on `ns.table` itself (see engine.rules.materialize).
                value = value.resolve(ns.table)
            self._check_type(value, expect)
            return value
        except ExprError as err:
            self._report(text, path, err)
        except Exception as err:  # noqa: BLE001 - any Ibis typing failure is a plan error
            self._report(text, path, ExprError(_ibis_message(err)))
        finally:
            WHERE.reset(token)
        return _placeholder(expect)

    def report(self, path: tuple, message: str, hint: str | None = None) -> None:
        if self.source is None:
            self.collector.add(Problem(message, hint=hint))
        else:
            self.collector.add(self.source.problem(path, message, hint))

    def _where(self, text: Any, path: tuple) -> str:
        """The plan expression, as an error raised while the run computes it says it."""
        place = ".".join(str(part) for part in path)
        if self.source is not None:
            line, col = self.source.where(path)
            place = f"{self.source.file}:{line}:{col} ({place})"
        return f"{place}: {' '.join(str(text).split())}"

    # -- errors
    def _report(self, text: Any, path: tuple, err: ExprError) -> None:
        if self.failed and self._reads_failed(text):
            return
        line, col = (None, None)
        file = ""
        if self.source is not None:
            file = self.source.file
            line, col = self.source.where(path)
            if err.offset is not None and line is not None:
                line, col = plan_position(str(text), err.offset, line, col, self.source.styles.get(path))
        self.collector.add(Problem(hide_internal(err.message), file=file, line=line, column=col,
                                   hint=err.hint))

    def _reads_failed(self, text: Any) -> bool:
        try:
            tree = parse(text)
        except ExprError:
            return False
        return any(column.name in self.failed for column in tree.find_all(exp.Column))

    @staticmethod
    def _check_type(value: ir.Value, expect: str | None) -> None:
        if expect == "boolean" and not value.type().is_boolean():
            raise ExprError(f"a condition must be true/false, this is {value.type()}")
        if expect == "numeric" and not value.type().is_numeric():
            raise ExprError(f"an amount must be a number, this is {value.type()}")
        if expect == "date" and not (value.type().is_date() or value.type().is_timestamp()):
            raise ExprError(f"a date is needed here, this is {value.type()}")

    # -- nodes
    def _node(self, node: exp.Expression, ns: Namespace) -> ir.Value:
        handler = getattr(self, f"_n_{type(node).__name__.lower()}", None)
        if handler is not None:
            return handler(node, ns)
        if type(node) in BINARY:
            left = self._node(node.this, ns)
            right = self._node(node.expression, ns)
            try:
                return BINARY[type(node)](left, right)
            except Exception as err:  # noqa: BLE001
                raise ExprError(_ibis_message(err), node) from err
        raise ExprError(f"'{node.sql()}' is not allowed in plan expressions", node, ALLOWED_HINT)

    def _n_paren(self, node: exp.Paren, ns: Namespace) -> ir.Value:
        return self._node(node.this, ns)

    def _n_column(self, node: exp.Column, ns: Namespace) -> ir.Value:
        return ns.lookup(node.table, node.name, node)

    def _n_literal(self, node: exp.Literal, ns: Namespace) -> ir.Value:
        if node.is_string:
            return ibis.literal(node.this, type="string")
        text = node.this
        if "." in text or "e" in text.lower():
            return ibis.literal(Decimal(text), type=WIDE)
        return ibis.literal(int(text), type="int64")

    def _n_boolean(self, node: exp.Boolean, ns: Namespace) -> ir.Value:
        return ibis.literal(bool(node.this))

    def _n_null(self, node: exp.Null, ns: Namespace) -> ir.Value:
        return ibis.null()

    def _n_neg(self, node: exp.Neg, ns: Namespace) -> ir.Value:
        return -self._node(node.this, ns)

    def _n_not(self, node: exp.Not, ns: Namespace) -> ir.Value:
        return ~self._node(node.this, ns)

    def _n_is(self, node: exp.Is, ns: Namespace) -> ir.Value:
        if not isinstance(node.expression, exp.Null):
            raise ExprError("only IS NULL / IS NOT NULL are allowed", node)
        return self._node(node.this, ns).isnull()

    def _n_between(self, node: exp.Between, ns: Namespace) -> ir.Value:
        value = self._node(node.this, ns)
        return value.between(self._node(node.args["low"], ns), self._node(node.args["high"], ns))

    def _n_in(self, node: exp.In, ns: Namespace) -> ir.Value:
        if node.args.get("query"):
            raise ExprError("IN (SELECT ...) is not allowed; use EXISTS", node)
        value = self._node(node.this, ns)
        return value.isin([self._node(item, ns) for item in node.expressions])

    def _n_like(self, node: exp.Like, ns: Namespace) -> ir.Value:
        pattern = node.expression
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            raise ExprError("LIKE needs a text pattern", node)
        return self._node(node.this, ns).like(pattern.this)

    def _n_case(self, node: exp.Case, ns: Namespace) -> ir.Value:
        if node.this is not None:
            raise ExprError("use CASE WHEN condition THEN ... (searched CASE)", node)
        builder = ibis.cases(
            *[(self._node(w.this, ns), self._node(w.args["true"], ns)) for w in node.args["ifs"]],
            else_=self._node(node.args["default"], ns) if node.args.get("default") else None,
        )
        return builder

    def _n_if(self, node: exp.If, ns: Namespace) -> ir.Value:
        false = node.args.get("false")
        return ibis.ifelse(
            self._node(node.this, ns),
            self._node(node.args["true"], ns),
            self._node(false, ns) if false is not None else ibis.null(),
        )

    def _n_coalesce(self, node: exp.Coalesce, ns: Namespace) -> ir.Value:
        values = [self._node(node.this, ns), *[self._node(e, ns) for e in node.expressions]]
        return ibis.coalesce(*values)

    def _n_least(self, node: exp.Least, ns: Namespace) -> ir.Value:
        values = [self._node(node.this, ns), *[self._node(e, ns) for e in node.expressions]]
        return _numeric_fold(ibis.least, values)

    def _n_greatest(self, node: exp.Greatest, ns: Namespace) -> ir.Value:
        values = [self._node(node.this, ns), *[self._node(e, ns) for e in node.expressions]]
        return _numeric_fold(ibis.greatest, values)

    def _n_abs(self, node: exp.Abs, ns: Namespace) -> ir.Value:
        return self._node(node.this, ns).abs()

    def _n_floor(self, node: exp.Floor, ns: Namespace) -> ir.Value:
        return self._node(node.this, ns).floor()

    def _n_ceil(self, node: exp.Ceil, ns: Namespace) -> ir.Value:
        return self._node(node.this, ns).ceil()

    def _n_round(self, node: exp.Round, ns: Namespace) -> ir.Value:
        digits = node.args.get("decimals")
        places = int(digits.this) if isinstance(digits, exp.Literal) else 0
        return self._node(node.this, ns).round(places)

    def _n_upper(self, node: exp.Upper, ns: Namespace) -> ir.Value:
        return self._node(node.this, ns).upper()

    def _n_lower(self, node: exp.Lower, ns: Namespace) -> ir.Value:
        return self._node(node.this, ns).lower()

    def _n_trim(self, node: exp.Trim, ns: Namespace) -> ir.Value:
        # TRIM with a set of characters costs about 1 s per million rows in DuckDB, a
        # regular expression a fifth of that: only text with whitespace at an end is trimmed.
        value = self._node(node.this, ns)
        return ibis.ifelse(value.re_search(EDGE_SPACE), value.strip(), value)

    def _n_length(self, node: exp.Length, ns: Namespace) -> ir.Value:
        return self._node(node.this, ns).length()

    def _n_startswith(self, node: exp.StartsWith, ns: Namespace) -> ir.Value:
        return self._node(node.this, ns).startswith(self._node(node.expression, ns))

    def _n_year(self, node: exp.Year, ns: Namespace) -> ir.Value:
        return self._node(node.this, ns).year()

    def _n_month(self, node: exp.Month, ns: Namespace) -> ir.Value:
        return self._node(node.this, ns).month()

    def _n_concat(self, node: exp.Concat, ns: Namespace) -> ir.Value:
        parts = [self._node(e, ns).cast("string") for e in node.expressions]
        out = parts[0]
        for part in parts[1:]:
            out = out.concat(part)
        return out

    def _n_cast(self, node: exp.Cast, ns: Namespace) -> ir.Value:
        return self._node(node.this, ns).cast(_cast_target(node))

    def _n_trycast(self, node: exp.TryCast, ns: Namespace) -> ir.Value:
        # NULL where the value does not convert (TRY_CAST('n/a' AS DECIMAL)), as in
        # DuckDB and Spark; CAST stops the run there.
        return self._node(node.this, ns).try_cast(_cast_target(node))

    def _n_datediff(self, node: exp.DateDiff, ns: Namespace) -> ir.Value:
        end = self._node(node.this, ns).cast("date")
        start = self._node(node.expression, ns).cast("date")
        unit = node.unit.name.upper() if node.unit is not None else "DAY"
        unit = DATE_DIFF_UNITS.get(unit.removesuffix("S"))
        if unit is None:
            raise ExprError(f"DATE_DIFF cannot count '{node.unit.name.lower()}'", node,
                            "count one of " + ", ".join(f"'{u}'" for u in DATE_DIFF_UNITS.values()))
        return _date_diff(unit, start, end)

    def _n_arraycontains(self, node: exp.ArrayContains, ns: Namespace) -> ir.Value:
        return self._node(node.this, ns).contains(self._node(node.expression, ns))

    def _n_anonymous(self, node: exp.Anonymous, ns: Namespace) -> ir.Value:
        name = node.name.lower()
        args = [self._node(a, ns) for a in node.expressions]
        if name == "days_between" and len(args) == 2:
            return args[1].cast("date").delta(args[0].cast("date"), unit="day")
        if name == "add_days" and len(args) == 2:
            return (args[0].cast("date") + args[1].as_interval("D")).cast("date")
        if name == "id_before" and len(args) == 2:
            return _id_before(args[0], args[1])
        if name == "period_of" and len(args) == 2:
            kind = node.expressions[1]
            if not (isinstance(kind, exp.Literal) and kind.is_string
                    and kind.this in CALENDAR_KINDS):
                raise ExprError("period_of needs the kind of period as text", kind,
                                "write period_of(date, 'month'), 'quarter' or 'year'")
            return period_label(args[0].cast("date"), kind.this)
        known = ["days_between", "add_days", "id_before", "period_of", *FUNCTIONS]
        raise ExprError(f"unknown function '{node.name}'", node, suggest(name, known) or ALLOWED_HINT)

    def _n_exists(self, node: exp.Exists, ns: Namespace) -> ir.Value:
        select = node.this
        if not isinstance(select, exp.Select) or select.args.get("joins"):
            raise ExprError("EXISTS needs (SELECT ... FROM one_table WHERE ...)", node)
        source = select.args.get("from_") or select.args.get("from")
        table_node = source.this if source is not None else None
        if not isinstance(table_node, exp.Table):
            raise ExprError("EXISTS needs a FROM table", node)
        name = table_node.name
        if not isinstance(table_node.this, exp.Identifier) or table_node.args.get("db"):
            # read_csv('/etc/passwd'), a schema's table: only the plan's own input tables
            raise ExprError(f"'{table_node.sql()[:60]}' is not an input table: EXISTS reads "
                            "one of the plan's tables", table_node,
                            "tables: " + ", ".join(ns_tables(ns)))
        if name not in ns_tables(ns):
            raise ExprError(f"unknown table '{name}'", table_node, suggest(name, ns_tables(ns)))
        # As in SQL, an alias hides the table's own name: in `FROM sales s`, `s.x` is the
        # inner row and `sales.x` the outer record (needed when a table looks at itself).
        alias = table_node.alias_or_name
        # A view: the inner rows stay apart from the outer ones when a table looks at
        # itself (else Ibis would see one table and no correlation at all).
        inner = Namespace(table=ns_tables(ns)[name].view(), names=(alias,), outer=ns)
        where = select.args.get("where")
        if where is None:
            raise ExprError("EXISTS needs a WHERE condition linking it to the record", node)
        condition = self._node(where.this, inner)
        return condition.any()


def explain(text: Any, ns: Namespace) -> ir.Value:
    """The expression written out with each record's figures in place of its names:
    `unit_price * 12 * paid_licences` -> '57.1 x 12 x 500'."""
    return _explain(parse(text), ns)


OPERATOR_WORDS = {exp.Mul: " x ", exp.Add: " + ", exp.Sub: " - ", exp.Div: " / "}


def _explain(node: exp.Expression, ns: Namespace) -> ir.Value:
    if isinstance(node, exp.Paren):
        return ibis.literal("(").concat(_explain(node.this, ns), ")")
    if type(node) in OPERATOR_WORDS:
        return _explain(node.this, ns).concat(OPERATOR_WORDS[type(node)], _explain(node.expression, ns))
    if isinstance(node, exp.Column):
        value = ns.lookup(node.table, node.name, node)
        return _short(value)
    if isinstance(node, exp.Literal):
        return ibis.literal(node.this)
    return ibis.literal(node.sql(dialect="duckdb"))


def _short(value: ir.Value) -> ir.Value:
    raw = value.cast("string")
    if value.type().is_decimal():
        # Money-like figures keep two places (57.10), longer ones lose trailing zeros.
        # An extract, not a replace with a back-reference: Spark writes those $1, DuckDB \1.
        pattern = r"^(.*\.[0-9][0-9][0-9]*?)0+$"
        raw = ibis.ifelse(raw.re_search(pattern), raw.re_extract(pattern, 1), raw)
    return raw.fill_null("NULL")


def _cast_target(node: exp.Cast) -> Any:
    target = node.to.this.name if hasattr(node.to.this, "name") else str(node.to.this)
    # sqlglot reads a plain TIMESTAMP as TIMESTAMPNTZ (a timestamp without a zone).
    target = {"TIMESTAMPNTZ": "TIMESTAMP"}.get(target, target)
    if target not in CAST_TYPES:
        raise ExprError(f"cannot cast to {target}", node, f"use one of {', '.join(CAST_TYPES)}")
    return CAST_TYPES[target]


# DATE_DIFF's units on dates, as DuckDB counts them (sqlglot spells them upper case).
DATE_DIFF_UNITS = {"DAY": "day", "WEEK": "week", "MONTH": "month", "QUARTER": "quarter",
                   "YEAR": "year"}


def _date_diff(unit: str, start: ir.Value, end: ir.Value) -> ir.Value:
    """DuckDB's DATE_DIFF(unit, start, end) on dates, spelled so Spark counts the same:
    the month, quarter and year boundaries crossed (31 Jan to 1 Feb is 1 month, 31 Dec
    to 1 Jan 1 year), whole weeks of 7 days cut toward zero, days."""
    days = end.delta(start, unit="day")
    if unit == "day":
        return days
    if unit == "week":
        return ibis.ifelse(days >= 0, days // 7, -((-days) // 7)).cast("int64")
    if unit == "month":
        return (end.year() * 12 + end.month()) - (start.year() * 12 + start.month())
    if unit == "quarter":
        return (end.year() * 4 + end.quarter()) - (start.year() * 4 + start.quarter())
    return end.year() - start.year()


FUNCTIONS = [
    "least", "greatest", "coalesce", "abs", "round", "floor", "ceil", "upper", "lower",
    "trim", "length", "starts_with", "year", "month", "concat", "date_diff", "list_contains",
    "if", "days_between", "add_days", "id_before",
]
ALLOWED_HINT = (
    "allowed: comparisons, AND/OR/NOT, + - * / %, BETWEEN, IN (...), LIKE, IS NULL, CASE, "
    "CAST, EXISTS (SELECT 1 FROM t WHERE ...), and " + ", ".join(FUNCTIONS)
)


def natural_key(value: ir.Value) -> ir.StringValue:
    """An id as natural order sees it, as one text that sorts in that order: the text
    before its trailing number, the number (its digits' count, then the digits, leading
    zeros aside), then the id itself. So 9 < 10, S9 < S10, S007 < S7 < S8, and S < S1
    is false (an id with no number comes after the numbered ones of its text)."""
    text = value.cast("string")
    digits = text.re_extract(r"([0-9]+)$", 1)
    number = digits.re_replace(r"^0+", "")
    size = number.length().cast("string").lpad(2, "0")
    return text.re_replace(r"[0-9]+$", "").concat(
        "\x01", ibis.ifelse(digits == "", ibis.literal("~"), size.concat(number)), "\x01", text)


def _id_before(left: ir.Value, right: ir.Value) -> ir.Value:
    """Natural id order (`natural_key`): 9 before 10, S9 before S10."""
    return natural_key(left) < natural_key(right)


def ns_tables(ns: Namespace) -> dict[str, ir.Table]:
    while ns.outer is not None and not ns.tables:
        ns = ns.outer
    return ns.tables


def _numeric_fold(fn: Callable[..., ir.Value], values: list[ir.Value]) -> ir.Value:
    if any(v.type().is_decimal() for v in values):
        values = [_widen(v) for v in values]
    return fn(*values)


def _placeholder(expect: str | None) -> ir.Value:
    kind = {"boolean": "boolean", "numeric": WIDE, "date": "date"}.get(expect or "", "string")
    return ibis.null().cast(kind)


def _ibis_message(err: Exception) -> str:
    text = str(err).strip().splitlines()
    first = text[0] if text else type(err).__name__
    compared = re.match(r"Arguments (.+?):(.+?) and (.+?):(.+?) are not comparable", first)
    if compared:
        left, right = (argument(compared.group(i), compared.group(i + 1)) for i in (1, 3))
        return f"cannot compare {left} with {right}"
    if "not comparable" in first:
        return first.replace("Arguments", "cannot compare").replace(" and ", " with ")
    if "StringConcat" in first or "coercibles" in first:
        return "wrong types for this operation (text and number mixed?)"
    return first[:300]
