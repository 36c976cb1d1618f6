"""Compare plan variants on the same data: cost, who wins and loses, who crosses a gate.

Every variant is calculated by the engine; this module only lines the results up
(in DuckDB, over the engines' Arrow tables), it never computes a payout itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa

from paymaster import duckdb_config
from paymaster.errors import PlanError, Problem
from paymaster.plan import LoadedPlan, load_plan
from paymaster.sqlnames import literal
from paymaster.runs import Progress, calculate

PERCENTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True)
class Variant:
    name: str
    plan: LoadedPlan


def variants(plan_a: Path, plan_b: Path | None = None, sets: list[str] | None = None) -> list[Variant]:
    """The baseline (plan A), plan B if given, and one variant of A per `name=value`."""
    base = load_plan(plan_a)
    found = [Variant(Path(plan_a).stem, base)]
    if plan_b is not None:
        other = load_plan(plan_b)
        name = Path(plan_b).stem if Path(plan_b).stem != found[0].name else f"{Path(plan_b).stem}-b"
        found.append(Variant(name, other))
    for assignment in sets or []:
        found.append(Variant(assignment, with_parameter(base, assignment)))
    if len(found) < 2:
        raise PlanError(Problem("nothing to compare", hint="give a second plan or --set name=value"))
    return found


def with_parameter(loaded: LoadedPlan, assignment: str) -> LoadedPlan:
    name, sep, value = assignment.partition("=")
    name = name.strip()
    if not sep or not name:
        raise PlanError(Problem(f"--set '{assignment}' is not name=value", hint="e.g. --set rate=0.18"))
    params = loaded.plan.parameters
    if name not in params:
        from paymaster.errors import suggest

        raise PlanError(Problem(f"unknown parameter '{name}'", file=loaded.path,
                                hint=suggest(name, params) or f"parameters: {', '.join(params)}"))
    try:
        number = Decimal(value.strip())
    except ArithmeticError:
        raise PlanError(Problem(f"--set {name}: '{value}' is not a number")) from None
    plan = loaded.plan.model_copy(update={"parameters": {**params, name: number}})
    return LoadedPlan(plan=plan, source=loaded.source)


@dataclass
class Comparison:
    names: list[str]
    tables: dict[str, pa.Table]


def compare(found: list[Variant], data: Path, progress: Progress | None = None) -> Comparison:
    con = duckdb.connect()
    duckdb_config.seal(con)  # (it reads only the tables registered from memory)
    payouts = []
    for variant in found:
        result = calculate(variant.plan, data, progress)
        table = result.tables["payouts"]
        payouts.append(table.append_column("variant", pa.array([variant.name] * table.num_rows)))
    con.register("lines", pa.concat_tables(payouts))
    baseline = found[0].name
    tables = {
        "totals": _totals(con),
        "by_payee": _against_baseline(con, baseline, ["payee_id"]),
        "by_measure": _against_baseline(con, baseline, ["measure"]),
        "crossings": _crossings(con, baseline),
        "distribution": distribution(con),
    }
    by_payee = tables["by_payee"]
    tables["movers"] = con.sql(
        "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY variant ORDER BY diff DESC, "
        "payee_id) AS up, row_number() OVER (PARTITION BY variant ORDER BY diff, payee_id) AS "
        "down FROM by_payee WHERE diff <> 0) WHERE up <= 10 OR down <= 10 "
        "ORDER BY variant, diff DESC, payee_id"
    ).to_arrow_table() if by_payee.num_rows else by_payee
    return Comparison([v.name for v in found], tables)


def charts(result: Comparison, path: Path) -> dict[Path, bytes]:
    """Two charts beside `path`: cost per variant, and each variant's biggest movers."""
    from paymaster.analytics.charts import bar_chart, chart_format

    fmt = chart_format(path)
    totals = result.tables["totals"].to_pylist()
    out = {path: bar_chart([r["variant"] for r in totals], [r["total"] for r in totals],
                           "cost per variant", fmt=fmt)}
    movers = result.tables["movers"].to_pylist()
    if movers:
        labels = [f"{r['variant']}: {r['payee_id']}" for r in movers]
        out[path.with_name(f"{path.stem}-movers{path.suffix}")] = bar_chart(
            labels, [r["diff"] for r in movers], f"difference against {result.names[0]}",
            fmt=fmt)
    return out


def _totals(con: duckdb.DuckDBPyConnection) -> pa.Table:
    return con.sql(
        "SELECT variant, SUM(amount) AS total, COUNT(*) FILTER (WHERE paid) AS paid_lines, "
        "COUNT(DISTINCT payee_id) FILTER (WHERE paid) AS paid_payees FROM lines "
        "GROUP BY variant ORDER BY variant"
    ).to_arrow_table()


def _against_baseline(con, baseline: str, keys: list[str]) -> pa.Table:
    """Each variant's total per key next to the baseline's, and the difference."""
    cols = ", ".join(keys)
    base = literal(baseline)
    table = con.sql(
        f"WITH sums AS (SELECT variant, {cols}, SUM(amount) AS amount FROM lines "
        f"  GROUP BY variant, {cols}), "
        f"b AS (SELECT {cols}, amount FROM sums WHERE variant = {base}), "
        f"v AS (SELECT variant, {cols}, amount FROM sums WHERE variant <> {base}), "
        f"k AS (SELECT DISTINCT o.variant, u.* FROM (SELECT DISTINCT variant FROM v) o "
        f"  CROSS JOIN (SELECT {cols} FROM b UNION SELECT {cols} FROM v) u) "
        f"SELECT k.variant, {', '.join(f'k.{c}' for c in keys)}, "
        f"COALESCE(b.amount, 0) AS baseline, COALESCE(v.amount, 0) AS amount, "
        f"COALESCE(v.amount, 0) - COALESCE(b.amount, 0) AS diff "
        f"FROM k LEFT JOIN b USING ({cols}) "
        f"LEFT JOIN v ON v.variant = k.variant AND "
        + " AND ".join(f"v.{c} = k.{c}" for c in keys)
        + f" ORDER BY k.variant, {', '.join(f'k.{c}' for c in keys)}"
    ).to_arrow_table()
    con.register("by_payee" if keys == ["payee_id"] else "by_measure", table)
    return table


def _crossings(con, baseline: str) -> pa.Table:
    """Lines paid in one variant and not the other, or computed in another band."""
    return con.sql(
        f"SELECT v.variant, b.payee_id, b.measure, b.period, b.source_id, "
        f"b.paid AS paid_baseline, v.paid AS paid, b.band AS band_baseline, v.band AS band, "
        f"b.reason AS reason_baseline, v.reason AS reason "
        f"FROM (SELECT * FROM lines WHERE variant = {literal(baseline)}) b "
        f"JOIN (SELECT * FROM lines WHERE variant <> {literal(baseline)}) v "
        f"USING (payee_id, measure, period, source_id) "
        f"WHERE b.paid IS DISTINCT FROM v.paid OR b.band IS DISTINCT FROM v.band "
        f"ORDER BY v.variant, b.payee_id, b.measure, b.period, b.source_id"
    ).to_arrow_table()


def distribution(con) -> pa.Table:
    """Per variant: payees, percentiles of payee totals, maximum, share of the top 10%
    (a ratio to 4 places, half up: DuckDB's DECIMAL / DECIMAL would be a DOUBLE, so it is
    divided as integers of cents)."""
    quantiles = ", ".join(
        f"quantile_cont(total, {p}) AS p{int(p * 100)}" for p in PERCENTILES)
    share = ("CASE WHEN d = 0 THEN NULL ELSE CAST(CAST(sign(n) * sign(d) * "
             "((abs(n) * 20000 + abs(d)) // (2 * abs(d))) AS DECIMAL(38, 0)) "
             "* CAST(0.0001 AS DECIMAL(5, 4)) AS DECIMAL(18, 4)) END")
    return con.sql(
        f"SELECT variant, payees, {', '.join(f'p{int(p * 100)}' for p in PERCENTILES)}, max, "
        f"{share} AS top10_share FROM ("
        f"SELECT variant, COUNT(*) AS payees, {quantiles}, MAX(total) AS max, "
        f"CAST(coalesce(SUM(total) FILTER (WHERE top10), 0) * 100 AS HUGEINT) AS n, "
        f"CAST(coalesce(SUM(total), 0) * 100 AS HUGEINT) AS d "
        f"FROM (SELECT variant, payee_id, SUM(amount) AS total, "
        f"percent_rank() OVER (PARTITION BY variant ORDER BY SUM(amount) DESC) < 0.1 AS top10 "
        f"FROM lines GROUP BY variant, payee_id) GROUP BY variant) ORDER BY variant"
    ).to_arrow_table()
