"""Lead registration workflow (Generuj Leady) on SQLite and PostgreSQL: the automatic
checks and their reasons, first wins, owner decisions, overdue, audit, and concurrency.

Expected outcomes are worked by hand from shared/programs/generuj-leady.md and the
example master data in examples/generuj-leady/data (see the comments at each case).
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from paymaster import asof
from paymaster.calendar import add_business_days
from paymaster.services import imports, programs, registrations
from paymaster.services.registrations import WorkflowError
from paymaster.store.models import AuditEvent, Registration
from paymaster.web.routes_payee import registrations_data
from paymaster.web.security import Principal
from paymaster.workspace import Workspace

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PROGRAM = "generuj-leady"
DATA = EXAMPLES / "generuj-leady" / "data"

# partners.csv: partner -> NIP (P3 is the German one).
PARTNER_NIP = {"P1": "5208710903", "P2": "5208790090", "P3": "5208869288",
               "P4": "5208948473", "P5": "5209027663", "P6": "5209106859"}

# customers.csv rows used below.
C01 = "5200079196"  # commercial_smb, no holdings
C02 = "5200158381"  # commercial_smb, no holdings
C03 = "5200237577"  # commercial_smb, no holdings
C05 = "5200395951"  # holds only O365 E1 since 2017-01-01
C06 = "5200475147"  # holds only O365 E1 since 2017-01-01
C07 = "5200554332"  # holds O365 E1 and D365 since 2017
C08 = "5200633528"  # holds M365 E3 since 2018-05-01
C09 = "5200712713"  # M365 in the vendor registry since 2018-04-01
C10 = "5200791902"
C13 = "5201029473"
C20 = "5201662992"
C21 = "5201742188"  # commercial_enterprise: not SMB
C22, C24, C25, C26 = "5201821373", "5202138135", "5202217320", "5202375705"
NOT_LISTED = "5260250274"  # a valid NIP that is not on the customer list
BAD_NIP = "1234567890"     # check digit wrong

APRIL_2 = datetime(2018, 4, 2, 9, 0)


def nip(prefix: str) -> str:
    """A valid Polish NIP from 9 digits (weights 6,5,7,2,3,4,5,6,7 mod 11; 10 is invalid)."""
    assert len(prefix) == 9
    check = sum(int(d) * w for d, w in zip(prefix, (6, 5, 7, 2, 3, 4, 5, 6, 7), strict=False)) % 11
    assert check != 10, prefix
    return prefix + str(check)


def extra_nips(count: int) -> list[str]:
    out, n = [], 0
    while len(out) < count:
        prefix = f"77700{n:04d}"
        n += 1
        if sum(int(d) * w for d, w in zip(prefix, (6, 5, 7, 2, 3, 4, 5, 6, 7), strict=False)) % 11 != 10:
            out.append(nip(prefix))
    return out


def test_nip_helper_matches_the_example_data():
    for value in [*PARTNER_NIP.values(), C01, C21, NOT_LISTED]:
        assert nip(value[:9]) == value
    # 123456789 gives check digit 10: no NIP starts with it, so 1234567890 is invalid
    assert sum(int(d) * w for d, w in zip(BAD_NIP, (6, 5, 7, 2, 3, 4, 5, 6, 7), strict=False)) % 11 == 10
    assert len(set(extra_nips(N))) == N


def make_workspace(tmp_path: Path, store_url: str, extra_partners: int = 0) -> Workspace:
    """A workspace with the example plan and master data (no registrations), plus
    `extra_partners` Polish partners X1..Xn with valid NIPs."""
    ws = Workspace.init(tmp_path / "ws", database=store_url)
    programs.add_program(ws, EXAMPLES / "generuj-leady/plan.yaml", "admin",
                         registrations="registrations")
    for table in ["partners", "customers", "holdings", "vendor_registry", "sales"]:
        imports.import_file(ws, PROGRAM, table, DATA / f"{table}.csv", actor="admin",
                            as_of=date(2018, 7, 1))
    if extra_partners:
        lines = ["partner_id,name,address,country,nip,new_to_program,removed_on,removal_reason"]
        for i, value in enumerate(extra_nips(extra_partners), start=1):
            lines.append(f"X{i},Extra {i},Warszawa,PL,{value},false,,")
            PARTNER_NIP[f"X{i}"] = value
        path = tmp_path / "extra_partners.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        imports.import_file(ws, PROGRAM, "partners", path, actor="admin", as_of=date(2018, 7, 1))
    return ws


@pytest.fixture
def ws(tmp_path, store_url, monkeypatch):
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    monkeypatch.delenv("PAYMASTER_TODAY", raising=False)
    workspace = make_workspace(tmp_path, store_url)
    yield workspace
    workspace.close()


def lead(partner: str, customer_nip: str, family: str = "M365", plan: str = "E3",
         licences: str = "10", **overrides: str | None) -> dict[str, str | None]:
    """The fields of registrations.csv minus submitted_at/decision/decision_reason."""
    fields = {
        "partner_id": partner, "customer_name": "Client", "customer_address": "Lodz",
        "customer_nip": customer_nip, "family": family, "plan": plan, "licences": licences,
        "pcs": "12", "partner_name": f"Partner {partner}", "partner_address": "Warszawa",
        "partner_nip": PARTNER_NIP[partner], "contact_name": "Jan Kowalski",
        "contact_phone": "+48 600 000 000", "contact_email": "kontakt@partner.pl",
    }
    for key, value in overrides.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    return fields


def stored(ws: Workspace) -> dict[str, Registration]:
    return {r.registration_id: r for r in registrations.listing(ws, PROGRAM)}


def audit_events(ws: Workspace, key: str | None = None) -> list[AuditEvent]:
    with ws.store.session() as session:
        query = select(AuditEvent).where(AuditEvent.entity == "registration")
        if key is not None:
            query = query.where(AuditEvent.entity_key == key)
        return list(session.scalars(query.order_by(AuditEvent.id)))


# ----------------------------------------------------------------- 1. automatic checks
CASES = [
    # (name, fields, submitted at, expected status, expected reason)
    ("missing contact_email", lead("P1", C20, contact_email=None),
     APRIL_2, "rejected", "missing_field"),
    # missing fields are checked before all: a German partner with no e-mail
    ("missing field before partner rule", lead("P3", C03, contact_email=None),
     APRIL_2, "rejected", "missing_field"),
    ("invalid customer NIP", lead("P2", BAD_NIP, family="D365", plan="Business"),
     APRIL_2, "rejected", "invalid_nip"),
    ("invalid partner NIP", lead("P2", C02, partner_nip="5208790091"),
     APRIL_2, "rejected", "invalid_nip"),
    # rule 1 before rule 2: P3 (DE) and an enterprise customer
    ("partner not Polish", lead("P3", C21),
     APRIL_2, "rejected", "partner_not_polish"),
    ("customer enterprise", lead("P2", C21),
     APRIL_2, "rejected", "customer_not_polish_smb"),
    ("customer not on the list", lead("P2", NOT_LISTED),
     APRIL_2, "rejected", "customer_not_polish_smb"),
    ("2 licences", lead("P2", C02, family="O365", licences="2"),
     APRIL_2, "rejected", "too_few_licences"),
    ("3 licences is enough", lead("P2", C02, family="D365", plan="Business", licences="3"),
     APRIL_2, "submitted", None),
    ("holds O365 E1, registers O365 E1", lead("P2", C06, family="O365", plan="E1"),
     APRIL_2, "rejected", "existing_customer"),
    ("holds O365 and D365, registers M365 E3", lead("P2", C07),
     APRIL_2, "rejected", "existing_customer"),
    ("holds only O365, upgrades to O365 E3", lead("P2", C05, family="O365", plan="E3"),
     APRIL_2, "submitted", None),
    ("holds only O365, upgrades to M365 E5", lead("P2", C06, family="M365", plan="E5"),
     APRIL_2, "submitted", None),
    ("holds only O365, M365 Business Premium is no E-plan",
     lead("P2", C05, family="M365", plan="Business Premium"),
     APRIL_2, "rejected", "existing_customer"),
    ("holds M365 since the submission day", lead("P2", C08, family="D365", plan="Business"),
     datetime(2018, 5, 1, 8, 0), "rejected", "existing_customer"),
    # registered with the vendor on 2018-04-01, the submission day itself
    ("in the vendor registry", lead("P2", C09),
     datetime(2018, 4, 1, 23, 0), "rejected", "in_vendor_registry"),
    ("other family than the vendor registry", lead("P2", C09, family="O365"),
     datetime(2018, 4, 5, 9, 0), "submitted", None),
    ("after the promotion", lead("P2", C10),
     datetime(2018, 6, 28, 9, 0), "rejected", "outside_promotion_period"),
    ("last day of the promotion", lead("P2", C10, family="D365", plan="Business"),
     datetime(2018, 6, 27, 23, 59), "submitted", None),
]


def test_each_check_rejects_with_its_reason(ws):
    for _name, fields, at, _, _ in CASES:
        registrations.register(ws, PROGRAM, fields, actor=fields["partner_id"], at=at)
    # one listing afterwards: also proves each was stored with its verdict
    got = [(r.status, r.reason) for r in registrations.listing(ws, PROGRAM)]
    by_time = sorted(range(len(CASES)), key=lambda i: CASES[i][2])  # stable: insertion order
    expected = [(CASES[i][3], CASES[i][4]) for i in by_time]
    names = [CASES[i][0] for i in by_time]
    assert list(zip(names, got, strict=True)) == list(zip(names, expected, strict=True))


DUE = [
    # Friday 2018-04-27: Mon 30.04 (1), Tue 1.05 holiday, Wed 2.05 (2), Thu 3.05 holiday,
    # Fri 4.05 (3), Mon 7.05 (4), Tue 8.05 (5)
    (C01, datetime(2018, 4, 27, 15, 0), date(2018, 5, 8)),
    # Easter Monday 2018-04-02 (a holiday itself): Tue 3 .. Fri 6 (4), Mon 9 (5)
    (C02, datetime(2018, 4, 2, 9, 0), date(2018, 4, 9)),
    # Wednesday 2018-05-30: Thu 31.05 Corpus Christi, Fri 1.06 (1), Mon 4 .. Thu 7 (5)
    (C03, datetime(2018, 5, 30, 12, 0), date(2018, 6, 7)),
]


def test_valid_registration_is_submitted_due_in_five_polish_business_days(ws):
    for customer, at, due in DUE:
        reg = registrations.register(ws, PROGRAM, lead("P1", customer), actor="P1", at=at)
        assert (reg.status, reg.reason, reg.due_on) == ("submitted", None, due)
        assert reg.submitted_at == at and reg.partner_id == "P1"
        assert reg.decided_at is None and reg.decided_by is None


def test_auto_accept_accepts_a_clean_registration_only(ws):
    ws.config.programs[PROGRAM].auto_accept = True
    ok = registrations.register(ws, PROGRAM, lead("P1", C01), actor="P1", at=APRIL_2)
    bad = registrations.register(ws, PROGRAM, lead("P1", C02, licences="2"), actor="P1",
                                 at=APRIL_2)
    assert (ok.status, ok.reason, ok.decided_by) == ("accepted", None, "paymaster (auto_accept)")
    assert (bad.status, bad.reason, bad.decided_by) == ("rejected", "too_few_licences",
                                                        "paymaster")


# ----------------------------------------------------------------- 2. first wins
def test_accepted_registration_blocks_a_later_one_by_another_partner(ws):
    a = registrations.register(ws, PROGRAM, lead("P1", C01), actor="P1", at=APRIL_2)
    accepted = registrations.decide(ws, PROGRAM, a.registration_id, accept=True, actor="owner",
                                    at=datetime(2018, 4, 3, 8, 0))
    assert (accepted.status, accepted.decided_by) == ("accepted", "owner")
    b = registrations.register(ws, PROGRAM, lead("P2", C01), actor="P2",
                               at=datetime(2018, 4, 3, 9, 0))
    assert (b.status, b.reason) == ("rejected", "already_registered")
    # another family of the same customer is another opportunity
    c = registrations.register(ws, PROGRAM, lead("P2", C01, family="O365"), actor="P2",
                               at=datetime(2018, 4, 3, 9, 0))
    assert (c.status, c.reason) == ("submitted", None)


def test_only_an_accepted_registration_blocks_and_the_earlier_supersedes(ws):
    a = registrations.register(ws, PROGRAM, lead("P1", C13, family="O365"), actor="P1",
                               at=datetime(2018, 4, 6, 9, 0))
    b = registrations.register(ws, PROGRAM, lead("P2", C13, family="O365"), actor="P2",
                               at=datetime(2018, 4, 7, 9, 0))
    assert (a.status, b.status, b.reason) == ("submitted", "submitted", None)

    b = registrations.decide(ws, PROGRAM, b.registration_id, accept=True, actor="owner",
                             at=datetime(2018, 4, 9, 10, 0))
    assert b.status == "accepted"  # A is not accepted yet: it does not block
    a = registrations.decide(ws, PROGRAM, a.registration_id, accept=True, actor="owner",
                             at=datetime(2018, 4, 9, 11, 0))
    assert (a.status, a.reason) == ("accepted", None)

    now = stored(ws)
    assert (now[a.registration_id].status, now[a.registration_id].reason) == ("accepted", None)
    assert (now[b.registration_id].status, now[b.registration_id].reason) == (
        "rejected", "already_registered")
    assert now[b.registration_id].decided_by == "owner"
    assert now[b.registration_id].decided_at == datetime(2018, 4, 9, 11, 0)

    superseded = [e for e in audit_events(ws, b.registration_id) if e.action == "superseded"]
    assert len(superseded) == 1
    event = superseded[0]
    assert event.actor == "owner"
    assert event.before["status"] == "accepted"
    assert event.after["status"] == "rejected"
    assert event.after["reason"] == "already_registered"
    assert event.after["by"] == a.registration_id


def test_first_wins_tie_is_broken_by_registration_id(ws):
    at = datetime(2018, 4, 6, 9, 0)
    # inserted first, but its registration id sorts second
    late = registrations.register(ws, PROGRAM, dict(lead("P2", C13, family="O365"),
                                                    registration_id="R-B"), actor="P2", at=at)
    early = registrations.register(ws, PROGRAM, dict(lead("P1", C13, family="O365"),
                                                     registration_id="R-A"), actor="P1", at=at)
    registrations.decide(ws, PROGRAM, late.registration_id, accept=True, actor="owner")
    registrations.decide(ws, PROGRAM, early.registration_id, accept=True, actor="owner")
    now = stored(ws)
    assert (now["R-A"].status, now["R-A"].reason) == ("accepted", None)
    assert (now["R-B"].status, now["R-B"].reason) == ("rejected", "already_registered")


def test_auto_accept_of_an_earlier_registration_supersedes_a_later_accepted_one(ws):
    ws.config.programs[PROGRAM].auto_accept = True
    later = registrations.register(ws, PROGRAM, lead("P2", C01), actor="P2",
                                   at=datetime(2018, 4, 3, 10, 0))
    earlier = registrations.register(ws, PROGRAM, lead("P1", C01), actor="P1",
                                     at=datetime(2018, 4, 3, 9, 0))
    assert earlier.status == "accepted"
    now = stored(ws)
    assert (now[later.registration_id].status, now[later.registration_id].reason) == (
        "rejected", "already_registered")


# ----------------------------------------------------------------- 3. owner decisions, errors
def test_owner_decisions_and_workflow_errors(ws):
    reg = registrations.register(ws, PROGRAM, lead("P1", C01), actor="P1", at=APRIL_2)
    rid = reg.registration_id

    with pytest.raises(WorkflowError, match="needs a reason"):
        registrations.decide(ws, PROGRAM, rid, accept=False, actor="owner")
    assert stored(ws)[rid].status == "submitted"

    rejected = registrations.decide(ws, PROGRAM, rid, accept=False, actor="owner",
                                    reason="duplicate lead sent twice",
                                    at=datetime(2018, 4, 4, 9, 0))
    assert (rejected.status, rejected.reason, rejected.decided_by) == (
        "rejected", "duplicate lead sent twice", "owner")

    # Decided already: said with the decision, who made it and when.
    decided = ("is rejected already (duplicate lead sent twice): decided by owner on "
               "2018-04-04 09:00")
    with pytest.raises(WorkflowError, match=re.escape(decided)):
        registrations.decide(ws, PROGRAM, rid, accept=True, actor="owner")
    with pytest.raises(WorkflowError, match=re.escape(decided)):
        registrations.decide(ws, PROGRAM, rid, accept=False, actor="owner", reason="again")

    other = registrations.register(ws, PROGRAM, lead("P2", C02), actor="P2", at=APRIL_2)
    registrations.decide(ws, PROGRAM, other.registration_id, accept=True, actor="owner")
    with pytest.raises(WorkflowError, match="is accepted already: decided by owner on "):
        registrations.decide(ws, PROGRAM, other.registration_id, accept=True, actor="owner")

    with pytest.raises(WorkflowError, match="unknown registration"):
        registrations.decide(ws, PROGRAM, "REG-999999", accept=True, actor="owner")

    before = len(audit_events(ws))
    with pytest.raises(WorkflowError, match="unknown partner 'P9'"):
        registrations.register(ws, PROGRAM, dict(lead("P1", C03), partner_id="P9"), actor="P9",
                               at=APRIL_2)
    with pytest.raises(WorkflowError) as err:
        registrations.register(ws, PROGRAM, dict(lead("P1", C03), contact_mail="x@y.pl"),
                               actor="P1", at=APRIL_2)
    assert "unknown field 'contact_mail'" in str(err.value)
    assert err.value.problems[0].hint == "did you mean 'contact_email'?"
    with pytest.raises(WorkflowError, match="partner_id is required"):
        registrations.register(ws, PROGRAM, lead("P1", C03, partner_id=None), actor="P1",
                               at=APRIL_2)
    # nothing stored, nothing audited by the failures
    assert set(stored(ws)) == {rid, other.registration_id}
    assert len(audit_events(ws)) == before


# ----------------------------------------------------------------- 4. overdue
def test_overdue_after_five_business_days(ws):
    # 2018-04-02 is Easter Monday: due 2018-04-09 (Tue 3 .. Fri 6, Mon 9)
    late = registrations.register(ws, PROGRAM, lead("P1", C01), actor="P1", at=APRIL_2)
    assert late.due_on == date(2018, 4, 9)
    rejected = registrations.register(ws, PROGRAM, lead("P1", C02, licences="2"), actor="P1",
                                      at=APRIL_2)
    decided = registrations.register(ws, PROGRAM, lead("P2", C03), actor="P2", at=APRIL_2)
    registrations.decide(ws, PROGRAM, decided.registration_id, accept=True, actor="owner",
                         at=datetime(2018, 4, 5, 9, 0))

    def ids(on):
        return [r.registration_id for r in registrations.overdue(ws, PROGRAM, on=on)]

    assert ids(date(2018, 4, 9)) == []                          # due that day: not yet
    assert ids(date(2018, 4, 10)) == [late.registration_id]
    assert ids(date(2018, 4, 20)) == [late.registration_id]
    assert rejected.status == "rejected"                        # decided ones never overdue
    registrations.decide(ws, PROGRAM, late.registration_id, accept=True, actor="owner",
                         at=datetime(2018, 4, 20, 9, 0))
    assert ids(date(2018, 4, 20)) == []


# ----------------------------------------------------------------- 6. audit
def test_every_register_and_decide_is_audited(ws):
    a = registrations.register(ws, PROGRAM, lead("P1", C01), actor="P1", at=APRIL_2)
    b = registrations.register(ws, PROGRAM, lead("P2", C02, licences="2"), actor="P2",
                               at=datetime(2018, 4, 2, 10, 0))
    c = registrations.register(ws, PROGRAM, lead("P5", C03), actor="P5",
                               at=datetime(2018, 4, 2, 11, 0))
    registrations.decide(ws, PROGRAM, a.registration_id, accept=True, actor="owner",
                         at=datetime(2018, 4, 3, 9, 0))
    registrations.decide(ws, PROGRAM, c.registration_id, accept=False, actor="boss",
                         reason="false information", at=datetime(2018, 4, 3, 10, 0))
    events = audit_events(ws)
    got = [(e.action, e.entity_key, e.actor, e.before and e.before["status"],
            e.after["status"]) for e in events]
    assert got == [
        ("register", a.registration_id, "P1", None, "submitted"),
        ("register", b.registration_id, "P2", None, "rejected"),
        ("register", c.registration_id, "P5", None, "submitted"),
        ("accept", a.registration_id, "owner", "submitted", "accepted"),
        ("reject", c.registration_id, "boss", "submitted", "rejected"),
    ]
    register_a = events[0]
    assert register_a.program == PROGRAM and register_a.at == APRIL_2
    assert register_a.after["data"]["customer_nip"] == C01
    assert register_a.after["partner_id"] == "P1"
    assert events[1].after["reason"] == "too_few_licences"
    assert events[3].after["decided_by"] == "owner"
    assert events[3].at == datetime(2018, 4, 3, 9, 0)
    assert events[4].after["reason"] == "false information"
    assert events[4].before["reason"] is None


# ----------------------------------------------------------------- 5. concurrency
N = 8


def run_parallel(folder: Path, jobs: list) -> list:
    """Run each job(ws) in its own thread with its own Workspace, started together."""
    barrier = threading.Barrier(len(jobs))

    def one(job):
        own = Workspace.open(folder)
        try:
            _ = own.store.engine  # connect before the start line
            barrier.wait(timeout=60)
            return job(own)
        finally:
            own.close()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return [f.result(timeout=300) for f in [pool.submit(one, job) for job in jobs]]


@pytest.fixture
def crowd(tmp_path, store_url, monkeypatch):
    """A workspace with N extra Polish partners X1..XN (valid NIPs)."""
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    monkeypatch.delenv("PAYMASTER_TODAY", raising=False)
    workspace = make_workspace(tmp_path, store_url, extra_partners=N)
    yield workspace
    workspace.close()


def register_job(partner: str, customer: str = C20, at: datetime = APRIL_2):
    def job(own: Workspace) -> str:
        return registrations.register(own, PROGRAM, lead(partner, customer), actor=partner,
                                      at=at).registration_id
    return job


def test_concurrent_auto_accepted_registrations_of_one_lead_one_wins(crowd):
    crowd.config.programs[PROGRAM].auto_accept = True
    crowd.save_config()
    partners = [f"X{i}" for i in range(1, N + 1)]
    ids = run_parallel(crowd.folder, [register_job(p) for p in partners])

    regs = registrations.listing(crowd, PROGRAM)
    assert len(regs) == N and sorted(r.registration_id for r in regs) == sorted(ids)
    assert len(set(ids)) == N
    assert sorted(r.partner_id for r in regs) == sorted(partners)
    accepted = [r for r in regs if r.status == "accepted"]
    rejected = [r for r in regs if r.status == "rejected"]
    assert len(accepted) == 1
    assert len(rejected) == N - 1
    assert {r.reason for r in rejected} == {"already_registered"}
    # all share one submission time: the lock order gives the ids, and the first to take
    # the lock (the smallest id) is the earliest by (submitted_at, registration_id)
    first = min(regs, key=lambda r: (r.submitted_at, r.registration_id))
    assert accepted[0].registration_id == first.registration_id == "REG-000001"
    assert {e.action for e in audit_events(crowd)} == {"register"}
    assert len(audit_events(crowd)) == N


def test_concurrent_registrations_then_concurrent_acceptance_one_wins(crowd):
    partners = [f"X{i}" for i in range(1, N + 1)]
    ids = run_parallel(crowd.folder, [register_job(p) for p in partners])
    regs = registrations.listing(crowd, PROGRAM)
    assert len(regs) == N and len(set(ids)) == N
    assert {(r.status, r.reason) for r in regs} == {("submitted", None)}

    def accept_job(rid):
        def job(own: Workspace):
            reg = registrations.decide(own, PROGRAM, rid, accept=True, actor=f"owner-{rid}")
            return reg.status
        return job

    run_parallel(crowd.folder, [accept_job(rid) for rid in ids])

    regs = registrations.listing(crowd, PROGRAM)
    first = min(regs, key=lambda r: (r.submitted_at, r.registration_id))
    accepted = [r for r in regs if r.status == "accepted"]
    rejected = [r for r in regs if r.status == "rejected"]
    assert [r.registration_id for r in accepted] == [first.registration_id]
    assert len(rejected) == N - 1
    assert {r.reason for r in rejected} == {"already_registered"}
    events = audit_events(crowd)
    decisions = [e for e in events if e.action == "accept"]
    superseded = [e for e in events if e.action == "superseded"]
    assert len(decisions) == N
    # every rejection is explained: either the screening at decision time, or superseded
    assert {e.entity_key for e in superseded} <= {r.registration_id for r in rejected}
    assert all(e.after["by"] != e.entity_key for e in superseded)


def test_concurrent_registrations_of_different_leads_all_stored(crowd):
    # regression: ids numbered by counting rows collided on PostgreSQL (uq_registration)
    customers = [C01, C02, C03, C22]
    jobs = [register_job(f"X{i + 1}", customer) for i, customer in enumerate(customers)]
    ids = run_parallel(crowd.folder, jobs)
    assert len(set(ids)) == len(customers)
    regs = registrations.listing(crowd, PROGRAM)
    assert {(r.status, r.reason) for r in regs} == {("submitted", None)}
    assert len(regs) == len(customers)


# ----------------------------------------------------------------- 4b. one notion of due
ANSWER_WITHIN = "answer_within: {business_days: 5, country: PL}, "


def _workspace_with_plan(tmp_path: Path, store_url: str, answer_within: str) -> Workspace:
    """The example program with its plan's `answer_within` written as given ('' : none)."""
    text = (EXAMPLES / "generuj-leady/plan.yaml").read_text(encoding="utf-8")
    assert ANSWER_WITHIN in text
    plan = tmp_path / "plan.yaml"
    plan.write_text(text.replace(ANSWER_WITHIN, answer_within), encoding="utf-8")
    ws = Workspace.init(tmp_path / "ws", database=store_url)
    programs.add_program(ws, plan, "admin", registrations="registrations")
    for table in ["partners", "customers", "holdings", "vendor_registry", "sales"]:
        imports.import_file(ws, PROGRAM, table, DATA / f"{table}.csv", actor="admin",
                            as_of=date(2018, 7, 1))
    return ws


@pytest.mark.parametrize(("answer_within", "due", "days"), [
    # 3 German business days from Wed 9 May 2018: Thu 10 is Ascension Day (a German
    # holiday, not a Polish one): Fri 11 (1), Mon 14 (2), Tue 15 (3).
    ("answer_within: {business_days: 3, country: DE}, ", date(2018, 5, 15), 3),
    # No `answer_within`: the workspace's 5 days (confirm_within_days) in the plan's
    # country, Poland: Thu 10 (1), Fri 11, Mon 14, Tue 15, Wed 16 (5).
    ("", date(2018, 5, 16), 5),
])
def test_queue_page_and_run_agree_on_when_an_answer_is_due(tmp_path, store_url, monkeypatch,
                                                           answer_within, due, days):
    """The registration's due date, the days the payee's page says are left, the days it
    says the owner has, and the run's overdue day: one count, in one country."""
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    monkeypatch.setenv("PAYMASTER_TODAY", "2018-05-09T10:00:00")
    ws = _workspace_with_plan(tmp_path, store_url, answer_within)
    try:
        reg = registrations.register(ws, PROGRAM, lead("P1", C01), actor="P1",
                                     at=datetime(2018, 5, 9, 9, 0))
        assert reg.status == "submitted" and reg.due_on == due
        office = Principal(1, "owner", "admin", None, "Owner", "en")
        data = registrations_data(ws, office, PROGRAM, "P1")
        (row,) = [r for r in data["registrations"] if r["registration_id"] == reg.registration_id]
        assert data["confirm_within_days"] == days
        assert row["sla"] == {"overdue": False, "business_days": days}
        plan = ws.plan(PROGRAM).plan
        for screening in asof.timed(plan):  # the run's notion, where the plan has one
            assert asof.due_on(reg.submitted_at.date(), screening.decision.answer_within,
                               plan) == due
        if not answer_within:
            assert not asof.timed(plan)
            assert add_business_days(date(2018, 5, 9), 5, "PL") == due
    finally:
        ws.close()
