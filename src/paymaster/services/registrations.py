"""Lead registration (Generuj Leady): submit, check automatically, confirm or reject.

The automatic checks are the plan's own screening measure, run by the engine on the
store's data, so a registration is judged exactly as the payout run will judge it.
The engine runs outside any write transaction, so a check never holds the database's
write lock (on SQLite, every other writer would wait for it). A decision is optimistic:
read what the check needs in a read transaction (a snapshot), run the check with no
transaction held, then in a short write transaction, serialised per program (SQLite's
write lock; on PostgreSQL a locked row), export the same inputs again and commit only if
they are byte for byte what the check saw; otherwise another decision came between, and
the check runs again (from a new snapshot, with a new submission time). After
OPTIMISTIC_TRIES stale checks the check runs inside the write transaction, so a busy
program still makes progress. So of many simultaneous registrations of one lead, exactly
one wins, and the winner is the first to commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from paymaster import asof
from paymaster.calendar import add_business_days
from paymaster.errors import N_, Word, Problem, WorkflowError, suggest
from paymaster.limits import check_text
from paymaster.plan import LoadedPlan
from paymaster.plan.model import Plan, Screening
from paymaster.plan.narrowing import narrowing
from paymaster.runcache import CachedPlan, with_digest
from paymaster.services import audit, engine_pool, notifications, queues, warm_screening
from paymaster.services.calc import calculate_exported, export_stored, folder_digest
from paymaster.services.inputs import DECISION, current, registration_row
from paymaster.store.models import Opportunity, Registration

if TYPE_CHECKING:
    from paymaster.workspace import Workspace

# Checks run on a snapshot and found stale before one runs under the write lock.
OPTIMISTIC_TRIES = 3
# The id a new registration is checked under before the database numbers it: it sorts
# after every REG-nnnnnn stored (ids are numbered upwards), as its real id will, so the
# first-wins order the check sees is the order it will have.
PROVISIONAL = "REG-" + "9" * 18
# The `opportunities` row that serialises a program's decisions.
PROGRAM_LOCK = "*"
_TURNS: dict[tuple[str, str], threading.Lock] = {}
_TURNS_GUARD = threading.Lock()

STATE = ("program", "registration_id", "partner_id", "status", "reason", "submitted_at",
         "due_on", "decided_at", "decided_by")


@dataclass(frozen=True)
class Setup:
    table: str
    measure: Screening
    key: list[str]          # the opportunity: the first-wins rule's key
    first_wins_rule: str
    country: str            # whose business days the owner's answer is due in (answer_time)
    answer_days: int        # how many of them


def setup(ws: Workspace, program: str) -> Setup:
    config = ws.program(program)
    plan = ws.plan(program).plan
    if not config.registrations:
        raise WorkflowError(Problem.of(N_("program '%(program)s' takes no registrations"),
                                       program=program,
                                       hint=N_("set registrations: TABLE for it in "
                                               "paymaster.yaml")))
    measure = next((m for m in plan.measures
                    if isinstance(m, Screening) and m.source == config.registrations), None)
    if measure is None:
        raise WorkflowError(Problem(
            f"program '{program}' has no screening measure on '{config.registrations}'"))
    rule = next((r for r in measure.rules if r.first_wins is not None), None)
    key = list(rule.first_wins.key) if rule else [measure.source_id]
    days, country = answer_time(plan, measure, config.confirm_within_days)
    return Setup(config.registrations, measure, key, rule.name if rule else "", country, days)


def answer_time(plan: Plan, measure: Screening, workspace_days: int) -> tuple[int, str]:
    """How many business days the owner has to answer a registration, and whose business
    days they are: the one notion of "due" of the queues, the payee's page, the reminders
    and the runs. The plan's `answer_within` (what a run calls overdue, in its country,
    else the plan's: asof.country), else the workspace's `confirm_within_days` in the
    plan's country, else Poland's (the lead programs' "5 Polish business days")."""
    within = measure.decision.answer_within if measure.decision else None
    if within is not None:
        return within.business_days, asof.country(plan, within)
    return workspace_days, plan.country or "PL"


def register(ws: Workspace, program: str, fields: dict[str, str | None], *, actor: str,
             at: dt.datetime | None = None) -> Registration:
    """Take one registration; it ends submitted (awaiting the owner), accepted (with
    auto_accept) or rejected with the first failing check as its reason."""
    s = setup(ws, program)
    partner, reg_id, fields = prepare(ws, program, s, fields)
    check = _Check.of(ws, program, s)

    def candidate(submitted: dt.datetime) -> Registration:
        return new_registration(ws, program, s, partner, reg_id or PROVISIONAL, fields,
                                submitted)

    with _turn(ws, program):
        return _register(ws, program, s, check, candidate, partner, reg_id, actor, at)


def prepare(ws: Workspace, program: str, s: Setup,
            fields: dict[str, str | None]) -> tuple[str, str | None, dict[str, str | None]]:
    """A submission's fields checked against the registration table and the limits:
    (partner, the registration id it gives or None, the other fields)."""
    spec = ws.plan(program).plan.inputs[s.table]
    fields = {k: (v.strip() if isinstance(v, str) and v.strip() else None)
              for k, v in fields.items()}
    _check_fields(fields, spec, s.table)
    for name, value in fields.items():
        check_text(None if value is None else str(value), name, ws.config.limits.text_chars,
                   limit_name="text_chars", error=WorkflowError)
    partner = fields.pop("partner_id", None)
    if not partner:
        raise WorkflowError(Problem.of(N_("partner_id is required"), field="partner_id"))
    reg_id = fields.pop("registration_id", None)
    for reserved in ("submitted_at", "decision", "decision_reason"):
        fields.pop(reserved, None)
    return partner, reg_id, fields


def new_registration(ws: Workspace, program: str, s: Setup, partner: str, reg_id: str,
                     fields: dict[str, str | None], submitted: dt.datetime) -> Registration:
    return Registration(
        program=program, registration_id=reg_id, partner_id=partner,
        opportunity="|".join(str(fields.get(k) or "") for k in s.key),
        submitted_at=submitted, data=fields, status="submitted",
        due_on=due_on(s, submitted.date()))


def due_on(s: Setup, submitted: dt.date) -> dt.date:
    """The owner's last day to answer a registration of `submitted` (answer_time)."""
    return add_business_days(submitted, s.answer_days, s.country)


def confirm_within_days(ws: Workspace, program: str) -> int:
    """Business days the owner has to answer (answer_time)."""
    return setup(ws, program).answer_days


def _register(ws: Workspace, program: str, s: Setup, check: _Check,
              candidate: Callable[[dt.datetime], Registration], partner: str, reg_id: str | None, actor: str,
              at: dt.datetime | None) -> Registration:
    for attempt in range(OPTIMISTIC_TRIES + 1):
        locked = attempt == OPTIMISTIC_TRIES  # the last try checks under the write lock
        with tempfile.TemporaryDirectory(prefix="paymaster-check-") as tmp:
            if not locked:
                with ws.store.reading() as session:
                    _refuse_unknown(session, program, partner, reg_id)
                    # Read after the snapshot began, so later than every registration the
                    # check sees: submission order stays the order decisions commit in.
                    reg = candidate(at or ws.now(program))
                    seen = check.export(session, reg, Path(tmp) / "seen")
                reason = check.verdict(Path(tmp) / "seen", reg)  # no transaction held
            with ws.store.session() as session:
                _refuse_unknown(session, program, partner, reg_id)
                _lock(session, program)
                if locked:
                    reg = candidate(at or ws.now(program))
                    check.export(session, reg, Path(tmp) / "now")
                    reason = check.verdict(Path(tmp) / "now", reg)
                elif check.export(session, reg, Path(tmp) / "now") != seen:
                    continue  # another decision changed what the check read: check again
                _store_new(ws, session, s, reg, reg_id, reason, actor)
                return reg
    raise AssertionError("unreachable: the last try holds the lock")


@dataclass(frozen=True)
class Submission:
    """One registration of a batch (a file's row): its fields, its submission time if it
    gave one, and where it came from, to name it in a refusal."""

    fields: dict[str, str | None]
    at: dt.datetime | None = None
    row: int | None = None


def register_many(ws: Workspace, program: str, batch: list[Submission], *, actor: str,
                  at: dt.datetime | None = None, file: str = "") -> list[Registration]:
    """Take a batch of registrations (a file of them) as if one by one in the batch's
    order, with the same verdicts, but checked by one engine run and stored in one
    transaction: all of them, or none when any is refused (every refused row is named)."""
    s = setup(ws, program)
    if not batch:
        return []
    prepared, problems = [], []
    for sub in batch:
        try:
            prepared.append((sub, *prepare(ws, program, s, sub.fields)))
        except WorkflowError as err:
            problems += [_at_row(p, file, sub.row) for p in err.problems]
    if problems:
        raise WorkflowError(problems)
    check = _Check.of(ws, program, s)
    # Each is seen by the later ones as one by one it would be stored before them: accepted
    # with auto_accept (then it blocks a later registration of its opportunity when it
    # passes), else awaiting the owner (which blocks none).
    seen_as = None if ws.program(program).auto_accept else DECISION["submitted"]

    def candidates(now: dt.datetime) -> list[Registration]:
        return [new_registration(ws, program, s, partner, reg_id or f"REG-{10**18 + i}",
                                 fields, sub.at or at or now)
                for i, (sub, partner, reg_id, fields) in enumerate(prepared)]

    with _turn(ws, program):
        for attempt in range(OPTIMISTIC_TRIES + 1):
            locked = attempt == OPTIMISTIC_TRIES
            with tempfile.TemporaryDirectory(prefix="paymaster-check-") as tmp:
                if not locked:
                    with ws.store.reading() as session:
                        _refuse_unknown_rows(session, program, prepared, file)
                        regs = candidates(ws.now())
                        seen = check.export(session, regs, Path(tmp) / "seen", seen_as)
                    reasons = check.verdicts(Path(tmp) / "seen", regs)  # no transaction held
                with ws.store.session() as session:
                    _refuse_unknown_rows(session, program, prepared, file)
                    _lock(session, program)
                    if locked:
                        regs = candidates(ws.now())
                        check.export(session, regs, Path(tmp) / "now", seen_as)
                        reasons = check.verdicts(Path(tmp) / "now", regs)
                    elif check.export(session, regs, Path(tmp) / "now", seen_as) != seen:
                        continue  # another decision changed what the check read: again
                    _store_all(ws, session, s, regs, reasons,
                               [reg_id for _sub, _partner, reg_id, _fields in prepared], actor)
                    return regs
    raise AssertionError("unreachable: the last try holds the lock")


def _at_row(problem: Problem, file: str, row: int | None) -> Problem:
    return replace(problem, file=problem.file or file, row=row if row is not None else problem.row)


def _refuse_unknown_rows(session: Session, program: str, prepared: list, file: str) -> None:
    """Every row of a batch naming an unknown partner, or an id stored already or given
    by an earlier row (one by one, the later row would find it stored)."""
    partners = _partner_ids(session, program)
    ids = {reg_id for _sub, _partner, reg_id, _fields in prepared if reg_id}
    taken = set(session.scalars(select(Registration.registration_id).where(
        Registration.program == program, Registration.registration_id.in_(ids)))) if ids else set()
    problems = []
    for sub, partner, reg_id, _fields in prepared:
        if partner not in partners:
            problems.append(_at_row(Problem.of(
                N_("unknown partner '%(partner)s'"), field="partner_id", partner=partner,
                cli_hint="import the partner first (paymaster import)",
                hint=N_("import the partner first")), file, sub.row))
        if reg_id in taken:
            problems.append(_at_row(Problem.of(N_("registration %(registration)s exists "
                                                  "already"), registration=reg_id),
                                    file, sub.row))
        if reg_id:
            taken.add(reg_id)
    if problems:
        raise WorkflowError(problems)


def _store_all(ws: Workspace, session: Session, s: Setup, regs: list[Registration],
               reasons: list[str | None], given: list[str | None], actor: str) -> None:
    """`_store_new` for a batch: inserted together (one flush numbers them all), then
    decided in order, so with auto_accept each supersedes only what is decided before it,
    as one by one."""
    session.add_all(regs)
    session.flush()
    for reg, reg_id in zip(regs, given, strict=True):
        if not reg_id:
            reg.registration_id = f"REG-{reg.id:06d}"
    for reg, reason in zip(regs, reasons, strict=True):
        _decide_new(ws, session, s, reg, reason, actor)


def _store_new(ws: Workspace, session: Session, s: Setup, reg: Registration,
               reg_id: str | None, reason: str | None, actor: str) -> None:
    session.add(reg)
    session.flush()
    if not reg_id:  # numbered by the database, so parallel submissions never collide
        reg.registration_id = f"REG-{reg.id:06d}"
        session.flush()
    _decide_new(ws, session, s, reg, reason, actor)


def _decide_new(ws: Workspace, session: Session, s: Setup, reg: Registration,
                reason: str | None, actor: str) -> None:
    submitted = reg.submitted_at
    if reason:
        _set(reg, "rejected", reason, "paymaster", submitted)
    elif ws.program(reg.program).auto_accept:
        _set(reg, "accepted", None, "paymaster (auto_accept)", submitted)
        _supersede(session, s, reg, actor, submitted)
    audit.record(session, actor=actor, action="register", entity="registration",
                 key=reg.registration_id, program=reg.program,
                 after=audit.row_state(reg, STATE) | {"data": reg.data}, at=submitted)


def decide(ws: Workspace, program: str, registration_id: str, *, accept: bool, actor: str,
           reason: str | None = None, at: dt.datetime | None = None) -> Registration:
    """The owner's decision. Acceptance re-runs the checks: a registration that now fails
    one is rejected with that reason instead. Accepting an earlier registration rejects a
    later accepted one of the same opportunity by another partner (first wins)."""
    check_text(reason, "reason", ws.config.limits.description_chars,
               limit_name="description_chars", error=WorkflowError)
    s = setup(ws, program)
    when = at or ws.now(program)
    check = _Check.of(ws, program, s)
    with _turn(ws, program):
        return _decide(ws, program, s, check, registration_id, accept, actor, reason, when)


def _decide(ws: Workspace, program: str, s: Setup, check: _Check, registration_id: str,
            accept: bool, actor: str, reason: str | None, when: dt.datetime) -> Registration:
    for attempt in range(OPTIMISTIC_TRIES + 1):
        # A rejection runs no check: it needs no snapshot either.
        locked = attempt == OPTIMISTIC_TRIES or not accept
        with tempfile.TemporaryDirectory(prefix="paymaster-check-") as tmp:
            if not locked:
                with ws.store.reading() as session:
                    reg = _get(session, program, registration_id)
                    _require_submitted(reg)
                    seen = check.export(session, reg, Path(tmp) / "seen")
                failed = check.verdict(Path(tmp) / "seen", reg)  # no transaction held
            with ws.store.session() as session:
                reg = _get(session, program, registration_id)
                _lock(session, program)
                session.refresh(reg)
                _require_submitted(reg)
                before = audit.row_state(reg, STATE)
                if not accept:
                    if not reason:
                        raise WorkflowError(Problem.of(N_("a rejection needs a reason"),
                                                       field="reason",
                                                       cli_hint="give --reason TEXT"))
                    _set(reg, "rejected", reason, actor, when)
                else:
                    if locked:
                        check.export(session, reg, Path(tmp) / "now")
                        failed = check.verdict(Path(tmp) / "now", reg)
                    elif check.export(session, reg, Path(tmp) / "now") != seen:
                        continue  # another decision changed what the check read: again
                    if failed:
                        _set(reg, "rejected", failed, actor, when)
                    else:
                        _set(reg, "accepted", None, actor, when)
                        for other in _supersede(session, s, reg, actor, when):
                            notifications.registration_decided(ws, session, other)
                audit.record(session, actor=actor, action="accept" if accept else "reject",
                             entity="registration", key=registration_id, program=program,
                             before=before, after=audit.row_state(reg, STATE), at=when)
                notifications.registration_decided(ws, session, reg)
                return reg
    raise AssertionError("unreachable: the last try holds the lock")


def _turn(ws: Workspace, program: str) -> threading.Lock:
    """Within one process a program's decisions take turns. Across processes the check
    is optimistic (above); between threads of one portal it would only make them spoil
    each other's checks and run them again, costing more engine runs than waiting."""
    key = (ws.store.url, program)
    with _TURNS_GUARD:
        return _TURNS.setdefault(key, threading.Lock())


def _require_submitted(reg: Registration) -> None:
    if reg.status != "submitted":
        hint = N_("only a submitted registration can be accepted or rejected")
        if reg.decided_by and reg.decided_at:
            template = N_("registration %(registration)s is %(status)s already (%(reason)s): "
                          "decided by %(by)s on %(at)s") if reg.reason else \
                N_("registration %(registration)s is %(status)s already: decided by %(by)s "
                   "on %(at)s")
            raise WorkflowError(Problem.of(
                template, registration=reg.registration_id, status=Word(reg.status),
                reason=reg.reason, by=reg.decided_by, at=reg.decided_at, hint=hint))
        raise WorkflowError(Problem.of(
            N_("registration %(registration)s is %(status)s already"),
            registration=reg.registration_id, status=Word(reg.status), hint=hint))


def overdue(ws: Workspace, program: str, on: dt.date | None = None) -> list[Registration]:
    return queues.overdue(ws, Registration, program, on)


def listing(ws: Workspace, program: str, partner: str | None = None) -> list[Registration]:
    return queues.listing(ws, Registration, program, partner,
                          (Registration.submitted_at, Registration.id))


# ---------------------------------------------------------------- internals
def _check_fields(fields: dict, spec, table: str) -> None:
    problems = [
        Problem.of(N_("unknown field '%(name)s' for %(table)s"), field=name, name=name,
                   table=table, columns=tuple(spec.columns),
                   cli_hint=suggest(name, spec.columns),
                   hint=N_("fields: %(columns)s"))
        for name in fields if name not in spec.columns and name != "partner_id"
    ]
    if problems:
        raise WorkflowError(problems)


def _partner_ids(session: Session, program: str) -> set[str]:
    return {r.data.get("partner_id") for r in current(session, program, "partners").values()}


def _refuse_unknown(session: Session, program: str, partner: str, reg_id: str | None) -> None:
    if partner not in _partner_ids(session, program):
        raise WorkflowError(Problem.of(N_("unknown partner '%(partner)s'"), field="partner_id",
                                       partner=partner,
                                       cli_hint="import the partner first (paymaster import)"))
    if reg_id and session.scalars(select(Registration.id).where(
            Registration.program == program,
            Registration.registration_id == reg_id)).first() is not None:
        raise WorkflowError(Problem.of(N_("registration %(registration)s exists already"),
                                       registration=reg_id))


def _lock(session: Session, program: str) -> None:
    """Serialise the program's decisions: a check reads every registration of the
    program (two spellings of one tax id are one opportunity to the engine), so no two
    decisions may commit side by side. On SQLite the write transaction holds the
    database's lock already; on PostgreSQL this locks the program's row of
    `opportunities` (key '*'), made on first use."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(Opportunity).values(program=program, key=PROGRAM_LOCK)
                    .on_conflict_do_nothing(index_elements=["program", "key"]))
    session.execute(select(Opportunity.id).where(
        Opportunity.program == program, Opportunity.key == PROGRAM_LOCK).with_for_update())


def _get(session: Session, program: str, registration_id: str) -> Registration:
    reg = session.scalars(select(Registration).where(
        Registration.program == program,
        Registration.registration_id == registration_id)).one_or_none()
    if reg is None:
        raise WorkflowError(Problem.of(N_("unknown registration '%(registration)s'"),
                                       registration=registration_id,
                                       cli_hint="list them with: paymaster registrations PROGRAM"))
    return reg


def _set(reg: Registration, status: str, reason: str | None, actor: str,
         when: dt.datetime) -> None:
    reg.status, reg.reason, reg.decided_by, reg.decided_at = status, reason, actor, when


@dataclass(frozen=True)
class _Check:
    """The plan's screening alone, run for registrations not yet stored against everything
    else in the store: export the inputs inside a transaction, run the engine after it."""

    ws: Workspace
    program: str
    loaded: LoadedPlan
    measure: str
    pending: tuple[str, ...]  # the screening's reasons for a record awaiting the owner
    # the screening's plan with its digest (the run cache's key), made once per plan
    cached: CachedPlan | None = None
    # the name of this program's warm screening state (services/warm_screening.py)
    warm: str | None = None

    @classmethod
    def of(cls, ws: Workspace, program: str, s: Setup) -> _Check:
        loaded = ws.plan(program)
        decision = s.measure.decision
        pending = ((decision.pending_reason, decision.overdue_reason)
                   if decision and decision.pending_value else ())
        cached = _screening_plan(loaded, s.measure)
        # (the store's URL hashed: it may hold a password, and names the workspace)
        warm = hashlib.sha256(f"{ws.store.url}\0{program}".encode()).hexdigest()
        return cls(ws, program, cached.loaded, s.measure.id, pending, cached, warm)

    def export(self, session: Session, regs: Registration | list[Registration], folder: Path,
               decision: str | None = None) -> str:
        """Write what the check reads into `folder`, the registrations to check with the
        owner's `decision` (undecided: None); the digest of it."""
        regs = regs if isinstance(regs, list) else [regs]
        overrides = {reg.registration_id: registration_row(reg)
                     | {"decision": decision, "decision_reason": None} for reg in regs}
        export_stored(self.ws, session, self.program, None, folder, plan=self.loaded,
                      overrides=overrides)
        return folder_digest(folder)

    def verdict(self, folder: Path, reg: Registration) -> str | None:
        """The first failing check for `reg` on the exported inputs; None when it passes
        them all."""
        return self.verdicts(folder, [reg])[0]

    def verdicts(self, folder: Path, regs: list[Registration]) -> list[str | None]:
        """The first failing check of each of `regs` (None: passes them all; awaiting the
        owner's decision, as a batch's registrations are exported, is no failure), from
        one engine run."""
        subjects = [reg.registration_id for reg in regs]
        found = engine_pool.run(_screened, self.cached or self.loaded, folder, self.measure,
                                subjects, True, self.warm)
        missing = [subject for subject in subjects if subject not in found]
        if missing:
            raise WorkflowError(Problem(
                f"the screening produced no verdict for {', '.join(missing)}",
                hint="is the registration inside the program's scope?"))
        return [None if passed or reason in self.pending else reason
                for passed, reason in (found[subject] for subject in subjects)]


def _screened(loaded: LoadedPlan | CachedPlan, folder: Path, measure: str,
              subjects: list[str], narrow: bool = True,
              warm: str | None = None) -> dict[str, tuple[bool, str | None]]:
    """(passed, reason) by the screening `measure` on the exported inputs, of each of
    `subjects` the screening gave a verdict (run by engine_pool: in a worker process under
    `paymaster serve`). With `narrow`, only the subjects' groups are screened where the
    plan's rules allow it (plan/narrowing.py: the same verdicts); with `warm`, on the warm
    state of that name where it can answer (services/warm_screening.py: the same
    verdicts), else by a whole run."""
    if warm is not None and narrow and isinstance(loaded, CachedPlan):
        found = warm_screening.screened(loaded, folder, measure, subjects, warm)
        if found is not None:
            return found
    plan = loaded.loaded.plan if isinstance(loaded, CachedPlan) else loaded.plan
    narrowed = narrowing(plan, plan.measure(measure), subjects) if narrow else None
    result = calculate_exported(loaded, folder, only=("evaluations",), narrow=narrowed)
    wanted = set(subjects)
    return {ev["subject"]: (bool(ev["passed"]), ev["reason"])
            for ev in result.tables["evaluations"].to_pylist()
            if ev["evaluation"] == measure and ev["subject"] in wanted}


_SCREENING_PLANS: dict[int, tuple[LoadedPlan, Screening, CachedPlan]] = {}


def _screening_plan(loaded: LoadedPlan, measure: Screening) -> CachedPlan:
    """The program's plan cut to its screening, with its digest: made once per loaded plan
    (the workspace keeps one per program) rather than on every check."""
    known = _SCREENING_PLANS.get(id(loaded))
    if known is not None and known[0] is loaded and known[1] is measure:
        return known[2]
    only = loaded.plan.model_copy(update={
        "measures": [measure], "budgets": [], "effect": None, "annual_budget": None,
        "inputs": _inputs_used(loaded.plan, measure)})
    cached = with_digest(type(loaded)(only, loaded.source))
    if len(_SCREENING_PLANS) > 64:  # plans edited many times in a long-running server
        _SCREENING_PLANS.clear()
    _SCREENING_PLANS[id(loaded)] = (loaded, measure, cached)  # (holds `loaded`: ids stay)
    return cached


def _inputs_used(plan: Plan, measure: Screening) -> dict:
    """The input tables a screening can touch: its source, every table its rules name,
    and what those reference; so a check does not read the sales."""
    text = measure.model_dump_json()
    used = {measure.source} | {t for t in plan.inputs if re.search(rf"\b{t}\b", text)}
    pending = list(used)
    while pending:
        for column in plan.inputs[pending.pop()].columns.values():
            target = (column.references or "").partition(".")[0]
            if target and target not in used:
                used.add(target)
                pending.append(target)
    return {name: spec for name, spec in plan.inputs.items() if name in used}


def _order(reg: Registration) -> tuple:
    """Submission order as the engine sees it (plan.expressions.natural_key): time, then
    the id's text before its trailing number, the number (S9 < S10, of any length), the id."""
    ident = reg.registration_id
    match = re.search(r"[0-9]+$", ident)
    if match is None:
        return reg.submitted_at, ident, True, 0, ident
    return reg.submitted_at, ident[:match.start()], False, int(match[0]), ident


def _supersede(session: Session, s: Setup, winner: Registration, actor: str,
               when: dt.datetime) -> list[Registration]:
    """Reject the later accepted registrations of the winner's opportunity; returns them."""
    superseded = []
    later = session.scalars(select(Registration).where(
        Registration.program == winner.program, Registration.opportunity == winner.opportunity,
        Registration.status == "accepted", Registration.partner_id != winner.partner_id,
        Registration.id != winner.id)).all()
    for other in later:
        if _order(other) > _order(winner):
            before = audit.row_state(other, STATE)
            _set(other, "rejected", s.first_wins_rule, actor, when)
            audit.record(session, actor=actor, action="superseded", entity="registration",
                         key=other.registration_id, program=other.program, before=before,
                         after=audit.row_state(other, STATE)
                         | {"by": winner.registration_id}, at=when)
            superseded.append(other)
    return superseded
