"""A throwaway PostgreSQL server for tests: initdb in a temporary folder, start, stop, delete.

    with TemporaryPostgres() as server:
        url = server.create_database("t1")   # postgresql://paymaster@127.0.0.1:PORT/t1

Needs the PostgreSQL server binaries (Debian: `apt-get install postgresql-15`, or the
`postgresql` metapackage). initdb and postgres refuse to run as root, so as root they run as
the `postgres` user, and the temporary folder is handed over to that user.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "paymaster"
SERVICE_USER = "postgres"


def find_binaries() -> Path:
    """The folder holding initdb and pg_ctl: from PATH, else the newest /usr/lib/postgresql/*/bin."""
    initdb = shutil.which("initdb")
    if initdb:
        folder = Path(initdb).resolve().parent
        if (folder / "pg_ctl").exists():
            return folder
        pg_ctl = shutil.which("pg_ctl")
        if pg_ctl:
            folder = Path(pg_ctl).resolve().parent
            if (folder / "initdb").exists():
                return folder

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.name
        return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)

    candidates = [p for p in glob.glob("/usr/lib/postgresql/*/bin")
                  if (Path(p) / "initdb").exists() and (Path(p) / "pg_ctl").exists()]
    if candidates:
        return Path(max(candidates, key=version))
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH nor in "
        "/usr/lib/postgresql/*/bin; on Debian install them with "
        "`apt-get install postgresql-15` (or the `postgresql` metapackage)"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TemporaryPostgres:
    """A PostgreSQL server on a free loopback port, living in a temporary folder."""

    def __init__(self) -> None:
        self.bindir = find_binaries()
        self.port: int | None = None
        self.folder: Path | None = None
        self._started = False

    # -- paths --------------------------------------------------------------------------
    @property
    def data(self) -> Path:
        assert self.folder is not None
        return self.folder / "data"

    @property
    def log(self) -> Path:
        assert self.folder is not None
        return self.folder / "server.log"

    @property
    def sockets(self) -> Path:
        assert self.folder is not None
        return self.folder / "sock"

    # -- running commands ---------------------------------------------------------------
    def _as_root(self) -> bool:
        return hasattr(os, "geteuid") and os.geteuid() == 0

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_root():
            command = ["runuser", "-u", SERVICE_USER, "--", *command]
        return subprocess.run(command, cwd=self.folder, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, check=False)

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty server log)"

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> TemporaryPostgres:
        self.folder = Path(tempfile.mkdtemp(prefix="pgtest-"))
        try:
            self.sockets.mkdir()
            if self._as_root():
                shutil.chown(self.folder, SERVICE_USER, SERVICE_USER)
                shutil.chown(self.sockets, SERVICE_USER, SERVICE_USER)
            result = self._run("initdb", "-D", str(self.data), "--auth=trust", "-U", USER,
                               "--encoding=UTF8", "--locale=C", "--no-sync")
            if result.returncode != 0:
                raise RuntimeError(f"initdb failed ({result.returncode}):\n"
                                   f"{result.stdout}\n{result.stderr}")
            self._start_server()
        except BaseException:
            self._remove_folder()
            raise
        return self

    def _start_server(self, attempts: int = 3) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.sockets}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "100",
        }
        for attempt in range(attempts):
            self.port = free_port()
            conf = dict(settings, port=str(self.port))
            # postgresql.auto.conf is read last and overrides postgresql.conf.
            with (self.data / "postgresql.auto.conf").open("w", encoding="utf-8") as handle:
                handle.writelines(f"{key} = {value}\n" for key, value in conf.items())
            if self._as_root():
                shutil.chown(self.data / "postgresql.auto.conf", SERVICE_USER, SERVICE_USER)
            result = self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data),
                               "-l", str(self.log))
            if result.returncode == 0:
                self._started = True
                return
            tail = self._log_tail()
            # Another process took the port between free_port() and the server's bind: retry.
            if ("could not bind" in tail or "already in use" in tail) and attempt + 1 < attempts:
                continue
            raise RuntimeError(
                f"PostgreSQL failed to start (pg_ctl exit {result.returncode}):\n"
                f"{result.stdout}{result.stderr}\n--- server log tail ({self.log}) ---\n{tail}"
            )

    def stop(self) -> None:
        try:
            if self._started:
                result = self._run("pg_ctl", "stop", "-m", "fast", "-w", "-D", str(self.data))
                self._started = False
                if result.returncode != 0:
                    self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.data))
        finally:
            self._remove_folder()

    def _remove_folder(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> TemporaryPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- databases ----------------------------------------------------------------------
    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create database `name`; returns its URL (postgresql://paymaster@127.0.0.1:PORT/name)."""
        import psycopg
        from psycopg import sql

        if not self._started:
            raise RuntimeError("the temporary PostgreSQL server is not running")
        with psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres",
                             autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)
