"""Decimal money: the one place that knows minor units and how we round."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision

# Money columns in the engine are DECIMAL(MONEY_PRECISION, MONEY_SCALE); rates and
# intermediate products keep more places and are rounded once, per line, at the end.
MONEY_PRECISION = 18
MONEY_SCALE = 2
RATE_TYPE = "decimal(18, 6)"
WIDE_TYPE = "decimal(38, 8)"
MONEY_TYPE = f"decimal({MONEY_PRECISION}, {MONEY_SCALE})"


def minor_units(currency: str) -> int:
    """Decimal places of a currency's minor unit (PLN 2, JPY 0, ...)."""
    return get_currency_precision(currency.upper())


def round_money(value: Decimal, currency: str = "PLN") -> Decimal:
    """Round half-up (ties away from zero) to the currency's minor unit."""
    quantum = Decimal(1).scaleb(-minor_units(currency))
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


def to_decimal(value: object) -> Decimal:
    """Exact decimal from a plan or data value; floats are refused, they are not money."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not an amount")
    if isinstance(value, float):
        raise TypeError(f"float {value!r} is not an exact amount; write it as text or decimal")
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    return Decimal(str(value).strip())
