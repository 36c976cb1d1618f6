"""Command line: thin commands over the plan loader, the engine and the run service.

Every command maps our errors to located messages and exit code 1 in one place.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from paymaster import cli_analytics, cli_notify, cli_registrations, cli_users, cli_workspace
from paymaster.cli_common import (
    app,
    check_locale,
    check_outputs,
    console,
    errors,
    me,
    print_problems,
    print_table,
)
from paymaster.errors import PaymasterError, Problem
from paymaster.money import minor_units
from paymaster.runsummary import summary_text
from paymaster.stageclock import StageLines

# The command modules register themselves on `app` when imported (above); this module adds
# the calculation commands and is the entry point.
COMMAND_MODULES = (cli_workspace, cli_registrations, cli_analytics, cli_users, cli_notify)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEMO_PROGRAMS = ("generuj-leady", "trade-in-accelerator", "sales-team")


def main() -> None:
    try:
        app()
    except PaymasterError as err:
        print_problems(err.problems)
        sys.exit(err.exit_code)
    except OSError as err:
        # A path given on the command line that cannot be read or written (missing file,
        # folder not writable): the path and the reason, not a traceback.
        text = f"{err.strerror or err}"
        if err.filename:
            text = (f"{err.filename}: {text} (check the path, that it exists and that you may "
                    "read or write it)")
        errors.print(text, markup=False, highlight=False)
        errors.print("1 problem(s)", style="bold red")
        sys.exit(1)


@app.command()
def check(
    plans: list[Path] = typer.Argument(..., help="plan files to check"),
    as_json: bool = typer.Option(False, "--json", help="print problems as JSON"),
) -> None:
    """Check plan files: structure, names and every expression against the input schema.
    Warns (exit 0) where a rule repeats a parameter's value or the scope's dates."""
    from paymaster.engine import check as check_plan
    from paymaster.plan import load_plan
    from paymaster.plan.literals import literal_warnings

    problems: list[Problem] = []
    warnings: list[Problem] = []
    for path in plans:
        try:
            loaded = load_plan(path, partial=True)
            warnings.extend(literal_warnings(loaded))
            check_plan(loaded)
        except PaymasterError as err:
            problems.extend(err.problems)
    if as_json:
        print(json.dumps({"ok": not problems, "problems": [p.to_json() for p in problems],
                          "warnings": [w.to_json() for w in warnings]}, indent=2))
        if problems:
            raise typer.Exit(1)
        return
    for warning in warnings:
        hint = f" ({warning.hint})" if warning.hint else ""
        errors.print(f"{warning.location()}: warning: {warning.message}{hint}", markup=False,
                     highlight=False)
    if problems:
        print_problems(problems)
    else:
        said = f", {len(warnings)} warning(s)" if warnings else ""
        console.print(f"[green]ok[/green]: {len(plans)} plan(s) checked{said}", markup=True)
    if problems:
        raise typer.Exit(1)


@app.command()
def run(
    plan: Path = typer.Argument(..., help="plan file"),
    data: Path = typer.Option(..., "--data", help="folder of input tables"),
    out: Path = typer.Option(..., "--out", help="folder for the result tables"),
    fmt: str = typer.Option("csv", "--format", help="csv, parquet or xlsx"),
    backend: str = typer.Option("duckdb", "--backend", help="duckdb (in process) or spark"),
    spark_master: str | None = typer.Option(None, "--spark-master", help="with --backend "
                                            "spark: local[*] (default), spark://host:7077, "
                                            "yarn, k8s://https://host:443"),
    incremental: bool = typer.Option(False, "--incremental", help="recompute only what the "
                                     "input's changes since the last run touch (state in OUT)"),
    explanations: str = typer.Option("none", "--explanations", help="none (the trace "
                                     "columns only) or text (adds each line's explanation)"),
    locale: str = typer.Option("en", "--locale", help="with --explanations text: en, pl or zh"),
    as_of: dt.datetime | None = typer.Option(
        None, "--as-of", formats=["%Y-%m-%d"], help="the day the run judges what is overdue "
        "on (a screening's answer_within), YYYY-MM-DD; default today"),
    credits: str = typer.Option(
        "records", "--credits", help="records (default: the credits of per-record measures "
        "and rebates) or all (also every record an aggregate summed: one row per record "
        "and aggregate measure, a large file for a plan of sales totals)"),
) -> None:
    """Calculate a program on a data folder and write payouts, summary, titles, evaluations,
    credits and effect."""
    from paymaster.backends import check_choice
    from paymaster.credits import check as check_credits
    from paymaster.outputs import FORMATS

    check_credits(credits)
    check_choice(backend, spark_master)
    if fmt not in FORMATS:
        console.print(f"[red]error[/red]: unknown format '{escape(fmt)}'; use one of "
                      f"{', '.join(FORMATS)}", markup=True)
        raise typer.Exit(2)
    check_locale(locale)
    if explanations not in ("none", "text"):
        console.print(f"[red]error[/red]: unknown --explanations '{escape(explanations)}'; use "
                      "none or text", markup=True)
        raise typer.Exit(2)
    if incremental and backend != "duckdb":
        console.print("[red]error[/red]: --incremental keeps its state in DuckDB; "
                      "it cannot be combined with --backend spark", markup=True)
        raise typer.Exit(2)
    day = as_of.date() if as_of is not None else None
    # The topmost folder this run makes (None: OUT exists), so a refused run removes all it made.
    made = next((p for p in (*reversed(out.parents), out) if not p.exists()), None)
    out.mkdir(parents=True, exist_ok=True)  # a folder that cannot be made: said before calculating
    try:
        if incremental:
            from paymaster.explanations import EXPLAINED, with_explanations
            from paymaster.figures import in_memory
            from paymaster.outputs import write_tables

            result, delta = _calculate_incremental(plan, data, out, day, credits)
            tables = result.tables
            if explanations == "text":
                tables = {name: with_explanations(table, result.loaded.plan, name, locale)
                          .read_all() if name in EXPLAINED else table
                          for name, table in tables.items()}
            paths = write_tables(tables, out, fmt,
                                 metadata=run_metadata(result, data, backend, spark_master))
            _write_delta(delta, out / "delta", fmt, write_tables)
            figures = in_memory(result.tables)
        else:
            # The tables go from the backend to their files a batch at a time: Python never
            # holds a whole table, so the size of the results does not bound a run.
            result = _calculate_into(
                plan, data, out, fmt, backend=backend, spark_master=spark_master,
                metadata=lambda done: run_metadata(done, data, backend, spark_master),
                explanations=explanations, locale=locale, as_of=day, credits=credits)
            paths, figures = result.paths, result.figures
            if backend == "duckdb" and explanations == "none":
                # (imported here as the command's other engine modules are: the CLI's
                # other commands start without DuckDB's and Arrow's imports)
                from paymaster.fastentry import record

                record(plan, data, fmt, credits)  # (the next run of it takes the fast path)
    except BaseException:
        # A refused plan or input leaves nothing behind: not even the folders made for it.
        if made is not None:
            _remove_empty(out, made)
        raise
    _print_summary(result, figures)
    console.print(f"wrote {len(paths) - 1} tables and run.json to {out} "
                  f"(fingerprint {result.fingerprint})")


def _remove_empty(folder: Path, top: Path) -> None:
    """Remove `folder` and its parents up to `top` while they are empty."""
    for path in (folder, *folder.parents):
        if not path.is_dir() or any(path.iterdir()):
            return
        path.rmdir()
        if path == top:
            return


def run_metadata(result, data: Path, backend: str = "duckdb",
                 spark_master: str | None = None) -> dict:
    """What a result was made from and how long each stage took (written as run.json)."""
    import datetime as dt
    import hashlib

    from paymaster import __version__

    plan_path = Path(result.loaded.path)
    return {
        "program": result.program,
        "plan": str(plan_path),
        "plan_sha256": hashlib.sha256(plan_path.read_bytes()).hexdigest()
        if plan_path.is_file() else None,
        "data": str(data),
        "fingerprint": result.fingerprint,
        # (the day what is overdue was judged on: part of what the result was made from)
        **({"as_of": result.as_of.isoformat()} if result.as_of else {}),
        "backend": backend if spark_master is None else f"{backend} ({spark_master})",
        "credits": result.credits,  # (which credits credits.csv holds: paymaster.credits)
        "paymaster": __version__,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows": result.rows,
        "timings": result.timings,
    }


class StageProgress:
    """Progress of a long run: a spinner on the current stage and one line per finished
    stage with its time, so a slow stage is visible while it runs and afterwards."""

    def __init__(self, status, to: Console = console) -> None:
        self._status = status
        self._lines = StageLines(lambda line: to.print(line, style="dim"))

    def __call__(self, stage: str) -> None:
        self._lines(stage)
        self._status.update(f"{stage} ...")

    def finish(self) -> None:
        self._lines.finish()


def _calculate(plan: Path, data: Path, to: Console = console, **backend):
    from paymaster.runs import calculate

    with to.status("starting") as status:
        progress = StageProgress(status, to)
        result = calculate(plan, data, progress=progress, **backend)
        progress.finish()
        return result


def _calculate_into(plan: Path, data: Path, out: Path, fmt: str, **options):
    from paymaster.runs import calculate_into

    with console.status("starting") as status:
        progress = StageProgress(status)
        result = calculate_into(plan, data, out, fmt, progress=progress, **options)
        progress.finish()
        return result


def _calculate_incremental(plan: Path, data: Path, out: Path, as_of: dt.date | None = None,
                           credits: str = "records"):
    from paymaster.incremental import STATE_FILE, calculate

    with console.status("starting") as status:
        progress = StageProgress(status)
        result, report = calculate(plan, data, out / STATE_FILE, progress=progress, as_of=as_of,
                                   credits=credits)
        progress.finish()
    for line in report.lines():
        console.print(line, markup=False, highlight=False)
    return result, report.delta


def _write_delta(delta, folder: Path, fmt: str, write_tables) -> None:
    """OUT/delta/: what an incremental run changed (lines added, removed and changed,
    the changed payees' totals); after a full run there is none (a stale one is removed)."""
    if delta is None or delta.full:
        if folder.is_dir():
            shutil.rmtree(folder)
        return
    delta.write(folder, lambda tables, to: write_tables(tables, to, fmt))
    console.print(f"wrote the delta to {folder}")


def _print_summary(result, figures) -> None:
    currency = result.loaded.plan.currency
    console.print(summary_text(
        program=result.program, currency=currency, places=minor_units(currency),
        payees=figures.payees, lines=figures.lines, paid=figures.paid, unpaid=figures.unpaid,
        total=figures.total, budget=result.loaded.plan.annual_budget, effect=figures.effect,
        reasons=figures.unpaid_by_reason, timings=result.timings), end="", highlight=False)


@app.command()
def explain(
    plan: Path = typer.Argument(..., help="plan file"),
    data: Path = typer.Option(..., "--data", help="folder of input tables"),
    payee: str = typer.Option(..., "--payee", help="payee id"),
    period: str | None = typer.Option(None, "--period", help="only this period"),
    locale: str = typer.Option("en", "--locale", help="language of the explanations: en, pl "
                               "or zh"),
) -> None:
    """Explain every line of one payee: the arithmetic in words and figures."""
    from paymaster.explain import explain_payee

    check_locale(locale)
    result = _calculate(plan, data, to=errors)  # progress apart: stdout is the explanation
    text = explain_payee(result.tables, payee, period, result.loaded.plan, locale)
    if text is None:
        raise PaymasterError(Problem(f"payee '{payee}' has no lines"
                                     + (f" in period {period}" if period else ""),
                                     hint="check the id; a run's summary table (summary.csv) lists every payee"))
    console.print(text, markup=False, highlight=False)


@app.command()
def demo(
    out: Path = typer.Option(Path("demo"), "--out", help="where to write the results"),
    serve: bool = typer.Option(False, "--serve", help="then start the portal on the demo "
                               "workspace (the address and demo accounts are printed)"),
) -> None:
    """Run the three example programs on their sample data, then take them through a
    workspace: imports, registrations, enrollments, runs posted to the ledger, a
    correction, a dispute and statements in three languages."""
    for name in DEMO_PROGRAMS:
        folder = EXAMPLES / name
        console.rule(name)
        result = _calculate_into(folder / "plan.yaml", folder / "data", out / name, "csv")
        _print_summary(result, result.figures)
    console.print(f"results in {out}/")
    console.rule("workspace: the same programs through their workflows and the ledger")
    from paymaster.services.demo import run_workspace_demo

    run_workspace_demo(out / "workspace", console.print).close()
    console.print(f"workspace in {out}/workspace (statements in {out}/workspace/out); "
                  f"try: {me()} runs list -w {out}/workspace")
    if serve:
        cli_workspace.serve(out / "workspace", host="127.0.0.1", port=8000, secure_cookies=False,
                     demo=True)
    else:
        console.print(f"the portal: {me()} serve {out}/workspace")


@app.command()
def compare(
    plan_a: Path = typer.Argument(..., help="the baseline plan"),
    plan_b: Path | None = typer.Argument(None, help="a second plan (optional with --set)"),
    data: Path = typer.Option(..., "--data", help="folder of input tables"),
    sets: list[str] = typer.Option([], "--set", help="a variant of PLAN_A: name=value (repeat)"),
    out: Path | None = typer.Option(None, "--out", help="write the comparison tables here"),
    fmt: str = typer.Option("csv", "--format", help="csv, parquet or xlsx"),
    chart: Path | None = typer.Option(None, "--chart", help="cost per variant and the biggest "
                                      "differences: FILE.svg or FILE.png"),
) -> None:
    """Compare plan variants on the same data: cost, winners and losers, gate crossings."""
    from paymaster.analytics.compare import compare as run_compare
    from paymaster.analytics.compare import variants

    check_outputs(out, fmt, chart)
    found = variants(plan_a, plan_b, sets)
    with console.status("calculating") as status:
        result = run_compare(found, data, progress=lambda stage: status.update(stage))
    totals = Table(title="cost per variant")
    for column in ("variant", "total", "paid lines", "paid payees"):
        totals.add_column(column, justify="right")
    for row in result.tables["totals"].to_pylist():
        totals.add_row(row["variant"], f"{row['total']:,.2f}", str(row["paid_lines"]),
                       str(row["paid_payees"]))
    print_table(totals)
    movers = Table(title=f"biggest differences against {result.names[0]}")
    for column in ("variant", "payee", "baseline", "amount", "difference"):
        movers.add_column(column, justify="right")
    for row in result.tables["movers"].to_pylist():
        movers.add_row(row["variant"], row["payee_id"], f"{row['baseline']:,.2f}",
                       f"{row['amount']:,.2f}", f"{row['diff']:+,.2f}")
    print_table(movers)
    console.print(f"{result.tables['crossings'].num_rows} line(s) paid in one variant and not "
                  "the other, or in another band (see crossings)")
    if out is not None:
        from paymaster.outputs import write_tables

        write_tables(result.tables, out, fmt)
        console.print(f"wrote {len(result.tables)} tables to {out}")
    if chart is not None:
        from paymaster.analytics.compare import charts

        for path, data in charts(result, chart).items():
            path.write_bytes(data)
            console.print(f"chart: {path}")


@app.command()
def schema(out: Path | None = typer.Option(None, "--out", help="write to this file")) -> None:
    """Print (or write) the JSON Schema of plan files, for editors."""
    from paymaster.plan.schema import plan_json_schema

    text = json.dumps(plan_json_schema(), indent=2)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    # Run as `python -m paymaster.cli` this file is __main__, a second copy of the module;
    # its commands registered themselves on cli_common's app as paymaster.cli's did.
    main()
