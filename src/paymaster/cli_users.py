"""Command line for portal users: add, list, deactivate, reactivate, reset a password,
change a role, and the login throttles. Every change ends the user's portal sessions."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from paymaster.cli_common import ACTOR_OPTION, WS_OPTION, app, console, open_ws, show_table
from paymaster.errors import Problem, UsageError

user_app = typer.Typer(help="Portal users and login throttles.", no_args_is_help=True)
app.add_typer(user_app, name="user")

PASSWORD_FILE = typer.Option(None, "--password-file",
                             help="read the password from this file (its first line)")
PASSWORD_STDIN = typer.Option(False, "--password-stdin",
                              help="read the password from standard input (its first line)")


def _password(file: Path | None, stdin: bool) -> str:
    """From a file, from stdin, or asked twice at the terminal (never from an argument:
    a command line is visible to every user of the machine)."""
    if file is not None and stdin:
        raise UsageError(Problem("give --password-file or --password-stdin, not both"))
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(Problem(f"cannot read the password file: {err}",
                                     file=str(file))) from None
        return text.splitlines()[0] if text else ""
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


def _print(text: str) -> None:
    console.print(text, markup=False, highlight=False)


@user_app.command("add")
def user_add(
    username: str = typer.Argument(...),
    role: str = typer.Option(..., "--role", help="admin, approver, finance, partner, rep or viewer"),
    payee: str = typer.Option(None, "--payee", help="the partner or rep this user is"),
    name: str = typer.Option("", "--name"), locale: str = typer.Option("en", "--locale"),
    email: str = typer.Option(None, "--email", help="where the user's notifications go"),
    password_file: Path = PASSWORD_FILE, password_stdin: bool = PASSWORD_STDIN,
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """Add a portal user (the password is asked, or read with --password-file/-stdin)."""
    from paymaster.services import accounts

    password = _password(password_file, password_stdin)
    accounts.create_user(open_ws(workspace), username, password, role, actor=actor,
                         payee_id=payee, display_name=name, locale=locale, email=email)
    _print(f"user {username} ({role}) added")


@user_app.command("list")
def user_list(workspace: Path = WS_OPTION) -> None:
    """Every user: role, payee, active or not, live sessions."""
    from paymaster.services import accounts

    show_table("users", ["username", "role", "payee", "active", "sessions", "name", "e-mail",
                         "notifications off"],
           [[u["username"], u["role"], u["payee_id"], "yes" if u["active"] else "no",
             u["sessions"], u["display_name"], u["email"] or "", ", ".join(u["notify_off"])]
            for u in accounts.list_users(open_ws(workspace))])


@user_app.command("deactivate")
def user_deactivate(username: str = typer.Argument(...), workspace: Path = WS_OPTION,
                    actor: str = ACTOR_OPTION) -> None:
    """Stop a user from logging in; its sessions end at once."""
    from paymaster.services import accounts

    accounts.set_active(open_ws(workspace), username, False, actor=actor)
    _print(f"user {username} deactivated, its sessions ended")


@user_app.command("reactivate")
def user_reactivate(username: str = typer.Argument(...), workspace: Path = WS_OPTION,
                    actor: str = ACTOR_OPTION) -> None:
    """Let a deactivated user log in again."""
    from paymaster.services import accounts

    accounts.set_active(open_ws(workspace), username, True, actor=actor)
    _print(f"user {username} reactivated")


@user_app.command("password")
def user_password(
    username: str = typer.Argument(...),
    password_file: Path = PASSWORD_FILE, password_stdin: bool = PASSWORD_STDIN,
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """Reset a user's password; its sessions end."""
    from paymaster.services import accounts

    password = _password(password_file, password_stdin)
    accounts.reset_password(open_ws(workspace), username, password, actor=actor)
    _print(f"password of {username} reset, its sessions ended")


@user_app.command("role")
def user_role(
    username: str = typer.Argument(...),
    role: str = typer.Argument(..., help="admin, approver, finance, partner, rep or viewer"),
    payee: str = typer.Option(None, "--payee", help="the payee of a partner or rep user"),
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """Change a user's role (and payee); its sessions end."""
    from paymaster.services import accounts

    accounts.change_role(open_ws(workspace), username, role, actor=actor, payee_id=payee)
    _print(f"user {username} is now {role}{' of ' + payee if payee else ''}, "
           "its sessions ended")


@user_app.command("throttles")
def user_throttles(workspace: Path = WS_OPTION) -> None:
    """Failed logins counted per username and address, and per address."""
    from paymaster.services import throttle

    show_table("login throttles", ["username", "address", "failures", "last failure (UTC)",
                               "blocked until (UTC)"],
           [[t["username"] or "(any)", t["address"], t["failures"], t["last_failure"],
             t["blocked_until"] or ""] for t in throttle.listing(open_ws(workspace))])


@user_app.command("unthrottle")
def user_unthrottle(
    username: str = typer.Argument(None, help="forget this username's failed logins"),
    address: str = typer.Option(None, "--address", help="forget this address's failed logins"),
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """Lift a login throttle: of a username (from every address) and/or of an address."""
    from paymaster.services import throttle

    if not username and not address:
        raise UsageError(Problem("name a username, an --address, or both"))
    lifted = throttle.lift(open_ws(workspace), username, address, actor=actor)
    _print(f"{lifted} throttle(s) lifted")
