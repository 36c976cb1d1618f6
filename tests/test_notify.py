"""E-mail notifications against a real SMTP server (aiosmtpd) on this machine: each decision
tells the payee's users in their own language, opt-outs hold, a reminder goes out once,
and a broken mail server leaves the decision made and the message in the outbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import socket
import threading
import time
from decimal import Decimal
from email import policy

import pytest
from aiosmtpd.controller import Controller
from babel.numbers import format_currency
from sqlalchemy import select
from typer.testing import CliRunner

from paymaster.cli import app
from paymaster.mail_config import NotificationsConfig, SmtpConfig
from paymaster.services import (accounts, disputes, enrollments, ledger, registrations,
                                statements)
from paymaster.store.models import Dispute, Registration, RunLine, User
from paymaster.workspace import Workspace, WorkspaceError

GL, TI, ST = "generuj-leady", "trade-in-accelerator", "sales-team"


class Inbox:
    """What the SMTP server received: {address: [messages]}."""

    def __init__(self) -> None:
        self.mail: dict[str, list[email.message.EmailMessage]] = {}

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        for address in envelope.rcpt_tos:
            self.mail.setdefault(address, []).append(message)
        return "250 OK"

    def take(self) -> dict[str, list[email.message.EmailMessage]]:
        taken, self.mail = self.mail, {}
        return taken


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def _texts(message) -> tuple[str, str]:
    return (message.get_body(("plain",)).get_content(),
            message.get_body(("html",)).get_content())


def _use_smtp(ws: Workspace, port: int, timeout: float = 5) -> Workspace:
    """Configure the mail server in paymaster.yaml and open the workspace from it again."""
    ws.config.notifications = NotificationsConfig(smtp=SmtpConfig.model_validate(
        {"host": "127.0.0.1", "port": port, "starttls": False, "from": "payouts@example.com",
         "timeout": timeout}))
    ws.save_config()
    ws.close()
    return Workspace.open(ws.folder)


def _cli(*args: str, stdin: str | None = None) -> str:
    done = CliRunner().invoke(app, list(args), input=stdin)
    assert done.exit_code == 0, done.output
    return done.output


def test_notifications_end_to_end(demo_workspace, smtp_server) -> None:
    inbox, port = smtp_server
    ws = _use_smtp(demo_workspace, port)
    folder = str(ws.folder)
    try:
        addresses = {"admin": "anna@example.com", "approver": "piotr@example.com",
                     "viewer": "fiona@example.com", "alfa": "alfa@example.pl",
                     "beta": "beta@example.pl", "partner-a": "a@example.com",
                     "rep01": "rep01@example.com", "partner-d": "d@example.cn"}
        for username, address in addresses.items():
            _cli("user", "email", username, address, "-w", folder)
        users = {u["username"]: u for u in accounts.list_users(ws)}
        assert users["beta"]["email"] == "beta@example.pl"
        accounts.set_locale(ws, _id(ws, "approver"), "zh")
        _cli("user", "add", "partner-b", "--role", "partner", "--payee", "B", "--locale", "zh",
             "--email", "b@example.cn", "--password-stdin", "-w", folder,
             stdin="partner-b-demo-pass\n")
        assert "registration" in _cli("user", "notify", "alfa", "--off", "registration",
                                      "-w", folder)
        _cli("user", "notify", "partner-a", "--off", "reminder", "-w", folder)

        # Reminders: Beta's lead came on Mon 2018-06-11 14:00; 5 Polish business days make
        # it due Mon 2018-06-18. Two business days before is Thu 06-14 (Fri 15, Mon 18).
        beta_reg = _registration(ws, "P2")
        alfa_reg = _registration(ws, "P1")
        assert beta_reg.due_on == dt.date(2018, 6, 18)
        assert "0 reminder(s) queued" in _cli("notify", "due", "--at", "2018-06-13", "-w", folder)
        assert "2 reminder(s) queued" in _cli("notify", "due", "--at", "2018-06-14", "-w", folder)
        assert "0 reminder(s) queued" in _cli("notify", "due", "--at", "2018-06-15", "-w", folder)
        mail = inbox.take()
        assert sorted(mail) == ["anna@example.com", "piotr@example.com"]  # the office only
        (en,), (zh,) = mail["anna@example.com"], mail["piotr@example.com"]
        ident = beta_reg.registration_id
        assert en["Subject"] == f"Registration {ident} is due for a decision by June 18, 2018"
        assert zh["Subject"] == f"登记 {ident} 须在 2018年6月18日 前作出决定"
        assert en["From"] == "payouts@example.com"

        # B's enrollment (phase 7) came on Fri 2008-09-12: 10 Korean business days after
        # Chuseok (13-15 Sep) make it due Mon 09-29; two business days before is Thu 09-25
        # (Fri 26, Mon 29). Phase 7 closes Tue 09-30: Partner D (AU), not enrolled in it,
        # hears on Fri 09-26 (Mon 29, Tue 30); Partner A turned reminders off.
        assert _submitted(ws, "B").due_on == dt.date(2008, 9, 29)
        assert "2 reminder(s) queued" in _cli("notify", "due", "--at", "2008-09-25", "-w", folder)
        assert "1 reminder(s) queued" in _cli("notify", "due", "--at", "2008-09-26", "-w", folder)
        mail = inbox.take()
        assert sorted(mail) == ["anna@example.com", "d@example.cn", "piotr@example.com"]
        enrollment = _submitted(ws, "B").enrollment_id
        assert mail["anna@example.com"][0]["Subject"] == (
            f"Enrollment {enrollment} is due for a decision by September 29, 2008")
        assert mail["d@example.cn"][0]["Subject"] == "第 7 阶段报名于 2008年9月30日 截止"

        # Decisions: each partner hears in its language; Alfa turned registrations off.
        registrations.decide(ws, GL, ident, accept=False, reason="duplicate lead",
                             actor="approver")
        registrations.decide(ws, GL, alfa_reg.registration_id, accept=False,
                             reason="duplicate lead", actor="approver")
        enrollments.move(ws, TI, enrollment, "reject",
                         reason="certification_not_valid", actor="approver")
        case = disputes.listing(ws, TI, "A", status="open")[0]
        disputes.resolve(ws, TI, case.id, accept=False, resolution="RMA-A77 is not in our "
                         "records", actor="approver")
        run = next(r for r in ledger.runs(ws, ST) if r.status == "preview")
        ledger.approve(ws, run.id, actor="approver")
        ledger.post(ws, run.id, actor="approver")
        mail = inbox.take()
        assert "alfa@example.pl" not in mail
        (pl,), (b,), (a,), (rep,) = (mail["beta@example.pl"], mail["b@example.cn"],
                                     mail["a@example.com"], mail["rep01@example.com"])
        assert pl["Subject"] == f"Rejestracja {ident} odrzucona"
        text, html = _texts(pl)
        assert "Powód: duplicate lead" in text and "Powód: duplicate lead" in html
        assert pl["Content-Language"] == "pl"
        assert b["Subject"] == f"报名 {enrollment} 被拒绝"
        assert a["Subject"] == f"Dispute {case.id} rejected"
        assert "The program office says: RMA-A77 is not in our records" in _texts(a)[0]
        total = _lines_total(ws, run.id, "R01")
        currency = ws.plan(ST).plan.currency
        # What the rep reads is its published statement (the run posted is the one its
        # statement shows), in a payee's words: period, program, lines, total; no run id.
        assert rep["Subject"] == "Your statement for 2025-Q2 is published"
        text, html = _texts(rep)
        lines = _lines_count(ws, run.id, "R01")
        title = ws.plan(ST).plan.title
        money = format_currency(total, currency, locale="en_US")
        assert (f"Your statement for 2025-Q2 in {title} is published: {lines} line(s), "
                f"{money} in total. Read it on the Statement page of the portal.") in text
        assert f"Run {run.id}" not in text and "is published" in html
        assert statements.build(ws, ST, "R01").run_id == run.id
        assert "sent" in _cli("notify", "send", "-w", folder)  # nothing left: nothing again
        assert inbox.take() == {}

        # A broken server: the decision stands, the message waits with its error.
        ws = _use_smtp(ws, _free_port())
        other = disputes.open_case(ws, TI, "A", "another missing return", actor="A",
                                   details=case.details)
        disputes.resolve(ws, TI, other.id, accept=False, resolution="not ours",
                         actor="approver")
        assert _status(ws, other.id) == "rejected"
        waiting = _cli("notify", "outbox", "-w", folder)
        assert "a@example.com" in waiting and "ConnectionRefusedError" in waiting
        broken = CliRunner().invoke(app, ["notify", "send", "-w", folder])
        assert broken.exit_code == 1 and "0 message(s) sent, 1 failed" in broken.output
        ws = _use_smtp(ws, port)
        assert "1 message(s) sent, 0 failed" in _cli("notify", "send", "-w", folder)
        assert "0 message(s) sent, 0 failed" in _cli("notify", "send", "-w", folder)
        (again,) = inbox.take()["a@example.com"]
        assert again["Subject"] == f"Dispute {other.id} rejected"
    finally:
        ws.close()


def _id(ws: Workspace, username: str) -> int:
    with ws.store.reading() as session:
        return session.scalars(select(User.id).where(User.username == username)).one()


def _registration(ws: Workspace, partner: str) -> Registration:
    return next(r for r in registrations.listing(ws, GL, partner) if r.status == "submitted")


def _submitted(ws: Workspace, partner: str):
    return next(e for e in enrollments.listing(ws, TI, partner) if e.status == "submitted")


def _lines_count(ws: Workspace, run_id: int, payee: str) -> int:
    with ws.store.reading() as session:
        return len(session.scalars(select(RunLine.id).where(
            RunLine.run_id == run_id, RunLine.payee_id == payee)).all())


def _lines_total(ws: Workspace, run_id: int, payee: str) -> Decimal:
    with ws.store.reading() as session:
        return sum(session.scalars(select(RunLine.amount).where(
            RunLine.run_id == run_id, RunLine.payee_id == payee)), Decimal(0))


def _status(ws: Workspace, dispute_id: int) -> str:
    with ws.store.reading() as session:
        return session.get(Dispute, dispute_id).status


@pytest.mark.parametrize(("smtp", "message"), [
    ({"host": "mail", "from": "payouts@example.com", "password": "s3cret"},
     "notifications.smtp.password: Extra inputs are not permitted"),
    ({"host": "mail", "from": "payouts@example.com", "password_env": "my password"},
     "'my password' is not an environment variable name"),
    ({"host": "mail", "from": "payouts"}, "'payouts' is not an e-mail address"),
    ({"from": "payouts@example.com"}, "notifications.smtp.host: Field required"),
])
def test_smtp_settings_are_checked_when_the_workspace_opens(tmp_path, smtp, message) -> None:
    from ruamel.yaml import YAML

    with (tmp_path / "paymaster.yaml").open("w") as handle:
        YAML().dump({"notifications": {"smtp": smtp}}, handle)
    with pytest.raises(WorkspaceError) as caught:
        Workspace.open(tmp_path)
    assert any(message in p.message for p in caught.value.problems), caught.value.problems


def test_each_user_sets_address_and_kinds_on_the_account_page(demo_workspace) -> None:
    from starlette.testclient import TestClient

    from paymaster.services import notifications
    from paymaster.services.accounts import DEMO_ACCOUNTS
    from paymaster.web.app import create_app

    client = TestClient(create_app(demo_workspace))
    password = next(a[1] for a in DEMO_ACCOUNTS if a[0] == "beta")
    login = client.post("/api/login", json={"username": "beta", "password": password})
    client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    page = client.get("/account")  # beta reads Polish
    assert page.status_code == 200 and "Powiadomienia e-mail" in page.text
    assert 'href="/account"' in page.text  # the header's name leads here

    saved = client.post("/account/notifications", data={
        "email": "beta@example.pl", "on": ["registration", "dispute", "reminder"]},
        follow_redirects=False)
    assert saved.status_code == 303
    kinds = {k["kind"]: k["on"] for k in client.get("/api/account").json()["kinds"]}
    assert kinds == {"registration": True, "enrollment": False, "dispute": True,
                     "statement": False, "reminder": True}
    beta = _user(demo_workspace, "beta")
    assert beta.email == "beta@example.pl"
    assert not notifications.wants(beta, "statement") and notifications.wants(beta, "dispute")

    bad = client.post("/account/notifications", data={"email": "not an address"})
    # beta reads Polish: the refusal in Polish, the address as given in <code>
    assert bad.status_code == 400 and \
        "<code>not an address</code> nie jest adresem e-mail" in bad.text
    off = client.post("/api/account/notifications", json={"email": "beta@example.pl",
                                                          "off": ["all"]})
    assert off.status_code == 200
    assert not any(k["on"] for k in off.json()["kinds"])
    assert not notifications.wants(_user(demo_workspace, "beta"), "registration")
    refused = client.post("/api/account/notifications", json={"off": ["sms"]})
    assert refused.status_code == 400 and "not a kind of notification" in refused.text


def _user(ws: Workspace, username: str) -> User:
    with ws.store.reading() as session:
        return session.scalars(select(User).where(User.username == username)).one()


def test_the_outbox_on_each_database_sends_a_message_once(store_url, tmp_path, smtp_server,
                                                         monkeypatch) -> None:
    """The outbox's queries (claiming with FOR UPDATE SKIP LOCKED on PostgreSQL, JSON
    payloads, the unique event key) on SQLite and PostgreSQL."""
    from paymaster.services import notifications

    inbox, port = smtp_server
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    ws = _use_smtp(Workspace.init(tmp_path / "ws", store_url), port)
    try:
        accounts.create_user(ws, "office", "office-pass-1", "admin", actor="test",
                             email="office@example.com", locale="pl")
        office = _user(ws, "office")
        payload = {"what": "registration_decision", "id": "R7", "date": dt.date(2026, 5, 4)}
        for queued in (1, 0):  # the same event again queues nothing
            with ws.store.session() as session:
                assert notifications.queue(ws, session, "reminder", None, "R7", payload,
                                           [office]) == queued
        (message,) = inbox.take()["office@example.com"]
        assert message["Subject"] == "Rejestracja R7 czeka na decyzję do 4 maja 2026"
        (row,) = notifications.outbox(ws, unsent=False)
        assert row.sent_at is not None and row.attempts == 1 and row.last_error is None
        assert notifications.deliver(ws).sent == 0
    finally:
        ws.close()


class HeldInbox(Inbox):
    """An SMTP server that holds each message until the test lets it through."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.arrived.set()
        while not self.release.is_set():
            await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


def test_a_decision_in_the_portal_answers_before_a_slow_mail_server_takes_its_mail(
        demo_workspace) -> None:
    """The portal's courier sends after the response: the approver's decision returns
    while the SMTP server still holds the message (a sender in the request would wait
    out the 30 s timeout), and the mail arrives once the server lets it through; the
    outbox marks it sent."""
    from starlette.testclient import TestClient

    from paymaster.services import notifications
    from paymaster.services.accounts import DEMO_ACCOUNTS
    from paymaster.web.app import create_app

    inbox = HeldInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    ws = _use_smtp(demo_workspace, controller.port, timeout=30)
    try:
        notifications.set_email(ws, "beta", "beta@example.pl", actor="test")
        ident = _registration(ws, "P2").registration_id
        with TestClient(create_app(ws)) as client:  # `with`: the app's lifespan runs
            password = next(a[1] for a in DEMO_ACCOUNTS if a[0] == "approver")
            login = client.post("/api/login", json={"username": "approver",
                                                    "password": password})
            client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
            started = time.monotonic()
            answer = client.post(f"/api/office/{GL}/registrations/{ident}/decision",
                                 json={"accept": False, "reason": "duplicate lead"})
            took = time.monotonic() - started
            assert answer.status_code == 200, answer.text
            assert answer.json()["registration"]["status"] == "rejected"
            # The server has the message in hand and holds it: the user was not held.
            assert inbox.arrived.wait(10) and inbox.mail == {}
            assert took < 15, took  # a loaded machine, yet far from the timeout
            (row,) = notifications.outbox(ws)
            assert row.sent_at is None and row.recipient == "beta@example.pl"
            inbox.release.set()
            deadline = time.monotonic() + 10
            while not inbox.mail and time.monotonic() < deadline:
                time.sleep(0.02)
        (pl,) = inbox.take()["beta@example.pl"]
        assert pl["Subject"] == f"Rejestracja {ident} odrzucona"
        assert notifications.outbox(ws) == []  # sent: nothing waits
    finally:
        inbox.release.set()
        controller.stop()
        ws.close()


def test_a_mail_names_the_program_by_its_title_in_the_readers_language(demo_workspace) -> None:
    """A Polish and a Chinese reader are told the program's title as the plan translates
    it (sales-team's `translations:`), an English reader as the plan writes it."""
    from types import SimpleNamespace

    from sqlalchemy.orm import Session

    from paymaster.mail_text import render
    from paymaster.services import notifications
    from paymaster.store.outbox_models import OutboxMessage

    ws = demo_workspace
    title = ws.plan(ST).plan.title
    assert title == "Sales team incentive plan 2025"
    expected = {"pl": "Plan motywacyjny zespołu sprzedaży 2025", "zh": "2025 年销售团队激励计划",
                "en": title}
    readers = [SimpleNamespace(id=_id(ws, name), email=f"{name}@example.com", locale=language,
                               active=True, notify_off=[])
               for name, language in (("alfa", "pl"), ("partner-d", "zh"), ("admin", "en"))]
    payload = {"what": "posted", "period": "2025-Q2", "lines": 3, "total": "10.00",
               "currency": "CNY", "run_id": 1}
    session = Session(ws.store.engine)
    try:  # queued, read back and rolled back: the demo's outbox is left as it was
        notifications.queue(ws, session, "statement", ST, "title-in-language", payload,
                            readers, after_commit=False)
        queued = session.scalars(select(OutboxMessage).where(
            OutboxMessage.dedup_key.like("statement:title-in-language:%"))).all()
        said = {m.locale: render(m.kind, m.payload, m.locale)[1] for m in queued}
    finally:
        session.rollback()
        session.close()
    assert sorted(said) == ["en", "pl", "zh"]
    for language, text in said.items():
        assert expected[language] in text, (language, text)
    assert title not in said["pl"] and title not in said["zh"]
