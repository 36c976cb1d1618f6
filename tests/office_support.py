"""What the office's web tests share: a logged-in client, valid tax ids, a fresh
registration, CSV bytes and the example's rows, the store's counts."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paymaster.services import registrations
from paymaster.services.accounts import DEMO_ACCOUNTS
from paymaster.store.models import (
    Dispute,
    Enrollment,
    ImportBatch,
    LedgerEntry,
    Record,
    Registration,
    Run,
)
from paymaster.web.app import create_app

from conftest import EXAMPLES

GL = "generuj-leady"
TIA = "trade-in-accelerator"
PASSWORDS = {a[0]: a[1] for a in DEMO_ACCOUNTS}


def login(ws, username: str, csrf: bool = True) -> TestClient:
    client = TestClient(create_app(ws))
    response = client.post("/api/login", json={"username": username,
                                               "password": PASSWORDS[username]})
    assert response.status_code == 200, response.text
    if csrf:
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


def nip(prefix: str) -> str:
    """A valid Polish tax id from 9 digits (the check digit appended)."""
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    check = sum(int(d) * w for d, w in zip(prefix, weights, strict=True)) % 11
    assert check != 10, "pick another prefix"
    return prefix + str(check)


def new_registration(ws, monkeypatch, customer_nip: str = "5200316762",
                     name: str = "Client C04") -> Registration:
    """A lead of P1 for a listed customer nobody registered, inside the promotion."""
    monkeypatch.setenv("PAYMASTER_TODAY", "2018-05-10T10:00:00")
    reg = registrations.register(ws, GL, {
        "partner_id": "P1", "customer_name": name, "customer_address": "Lodz",
        "customer_nip": customer_nip, "family": "M365", "plan": "E3", "licences": "10",
        "pcs": "12", "partner_name": "Partner P1", "partner_address": "Warszawa",
        "partner_nip": "5208710903", "contact_name": "Jan Kowalski",
        "contact_phone": "+48 600 000 000", "contact_email": "kontakt@partner.pl"},
        actor="P1")
    assert reg.status == "submitted", reg.reason
    return reg


def csv_bytes(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def example_rows(program: str, table: str) -> list[dict]:
    with (EXAMPLES / program / "data" / f"{table}.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def store_counts(ws) -> tuple[int, int]:
    with ws.store.session() as session:
        return (session.scalar(select(func.count()).select_from(ImportBatch)),
                session.scalar(select(func.count()).select_from(Record)))


def store_snapshot(ws) -> tuple:
    """What a refused request must leave as it was: every decision's status, the ledger's
    length, the imports."""
    with ws.store.session() as session:
        state = (
            sorted((r.registration_id, r.status) for r in session.scalars(select(Registration))),
            sorted((e.enrollment_id, e.status) for e in session.scalars(select(Enrollment))),
            sorted((r.id, r.status) for r in session.scalars(select(Run))),
            sorted((d.id, d.status) for d in session.scalars(select(Dispute))),
            session.scalar(select(func.count()).select_from(LedgerEntry)),
        )
    return state + store_counts(ws)
