"""What every command module of the command line shares: the Typer app they register on,
the consoles, tables, the workspace options and how figures are shown.

The command modules (cli, cli_workspace, cli_registrations, cli_analytics, cli_users)
import from here and never from each other's registration side effects, so no two of them
import each other in a circle; `paymaster.cli` imports them all to assemble the app.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from paymaster.errors import Problem, UsageError
from paymaster.money import minor_units

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Paymaster: sales incentive programs, calculated exactly and explained.")
# Markup off: stored text (a dispute, a reason, a file name) is printed as it is, never
# read as Rich markup (`[/]` would crash a listing, `[link=...]` would render). Styling is
# given with style=, or markup=True on constant text.
console = Console(soft_wrap=True, markup=False)
errors = Console(stderr=True, soft_wrap=True, markup=False)
# Piped into a file or a script, a table keeps every figure: Rich would otherwise fit it
# into 80 columns, or an exported COLUMNS, and cut amounts short ("1200…"). (A table's
# own print width cannot exceed its console's: a console of its own.)
_tables = console if sys.stdout.isatty() else Console(soft_wrap=True, width=10_000, markup=False)

WS_OPTION = typer.Option(Path(os.environ.get("PAYMASTER_WORKSPACE", ".")), "--workspace", "-w",
                         help="workspace folder (or PAYMASTER_WORKSPACE)")
ACTOR_OPTION = typer.Option(os.environ.get("PAYMASTER_USER", os.environ.get("USER", "office")),
                            "--as", help="who does this, for the audit log (or PAYMASTER_USER)")


def me() -> str:
    """How a hint names this program: `./dev paymaster` when run through ./dev (which sets
    PAYMASTER_AS), else `paymaster`."""
    return os.environ.get("PAYMASTER_AS") or "paymaster"


def print_table(table: Table) -> None:
    _tables.print(table)


def print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        errors.print(str(problem), markup=False, highlight=False)
    errors.print(f"{len(problems)} problem(s)", style="bold red")


def check_outputs(out: Path | None, fmt: str, chart: Path | None) -> None:
    """A wrong format or chart file is said before a calculation, not after it."""
    from paymaster.analytics.charts import chart_format
    from paymaster.outputs import check_format

    if out:
        check_format(fmt)
    if chart:
        chart_format(chart)


def open_ws(folder: Path):
    from paymaster.workspace import Workspace

    return Workspace.open(folder)


def pairs(items: list[str], what: str, form: str = "NAME=VALUE") -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(Problem(f"{what} '{item}' is not {form}"))
        out[name.strip()] = value
    return out


def one_of(flags: dict[str, bool], what: str, hint: str) -> str:
    """The one flag given of two that exclude each other (--accept, --reject)."""
    given = [name for name, on in flags.items() if on]
    if len(given) != 1:
        said = " and ".join(given) + " exclude each other" if given else f"say whether {what}"
        raise UsageError(Problem(said, hint=hint))
    return given[0]


def amount(value: Decimal | None, currency: str | None = None) -> str:
    """Money as `run` prints it: thousands separated, in the currency's minor-unit places
    (12,345.60 PLN, 1,234 JPY, 1.250 BHD); two places where the currency is not known."""
    if value is None:
        return ""
    places = minor_units(currency) if currency else 2
    # totals may come as exact text from the store (each with its currency's places)
    return f"{Decimal(str(value)):,.{places}f}"


def cell(value: object) -> str:
    """A table cell: money (a Decimal) as `amount`, a time to the second, else its text."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return amount(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(value)


def show_table(title: str, columns: list[str], rows: list[list], *, right: tuple[str, ...] = ()) -> None:
    """A table of plain cells; Decimal cells are money (see `cell`). Text cells are shown
    as they are: pass figures that are not money (ratios) as text already formatted."""
    shown = Table(title=title)
    for column in columns:
        shown.add_column(column, justify="right" if column in right else "left")
    for row in rows:
        shown.add_row(*[cell(v) for v in row])
    print_table(shown)


def compact(value: object) -> str:
    """A stored value in one line: text as it is, anything else as compact JSON."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def check_locale(locale: str) -> None:
    """A language the explanations are rendered in, or exit 2 saying which there are."""
    from paymaster.messages import LOCALES

    if locale not in LOCALES:
        console.print(f"[red]error[/red]: unknown locale '{escape(locale)}'; use one of "
                      f"{', '.join(LOCALES)}", markup=True)
        raise typer.Exit(2)
