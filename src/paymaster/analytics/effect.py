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
        "FROM (SELECT measure, period, payee_id, "
        "  CAST(SUM(value) AS DOUBLE) / CAST(MAX(target) AS DOUBLE) AS attainment "
        "  FROM payouts WHERE target IS NOT NULL AND target > 0 "
        "  GROUP BY measure, period, payee_id) "
        "GROUP BY measure, period ORDER BY measure, period").to_arrow_table()
    concentration = distribution(con).rename_columns(
        ["program", *distribution(con).column_names[1:]])
    return {"effect": tables["effect"], "attainment": attainment,
            "concentration": concentration}
