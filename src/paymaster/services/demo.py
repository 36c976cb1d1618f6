"""The workspace demo: the three example programs taken through their workflows.

Master data and transactions are imported, registrations and enrollments go through
their workflows (with the times of the sample data), each program is run, approved and
posted; then a correction is imported and the re-run posts only the difference, a
dispute is opened and resolved, and statements are rendered in three languages. Last,
work is left for the office to try: registrations waiting for a decision (one overdue),
a submitted enrollment, an open dispute and a preview run not yet approved.

Each program's workflows run on a demo clock (`clock` in the workspace config, see
DEMO_CLOCKS) inside the program, so a lead registered in the portal today is inside the
promotion period and the deadlines read as they did then.
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
# Inside each program: Generuj Leady's promotion runs 2018-03-27..06-27 (after every
# sample registration); Trade-in's phase 7 takes enrollments until 2008-09-30; the sales
# team's year is 2025.
DEMO_CLOCKS = {"generuj-leady": dt.date(2018, 6, 12),
               "trade-in-accelerator": dt.date(2008, 9, 15),
               "sales-team": dt.date(2025, 12, 15)}
# The demo programs pay out on the 10th of each month (`payout_day`): a payee's home shows
# the next payout date.
DEMO_PAYOUT_DAY = 10
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
    for name, day in DEMO_CLOCKS.items():
        ws.config.programs[name].clock = day
        ws.config.programs[name].payout_day = DEMO_PAYOUT_DAY
    ws.save_config()
    run_all(ws, folder / "out", say)
    leave_work_for_the_office(ws, say)
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


def _lead(partner: str, name: str, nip: str, customer: str, customer_nip: str) -> dict[str, str]:
    return {"partner_id": partner, "customer_name": customer, "customer_address": "Lodz",
            "customer_nip": customer_nip, "family": "M365", "plan": "E3", "licences": "20",
            "pcs": "20", "partner_name": name, "partner_address": "Warszawa",
            "partner_nip": nip, "contact_name": "Jan Kowalski",
            "contact_phone": "+48 600 000 000", "contact_email": "kontakt@partner.pl"}


def leave_work_for_the_office(ws: Workspace, say: Say) -> None:
    """What the office finds waiting: none of it changes a posted amount."""
    gl, ti = "generuj-leady", "trade-in-accelerator"
    for fields, at in (
            # due 2018-06-11: overdue on the demo clock
            (_lead("P1", "Alfa", "5208710903", "Client C42", "5203801127"),
             dt.datetime(2018, 6, 4, 10, 0)),
            (_lead("P2", "Beta", "5208790090", "Client C44", "5203959503"),
             dt.datetime(2018, 6, 11, 14, 0))):
        reg = registrations.register(ws, gl, fields, actor=fields["partner_id"], at=at)
        say(f"  registration {reg.registration_id} by {reg.partner_id}: {reg.status}, "
            f"due {reg.due_on}")
    e = enrollments.create(ws, ti, "B", "7", dt.date(2008, 9, 15), actor="B", submit=True,
                           at=dt.datetime(2008, 9, 12, 9, 0))
    say(f"  enrollment {e.enrollment_id} of B in phase 7: {e.status}")
    d = disputes.open_case(ws, ti, "A", "Trade-in of 2 routers returned but not counted",
                           actor="A", at=dt.datetime(2008, 9, 10, 11, 0), details={
                               "items": "2 x traded-in router", "return_date": "2008-08-20",
                               "rma_number": "RMA-A77", "tmp_quote": "TMP-A77",
                               "sales_order": "SO-A77"})
    say(f"  dispute {d.id} opened by A: open")
    run = ledger.create_run(ws, "sales-team", actor="office", period="2025-Q2")
    say(f"  run {run.id} of sales-team for 2025-Q2: preview, waiting for approval")
