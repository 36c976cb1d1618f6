"""Importing a file into the store: validated row by row, all or nothing, idempotent.

Each row is identified by the table's natural key (the plan's `key`; a keyless table by
the row's content). A row equal to the stored one changes nothing; a different one adds a
new version; with `snapshot`, keys missing from the file are marked removed. Every
version is stamped with the import and its `as_of` date, and nothing is overwritten.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from paymaster.datafiles import load_table
from paymaster.digests import file_sha256
from paymaster.duckdb_config import seal
from paymaster.errors import N_, Count, DataError, Problem
from paymaster.filecheck import LIMIT_HINT
from paymaster.limits import Limits
from paymaster.services import audit
from paymaster.services.inputs import canonical, content_sha, current, row_key
from paymaster.sqlnames import quote, quote_all
from paymaster.store.models import ImportBatch, Record

if TYPE_CHECKING:
    from paymaster.workspace import Workspace


# Every version stays in `records`; the audit event repeats the first rows' before/after so
# a reader sees what an import did without a query, without copying a million-row file.
AUDITED_ROWS = 200


@dataclass
class ImportResult:
    import_id: int
    table: str
    rows: int
    added: int
    changed: int
    removed: int
    already: bool = False  # the same file was imported before with the same date

    @property
    def unchanged(self) -> int:
        return self.rows - self.added - self.changed


def read_rows(ws: Workspace, program: str, table: str, path: Path) -> list[dict]:
    """The file's rows as canonical text, after every check of the plan's input spec."""
    plan = ws.plan(program).plan
    con = duckdb.connect()
    try:
        load_table(plan, table, path, con, ws.config.limits)
        seal(con, [path])  # the file is read: nothing else is reachable from here on
        columns = list(plan.inputs[table].columns)
        result = con.execute(f"SELECT {quote_all(columns)} FROM {quote(table)} ORDER BY __line")
        return [{c: canonical(v) for c, v in zip(columns, row, strict=True)}
                for row in result.fetchall()]
    finally:
        con.close()


def import_file(ws: Workspace, program: str, table: str, path: Path, *, actor: str,
                as_of: dt.date | None = None, snapshot: bool = False) -> ImportResult:
    config = ws.program(program)
    if table in (config.registrations, config.enrollments):
        hint = (f"submit them with: paymaster register {program} --file {path}"
                if table == config.registrations else
                f"apply with: paymaster enroll {program} --partner P --phase N "
                "--effective-from DATE --submit")
        workflow = "register" if table == config.registrations else "enroll"
        raise DataError(Problem.of(
            N_("'%(table)s' is kept by the %(workflow)s workflow, not imported"), table=table,
            workflow=workflow, file=str(path), cli_hint=hint,
            hint=N_("submit them through their own pages, not as an import")))
    as_of = as_of or ws.today()
    check_size(path, ws.config.limits)
    sha = file_sha256(path)
    earlier = _earlier(ws, program, table, sha, as_of, snapshot)
    if earlier is not None:
        return earlier
    rows = read_rows(ws, program, table, path)
    try:
        return apply_rows(ws, program, table, rows, actor=actor, as_of=as_of,
                          snapshot=snapshot, file_name=str(path), file_sha=sha)
    except IntegrityError:
        # The same file imported at the same moment by another request: it won the
        # unique (program, table, file, as_of, snapshot) race, so this one is a no-op.
        earlier = _earlier(ws, program, table, sha, as_of, snapshot)
        if earlier is None:
            raise
        return earlier


def check_size(path: Path, limits: Limits) -> None:
    size = path.stat().st_size  # a missing file: the OSError says so, with its path
    if size > limits.upload_bytes:
        raise DataError(Problem.of(
            N_("the file is %(size)s bytes; at most %(limit)s are accepted"), file=str(path),
            size=Count(size), limit=Count(limits.upload_bytes), hint=LIMIT_HINT,
            name="upload_bytes"))


def _earlier(ws: Workspace, program: str, table: str, sha: str, as_of: dt.date,
             snapshot: bool) -> ImportResult | None:
    with ws.store.session() as session:
        earlier = session.scalars(select(ImportBatch).where(
            ImportBatch.program == program, ImportBatch.table_name == table,
            ImportBatch.file_sha == sha, ImportBatch.as_of == as_of,
            ImportBatch.snapshot == snapshot)).one_or_none()
        if earlier is None:
            return None
        return ImportResult(earlier.id, table, earlier.rows, 0, 0, 0, already=True)


def apply_rows(ws: Workspace, program: str, table: str, rows: list[dict], *, actor: str,
               as_of: dt.date, snapshot: bool, file_name: str, file_sha: str) -> ImportResult:
    """Store the rows that differ from the state as of `as_of`, in one transaction."""
    spec = ws.plan(program).plan.inputs[table]
    keyed = _keyed(rows, spec)
    with ws.store.session() as session:
        batch = ImportBatch(program=program, table_name=table, file_name=file_name,
                            file_sha=file_sha, as_of=as_of, snapshot=snapshot,
                            imported_at=ws.now(), actor=actor, rows=len(rows),
                            added=0, changed=0, removed=0)
        session.add(batch)
        session.flush()
        stored = current(session, program, table, as_of)
        changes: list[dict] = []  # for the audit log: each row's state before and after
        for key, (row, sha) in keyed.items():
            before = stored.get(key)
            if before is not None and before.content_sha == sha:
                continue
            if before is None:
                batch.added += 1
            else:
                batch.changed += 1
            changes.append({"key": key, "before": before.data if before else None, "after": row})
            session.add(Record(program=program, table_name=table, key=key, content_sha=sha,
                               data=row, import_id=batch.id, as_of=as_of))
        if snapshot:
            for key in sorted(stored.keys() - keyed.keys()):
                batch.removed += 1
                changes.append({"key": key, "before": stored[key].data, "after": None})
                session.add(Record(program=program, table_name=table, key=key,
                                   content_sha="removed", data=None, import_id=batch.id,
                                   as_of=as_of))
        audit.record(session, actor=actor, action="import", entity="table",
                     key=f"{program}/{table}", program=program, after={
                         "import": batch.id, "file": file_name, "as_of": as_of,
                         "rows": len(rows), "added": batch.added, "changed": batch.changed,
                         "removed": batch.removed, "changes": changes[:AUDITED_ROWS],
                         "more_changes": max(0, len(changes) - AUDITED_ROWS)})
        return ImportResult(batch.id, table, len(rows), batch.added, batch.changed,
                            batch.removed)


def _keyed(rows: list[dict], spec) -> dict[str, tuple[dict, str]]:
    """Rows by natural key; identical rows of a keyless table are told apart by count."""
    out: dict[str, tuple[dict, str]] = {}
    seen: Counter[str] = Counter()
    for row in rows:
        sha = content_sha(row)
        key = row_key(row, spec)
        if key is None:
            seen[sha] += 1
            key = f"{sha[:32]}#{seen[sha]}"
        out[key] = (row, sha)
    return out
