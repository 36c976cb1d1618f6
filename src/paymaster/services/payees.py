"""Which payee ids a workspace knows: in a program's payee table (partners, reps), or in
its registrations, enrollments or ledger. A portal user may only be tied to one of them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import exists, select

from paymaster.services.inputs import current_rows
from paymaster.store.models import Enrollment, LedgerEntry, Registration

if TYPE_CHECKING:
    from paymaster.workspace import Workspace


def known_payee(ws: Workspace, payee_id: str) -> bool:
    with ws.store.session() as session:
        for program in ws.config.programs:
            for model, column in ((Registration, Registration.partner_id),
                                  (Enrollment, Enrollment.partner_id),
                                  (LedgerEntry, LedgerEntry.payee_id)):
                if session.scalar(select(exists().where(model.program == program,
                                                        column == payee_id))):
                    return True
            plan = ws.plan(program).plan
            measured = {getattr(m, "payee", None) for m in plan.measures}
            for table, spec in plan.inputs.items():
                if len(spec.key) == 1 and spec.key[0] in measured and any(
                        row.get(spec.key[0]) == payee_id
                        for row in current_rows(session, program, table)):
                    return True
    return False
