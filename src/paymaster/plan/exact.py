"""Exact decimal products and quotients on DuckDB and Spark, with no binary float.

Every number a plan expression computes is a `DECIMAL(38, 8)` (`WIDE`). A product or a
quotient is its exact value cut toward zero at the 8th place (10^-8), so that the
half-up rounding of a payout line to cents lands on the side of the half its exact value
is on. The limits (docs/plan-language.md, "Magnitudes"):

- a value: |x| < 10^30 (what DECIMAL(38, 8) holds);
- a product: |a x b| < 10^22 (the backends multiply two DECIMAL(38, 8) in
  DECIMAL(38, 16), exactly up to there); above, the backend refuses the row;
- a quotient: numerator and divisor |x| < 10^22, quotient |q| < 10^20 (Spark's exact
  DECIMAL(38, 18) quotient); above, the run stops with an error naming the expression.

Neither backend has an exact decimal quotient of its own that fits: DuckDB divides two
DECIMALs as DOUBLE, Spark keeps 18 places but rounds them. So both work on integers: n
and d scaled by 10^8 are exact integers N and D below 10^30, and

    trunc(N * 10^8 / D) = (N div D) * 10^8 + ((N mod D) * 10^8) div D

where (N mod D) * 10^8 < D * 10^8 < 10^38 still fits 38 digits. DuckDB computes it with
HUGEINT (128-bit) `//` and `%`; Spark with DECIMAL(38, 0), `div` being (N - N % D) / D,
an exact integer that Spark's DECIMAL(38, 18) quotient holds without rounding while it is
below 10^20 (spark.sql.decimalOperations.allowPrecisionLoss=false, ANSI mode on: an
overflow is an error, never a NULL or a rounded value).
"""

from __future__ import annotations

import contextvars
from decimal import Decimal

import ibis
import ibis.expr.datatypes as dtypes
import ibis.expr.operations as ops
import ibis.expr.rules as rlz
import ibis.expr.types as ir
import sqlglot.expressions as sge
from ibis.backends.sql.compilers.duckdb import DuckDBCompiler
from ibis.backends.sql.compilers.pyspark import PySparkCompiler
from ibis.common.annotations import attribute

from paymaster.errors import ARITHMETIC_MARK

WIDE = dtypes.Decimal(38, 8)
# The engine's limits, one place (tests and docs read them from here).
VALUE_LIMIT = Decimal(10) ** 30
OPERAND_LIMIT = Decimal(10) ** 22  # a product, a numerator, a divisor
QUOTIENT_LIMIT = Decimal(10) ** 20
# Every error raised inside a query starts with this, so the backend's error can be told
# from a bug and said in the engine's words (backends.arithmetic_errors, which reads it
# from errors.py: a run of cached SQL imports no Ibis, hence not this module).
MARK = ARITHMETIC_MARK

# Where the expression being compiled is written (file:line:column and its text), so a
# quotient out of range names it in its error. Set by plan.expressions.Compiler.
WHERE: contextvars.ContextVar[str] = contextvars.ContextVar("paymaster_where", default="")


class ExactQuotient(ops.Value):
    """numerator / denominator (both WIDE), cut toward zero at 10^-8; NULL for a zero
    divisor."""

    numerator: ops.Value[dtypes.Decimal]
    denominator: ops.Value[dtypes.Decimal]
    where: str

    dtype = WIDE

    @attribute
    def shape(self):
        return rlz.highest_precedence_shape((self.numerator, self.denominator))


class CutToWide(ops.Value):
    """A decimal (a product) cut toward zero at its 8th place, as WIDE."""

    arg: ops.Value[dtypes.Decimal]

    dtype = WIDE
    shape = rlz.shape_like("arg")


def _num(value: int | str) -> sge.Expression:
    return sge.Literal.number(value)


def _p(node: sge.Expression) -> sge.Paren:
    # Every operation in its own parentheses: DuckDB's and Spark's precedence of //, %
    # and comparisons differ, the text must not depend on them.
    return sge.Paren(this=node)


def _IntDiv(**kw) -> sge.Paren:
    return _p(sge.IntDiv(**kw))

def _Mod(**kw) -> sge.Paren:
    return _p(sge.Mod(**kw))

def _Mul(**kw) -> sge.Paren:
    return _p(sge.Mul(**kw))

def _Add(**kw) -> sge.Paren:
    return _p(sge.Add(**kw))

def _Sub(**kw) -> sge.Paren:
    return _p(sge.Sub(**kw))

def _Div(**kw) -> sge.Paren:
    return _p(sge.Div(**kw))

def _LT(**kw) -> sge.Paren:
    return _p(sge.LT(**kw))

def _GTE(**kw) -> sge.Paren:
    return _p(sge.GTE(**kw))

def _NEQ(**kw) -> sge.Paren:
    return _p(sge.NEQ(**kw))


def _cast(arg: sge.Expression, type_text: str, dialect: str) -> sge.Expression:
    return sge.Cast(this=arg, to=sge.DataType.build(type_text, dialect=dialect))


def _too_large(compiler, numerator, denominator, where: str, raise_fn: str) -> sge.Expression:
    limit = _num("10000000000000000000000")  # 10^22
    message = (f"{MARK}a division outside the engine's range (numerator and divisor below "
               f"10^22, quotient below 10^20){' in ' + where if where else ''}: ")
    text = sge.DPipe(
        this=sge.DPipe(this=sge.Literal.string(message),
                       expression=_cast(numerator, "STRING", compiler.dialect)),
        expression=sge.DPipe(this=sge.Literal.string(" / "),
                             expression=_cast(denominator, "STRING", compiler.dialect)),
        safe=True)
    return sge.If(
        this=sge.or_(_GTE(this=sge.Abs(this=numerator), expression=limit),
                     _GTE(this=sge.Abs(this=denominator), expression=limit)),
        true=sge.Anonymous(this=raise_fn, expressions=[text]))


def _scaled(value: sge.Expression, to: str, dialect: str) -> sge.Expression:
    # |value| * 10^8 has no fraction left: the cast to an integer type is exact.
    return _cast(_Mul(this=sge.Abs(this=value), expression=_num(100000000)), to, dialect)


def _signed(numerator, denominator, magnitude) -> sge.Expression:
    negative = _NEQ(this=_LT(this=numerator, expression=_num(0)),
                       expression=_LT(this=denominator, expression=_num(0)))
    return sge.Case(ifs=[sge.If(this=negative, true=sge.Neg(this=magnitude))],
                    default=magnitude)


def _duckdb_quotient(self, op, *, numerator, denominator, where):
    denominator = sge.Nullif(this=denominator, expression=_num(0))  # x / 0 is NULL
    # Signed: DuckDB's HUGEINT `//` cuts toward zero and `%` has the dividend's sign
    # (-7 // 2 = -3, -7 % 2 = -1), so the formula holds as it stands for any signs, and
    # the operands are written out half as often as with magnitudes and a sign CASE (a
    # quotient was 2.5 KB of SQL to parse for two column names).
    big_n, big_d = _integral(numerator), _integral(denominator)
    whole = _IntDiv(this=big_n, expression=big_d)
    part = _IntDiv(this=_Mul(this=_Mod(this=big_n, expression=big_d),
                                   expression=_num(100000000)), expression=big_d)
    scaled_q = _Add(this=_Mul(this=whole, expression=_num(100000000)), expression=part)
    # DECIMAL(28, 0) holds the scaled quotient below 10^20 only: a larger one is a cast
    # error, as Spark's DECIMAL(38, 18) overflows there.
    quotient = _cast(_Mul(this=_cast(scaled_q, "DECIMAL(28, 0)", "duckdb"),
                             expression=_cast(_num("0.00000001"), "DECIMAL(9, 8)", "duckdb")),
                     "DECIMAL(38, 8)", "duckdb")
    return sge.Case(ifs=[_too_large(self, numerator, denominator, where, "error")],
                    default=quotient)


def _integral(value: sge.Expression) -> sge.Expression:
    # value * 10^8 has no fraction left (a WIDE value): the cast to HUGEINT is exact.
    return _cast(_Mul(this=_p(value), expression=_num(100000000)), "HUGEINT", "duckdb")


def _spark_div(top: sge.Expression, bottom: sge.Expression) -> sge.Expression:
    exact = _Div(this=_Sub(this=top, expression=_Mod(this=top, expression=bottom)),
                    expression=bottom)
    return _cast(exact, "DECIMAL(38, 0)", "spark")


def _spark_quotient(self, op, *, numerator, denominator, where):
    denominator = sge.Nullif(this=denominator, expression=_num(0))  # x / 0 is NULL
    big_n = _scaled(numerator, "DECIMAL(38, 0)", "spark")
    big_d = _scaled(denominator, "DECIMAL(38, 0)", "spark")
    rest = _Mul(this=_Mod(this=big_n, expression=big_d),
                   expression=_cast(_num(100000000), "DECIMAL(9, 0)", "spark"))
    scaled_q = sge.Add(
        this=_Mul(this=_spark_div(big_n, big_d),
                     expression=_cast(_num(100000000), "DECIMAL(9, 0)", "spark")),
        expression=_spark_div(_cast(rest, "DECIMAL(38, 0)", "spark"), big_d))
    magnitude = _cast(_Mul(this=_cast(scaled_q, "DECIMAL(38, 0)", "spark"),
                              expression=_cast(_num("0.00000001"), "DECIMAL(9, 8)", "spark")),
                      "DECIMAL(38, 8)", "spark")
    return sge.Case(ifs=[_too_large(self, numerator, denominator, where, "raise_error")],
                    default=_signed(numerator, denominator, magnitude))


def _duckdb_cut(self, op, *, arg):
    return _cast(sge.Anonymous(this="trunc", expressions=[arg, _num(8)]), "DECIMAL(38, 8)", "duckdb")


def _spark_cut(self, op, *, arg):
    ulp = _cast(_num("0.00000001"), "DECIMAL(9, 8)", "spark")
    # Spark's % keeps the dividend's sign: x - x % 10^-8 is x cut toward zero.
    return _cast(_Sub(this=arg, expression=sge.Paren(this=_Mod(this=arg, expression=ulp))),
                 "DECIMAL(38, 8)", "spark")


DuckDBCompiler.visit_ExactQuotient = _duckdb_quotient
PySparkCompiler.visit_ExactQuotient = _spark_quotient
DuckDBCompiler.visit_CutToWide = _duckdb_cut
PySparkCompiler.visit_CutToWide = _spark_cut


def divide(left: ir.Value, right: ir.Value) -> ir.Value:
    """`left / right` as WIDE, cut toward zero at its 8th place; NULL for a division by
    zero (never an error mid-run)."""
    numerator, denominator = left.cast(WIDE), right.cast(WIDE)
    return ExactQuotient(numerator, denominator, WHERE.get()).to_expr()


def multiply(left: ir.Value, right: ir.Value) -> ir.Value:
    """`left * right` exact, as WIDE cut toward zero at its 8th place (three factors of
    4 places have 12: rounding them at the 8th could move a later half-up to cents)."""
    if not (_decimal(left) or _decimal(right)):
        return left * right
    if _whole(left) or _whole(right):
        # A whole number adds no places: WIDE x integer is WIDE, exact, nothing to cut.
        number, whole = (right, left) if _whole(left) else (left, right)
        return (_wide(number) * whole).cast(WIDE)
    places = _places(left) + _places(right)
    if places <= 8:
        # At most 8 places in all (an amount of 4 x a rate of 4): exact, nothing to cut.
        # Width 38 on the left: DuckDB multiplies two DECIMAL(18, x) in 64 bits.
        return (left.cast(dtypes.Decimal(38, _places(left))) * right).cast(WIDE)
    # Both as WIDE: the product is DECIMAL(38, 16), exact below 10^22, then cut.
    return CutToWide(_wide(left) * _wide(right)).to_expr()


def _whole(value) -> bool:
    return isinstance(value, int) or (isinstance(value, ir.Value) and value.type().is_integer())


def _places(value) -> int:
    scale = value.type().scale if _decimal(value) else 0
    return 38 if scale is None else scale


def _decimal(value) -> bool:
    return isinstance(value, ir.Value) and value.type().is_decimal()


def _wide(value):
    return value.cast(WIDE) if isinstance(value, ir.Value) else ibis.literal(value, type=WIDE)
