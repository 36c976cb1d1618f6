"""Command line for notifications: the daily reminders, sending what the outbox holds, the
outbox itself, and each user's address and opt-outs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from paymaster.cli_common import ACTOR_OPTION, WS_OPTION, app, console, open_ws, show_table
from paymaster.cli_users import user_app
from paymaster.errors import Problem, UsageError

notify_app = typer.Typer(help="E-mail notifications: reminders, the outbox, sending.",
                         no_args_is_help=True)
app.add_typer(notify_app, name="notify")


def _print(text: str) -> None:
    console.print(text, markup=False, highlight=False)


@notify_app.command("due")
def notify_due(
    at: dt.datetime = typer.Option(None, "--at", formats=["%Y-%m-%d"],
                                   help="the day to remind for (default each program's today)"),
    workspace: Path = WS_OPTION,
) -> None:
    """Queue and send the reminders due (run daily): each is sent once only."""
    from paymaster.services import notifications, reminders

    ws = open_ws(workspace)
    queued = reminders.due(ws, at.date() if at else None)
    result = notifications.deliver(ws)
    _print(f"{queued} reminder(s) queued; {result.sent} message(s) sent, "
           f"{result.failed} failed")


@notify_app.command("send")
def notify_send(workspace: Path = WS_OPTION) -> None:
    """Send every unsent message in the outbox (those that failed before, too)."""
    from paymaster.services import notifications

    result = notifications.deliver(open_ws(workspace))
    _print(f"{result.sent} message(s) sent, {result.failed} failed")
    if result.failed:
        raise typer.Exit(1)


@notify_app.command("outbox")
def notify_outbox(
    all_: bool = typer.Option(False, "--all", help="sent messages too"),
    workspace: Path = WS_OPTION,
) -> None:
    """Messages not yet sent (and why the last try failed)."""
    from paymaster.services import notifications

    show_table("outbox", ["id", "kind", "program", "to", "language", "queued (UTC)",
                          "tries", "sent (UTC)", "last error"],
               [[m.id, m.kind, m.program or "", m.recipient, m.locale, m.created_at,
                 m.attempts, m.sent_at or "", m.last_error or ""]
                for m in notifications.outbox(open_ws(workspace), unsent=not all_)])


@user_app.command("notify")
def user_notify(
    username: str = typer.Argument(...),
    off: list[str] = typer.Option([], "--off", help="turn a kind off (registration, "
                                  "enrollment, dispute, statement, reminder, all); repeatable"),
    on: list[str] = typer.Option([], "--on", help="turn a kind (or all) back on; repeatable"),
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """Turn a user's e-mail notifications off or on, per kind or all."""
    from paymaster.services import notifications

    if not off and not on:
        raise UsageError(Problem("say what to change", hint="give --off KIND|all or --on "
                                 "KIND|all"))
    now_off = notifications.set_notifications(open_ws(workspace), username, actor=actor,
                                              off=off, on=on)
    _print(f"notifications of {username} off: {', '.join(now_off) or 'none'}")


@user_app.command("email")
def user_email(
    username: str = typer.Argument(...),
    address: str = typer.Argument(..., help="the address, or '' to remove it"),
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """Set (or remove) the address a user's notifications go to."""
    from paymaster.services import notifications

    notifications.set_email(open_ws(workspace), username, address.strip() or None, actor=actor)
    _print(f"e-mail of {username}: {address.strip() or 'none'}")
