"""The workspace demo: the three example programs taken through their workflows.

Master data and transactions are imported, registrations and enrollments go through
their workflows (with the times of the sample data), each program is run, approved and
posted; then a correction is imported and the re-run posts only the difference, a
dispute is opened and resolved, and statements are rendered in three languages.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from paymaster.errors import PaymasterError
from paymaster.services import (
    disputes,
    enrollments,
    imports,
    ledger,
    programs,
    registrations,
    statements,
)

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
WORKFLOWS = {
    "generuj-leady": {"registrations": "registrations"},
    "trade-in-accelerator": {"enrollments": "enrollments"},
    "sales-team": {},
}
DISPUTE_FIELDS = {"trade-in-accelerator": ["items", "return_date", "rma_number", "tmp_quote",
                                           "sales_order"]}
Say = Callable[[str], None]


def run_workspace_demo(folder: Path, say: Say, database: str | None = None) -> Workspace:
    """A fresh workspace at `folder` with the three examples taken through everything."""
    import shutil

    from paymaster.workspace import CONFIG, Workspace

    if (folder / CONFIG).exists():
        shutil.rmtree(folder)
    from paymaster.services.accounts import add_demo_accounts

    ws = Workspace.init(folder, database)
    add_examples(ws, "office")
    run_all(ws, folder / "out", say)
    add_demo_accounts(ws)  # so `paymaster serve` on it can be tried at once
    return ws


def add_examples(ws: Workspace, actor: str) -> None:
    for name, workflows in WORKFLOWS.items():
        programs.add_program(ws, EXAMPLES / name / "plan.yaml", actor, **workflows)
        ws.config.programs[name].dispute_fields = DISPUTE_FIELDS.get(name, [])
    ws.save_config()


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load_example(ws: Workspace, name: str, as_of: dt.date, say: Say) -> None:
    """Import every table of an example except those kept by a workflow."""
    config = ws.program(name)
    for path in sorted((EXAMPLES / name / "data").glob("*.csv")):
        if path.stem in (config.registrations, config.enrollments):
            continue
        r = imports.import_file(ws, name, path.stem, path, actor="office", as_of=as_of)
        say(f"  import {name}/{path.stem}: {r.rows} rows")


def take_registrations(ws: Workspace, name: str, say: Say) -> None:
    data = sorted(rows(EXAMPLES / name / "data" / "registrations.csv"),
                  key=lambda r: (r["submitted_at"], r["registration_id"]))
    for row in data:
        at = dt.datetime.fromisoformat(row.pop("submitted_at"))
        decision, reason = row.pop("decision"), row.pop("decision_reason")
        reg = registrations.register(ws, name, row, actor=row["partner_id"], at=at)
        if reg.status == "submitted":
            reg = registrations.decide(ws, name, reg.registration_id, actor="owner",
                                       accept=decision != "rejected", reason=reason or None,
                                       at=at + dt.timedelta(days=1))
        say(f"  registration {reg.registration_id} by {reg.partner_id}: {reg.status}"
            + (f" ({reg.reason})" if reg.reason else ""))


def take_enrollments(ws: Workspace, name: str, say: Say) -> None:
    for row in rows(EXAMPLES / name / "data" / "enrollments.csv"):
        submitted = row["submitted_on"]
        at = dt.datetime.fromisoformat(submitted or row["effective_from"]).replace(hour=9)
        e = enrollments.create(ws, name, row["partner_id"], row["phase"],
                               dt.date.fromisoformat(row["effective_from"]), actor=row["partner_id"],
                               at=at, enrollment_id=row["enrollment_id"])
        try:
            if submitted:
                e = enrollments.move(ws, name, e.enrollment_id, "submit", actor=row["partner_id"], at=at)
            if row["status"] in ("approved", "rejected") and e.status == "submitted":
                e = enrollments.move(ws, name, e.enrollment_id, row["status"][:-2].replace("approv", "approve"),
                                     actor="office", reason="not eligible" if row["status"] == "rejected" else None,
                                     at=at + dt.timedelta(days=3))
        except PaymasterError as err:
            say(f"  enrollment {e.enrollment_id}: {err.problems[0].message}")
        say(f"  enrollment {e.enrollment_id} of {e.partner_id}: {e.status}"
            + (f" ({e.reason})" if e.reason else ""))


def run_and_post(ws: Workspace, name: str, say: Say) -> int:
    run = ledger.create_run(ws, name, actor="office")
    ledger.approve(ws, run.id, actor="approver")
    result = ledger.post(ws, run.id, actor="office")
    say(f"  run {run.id}: total {run.total}; posted {len(result.entries)} entries, "
        f"{result.total} {ws.plan(name).plan.currency}")
    return run.id


def run_all(ws: Workspace, out: Path, say: Say) -> None:
    as_of = dt.date(2026, 1, 1)
    for name in WORKFLOWS:
        say(f"[bold]{name}[/bold]")
        load_example(ws, name, as_of, say)
        if ws.program(name).registrations:
            take_registrations(ws, name, say)
        if ws.program(name).enrollments:
            take_enrollments(ws, name, say)
        run_and_post(ws, name, say)
    correction_and_dispute(ws, out, say)
    for name, payee in (("generuj-leady", "P1"), ("trade-in-accelerator", "D"),
                        ("sales-team", "R01")):
        for locale in ("en", "pl", "zh"):
            for fmt in statements.FORMATS:
                path = out / f"statement-{name}-{payee}-{locale}.{fmt}"
                path.parent.mkdir(parents=True, exist_ok=True)
                statement = statements.build(ws, name, payee, locale=locale)
                path.write_bytes(statements.render(statement, fmt, locale))
        say(f"  statements of {name}/{payee} in en, pl, zh (html, pdf, xlsx) in {out}")


def correction_and_dispute(ws: Workspace, out: Path, say: Say) -> None:
    """Trade-in partner D (returns 81.2% of 85%) reports that RMA-L08 was returned but is
    missing from the vendor's data; the office confirms it with a correction to the
    returns table; the re-run posts only the difference (D's rebate)."""
    name = "trade-in-accelerator"
    d = disputes.open_case(ws, name, "D", "RMA returned but not counted", actor="D", details={
        "items": "1 x traded-in switch", "return_date": "2008-07-01", "rma_number": "RMA-L08",
        "tmp_quote": "TMP-L08", "sales_order": "SO-L08"})
    say(f"  dispute {d.id} opened by D")
    returns = rows(EXAMPLES / name / "data" / "returns.csv")
    fixed = out / "corrections" / "returns.csv"
    fixed.parent.mkdir(parents=True, exist_ok=True)
    with fixed.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(returns[0]))
        writer.writeheader()
        writer.writerows(returns + [{"rma_number": "RMA-L08", "received_on": "2008-07-01"}])
    disputes.resolve(ws, name, d.id, accept=True, resolution="return confirmed", actor="office",
                     correction=("returns", fixed), as_of=dt.date(2026, 1, 2))
    say(f"  dispute {d.id} accepted with a correction to returns")
    run = ledger.create_run(ws, name, actor="office")
    changes = ledger.changes(ws, run.id)
    ledger.approve(ws, run.id, actor="approver")
    result = ledger.post(ws, run.id, actor="office")
    say(f"  re-run {run.id}: {len(changes)} change(s) posted, {result.total}")
