"""Command line for a workspace: init, import, enroll, register, runs, post, pay, dispute,
statement, audit. Each command is a few lines over `Workspace` and `paymaster.services`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from paymaster.cli_common import (
    ACTOR_OPTION,
    WS_OPTION,
    amount,
    app,
    compact,
    console,
    me,
    one_of,
    open_ws,
    pairs,
    show_table,
)
from paymaster.errors import Problem, UsageError

program_app = typer.Typer(help="Programs of a workspace.", no_args_is_help=True)
runs_app = typer.Typer(help="Runs: calculate a preview, look at it, approve it.", no_args_is_help=True)
enrollment_app = typer.Typer(help="Enrollment applications.", no_args_is_help=True)
dispute_app = typer.Typer(help="Disputes about payouts or missing records.", no_args_is_help=True)
partner_app = typer.Typer(help="Partners.", no_args_is_help=True)
app.add_typer(program_app, name="program")
app.add_typer(runs_app, name="runs")
app.add_typer(enrollment_app, name="enrollment")
app.add_typer(dispute_app, name="dispute")
app.add_typer(partner_app, name="partner")


# ---------------------------------------------------------------- workspace
@app.command()
def init(
    folder: Path = typer.Argument(..., help="folder for the new workspace"),
    database: str = typer.Option(None, "--database", help="SQLAlchemy URL (default: SQLite file "
                                 "in the folder; PAYMASTER_DATABASE_URL overrides)"),
    examples: bool = typer.Option(False, "--examples", help="add the three example programs"),
    actor: str = ACTOR_OPTION,
) -> None:
    """Create a workspace: config, plans folder and a migrated store."""
    from paymaster.workspace import Workspace

    ws = Workspace.init(folder, database)
    if examples:
        from paymaster.services.demo import add_examples

        add_examples(ws, actor)
    console.print(f"workspace ready: {folder} (store: {ws.database_url})")


@program_app.command("add")
def program_add(
    plan: Path = typer.Argument(..., help="plan file"),
    registrations: str = typer.Option(None, help="input table kept by the registration workflow"),
    enrollments: str = typer.Option(None, help="input table kept by the enrollment workflow"),
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """Add (or update) a program from its plan file."""
    from paymaster.engine import check
    from paymaster.plan import load_plan

    check(load_plan(plan))
    from paymaster.services import programs

    name = programs.add_program(open_ws(workspace), plan, actor, registrations=registrations,
                                enrollments=enrollments)
    console.print(f"program {name} added")


@app.command("import")
def import_(
    program: str = typer.Argument(...), table: str = typer.Argument(...),
    file: Path = typer.Argument(..., help="CSV, Excel or Parquet file"),
    as_of: dt.datetime = typer.Option(None, "--as-of", formats=["%Y-%m-%d"],
                                      help="the date the data is valid as of (default today)"),
    snapshot: bool = typer.Option(False, "--snapshot", help="the file is the whole table: "
                                  "keys missing from it are marked removed"),
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """Import a file into a program's input table: checked row by row, all or nothing,
    idempotent (the same file twice changes nothing)."""
    from paymaster.services.imports import import_file

    r = import_file(open_ws(workspace), program, table, file, actor=actor,
                    as_of=as_of.date() if as_of else None, snapshot=snapshot)
    if r.already:
        console.print(f"{file}: imported before (import {r.import_id}); nothing changed")
    else:
        console.print(f"{file}: import {r.import_id}: {r.rows} rows, {r.added} new, "
                      f"{r.changed} changed, {r.unchanged} unchanged, {r.removed} removed")


@partner_app.command("remove")
def partner_remove(
    program: str = typer.Argument(...), partner: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason"),
    on: dt.datetime = typer.Option(None, "--on", formats=["%Y-%m-%d"]),
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """Remove a partner from a program (e.g. false information); its unpaid amounts are
    cancelled in the ledger, kept on record with the reason."""
    from paymaster.services.masterdata import remove_partner

    n = remove_partner(open_ws(workspace), program, partner, reason=reason, actor=actor,
                       on=on.date() if on else None)
    console.print(f"partner {partner} removed; {n} unpaid ledger line(s) cancelled")


# ---------------------------------------------------------------- enrollments
@app.command()
def enroll(
    program: str = typer.Argument(...), partner: str = typer.Option(..., "--partner"),
    phase: str = typer.Option(..., "--phase"),
    effective_from: dt.datetime = typer.Option(..., "--effective-from", formats=["%Y-%m-%d"]),
    submit: bool = typer.Option(False, "--submit", help="submit at once (default: save a draft)"),
    at: dt.datetime = typer.Option(None, "--at", help="when (default now)"),
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """Apply for enrollment: a draft, or submitted with --submit."""
    from paymaster.services import enrollments

    e = enrollments.create(open_ws(workspace), program, partner, phase, effective_from.date(),
                           actor=actor, submit=submit, at=at)
    console.print(f"{e.enrollment_id}: {e.status}" + (f", approval due {e.due_on}" if e.due_on else ""))


@enrollment_app.command("move")
def enrollment_move(
    program: str = typer.Argument(...), enrollment: str = typer.Argument(...),
    action: str = typer.Argument(..., help="submit, approve, reject or withdraw"),
    reason: str = typer.Option(None, "--reason"),
    at: dt.datetime = typer.Option(None, "--at"),
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """Move an application on: submit, approve (checks certification), reject, withdraw."""
    from paymaster.services import enrollments

    e = enrollments.move(open_ws(workspace), program, enrollment, action, actor=actor,
                         reason=reason, at=at)
    console.print(f"{e.enrollment_id}: {e.status}" + (f" ({e.reason})" if e.reason else ""))


@enrollment_app.command("list")
def enrollment_list(
    program: str = typer.Argument(...),
    overdue: bool = typer.Option(False, "--overdue", help="only those waiting past their due date"),
    workspace: Path = WS_OPTION,
) -> None:
    """List applications; overdue ones are flagged (contact your channel account manager)."""
    from paymaster.services import enrollments

    ws = open_ws(workspace)
    rows = enrollments.overdue(ws, program) if overdue else enrollments.listing(ws, program)
    today = ws.today(program)
    show_table("enrollments", ["id", "partner", "phase", "status", "submitted", "due", "reason", "overdue"], [
        [e.enrollment_id, e.partner_id, e.phase, e.status, e.submitted_on, e.due_on, e.reason,
         "OVERDUE" if e.status == "submitted" and e.due_on and e.due_on < today else ""]
        for e in rows])


# ---------------------------------------------------------------- runs and ledger
@runs_app.command("new")
def runs_new(
    program: str = typer.Argument(...), period: str = typer.Option(None, "--period"),
    as_of: dt.datetime = typer.Option(None, "--as-of", formats=["%Y-%m-%d"],
                                      help="use the data as of this date (default today)"),
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """Calculate a preview run on the store's data; shows what posting it would change."""
    from paymaster.services import ledger

    ws = open_ws(workspace)
    run = ledger.create_run(ws, program, actor=actor, period=period,
                            as_of=as_of.date() if as_of else None,
                            progress=lambda stage: console.log(stage))
    _show_run(ws, run.id)


@runs_app.command("show")
def runs_show(run_id: int = typer.Argument(...), workspace: Path = WS_OPTION) -> None:
    """A run's totals and its changes against the ledger."""
    _show_run(open_ws(workspace), run_id)


def _show_run(ws, run_id: int) -> None:
    from paymaster.services import ledger

    run = ledger.get_run(ws, run_id)
    console.print(f"run {run.id} of {run.program} ({run.period or 'all periods'}, data as of "
                  f"{run.as_of}, input {run.fingerprint}): {run.status}, total {amount(run.total)}")
    if run.timings:
        console.print("stages: " + ", ".join(
            f"{name} {seconds:.2f}s" for name, seconds in run.timings.items()), style="dim")
    changes = ledger.changes(ws, run_id)
    show_table(f"changes against the ledger ({len(changes)})",
           ["payee", "period", "measure", "source", "posted", "new", "difference", "kind"],
           [[c.payee_id, c.period, c.measure, c.source_id, c.posted, c.new, c.difference,
             c.kind] for c in changes[:200]])


@runs_app.command("list")
def runs_list(program: str = typer.Argument(None), workspace: Path = WS_OPTION) -> None:
    """Every run with its status."""
    from paymaster.services import ledger

    show_table("runs", ["id", "program", "period", "as of", "status", "total", "input", "created", "posted"], [
        [r.id, r.program, r.period or "all", r.as_of, r.status, r.total, r.fingerprint,
         f"{r.created_at} {r.created_by}", f"{r.posted_at or ''} {r.posted_by or ''}"]
        for r in ledger.runs(open_ws(workspace), program)])


@runs_app.command("approve")
def runs_approve(run_id: int = typer.Argument(...), workspace: Path = WS_OPTION,
                 actor: str = ACTOR_OPTION) -> None:
    """Approve a preview run for posting."""
    from paymaster.services import ledger

    ledger.approve(open_ws(workspace), run_id, actor=actor)
    console.print(f"run {run_id} approved")


@app.command()
def post(run_id: int = typer.Argument(...), workspace: Path = WS_OPTION,
         actor: str = ACTOR_OPTION) -> None:
    """Post an approved run to the ledger (only the differences; twice is a no-op)."""
    from paymaster.services import ledger

    result = ledger.post(open_ws(workspace), run_id, actor=actor)
    if result.already:
        console.print(f"run {run_id} was posted already; nothing changed")
    else:
        console.print(f"run {run_id} posted: {len(result.entries)} ledger entries, "
                      f"total {amount(result.total)}")


@app.command()
def pay(
    what: list[str] = typer.Argument(..., metavar="PROGRAM | show BATCH | list PROGRAM",
                                     help="PROGRAM: pay it; show BATCH: write a batch's file "
                                     "again; list PROGRAM: its batches"),
    out: Path = typer.Option(None, "--out", help="payout file (.csv, .xlsx or .parquet) in an "
                             "existing folder; never overwritten"),
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """Pay everything posted and not yet paid: the batch (one row per payee) is recorded
    first, then its file is written; `pay show BATCH --out F` writes a batch's file again."""
    if what[0] in ("show", "list") and len(what) == 2:
        return (_pay_show if what[0] == "show" else _pay_list)(what[1], out, workspace)
    if len(what) != 1:
        raise UsageError(Problem(f"pay {' '.join(what)}: expected pay PROGRAM --out FILE, "
                                 "pay show BATCH --out FILE or pay list PROGRAM"))
    from paymaster.services import payouts

    batch = payouts.pay(open_ws(workspace), what[0], _required_out(out), actor=actor)
    if batch is None:
        console.print(f"nothing to pay in {what[0]}: no file written, nothing recorded")
        return None
    console.print(f"{out}: batch {batch.id}, {batch.payees} payee(s), {batch.entries} "
                  f"ledger entries, total {_totals(batch)}")
    return None


def _required_out(out: Path | None) -> Path:
    if out is None:
        raise UsageError(Problem("pay needs --out FILE (.csv, .xlsx or .parquet)"))
    return out


def _totals(batch) -> str:
    return ", ".join(f"{amount(total, currency)} {currency}".strip()
                     for currency, total in batch.totals.items())


def _pay_show(batch_id: str, out: Path | None, workspace: Path) -> None:
    from paymaster.services import payouts

    payouts.write_batch(open_ws(workspace), batch_id, _required_out(out))
    console.print(f"{out}: batch {batch_id} written again")


def _pay_list(program: str, _out: Path | None, workspace: Path) -> None:
    from paymaster.services import payouts

    show_table("payout batches", ["batch", "created", "by", "payees", "entries", "total"], [
        [b.id, b.created_at, b.created_by, b.payees, b.entries, _totals(b)]
        for b in payouts.batches(open_ws(workspace), program)])


@app.command()
def ledger(
    program: str = typer.Argument(...), payee: str = typer.Option(None, "--payee"),
    workspace: Path = WS_OPTION,
) -> None:
    """The ledger's entries (what was posted, adjusted, clawed back or cancelled)."""
    from paymaster.services import ledger as ledger_

    show_table("ledger", ["id", "run", "payee", "period", "measure", "source", "kind", "amount",
                      "corrects", "reason", "posted"], [
        [e.id, e.run_id, e.payee_id, e.period, e.measure, e.source_id, e.kind, e.amount,
         e.corrects, e.reason, e.posted_at] for e in ledger_.entries(open_ws(workspace), program, payee)])


@app.command()
def close(
    what: list[str] = typer.Argument(..., metavar="PROGRAM PERIOD | list PROGRAM",
                                     help="PROGRAM PERIOD: close it; list PROGRAM: its closed "
                                     "periods"),
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """Close a period of a program: nothing more is posted into it (final, audited); a
    later correction of its lines is posted into the next open period as an adjustment."""
    from paymaster.services import closes

    if what[0] == "list" and len(what) == 2:
        show_table("closed periods", ["period", "closed", "by", "entries", "posted total"], [
            [c.period, c.closed_at, c.closed_by, c.entries, amount(c.total)]
            for c in closes.list_closed(open_ws(workspace), what[1])],
            right=("entries", "posted total"))
        return
    if len(what) != 2:
        raise UsageError(Problem(f"close {' '.join(what)}: expected close PROGRAM PERIOD "
                                 "or close list PROGRAM"))
    done = closes.close(open_ws(workspace), what[0], what[1], actor=actor)
    console.print(f"{done.program} period {done.period} closed: {done.entries} ledger "
                  f"entries, posted total {amount(done.total)}")


# ---------------------------------------------------------------- disputes, statements, audit
@dispute_app.command("open")
def dispute_open(
    program: str = typer.Argument(...), payee: str = typer.Option(..., "--payee"),
    description: str = typer.Option(..., "--description"),
    line: str = typer.Option(None, "--line", help="payout line key (payee|period|measure|source)"),
    details: list[str] = typer.Option([], "--detail", help="NAME=VALUE for a missing record"),
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """Open a case on a payout line, or on a record that is missing."""
    from paymaster.services import disputes

    d = disputes.open_case(open_ws(workspace), program, payee, description, actor=actor,
                           line_key=line, details=pairs(details, "detail"))
    console.print(f"dispute {d.id} opened")


@dispute_app.command("resolve")
def dispute_resolve(
    program: str = typer.Argument(...), dispute: int = typer.Argument(...),
    accept: bool = typer.Option(False, "--accept", help="accept it (a correction may come with it)"),
    reject: bool = typer.Option(False, "--reject", help="reject it"),
    reason: str = typer.Option(..., "--reason"),
    correction: str = typer.Option(None, "--correction", help="TABLE=FILE imported with it"),
    as_of: dt.datetime = typer.Option(None, "--as-of", formats=["%Y-%m-%d"]),
    workspace: Path = WS_OPTION, actor: str = ACTOR_OPTION,
) -> None:
    """Accept a case (with a data correction, paid by the next run) or reject it."""
    from paymaster.services import disputes

    accept = one_of({"--accept": accept, "--reject": reject}, f"dispute {dispute} is accepted",
                    "add --accept or --reject, with --reason TEXT") == "--accept"
    fix = None
    if correction:
        table, file = next(iter(pairs([correction], "correction", "TABLE=FILE").items()))
        fix = (table, Path(file))
    d = disputes.resolve(open_ws(workspace), program, dispute, accept=accept, resolution=reason,
                         actor=actor, correction=fix, as_of=as_of.date() if as_of else None)
    console.print(f"dispute {d.id}: {d.status}")


@dispute_app.command("list")
def dispute_list(program: str = typer.Argument(...), payee: str = typer.Option(None, "--payee"),
                 workspace: Path = WS_OPTION) -> None:
    """Disputes with their state and resolution."""
    from paymaster.services import disputes

    show_table("disputes", ["id", "payee", "line", "details", "description", "status", "resolution"], [
        [d.id, d.payee_id, d.line_key, d.details, d.description, d.status, d.resolution]
        for d in disputes.listing(open_ws(workspace), program, payee)])


@app.command()
def statement(
    program: str = typer.Argument(...), payee: str = typer.Argument(...),
    period: str = typer.Option(None, "--period"),
    fmt: str = typer.Option("html", "--format", help="html, pdf or xlsx"),
    locale: str = typer.Option("en", "--locale", help="en, pl or zh"),
    out: Path = typer.Option(None, "--out", help="file (default: "
                             "statement-PROGRAM-PAYEE-LOCALE.FORMAT, as the demo names them)"),
    workspace: Path = WS_OPTION,
) -> None:
    """A payee's statement: every line explained, every gate's progress, ledger totals."""
    from paymaster.services import statements

    data = statements.build(open_ws(workspace), program, payee, period, locale)
    out = out or Path(f"statement-{program}-{payee}-{locale}.{fmt}")
    out.write_bytes(statements.render(data, fmt, locale))
    state = "reconciles" if data.reconciles else "DOES NOT reconcile"
    console.print(f"{out}: earned {amount(data.total_earned)}, posted "
                  f"{amount(data.total_posted)} ({state})")


@app.command()
def audit(
    entity: str = typer.Option(None, "--entity"), key: str = typer.Option(None, "--key"),
    limit: int = typer.Option(50, "--limit"), workspace: Path = WS_OPTION,
) -> None:
    """The audit log: who changed what, when, before and after."""
    from sqlalchemy import select

    from paymaster.store.models import AuditEvent

    ws = open_ws(workspace)
    with ws.store.reading() as session:
        query = select(AuditEvent)
        if entity:
            query = query.where(AuditEvent.entity == entity)
        if key:
            query = query.where(AuditEvent.entity_key == key)
        events = list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)))
    # `at` is the time the event is about (a command's --at: a registration's submission
    # in 2018); `recorded` is when Paymaster wrote it down.
    show_table("audit", ["id", "at", "recorded (UTC)", "actor", "action", "entity", "key",
                         "change"], [
        [e.id, e.at, e.recorded_at, e.actor, e.action, e.entity, e.entity_key,
         change(e.before, e.after)] for e in reversed(events)])


def change(before: object, after: object) -> str:
    """Before and after as a reader wants them: each field that changed, `old -> new`;
    a new thing's fields; what a removal took away."""
    if isinstance(before, dict) and isinstance(after, dict):
        changed = [k for k in after if before.get(k) != after[k]]
        changed += [k for k in before if k not in after]
        return "; ".join(f"{k}: {compact(before.get(k))} -> {compact(after.get(k))}"
                         for k in changed) or "no change"
    if before is None and isinstance(after, dict):
        return "; ".join(f"{k}: {compact(v)}" for k, v in after.items() if v is not None)
    if after is None and isinstance(before, dict):
        return "removed: " + "; ".join(f"{k}: {compact(v)}" for k, v in before.items()
                                       if v is not None)
    return f"{compact(before)} -> {compact(after)}"


@app.command("demo-workspace")
def demo_workspace(
    folder: Path = typer.Argument(Path("demo/workspace"), help="workspace folder to create"),
    database: str = typer.Option(None, "--database", help="SQLAlchemy URL (default SQLite)"),
) -> None:
    """Create a workspace and take the three example programs through their workflows:
    imports, registrations, enrollments, runs posted, a correction re-run, a dispute,
    statements in three languages."""
    from paymaster.services.demo import run_workspace_demo

    run_workspace_demo(folder, console.print, database).close()
    console.print(f"workspace in {folder}; try: {me()} runs list -w {folder}")


@app.command()
def serve(
    folder: Path = typer.Argument(None, help="workspace (default: the demo workspace, "
                                  "demo/workspace, made on first use)"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    secure_cookies: bool = typer.Option(False, "--secure-cookies",
                                        help="mark the session cookie Secure (behind HTTPS)"),
    demo: bool = typer.Option(False, "--demo-accounts", help="print the demo accounts"),
    engine_processes: int = typer.Option(
        1, "--engine-processes", min=0,
        help="worker processes for registration checks and status calculations "
             "(0: in the server's own process)"),
) -> None:
    """Start the portal (pages and the JSON API) on a workspace."""
    import uvicorn

    from paymaster.services import accounts
    from paymaster.services.demo import run_workspace_demo
    from paymaster.web.app import create_app
    from paymaster.workspace import CONFIG, Workspace

    demo = demo or folder is None or folder == Path("demo/workspace")
    folder = folder or Path("demo/workspace")
    if folder == Path("demo/workspace") and not (folder / CONFIG).is_file():
        console.print(f"making the demo workspace in {folder} (about a minute)...")
        run_workspace_demo(folder, console.print).close()
    ws = Workspace.open(folder)
    if demo and not accounts.has_users(ws):
        accounts.add_demo_accounts(ws)
    console.print(f"Paymaster portal on http://{host}:{port}/  (API: http://{host}:{port}/api/docs)")
    if demo or accounts.has_demo_accounts(ws):  # e.g. `paymaster demo --out X`'s workspace
        show_table("demo accounts", ["username", "password", "role", "payee"],
               [[u, p, r, payee or ""] for u, p, r, payee, _n, _l in accounts.DEMO_ACCOUNTS])
    from paymaster.services import engine_pool

    engine_pool.start(engine_processes)
    try:
        uvicorn.run(create_app(ws, secure_cookies=secure_cookies), host=host, port=port,
                    log_level="info")
    finally:
        engine_pool.stop()
