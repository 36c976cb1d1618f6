"""Command line for lead registrations: register (one, or a file of them), list, decide."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from paymaster.cli_common import (
    ACTOR_OPTION,
    WS_OPTION,
    app,
    cell,
    console,
    one_of,
    open_ws,
    pairs,
    show_table,
)
from paymaster.errors import Problem, UsageError

COLUMNS = ["id", "partner", "submitted", "status", "reason", "due"]
# Above this many rows (a file of registrations) the answer is plain aligned text: a Rich
# table of 1,000 rows takes longer to draw than the registrations take to check.
TABLE_ROWS = 100


def plain_rows(columns: list[str], rows: list[list]) -> None:
    cells = [columns, *[[cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    console.print("\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
                            for row in cells), highlight=False)


@app.command()
def register(
    program: str = typer.Argument(...),
    fields: list[str] = typer.Option([], "--field", help="NAME=VALUE (repeat)"),
    file: Path = typer.Option(None, "--file", help="CSV of registrations, one per row "
                              "(received by e-mail, say), taken in order of submitted_at: "
                              "all of them, or none if a row is refused"),
    at: dt.datetime = typer.Option(None, "--at", help="submission time (default now)"),
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """Register a lead (or a file of them); each is checked and answered at once."""
    from paymaster.errors import DataError
    from paymaster.services import registrations
    from paymaster.services.registration_file import read_submissions, submission_time

    if file and fields:
        raise UsageError(Problem("give --field NAME=VALUE or --file FILE, not both"))
    ws = open_ws(workspace)
    if file:
        batch = read_submissions(file, ws.config.limits)
        regs = registrations.register_many(ws, program, batch, actor=actor, at=at,
                                           file=str(file))
    else:
        values = pairs(fields, "field")
        try:
            when = submission_time(values)  # --field submitted_at=... as --at
        except DataError as err:
            raise UsageError(err.problems) from None
        regs = [registrations.register(ws, program, values, actor=actor, at=when or at)]
    rows = [[r.registration_id, r.partner_id, r.submitted_at, r.status, r.reason, r.due_on]
            for r in regs]
    if len(rows) > TABLE_ROWS:
        plain_rows(COLUMNS, rows)
    else:
        show_table("registrations", COLUMNS, rows)
    if file:
        counts: dict[str, int] = {}
        for r in regs:
            counts[r.status] = counts.get(r.status, 0) + 1
        console.print(f"{file}: {len(regs)} registration(s) stored: "
                      + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))


@app.command("registrations")
def registrations_list(
    program: str = typer.Argument(...), partner: str = typer.Option(None, "--partner"),
    overdue: bool = typer.Option(False, "--overdue", help="only those past their due date"),
    workspace: Path = WS_OPTION,
) -> None:
    """List registrations with their state and due date (overdue ones flagged)."""
    from paymaster.services import registrations

    ws = open_ws(workspace)
    regs = registrations.overdue(ws, program) if overdue else registrations.listing(
        ws, program, partner)
    today = ws.today(program)
    show_table("registrations", [*COLUMNS, "overdue"], [
        [r.registration_id, r.partner_id, r.submitted_at, r.status, r.reason, r.due_on,
         "OVERDUE" if r.status == "submitted" and r.due_on < today else ""] for r in regs])


@app.command()
def decide(
    program: str = typer.Argument(...), registration: str = typer.Argument(...),
    accept: bool = typer.Option(False, "--accept", help="confirm it (its checks run again)"),
    reject: bool = typer.Option(False, "--reject", help="reject it (with --reason)"),
    reason: str = typer.Option(None, "--reason"),
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """The owner confirms or rejects a registration (a rejection needs a reason)."""
    from paymaster.services import registrations

    chosen = one_of({"--accept": accept, "--reject": reject},
                    f"registration {registration} is accepted",
                    "add --accept, or --reject --reason TEXT")
    reg = registrations.decide(open_ws(workspace), program, registration,
                               accept=chosen == "--accept", actor=actor, reason=reason)
    console.print(f"{reg.registration_id}: {reg.status}" + (f" ({reg.reason})" if reg.reason else ""))
    if chosen == "--accept" and reg.status != "accepted":
        # Accepting runs the checks again, and one failed: it is rejected, not accepted.
        console.print(f"not accepted: it fails the check {reg.reason} now, so it was "
                      "rejected with that reason")
        raise typer.Exit(1)
