"""Alembic environment: the caller hands over an open connection (see Store.upgrade)."""

from alembic import context

from paymaster.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the `alembic` command line lands here
    raise RuntimeError("run migrations through paymaster (Store.upgrade), not bare alembic")
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
