"""Decimal money: the one place that knows minor units and how we round."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision

# Money columns in the engine are DECIMAL(MONEY_PRECISION, MONEY_SCALE): the scale holds
# the widest minor unit a plan's currency may have (BHD, KWD, OMR: 3 places). A line is
# rounded to its own currency's places (`minor_units`), and the engine's output tables
# carry exactly those places (`money_type`). Intermediate products stay wide
# (plan.expressions.WIDE) and are rounded once, per line, at the end.
MONEY_PRECISION = 18
MONEY_SCALE = 3
MONEY_TYPE = f"decimal({MONEY_PRECISION}, {MONEY_SCALE})"


def minor_units(currency: str) -> int:
    """Decimal places of a currency's minor unit (PLN 2, JPY 0, BHD 3), from Babel's
    currency data (CLDR)."""
    return get_currency_precision(currency.upper())


def money_type(places: int, precision: int = MONEY_PRECISION) -> str:
    """The SQL type of an amount in a currency with `places` minor-unit places."""
    return f"decimal({precision}, {places})"


def round_money(value: Decimal, currency: str = "PLN") -> Decimal:
    """Round half-up (ties away from zero) to the currency's minor unit."""
    quantum = Decimal(1).scaleb(-minor_units(currency))
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


def plain(value: Decimal) -> str:
    """A Decimal as fixed-point text, never in exponent notation: Decimal("0E-8") and
    Decimal("1E+2") are "0.00000000" and "100" (str() would write them as they are)."""
    return format(value, "f")
