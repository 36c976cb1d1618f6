"""The Workspace: one folder (config, plan files, the store) that every command calls.

    DIR/paymaster.yaml      config: database URL, programs and their workflows
    DIR/paymaster.db        the store (SQLite) unless the config or
                            PAYMASTER_DATABASE_URL names a PostgreSQL database
    DIR/plans/<program>.yaml

Each CLI command and web route is a few lines on top of this object; the workflows
themselves live in `paymaster.services`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML

from paymaster.errors import N_, PaymasterError, Problem, suggest
from paymaster.limits import Limits
from paymaster.mail_config import NotificationsConfig
from paymaster.plan import LoadedPlan, load_plan
from paymaster.store import Store, sqlite_url

CONFIG = "paymaster.yaml"
URL_VARIABLE = "PAYMASTER_DATABASE_URL"
TODAY_VARIABLE = "PAYMASTER_TODAY"


class WorkspaceError(PaymasterError):
    kind = "workspace"


class ProgramConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan: str = Field(description="plan file, relative to the workspace folder")
    registrations: str | None = Field(
        None, description="input table filled by the lead-registration workflow")
    enrollments: str | None = Field(
        None, description="input table filled by the enrollment workflow")
    confirm_within_days: int = Field(5, description="business days to confirm a registration")
    approve_within_days: int = Field(10, description="business days to approve an enrollment")
    auto_accept: bool = Field(False, description="accept a registration that passes every check")
    dispute_fields: list[str] = Field(
        default_factory=list,
        description="what a payee must give when a record is missing (e.g. rma_number)")
    certified_levels: list[str] = Field(
        default_factory=lambda: ["Gold", "Silver", "Premier", "Select"],
        description="certification levels that qualify an enrollment at approval")
    payout_day: int | None = Field(
        None, ge=1, le=31, description="day of the month posted amounts are paid out (the "
        "month's last day when it is shorter); payee pages show the next payout date. "
        "Unset: no payout date is shown")
    clock: dt.date | None = Field(
        None, description="demo clock: the program's workflows (registrations, enrollments, "
        "disputes, their deadlines, what a run calls overdue) take this date, with the real "
        "time of day, as today; runs, imports and the ledger otherwise keep the real date")


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    database: str = Field("sqlite:///paymaster.db", description="SQLAlchemy URL")
    programs: dict[str, ProgramConfig] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits,
                           description="size limits on imported files and form fields")
    notifications: NotificationsConfig = Field(
        default_factory=NotificationsConfig, description="e-mail notifications (SMTP)")


class Workspace:
    def __init__(self, folder: Path, config: Config):
        self.folder = folder
        self.config = config
        self._plans: dict[str, tuple[tuple[int, int], LoadedPlan]] = {}

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, folder: str | Path) -> Workspace:
        folder = Path(folder)
        path = folder / CONFIG
        if not path.is_file():
            raise WorkspaceError(Problem(
                f"not a Paymaster workspace: {folder} (no {CONFIG})",
                hint=f"create one with: paymaster init {folder}"))
        ws = cls(folder, _read_config(path))
        ws.store.upgrade()  # a workspace made by an older version gets the newer tables
        return ws

    @classmethod
    def init(cls, folder: str | Path, database: str | None = None) -> Workspace:
        folder = Path(folder)
        if (folder / CONFIG).exists():
            raise WorkspaceError(Problem(f"{folder} is already a workspace",
                                         file=str(folder / CONFIG)))
        (folder / "plans").mkdir(parents=True, exist_ok=True)
        ws = cls(folder, Config(database=database or "sqlite:///paymaster.db"))
        ws.save_config()
        ws.store.upgrade()
        return ws

    def save_config(self) -> None:
        data = self.config.model_dump(exclude_defaults=False)
        data["programs"] = {name: p.model_dump(exclude_none=True)
                            for name, p in self.config.programs.items()}
        data["notifications"] = self.config.notifications.model_dump(by_alias=True,
                                                                     exclude_none=True)
        with (self.folder / CONFIG).open("w", encoding="utf-8") as handle:
            handle.write("# Paymaster workspace. PAYMASTER_DATABASE_URL overrides `database`.\n")
            YAML().dump(data, handle)

    @cached_property
    def database_url(self) -> str:
        url = os.environ.get(URL_VARIABLE) or self.config.database
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            # A relative SQLite path is relative to the workspace, not to where we stand.
            url = sqlite_url((self.folder / url[len("sqlite:///"):]).resolve())
        return url

    @cached_property
    def store(self) -> Store:
        return Store(self.database_url)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.dispose()

    # ------------------------------------------------------------------ programs

    def program(self, name: str) -> ProgramConfig:
        try:
            return self.config.programs[name]
        except KeyError:
            raise WorkspaceError(Problem.of(
                N_("unknown program '%(program)s'"), program=name,
                cli_hint=suggest(name, self.config.programs)
                or "programs: " + (", ".join(self.config.programs) or "none yet; add one with "
                                   "paymaster program add PLAN"))) from None

    def plan_path(self, name: str) -> Path:
        return self.folder / self.program(name).plan

    def plan(self, name: str) -> LoadedPlan:
        """The program's plan, parsed once and again only when its file changes."""
        path = self.plan_path(name)
        stat = path.stat()
        signature = (stat.st_mtime_ns, stat.st_size)
        cached = self._plans.get(name)
        if cached is None or cached[0] != signature:
            cached = self._plans[name] = (signature, load_plan(path))
        return cached[1]

    def plan_sha(self, name: str) -> str:
        return hashlib.sha256(self.plan_path(name).read_bytes()).hexdigest()

    # ------------------------------------------------------------------ time
    def now(self, program: str | None = None) -> dt.datetime:
        """Wall-clock time, or PAYMASTER_TODAY (for demos and tests of deadlines); a
        program's workflows run on its demo clock when it has one."""
        fixed = os.environ.get(TODAY_VARIABLE)
        if fixed:
            return dt.datetime.fromisoformat(fixed)
        real = dt.datetime.now().replace(microsecond=0)
        config = self.config.programs.get(program) if program else None
        if config is not None and config.clock is not None:
            return dt.datetime.combine(config.clock, real.time())
        return real

    def today(self, program: str | None = None) -> dt.date:
        return self.now(program).date()


def _read_config(path: Path) -> Config:
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
        return Config.model_validate(data)
    except ValidationError as err:
        raise WorkspaceError([
            Problem(f"{'.'.join(map(str, e['loc']))}: {e['msg']}", file=str(path))
            for e in err.errors()
        ]) from err
    except Exception as err:  # ruamel's parse errors carry their own position text
        if isinstance(err, PaymasterError):
            raise
        raise WorkspaceError(Problem(f"cannot read the workspace config: {err}",
                                     file=str(path))) from err
