"""Programs in a workspace: each plan text that is used is recorded and audited."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

from sqlalchemy import select

from paymaster.plan import load_plan
from paymaster.services import audit
from paymaster.store.models import Program
from paymaster.workspace import ProgramConfig, Workspace


def add_program(ws: Workspace, plan_file: str | Path, actor: str, *,
                registrations: str | None = None, enrollments: str | None = None,
                auto_accept: bool = False) -> str:
    """Copy a plan into the workspace and register it (or register its new text)."""
    loaded = load_plan(plan_file)
    name = loaded.plan.program
    target = ws.folder / "plans" / f"{name}.yaml"
    if Path(plan_file).resolve() != target.resolve():
        shutil.copyfile(plan_file, target)
    ws.config.programs[name] = ProgramConfig(
        plan=str(target.relative_to(ws.folder)), registrations=registrations,
        enrollments=enrollments, auto_accept=auto_accept)
    ws.save_config()
    record_plan(ws, name, actor)
    return name


def record_plan(ws: Workspace, name: str, actor: str) -> bool:
    """Store the program's plan fingerprint; audit the change (with a diff) if it changed."""
    path = ws.plan_path(name)
    text = path.read_text(encoding="utf-8")
    sha = ws.plan_sha(name)
    with ws.store.session() as session:
        row = session.scalars(select(Program).where(Program.name == name)).one_or_none()
        if row is not None and row.plan_sha == sha:
            return False
        before = after = None
        if row is None:
            row = Program(name=name, plan_path=str(path), plan_sha=sha, plan_text=text,
                          added_at=ws.now())
            session.add(row)
            after = {"plan_sha": sha, "text": text}
        else:
            before = {"plan_sha": row.plan_sha, "text": row.plan_text}
            after = {"plan_sha": sha, "text": text,
                     "diff": plan_diff(row.plan_text, text, path.name)}
            row.plan_sha, row.plan_path, row.plan_text = sha, str(path), text
        audit.record(session, actor=actor, action="plan changed" if before else "plan added",
                     entity="plan", key=name, program=name, before=before, after=after)
        return True


def plan_diff(old_text: str, new_text: str, name: str) -> str:
    return "".join(difflib.unified_diff(old_text.splitlines(True), new_text.splitlines(True),
                                        f"{name} (before)", f"{name} (after)"))
