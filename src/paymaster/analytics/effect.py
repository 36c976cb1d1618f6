"""Did the program work? Its cost against the sales it pays for (the engine's `effect`
table), how attainment is spread (below, at, above target), and how concentrated the
payout is (the share of the top 10% of payees). Only lines up the engine's results."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pyarrow as pa

from paymaster import duckdb_config
from paymaster.analytics.compare import distribution

AT_BAND = Decimal("0.05")  # "at target": within 5% either side of 100%
# value / target per payee, exact and cut at 10^-8 as the engine divides (plan/exact.py):
# on integers scaled by 10^8, with DuckDB's 128-bit // and %, never a DOUBLE.
_EXACT_ATTAINMENT = (
    "SELECT measure, period, payee_id, CASE WHEN s < 0 THEN -q ELSE q END AS attainment FROM ("
    " SELECT *, CAST(CAST((n // d) * 100000000 + ((n % d) * 100000000) // d AS DECIMAL(38, 0))"
    "   * CAST(0.00000001 AS DECIMAL(9, 8)) AS DECIMAL(38, 8)) AS q FROM ("
    "  SELECT measure, period, payee_id, SUM(value) AS s,"
    "   CAST(ABS(CAST(SUM(value) AS DECIMAL(38, 8))) * 100000000 AS HUGEINT) AS n,"
    "   CAST(CAST(MAX(target) AS DECIMAL(38, 8)) * 100000000 AS HUGEINT) AS d"
    "  FROM payouts WHERE target IS NOT NULL AND target > 0"
    "  GROUP BY measure, period, payee_id))")


def effect_report(tables: dict[str, pa.Table], period: str | None = None,
                  at_band: Decimal = AT_BAND) -> dict[str, pa.Table]:
    con = duckdb.connect()
    duckdb_config.seal(con)  # (it reads only the tables registered from memory)
    payouts = tables["payouts"]
    if period is not None:
        payouts = payouts.filter(pa.compute.equal(payouts["period"], period))
    con.register("payouts", payouts)
    lines = con.sql("SELECT program AS variant, payee_id, amount FROM payouts")
    con.register("lines", lines.to_arrow_table())
    low, high = 1 - at_band, 1 + at_band
    attainment = con.sql(
        "SELECT measure, period, COUNT(*) AS payees, "
        f"COUNT(*) FILTER (WHERE attainment < {low}) AS below, "
        f"COUNT(*) FILTER (WHERE attainment >= {low} AND attainment < {high}) AS at, "
        f"COUNT(*) FILTER (WHERE attainment >= {high}) AS above, "
        "CAST(median(attainment) AS DECIMAL(18, 4)) AS median_attainment "
        f"FROM ({_EXACT_ATTAINMENT}) "
        "GROUP BY measure, period ORDER BY measure, period").to_arrow_table()
    concentration = distribution(con).rename_columns(
        ["program", *distribution(con).column_names[1:]])
    return {"effect": tables["effect"], "attainment": attainment,
            "concentration": concentration}
