"""Command line for program analytics: budget forecast, effect report, accruals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import typer

from paymaster.cli_common import (
    WS_OPTION,
    amount,
    app,
    check_outputs,
    console,
    open_ws,
    show_table,
)

# Columns of the effect report that are ratios (1.0 = 100%), not money: shown to four
# places, as the report computes them (money is shown as `run` shows it).
RATIOS = {"growth", "prior_growth", "cost_share", "cost_per_extra_sale", "budget_used",
          "median_attainment", "top10_share"}


def ratio(value: object) -> str:
    return "" if value is None else f"{Decimal(str(value)):.4f}"


@app.command()
def budget(
    program: str = typer.Argument(...),
    as_of: dt.datetime = typer.Option(None, "--as-of", formats=["%Y-%m-%d"],
                                      help="forecast from this date (default: today, or the "
                                      "program's end if earlier)"),
    weeks: int = typer.Option(8, "--weeks", help="recent weeks that make the run rate"),
    chart: Path = typer.Option(None, "--chart", help="burn-down chart: FILE.svg or FILE.png "
                               "(one per pool: FILE-POOL.svg when there are several)"),
    workspace: Path = WS_OPTION,
) -> None:
    """Budget pools: spent, committed, remaining, and the projected exhaustion date."""
    from paymaster.analytics.budget import budget_forecast
    from paymaster.analytics.charts import burn_chart, chart_format, write_chart

    if chart:
        chart_format(chart)
    found = budget_forecast(open_ws(workspace), program, as_of.date() if as_of else None, weeks)
    show_table(f"budget of {program}", ["pool", "limit", "spent", "committed", "remaining",
                                    "run rate / week", "runs out", "interval"], [
        [f.pool, f.limit, f.spent, f.committed, f.remaining,
         f"{amount(f.rate_per_week)} ({amount(f.rate_low)} .. {amount(f.rate_high)})"
         if f.rate_per_week is not None else "",
         f"ran out on {f.exhausted_on}" if f.exhausted_on else (
             f.exhaustion or (f"lasts: {amount(f.used_at_end)} used by the end {f.ends_on}"
                              if f.used_at_end is not None else "not in sight")),
         "" if f.exhausted_on else f"{f.exhaustion_low or '-'} .. "
         f"{f.exhaustion_high or ('not before the end' if f.ends_on else 'not in sight')}"]
        for f in found])
    if chart:
        for f in found:
            path = chart if len(found) == 1 else chart.with_name(f"{chart.stem}-{f.pool}{chart.suffix}")
            write_chart(burn_chart(f, chart_format(chart)), path)
            console.print(f"chart: {path}")


@app.command()
def effect(
    plan: Path = typer.Argument(..., help="plan file"),
    data: Path = typer.Option(..., "--data", help="folder of input tables"),
    period: str = typer.Option(None, "--period", help="one period's lines (attainment, "
                               "concentration); sales figures are the scope's"),
    out: Path = typer.Option(None, "--out", help="write the report tables here"),
    fmt: str = typer.Option("csv", "--format", help="csv, parquet or xlsx"),
    chart: Path = typer.Option(None, "--chart", help="attainment chart: FILE.svg or FILE.png"),
) -> None:
    """Did it work: cost against sales and growth, attainment below/at/above target,
    concentration of the payout."""
    from paymaster.analytics.effect import effect_report
    from paymaster.runs import calculate

    check_outputs(out, fmt, chart)
    with console.status("calculating") as status:
        result = calculate(plan, data, lambda stage: status.update(stage))
    report = effect_report(result.tables, period)
    for name, table in report.items():
        show_table(name, table.column_names, [
            [ratio(v) if c in RATIOS else v for c, v in r.items()] for r in table.to_pylist()])
    if out:
        from paymaster.outputs import write_tables

        write_tables(report, out, fmt)
        console.print(f"wrote {len(report)} tables to {out}")
    if chart:
        _attainment_chart(report["attainment"], chart)


def _attainment_chart(table, chart: Path) -> None:
    from paymaster.analytics.charts import bar_chart, chart_format, write_chart

    labels, values = [], []
    for row in table.to_pylist():
        for bucket in ("below", "at", "above"):
            labels.append(f"{row['measure']} {row['period']} {bucket}")
            values.append(Decimal(row[bucket]))
    write_chart(bar_chart(labels, values, "payees below, at and above target", "payees",
                          chart_format(chart)), chart)
    console.print(f"chart: {chart}")


@app.command()
def accruals(
    program: str = typer.Option(None, "--program"),
    as_of: dt.datetime = typer.Option(None, "--as-of", formats=["%Y-%m-%d"]),
    out: Path = typer.Option(None, "--out", help="FILE.csv or FILE.xlsx"),
    workspace: Path = WS_OPTION,
) -> None:
    """Earned but not yet paid at a date, by program and payee (for finance)."""
    from paymaster.analytics.accruals import COLUMNS
    from paymaster.analytics.accruals import accruals as compute

    if out:
        from paymaster.outputs import rows_format

        rows_format(out)
    rows = compute(open_ws(workspace), as_of.date() if as_of else None, program)
    show_table("accruals", list(COLUMNS), [[r[c] for c in COLUMNS] for r in rows])
    if out:
        from paymaster.outputs import write_rows

        write_rows(rows, out)
        console.print(f"wrote {out}")
