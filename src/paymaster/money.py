"""Decimal money: the one place that knows minor units and how we round."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision

# Money columns in the engine are DECIMAL(MONEY_PRECISION, MONEY_SCALE); intermediate
# products stay wide (plan.expressions.WIDE) and are rounded once, per line, at the end.
MONEY_PRECISION = 18
MONEY_SCALE = 2
MONEY_TYPE = f"decimal({MONEY_PRECISION}, {MONEY_SCALE})"


def minor_units(currency: str) -> int:
    """Decimal places of a currency's minor unit (PLN 2, JPY 0, ...)."""
    return get_currency_precision(currency.upper())


def round_money(value: Decimal, currency: str = "PLN") -> Decimal:
    """Round half-up (ties away from zero) to the currency's minor unit."""
    quantum = Decimal(1).scaleb(-minor_units(currency))
    return value.quantize(quantum, rounding=ROUND_HALF_UP)
