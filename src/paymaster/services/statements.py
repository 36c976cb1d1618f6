"""A payee's statement for a period: the posted run's lines with their explanations, the
gates with their progress, and the ledger entries; totals reconcile to the ledger. Each
line and entry says whether its money is only earned, posted, or paid (in which payout
batch, on which day)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from paymaster.errors import N_, Problem
from paymaster.explanations import explain_evaluation, explain_line
from paymaster.plan.model import GatedRebate, Plan
from paymaster.plan.words import measure_labels, word
from paymaster.services import paid, payouts
from paymaster.services import statement_model as model
from paymaster.services.inputs import find_row
from paymaster.services.ledger import line_row
from paymaster.services.statement_labels import display_label
from paymaster.services.registrations import WorkflowError
from paymaster.store.models import LedgerEntry, Run, RunLine

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

FORMATS = ("html", "pdf", "xlsx")


def build(ws: Workspace, program: str, payee_id: str, period: str | None = None,
          locale: str = "en") -> model.Statement:
    """The statement, its explanations rendered from the stored traces in `locale`."""
    plan = ws.plan(program).plan
    labels = measure_labels(plan, locale)
    with ws.store.reading() as session:
        run = session.scalars(select(Run).where(
            Run.program == program, Run.status == "posted").order_by(Run.id.desc())).first()
        lines, gates, titles = [], [], []
        if run is not None:
            query = select(RunLine).where(RunLine.run_id == run.id, RunLine.payee_id == payee_id)
            if period:
                query = query.where(RunLine.period == period)
            money = paid.line_money(session, program, payee_id)
            lines = [_line(r, labels, money.get(r.line_key), plan, locale)
                     for r in session.scalars(query.order_by(RunLine.id))]
            gates = [g for r in run.evaluations["rows"]
                     if r["payee_id"] == payee_id and (not period or r["period"] == period)
                     for g in gate_progress(r, plan, locale)]
            # A title is named after the measure that awards it, when one does.
            titles = [(r["period"], display_label(labels.get(r["title"]) or word(
                plan, r["title"], locale), r["title"]), int(r["rank"])) for r in run.titles["rows"]
                      if r["payee_id"] == payee_id and (not period or r["period"] == period)]
        query = select(LedgerEntry).where(LedgerEntry.program == program,
                                          LedgerEntry.payee_id == payee_id)
        if period:  # posted into the period, or a later correction of one of its lines
            query = query.where(or_(LedgerEntry.period == period,
                                    LedgerEntry.adjusts_period == period))
        found = list(session.scalars(query.order_by(LedgerEntry.id)))
        payments = payouts.paid_entries(session, [e.id for e in found])
        runs = _runs_of(session, found)
        entries = [_entry(e, payments.get(e.id), runs) for e in found]
        name = _payee_name(session, program, payee_id)
    if not (lines or entries or gates):
        hints = {"hint": N_("post a run first, or check the payee id"),
                 "cli_hint": "post a run first (paymaster runs new PROGRAM, runs approve RUN, "
                             "post RUN), or check the payee id"}
        raise WorkflowError(Problem.of(
            N_("nothing for payee '%(payee)s' in %(program)s period %(period)s"), payee=payee_id,
            program=program, period=period, **hints) if period else Problem.of(
            N_("nothing for payee '%(payee)s' in %(program)s"), payee=payee_id, program=program,
            **hints))
    return model.Statement(
        program=program, program_title=plan.title or program, payee_id=payee_id,
        payee_name=name or payee_id, period=period, currency=plan.currency,
        generated_on=ws.today(), run_id=run.id if run else None, lines=lines, gates=gates,
        titles=titles, entries=entries)


def render(statement: model.Statement, fmt: str, locale: str) -> bytes:
    from paymaster.services import statements_render as render_

    if fmt == "html":
        return render_.render_html(statement, locale).encode("utf-8")
    if fmt == "pdf":
        return render_.render_pdf(statement, locale)
    if fmt == "xlsx":
        return render_.render_excel(statement, locale)
    raise WorkflowError(Problem.of(N_("unknown statement format '%(format)s'"), format=fmt,
                                   formats=tuple(FORMATS), hint=N_("one of: %(formats)s")))


def _line(row: RunLine, labels: dict[str, str], money: paid.LineMoney | None, plan: Plan,
          locale: str) -> model.StatementLine:
    where = paid.fields(row.paid, money)
    return model.StatementLine(
        period=row.period, measure=row.measure, label=labels.get(row.measure, row.measure),
        source_id=row.source_id, date=row.date, amount=row.amount, earns=row.paid,
        reason=row.reason, explanation=explain_line(plan, line_row(row), locale),
        state=where["state"],
        posted=where["posted"], paid=where["paid"], batches=tuple(where["batches"]),
        paid_on=where["paid_on"])


def gate_progress(row: dict, plan: Plan, locale: str = "en") -> list[model.GateProgress]:
    """One evaluation row as the gates a payee reads: a gated rebate's row carries both
    its minimum (value of threshold) and its ratio (ratio of required), shown apart."""
    def number(key: str) -> Decimal | None:
        return Decimal(row[key]) if row.get(key) not in (None, "") else None

    common = dict(
        period=row["period"], evaluation=row["evaluation"],
        as_of=dt.date.fromisoformat(row["as_of"]) if row.get("as_of") else None,
        explanation=explain_evaluation(plan, row, locale))
    value, threshold = number("value"), number("threshold")
    ratio, required = number("ratio"), number("required_ratio")
    rebate = next((m for m in plan.measures if isinstance(m, GatedRebate)), None)
    if rebate is None or (threshold is None and required is None):
        return [model.GateProgress(
            subject=row.get("subject"), passed=bool(row["passed"]), value=value,
            threshold=threshold, ratio=ratio, required_ratio=required,
            reason=row.get("reason"), **common)]
    gates = []
    if threshold is not None:
        ok = value is not None and value >= threshold
        gates.append(model.GateProgress(
            subject=word(plan, rebate.minimum.label or rebate.minimum.name, locale), passed=ok, value=value,
            threshold=threshold, ratio=None, required_ratio=None,
            reason=None if ok else rebate.minimum.name, **common))
    if required is not None:
        ok = ratio is not None and ratio >= required
        gates.append(model.GateProgress(
            subject=word(plan, rebate.ratio.label or rebate.ratio.name, locale), passed=ok, value=None,
            threshold=None, ratio=ratio, required_ratio=required,
            reason=None if ok else rebate.ratio.name, **common))
    return gates


def _runs_of(session, found: list[LedgerEntry]) -> dict[int, int | None]:
    """The run of each entry a correction of a closed period points at."""
    wanted = {e.corrects for e in found if e.adjusts_period and e.corrects}
    if not wanted:
        return {}
    return dict(session.execute(select(LedgerEntry.id, LedgerEntry.run_id)
                                .where(LedgerEntry.id.in_(wanted))).all())


def _entry(e: LedgerEntry, payment: payouts.PaidState | None,
           runs: dict[int, int | None]) -> model.LedgerEntry:
    return model.LedgerEntry(
        entry_id=e.id, run_id=e.run_id or 0, posted_at=e.posted_at, kind=e.kind,
        period=e.period, measure=e.measure, source_id=e.source_id, amount=e.amount,
        corrects=e.corrects, batch=payment.batch if payment else None,
        paid_at=payment.paid_at if payment else None, adjusts_period=e.adjusts_period,
        corrects_run=runs.get(e.corrects) if e.corrects else None)


def _payee_name(session, program: str, payee_id: str) -> str | None:
    for table, key in (("partners", "partner_id"), ("reps", "rep_id")):
        row = find_row(session, program, table, key, payee_id)
        if row is not None:
            return row.get("name")
    return None
