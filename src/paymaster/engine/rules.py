"""Named eligibility rules: each becomes a 'failed' flag whose name is the reason."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from paymaster.plan.expressions import Namespace
from paymaster.plan.model import Rule


def materialize(table: ir.Table, checks: list[tuple[str, ir.Value]], tag: str):
    """Put each check's flag on the table it was compiled against, as a column.

    Correlated EXISTS values belong to that exact table; once they are columns, later
    steps can reshape the table freely."""
    columns = {f"__{tag}_{i}": failed for i, (_, failed) in enumerate(checks)}
    table = table.mutate(**columns)
    return table, [(name, table[f"__{tag}_{i}"]) for i, (name, _) in enumerate(checks)]


def rule_checks(ctx, rules: list[Rule], ns: Namespace, path: tuple) -> list[tuple[str, ir.Value]]:
    """(name, failed) per rule, in plan order. `first_wins` rules are handled by screening.
    Use the flags on `ns.table` itself, or `materialize` them first."""
    checks = []
    for i, rule in enumerate(rules):
        if rule.fail_when is not None:
            failed = ctx.expr(rule.fail_when, ns, path + (i, "fail_when"), "boolean").fill_null(False)
        elif rule.require is not None:
            failed = ~ctx.expr(rule.require, ns, path + (i, "require"), "boolean").fill_null(False)
        else:
            continue
        checks.append((rule.name, failed))
    return checks


def nip_digits(value: ir.Value) -> ir.Value:
    """The NIP as written, without spaces and dashes."""
    return value.cast("string").re_replace(r"[\s-]", "")


def nip_valid_digits(digits: ir.Value, number: ir.Value) -> ir.Value:
    """Polish NIP checksum in SQL, on `nip_digits` and that as an integer (`number`):
    10 digits, weights 6 5 7 2 3 4 5 6 7, sum mod 11 = the 10th digit. Digits by integer
    arithmetic: cheaper than ten substrings, each re-cleaning the text. Without a
    division (an integer / is a DOUBLE in DuckDB): digit i times 10^(9-i) is a difference
    of two remainders, and 10^k = (-1)^k modulo 11, so the sum modulo 11 needs no digit."""
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    total = sum(((number % 10 ** (10 - i) - number % 10 ** (9 - i)) * (w if (9 - i) % 2 == 0 else -w)
                 for i, w in enumerate(weights)), ibis.literal(0, type="int64"))
    well_formed = digits.re_search(r"^[0-9]{10}$").fill_null(False)
    return well_formed & ibis.ifelse(well_formed, ((total % 11) + 11) % 11 == (number % 10), False)


def nip_valid(value: ir.Value) -> ir.Value:
    """Polish NIP checksum in SQL (one value; screening computes the parts as columns)."""
    digits = nip_digits(value)
    return nip_valid_digits(digits, digits.try_cast("int64"))


TAX_ID_CHECKS = {"pl.nip": nip_valid}
TAX_ID_PARTS = {"pl.nip": (nip_digits, nip_valid_digits)}
