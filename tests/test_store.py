"""The store's schema on SQLite and PostgreSQL: migrations, append-only triggers."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import inspect, select, text

from paymaster.store import Store
from paymaster.store.models import (
    APPEND_ONLY,
    AuditEvent,
    Base,
    ImportBatch,
    LedgerEntry,
    Payment,
    PayoutBatch,
    Program,
    Record,
)

NOW = datetime(2024, 5, 1, 12, 0, 0)
MIGRATIONS = Path(__file__).resolve().parents[1] / "src/paymaster/store/migrations/versions"


@pytest.fixture
def store(store_url):
    store = Store(store_url)
    store.upgrade()
    yield store
    store.dispose()


def test_upgrade_creates_every_table_and_is_idempotent(store_url):
    store = Store(store_url)
    try:
        store.upgrade()
        tables = set(inspect(store.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert "alembic_version" in tables
        with store.engine.connect() as connection:
            head = connection.execute(text("SELECT version_num FROM alembic_version")).all()

        store.upgrade()  # already at head: nothing to do, nothing fails

        assert set(inspect(store.engine).get_table_names()) == tables
        with store.engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).all() == head
        # the revision of the newest migration file of src/paymaster/store/migrations/versions/
        newest = max(MIGRATIONS.glob("[0-9]*_*.py"), key=lambda p: p.name.split("_")[0])
        revision = re.search(r'^revision = "([^"]+)"', newest.read_text(), re.M).group(1)
        assert head == [(revision,)]
    finally:
        store.dispose()


def _insert_one_of_each(store: Store) -> dict[str, int]:
    """A valid row in every append-only table (and the rows their foreign keys need)."""
    with store.session() as session:
        batch = ImportBatch(program="gl", table_name="sales", file_name="sales.csv",
                            file_sha="a" * 64, as_of=date(2024, 4, 30), snapshot=True,
                            imported_at=NOW, actor="tester", rows=1, added=1, changed=0,
                            removed=0)
        session.add(batch)
        session.flush()
        record = Record(program="gl", table_name="sales", key="S1", content_sha="b" * 64,
                        data={"sale_id": "S1", "amount": "10.00"}, import_id=batch.id,
                        as_of=date(2024, 4, 30))
        entry = LedgerEntry(program="gl", run_id=None, line_key="P1|2024-04|bonus|S1",
                            payee_id="P1", period="2024-04", measure="bonus", source_id="S1",
                            kind="payout", amount=Decimal("123.45"), corrects=None,
                            reason=None, posted_at=NOW, posted_by="tester")
        event = AuditEvent(at=NOW, actor="tester", action="import", entity="imports",
                           entity_key=str(batch.id), program="gl", before=None,
                           after={"rows": 1})
        session.add_all([record, entry, event])
        session.flush()
        for name in ("B1", "B2"):
            session.add(PayoutBatch(id=name, program="gl", created_at=NOW, created_by="tester",
                                    payees=1, entries=1, totals={"PLN": "123.45"},
                                    rows={"columns": [], "rows": []}))
        session.flush()
        payment = Payment(entry_id=entry.id, batch="B1", paid_at=NOW, paid_by="tester")
        session.add(payment)
        session.flush()
        return {"records": record.id, "ledger_entries": entry.id, "audit": event.id,
                "payments": payment.id}


# A column of each table that an UPDATE can set to a valid value.
UPDATES = {
    "records": "content_sha = 'c'",
    "ledger_entries": "amount = 0",
    "audit": "actor = 'someone else'",
    "payments": "batch = 'B2'",
}


def test_append_only_tables_cover_the_models():
    assert set(APPEND_ONLY) == set(UPDATES)
    assert set(APPEND_ONLY) <= set(Base.metadata.tables)


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_append_only_table_refuses_update_and_delete(store, table):
    ids = _insert_one_of_each(store)
    row_id = ids[table]

    with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"), store.session() as session:
        session.execute(text(f"UPDATE {table} SET {UPDATES[table]} WHERE id = :id"),
                        {"id": row_id})

    # The trigger fires before any foreign-key check (payments points at ledger_entries).
    with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"), store.session() as session:
        session.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": row_id})

    with pytest.raises(sqlalchemy.exc.DBAPIError, match=f"{table} is append-only"), \
            store.session() as session:
        session.execute(text(f"DELETE FROM {table}"))

    # Nothing changed, and the store still works after the refused statements.
    with store.session() as session:
        count = session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        assert count == 1
    with store.session() as session:
        entry = session.get(LedgerEntry, ids["ledger_entries"])
        assert entry.amount == Decimal("123.45")
        record = session.get(Record, ids["records"])
        assert record.content_sha == "b" * 64
        assert record.data == {"sale_id": "S1", "amount": "10.00"}


def test_payout_batches_are_append_only_and_payments_need_one(store):
    _insert_one_of_each(store)
    for sql in ("UPDATE payout_batches SET payees = 2", "DELETE FROM payout_batches"):
        with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"), \
                store.session() as session:
            session.execute(text(sql))
    with store.session() as session:
        entry_id = session.scalars(select(LedgerEntry.id)).one()
    with pytest.raises(sqlalchemy.exc.DBAPIError), store.session() as session:
        other = LedgerEntry(program="gl", run_id=None, line_key="x", payee_id="P1",
                            period="2024-04", measure="bonus", source_id=None, kind="payout",
                            amount=Decimal("1.00"), corrects=None, reason=None, posted_at=NOW,
                            posted_by="tester")
        session.add(other)
        session.flush()
        session.add(Payment(entry_id=other.id, batch="no such batch", paid_at=NOW,
                            paid_by="tester"))
    with pytest.raises(sqlalchemy.exc.IntegrityError), store.session() as session:
        # one ledger entry in two batches: refused by the database, whoever asks
        session.add(Payment(entry_id=entry_id, batch="B2", paid_at=NOW, paid_by="tester"))


def test_append_only_tables_accept_more_inserts(store):
    _insert_one_of_each(store)
    with store.session() as session:
        first = session.scalars(select(LedgerEntry)).one()
        session.add(LedgerEntry(program="gl", run_id=None, line_key=first.line_key,
                                payee_id="P1", period="2024-04", measure="bonus",
                                source_id="S1", kind="cancellation", amount=Decimal("-123.45"),
                                corrects=first.id, reason="wrong sale", posted_at=NOW,
                                posted_by="tester"))
    with store.session() as session:
        total = sum(e.amount for e in session.scalars(select(LedgerEntry)))
        assert total == Decimal("0.00")


def test_ordinary_table_can_be_updated_and_deleted(store):
    with store.session() as session:
        session.add(Program(name="gl", plan_path="plans/gl.yaml", plan_sha="d" * 64, plan_text="program: gl",
                            added_at=NOW))
    with store.session() as session:
        session.execute(text("UPDATE programs SET plan_sha = :sha WHERE name = 'gl'"),
                        {"sha": "e" * 64})
    with store.session() as session:
        program = session.scalars(select(Program).where(Program.name == "gl")).one()
        assert program.plan_sha == "e" * 64
        program.plan_path = "plans/gl-v2.yaml"  # through the ORM as well
    with store.session() as session:
        assert session.scalars(select(Program.plan_path)).one() == "plans/gl-v2.yaml"
        session.execute(text("DELETE FROM programs"))
    with store.session() as session:
        assert session.scalars(select(Program)).all() == []


MONEY_VALUES = [Decimal("0.10"), Decimal("-0.01"), Decimal("99999999999999.99"),
                Decimal("1234567890123.45"), Decimal("0.00")]


def test_money_is_stored_exactly(store):
    """Amounts come back as the same Decimals: SQLite keeps them as text, PostgreSQL as
    NUMERIC; no binary float on the way (0.10 stays 0.10, 16 digits stay 16 digits)."""
    from paymaster.store.models import LedgerEntry

    with store.session() as session:
        for i, amount in enumerate(MONEY_VALUES):
            session.add(LedgerEntry(program="gl", run_id=None, line_key=f"k{i}", payee_id="P1",
                                    period="2018-04", measure="deal", source_id=None,
                                    kind="payout", amount=amount, corrects=None, reason=None,
                                    posted_at=NOW, posted_by="test"))
    with store.session() as session:
        back = [e.amount for e in session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))]
    assert back == MONEY_VALUES
    assert [str(a) for a in back] == [str(a) for a in MONEY_VALUES]
