"""The store: database schema (SQLAlchemy 2), Alembic migrations, the ledger's tables."""

from paymaster.store.database import Store, sqlite_url

__all__ = ["Store", "sqlite_url"]
