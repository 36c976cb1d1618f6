"""Changes to master data made by the office, not by a file: e.g. removing a partner."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from paymaster.errors import N_, Problem
from paymaster.services import audit, imports, ledger
from paymaster.services.inputs import content_sha, current
from paymaster.services.registrations import WorkflowError

if TYPE_CHECKING:
    from paymaster.workspace import Workspace


def remove_partner(ws: Workspace, program: str, partner_id: str, *, reason: str, actor: str,
                   on: dt.date | None = None) -> int:
    """Remove a partner (e.g. for false information): its record gets the removal date and
    reason, and what is posted to it but not yet paid is cancelled in the ledger, with the
    reason. Returns the number of cancelling entries."""
    if not reason.strip():
        raise WorkflowError(Problem.of(N_("a removal needs a reason"),
                                       cli_hint="give --reason TEXT",
                                       hint=N_("write why the partner is removed")))
    on = on or ws.today()
    spec = ws.plan(program).plan.inputs.get("partners")
    if spec is None or "removed_on" not in spec.columns:
        raise WorkflowError(Problem.of(
            N_("program %(program)s has no partner removal"), program=program,
            hint=N_("its partners table needs removed_on and removal_reason")))
    with ws.store.reading() as session:
        record = next((r for r in current(session, program, "partners").values()
                       if r.data.get("partner_id") == partner_id), None)
        if record is None:
            raise WorkflowError(Problem.of(N_("unknown partner '%(partner)s'"),
                                           partner=partner_id))
        row = dict(record.data) | {"removed_on": on.isoformat(), "removal_reason": reason}
    imports.apply_rows(ws, program, "partners", [row], actor=actor, as_of=min(on, ws.today()),
                       snapshot=False, file_name=f"removal of {partner_id}",
                       file_sha=content_sha(row))
    with ws.store.session() as session:
        cancelled = ledger.cancel_unpaid(ws, session, program, partner_id,
                                         reason=f"partner removed: {reason}", actor=actor)
        audit.record(session, actor=actor, action="remove", entity="partner", key=partner_id,
                     program=program, before=record.data, after=row | {
                         "cancelled": sum((e.amount for e in cancelled), 0)})
        return len(cancelled)
