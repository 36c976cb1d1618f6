"""Issue 15, item 9: reads never wait for the write lock, and a registration's check (an
engine run) is not done inside a write transaction; first wins stays race-safe.

On SQLite and on a real PostgreSQL (`store_url`). Nothing here is timed: a read that would
wait for a writer waits for a writer that never lets go (until the test's own deadline),
and "outside the write transaction" is probed from another connection while the check
runs, with a lock attempt that fails at once instead of waiting.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import datetime

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import InternalError, OperationalError

from paymaster.services import accounts, calc, engine_pool, registrations, sessions
from paymaster.store.models import AuditEvent, User
from paymaster.workspace import Workspace
from test_registrations import C20, PROGRAM, lead, make_workspace, run_parallel

# Without the session's SQL cache (tests/conftest.py): injects faults into the store and
# services around runs.
pytestmark = pytest.mark.no_sql_cache

APRIL_2 = datetime(2018, 4, 2, 9, 0)
DEADLINE = 20  # seconds a read may take while a writer holds the lock (SQLite waits 60)


@pytest.fixture
def leads(tmp_path, store_url, monkeypatch):
    """The example Generuj Leady workspace with two extra Polish partners X1, X2."""
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    monkeypatch.delenv("PAYMASTER_TODAY", raising=False)
    ws = make_workspace(tmp_path, store_url, extra_partners=2)
    yield ws
    ws.close()


def _while_a_writer_holds_the_lock(ws: Workspace, read) -> object:
    """Run read() while another thread holds an open write transaction that has written."""
    holding, release = threading.Event(), threading.Event()

    def writer():
        with ws.store.session() as session:
            session.execute(text("UPDATE users SET display_name = display_name || '!'"))
            holding.set()
            release.wait(60)

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(30)
    result: list = []
    reader = threading.Thread(target=lambda: result.append(read()))
    try:
        reader.start()
        reader.join(DEADLINE)
        assert not reader.is_alive(), "the read waited for the writer's lock"
    finally:
        release.set()
        thread.join()
        reader.join()
    return result[0]


def test_reads_do_not_wait_for_a_writer(leads):
    accounts.create_user(leads, "owner", "owner-pass-123", "admin", actor="test")
    with leads.store.reading() as session:
        uid = session.scalars(select(User.id)).one()
    token = sessions.start(leads, uid)
    # the session lookup every request makes, a partner's queue, and the store's own reads
    user = _while_a_writer_holds_the_lock(leads, lambda: sessions.user_of(leads, token))
    assert user.display_name == "owner"  # the committed state, not the writer's
    assert _while_a_writer_holds_the_lock(
        leads, lambda: registrations.listing(leads, PROGRAM, "X1")) == []


def test_a_read_transaction_refuses_to_write(leads):
    with pytest.raises((OperationalError, InternalError), match="(?i)read-?only"), \
            leads.store.reading() as session:
        session.execute(text("UPDATE users SET locale = 'pl'"))


def _lock_taken_elsewhere(ws: Workspace) -> str | None:
    """From another connection, without waiting: is the lock a registration's decision
    takes (SQLite: the database's write lock; PostgreSQL: row locks on `opportunities`)
    held now? Its error text if so, None if free."""
    url = ws.store.url
    try:
        if url.startswith("sqlite"):
            connection = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0.5,
                                         isolation_level=None)
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("ROLLBACK")
            finally:
                connection.close()
        else:
            with psycopg.connect(url) as connection:
                connection.execute("SELECT id FROM opportunities FOR UPDATE NOWAIT")
                connection.rollback()
    except (sqlite3.OperationalError, psycopg.errors.LockNotAvailable) as err:
        return str(err)
    return None


def _engine_hook(monkeypatch, during):
    """Call during() each time the engine calculates (then calculate as usual)."""
    real = calc.calculate

    def hooked(*args, **kwargs):
        during()
        return real(*args, **kwargs)

    monkeypatch.setattr(calc, "calculate", hooked)


@pytest.mark.parametrize("accept_later", [False, True], ids=["register", "accept"])
def test_the_check_holds_no_lock_while_the_engine_runs(leads, monkeypatch, accept_later):
    held: list[str | None] = []
    if accept_later:  # the owner's acceptance runs the check again
        reg = registrations.register(leads, PROGRAM, lead("X1", C20), actor="X1", at=APRIL_2)
        assert reg.status == "submitted"
    _engine_hook(monkeypatch, lambda: held.append(_lock_taken_elsewhere(leads)))
    if accept_later:
        done = registrations.decide(leads, PROGRAM, reg.registration_id, accept=True,
                                    actor="owner")
    else:
        done = registrations.register(leads, PROGRAM, lead("X1", C20), actor="X1", at=APRIL_2)
    assert done.status == ("accepted" if accept_later else "submitted")
    assert held == [None]  # the check ran once, and nothing was locked meanwhile


def test_two_registrations_whose_checks_overlap_still_have_one_winner(leads, monkeypatch):
    """Both checks run at the same time (a barrier inside the engine: with the check
    under the write lock they never could), each sees no winner yet; the first to commit
    wins, the other finds the store changed under its check, checks again, and loses.
    Threads of one process take turns (registrations._turn); two portal processes do
    not, and that is what this plays, by giving each registration a turn of its own."""
    monkeypatch.setattr(registrations, "_turn", lambda _ws, _program: threading.Lock())
    leads.config.programs[PROGRAM].auto_accept = True
    leads.save_config()
    barrier = threading.Barrier(2)
    calls: list[str] = []
    lock = threading.Lock()

    def together():
        with lock:
            calls.append(threading.current_thread().name)
            first_two = len(calls) <= 2
        if first_two:
            barrier.wait(timeout=60)

    _engine_hook(monkeypatch, together)

    def job(partner):
        return lambda own: registrations.register(own, PROGRAM, lead(partner, C20),
                                                  actor=partner, at=APRIL_2).registration_id

    ids = run_parallel(leads.folder, [job("X1"), job("X2")])
    regs = registrations.listing(leads, PROGRAM)
    assert sorted(r.registration_id for r in regs) == sorted(ids)
    outcome = sorted((r.status, r.reason) for r in regs)
    assert outcome == [("accepted", None), ("rejected", "already_registered")]
    winner = next(r for r in regs if r.status == "accepted")
    assert winner.registration_id == "REG-000001"  # the first to commit
    assert len(calls) == 3  # the loser's check ran again on the changed store
    with leads.store.reading() as session:
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.entity == "registration")).all()
    assert sorted(e.after["status"] for e in events) == ["accepted", "rejected"]


def test_the_server_runs_engine_work_in_worker_processes(tmp_path, monkeypatch):
    """`paymaster serve` starts engine_pool: checks run in a worker (the server's
    interpreter lock stays free for pages), background work in one at a lower priority;
    the verdict is the same as in process."""
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    monkeypatch.delenv("PAYMASTER_TODAY", raising=False)
    ws = make_workspace(tmp_path, f"sqlite:///{tmp_path}/paymaster.db", extra_partners=1)
    engine_pool.start(1)
    try:
        assert engine_pool.run(os.getpid) != os.getpid()
        assert engine_pool.run(os.nice, 0, background=True) == os.nice(0) + 10
        reg = registrations.register(ws, PROGRAM, lead("X1", C20, licences="1"), actor="X1",
                                     at=APRIL_2)
        assert (reg.status, reg.reason) == ("rejected", "too_few_licences")
    finally:
        engine_pool.stop()
        ws.close()
    assert engine_pool.run(os.getpid) == os.getpid()
