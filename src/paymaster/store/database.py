"""Opening a store: an SQLAlchemy engine on SQLite (default) or PostgreSQL, migrated to head.

Two kinds of transaction. `session()` writes: on SQLite it takes the database's write lock
when it starts (BEGIN IMMEDIATE), so writers queue up instead of one failing half-way.
`reading()` only reads: a consistent snapshot that never takes or waits for the write lock
(SQLite: a deferred BEGIN in WAL mode; PostgreSQL: REPEATABLE READ, READ ONLY), and the
database itself refuses any write in it. Pages and reports read; only changes write, and
they keep their write transactions short (no engine run inside one).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from paymaster.errors import PaymasterError, Problem


_MIGRATING = threading.Lock()
# The execution option that marks the read-only engine's connections.
READ_ONLY = "paymaster_read_only"


class Store:
    """The database of one workspace. `session()` is one transaction: all or nothing."""

    def __init__(self, url: str):
        self.url = url
        self.engine = _engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Same pool, connections marked read-only: their transactions begin as reads.
        self._readers = sessionmaker(self.engine.execution_options(**{READ_ONLY: True}),
                                     expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (a no-op when it is current)."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", "paymaster.store:migrations")
        head = ScriptDirectory.from_config(config).get_current_head()
        with self.engine.connect() as connection:
            if MigrationContext.configure(connection).get_current_revision() == head:
                return  # the common case, and safe from any thread
        # Alembic's command API keeps module-level state: one migration at a time.
        with _MIGRATING, self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One write transaction: all or nothing; on SQLite it holds the write lock."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """One read transaction: a snapshot of the store as of its first read, taken
        without the write lock, so a long write elsewhere never holds it up. Writing in
        it is an error (the database refuses: "readonly database" / "read-only
        transaction")."""
        with self._readers() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith(("postgresql", "postgres")):
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        # pool_pre_ping: a pooled connection is tested before use and replaced if the
        # server dropped it (a restart, a failover, an idle timeout), so the first
        # request after a restart does not fail.
        engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
        event.listen(engine, "begin", _postgres_begin)
        return engine
    raise PaymasterError(Problem(
        f"unsupported database URL: {url}",
        hint="use sqlite:///path/to/paymaster.db or postgresql://user@host:port/dbname",
    ))


def _sqlite_connect(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # autocommit at driver level; we issue BEGIN
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _private_sqlite_file(url: str) -> None:
    """Create a new SQLite file readable by its owner only (SQLite gives its -wal and -shm
    files the same mode)."""
    path = url.split("///", 1)[1].split("?", 1)[0] if "///" in url else ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    # one that exists is kept; a missing folder is SQLite's own error to report
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_begin(conn) -> None:
    if conn.get_execution_options().get(READ_ONLY):
        # Deferred: a WAL reader, which neither takes nor waits for the write lock.
        conn.exec_driver_sql("PRAGMA query_only = ON")
        conn.exec_driver_sql("BEGIN")
    else:
        # Take the write lock when a transaction starts, so two writers queue up instead
        # of one failing half-way with "database is locked".
        conn.exec_driver_sql("PRAGMA query_only = OFF")  # the connection may have read before
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _postgres_begin(conn) -> None:
    if conn.get_execution_options().get(READ_ONLY):
        # One snapshot for the whole read (as on SQLite); read-only transactions never
        # fail to serialise, so REPEATABLE READ costs them nothing.
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"
