"""Shared test helpers: run a plan on a folder, and compare tables as sorted text rows."""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import settings


ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
# The as-of day of tests that run a plan with `answer_within` (generuj-leady) more than
# once and compare the runs: an incremental run with its state, DuckDB with Spark. A run
# not given one judges what is overdue on today, read by each run: a test straddling
# midnight would see two days (a full run where it expects an incremental one, two
# fingerprints). Long after the last record of the examples and of generated data, so
# what is overdue on it is what is overdue today.
AS_OF = dt.date(2026, 1, 5)
# No SQL cache (backends/sqlcache.py) unless a test asks for one: a test that changes the
# engine (a fault injected) must build it, and the user's cache is not the tests' to fill.
os.environ["PAYMASTER_SQL_CACHE"] = "off"

# Property tests draw the same examples on every run of the suite (a red CI run is about
# the change, never the dice); HYPOTHESIS_PROFILE=explore draws new ones each run, to hunt.
settings.register_profile("suite", derandomize=True, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


def normalise(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def read_expected(path: Path) -> tuple[list[str], list[tuple[str, ...]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = list(rows[0].keys()) if rows else _header(path)
    return columns, sorted(tuple(row[c] or "" for c in columns) for row in rows)


def _header(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[0].split(",")


def project(table, columns: list[str], formats: dict[str, str] | None = None) -> list[tuple[str, ...]]:
    formats = formats or {}
    rows = []
    for row in table.to_pylist():
        rows.append(tuple(_fmt(row.get(c), formats.get(c)) for c in columns))
    return sorted(rows)


def _fmt(value: object, places: str | None) -> str:
    if isinstance(value, Decimal) and places is not None:
        return str(value.quantize(Decimal(places)))
    return normalise(value)


@pytest.fixture(scope="session")
def examples() -> Path:
    return EXAMPLES


# A small Generuj Leady data set: one paid deal with a capped licence count, a bonus,
# and a sale with no registration.
FILES = {
    "partners.csv": (
        "partner_id,name,address,country,nip,new_to_program,removed_on,removal_reason\n"
        "P1,Alfa,Warszawa,PL,5260250274,true,,\n"
        "P2,Beta,Krakow,PL,7740001454,false,,\n"
    ),
    "customers.csv": "nip,name,address,country,segment\n1234563218,C1,Lodz,PL,commercial_smb\n",
    "holdings.csv": "customer_nip,family,plan,since\n",
    "vendor_registry.csv": "customer_nip,family,registered_on\n",
    "registrations.csv": (
        "registration_id,partner_id,submitted_at,customer_name,customer_address,customer_nip,"
        "family,plan,licences,pcs,partner_name,partner_address,partner_nip,contact_name,"
        "contact_phone,contact_email,decision,decision_reason\n"
        "R1,P1,2018-04-01 10:00:00,C1,Lodz,1234563218,M365,E3,10,10,Alfa,Warszawa,5260250274,"
        "Jan,123,j@a.pl,,\n"
    ),
    "sales.csv": (
        "sale_id,partner_id,customer_nip,family,plan,billing,licences,unit_price,order_date\n"
        "S1,P1,1234563218,m365,E3,Annual,620,57.10,2018-04-10 00:00:00\n"
        "S2,P2,1234563218,O365,E3,annual,10,20.00,2018-04-11\n"
    ),
}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


# -- Database stores: every test using `store_url` runs on SQLite and on a real PostgreSQL ----

import itertools  # noqa: E402

from pgserver import TemporaryPostgres  # noqa: E402

_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server started once per test session (initdb in a temp folder)."""
    with TemporaryPostgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def store_url(request, tmp_path: Path):
    """A fresh, empty database URL: SQLite in tmp_path, or a new database on the session server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/paymaster.db"
        return
    server = request.getfixturevalue("postgres_server")
    yield server.create_database(f"test_{next(_database_numbers)}")


# ---------------------------------------------------------------- the workspace demo
def golden_total(program: str) -> Decimal:
    with (EXAMPLES / program / "expected" / "payouts.csv").open(encoding="utf-8") as handle:
        return sum((Decimal(r["amount"]) for r in csv.DictReader(handle) if r["paid"] == "true"),
                   Decimal(0))


def check_demo_workspace(folder: Path) -> None:
    """The workflows reproduce the hand-computed totals in the ledger; the accepted
    dispute adds D's rebate: 15% of its 15 000.00 qualifying credit = 2 250.00."""
    from paymaster.services import ledger
    from paymaster.workspace import Workspace

    ws = Workspace.open(folder)
    try:
        extra = {"trade-in-accelerator": Decimal("2250.00")}
        for program in ("generuj-leady", "trade-in-accelerator", "sales-team"):
            posted = sum((e.amount for e in ledger.entries(ws, program)), Decimal(0))
            assert posted == golden_total(program) + extra.get(program, 0), program
        correction = [e for e in ledger.entries(ws, "trade-in-accelerator") if e.run_id == 4]
        assert [(e.payee_id, e.kind, e.amount) for e in correction] == [
            ("D", "payout", Decimal("2250.00"))]
    finally:
        ws.close()
    for locale in ("en", "pl", "zh"):
        for fmt in ("html", "pdf", "xlsx"):
            assert (folder / "out" / f"statement-trade-in-accelerator-D-{locale}.{fmt}").stat().st_size


def _shared_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the folder all workers' temporary folders share
    return root


def shared_once(tmp_path_factory, name: str, build) -> Path:
    """A folder built once for the whole test session, whichever pytest-xdist worker asks
    first (the others wait on a lock and reuse it): `build(folder)` fills it. Expensive
    set-ups such as the demo cost their time once, not once per worker. A build started
    by `start_shared` holds the lock until it ends, so this waits for it."""
    import fcntl

    root = _shared_root(tmp_path_factory)
    folder, done = root / name, root / f"{name}.done"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            build(folder)
            done.touch()
    return folder


def start_shared(tmp_path_factory, name: str, command: list[str],
                 env: dict[str, str] | None = None) -> subprocess.Popen | None:
    """Start building `shared_once`'s folder `name` in the background: `command` (given
    the folder as its last argument) in a process of its own, which holds the folder's
    lock until it has written NAME.log (exit code, stdout, stderr) and NAME.done. The
    workers meanwhile run tests that do not need it; None when already started or built."""
    import fcntl

    root = _shared_root(tmp_path_factory)
    started = root / f"{name}.started"
    with (root / f"{name}.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # another worker is starting it, or its build holds the lock
        if started.exists() or (root / f"{name}.done").exists():
            return None
        started.touch()
        # The child inherits the locked file: the lock stays held (after this `with`
        # closes our copy) until the child exits.
        return subprocess.Popen([sys.executable, "-c", _BUILD, str(root), name, *command,
                                 str(root / name)], pass_fds=[lock.fileno()], env=env)


# A shared folder's build: the command's exit code and output in NAME.log, then NAME.done.
_BUILD = """\
import subprocess, sys
from pathlib import Path
root, name, command = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
done = subprocess.run(command, capture_output=True, text=True)
(root / f"{name}.log").write_text(f"{done.returncode}\\n{done.stdout}\\n{done.stderr}")
(root / f"{name}.done").touch()
"""
DEMO_COMMAND = [sys.executable, "-m", "paymaster.cli", "demo", "--out"]


def demo_env(tmp_path_factory) -> dict[str, str]:
    """The demo runs as a user runs it, with the SQL cache on (in the session's own
    folder, not the user's): its workspace part runs the plans its first part compiled,
    less than half the demo's CPU time (43 s instead of 95 s, measured)."""
    return {**os.environ, "PAYMASTER_SQL_CACHE": str(_shared_root(tmp_path_factory) / "sql-cache")}


@pytest.fixture
def shared_sql_cache(tmp_path_factory, monkeypatch) -> Path:
    """The SQL cache on for this test, in the folder the session's demo build fills: for a
    test that runs the example plans as the demo does and changes nothing in the engine
    (a hit runs the SQL the engine compiled for that plan and input shape)."""
    folder = _shared_root(tmp_path_factory) / "sql-cache"
    monkeypatch.setenv("PAYMASTER_SQL_CACHE", str(folder))
    return folder


# Every test runs with the session's shared SQL cache (and run cache: validated plans, clean
# input verdicts) on, unless marked `no_sql_cache`: an unchanged plan is compiled once per
# session, not once per test (most of the suite's CPU was Ibis compiling the same example
# plans again). The cache is keyed on the plan's validated content, the input columns'
# types and the engine's source (sqlcache.engine_version: every file of the package), so a
# hit is the SQL this very code compiles. What it cannot see is a change made at run time:
# a test that patches or spies on the engine, the plan loader or the input checks, injects a
# fault, times stages, or tests the caches themselves is marked `no_sql_cache` (its module's
# `pytestmark`, or the test). PAYMASTER_TEST_SQL_CACHE=off runs every test uncached (to
# measure, or to rule the cache out).
TEST_CACHE_SWITCH = "PAYMASTER_TEST_SQL_CACHE"


def _cache_wanted(node) -> bool:
    return (os.environ.get(TEST_CACHE_SWITCH, "").lower() != "off"
            and node.get_closest_marker("no_sql_cache") is None)


@pytest.fixture(scope="module", autouse=True)
def session_sql_cache_module(request, tmp_path_factory):
    """On for the module (its module-scoped fixtures run plans too) unless it opts out."""
    if not _cache_wanted(request.node):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PAYMASTER_SQL_CACHE", str(_shared_root(tmp_path_factory) / "sql-cache"))
        yield


@pytest.fixture(autouse=True)
def session_sql_cache(request, session_sql_cache_module, monkeypatch):
    """Off again for a test marked `no_sql_cache` in a module that has it on."""
    if not _cache_wanted(request.node):
        monkeypatch.setenv("PAYMASTER_SQL_CACHE", "off")


@pytest.fixture(scope="session", autouse=True)
def demo_in_background(request, tmp_path_factory):
    """When any test of the session needs the demo, its build starts with the session's
    first test, in a process of its own: the workers run the tests that do not need it
    meanwhile (pytest_collection_modifyitems puts those first) instead of waiting."""
    if not any("demo_run" in getattr(item, "fixturenames", ()) for item in request.session.items):
        yield
        return
    build = start_shared(tmp_path_factory, "demo", DEMO_COMMAND, demo_env(tmp_path_factory))
    yield
    if build is not None:
        build.wait()  # the other worker may still be waiting for it: never cut it short


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> tuple[Path, str]:
    """`paymaster demo` run once for the session, as a user runs it (the CLI in its own
    process): the examples' results and the demo workspace (three programs through their
    workflows, runs posted, demo accounts) in the returned folder, with what it printed.
    Tests that need the workspace use `demo_workspace`, a private copy."""

    def build(folder: Path) -> None:  # when no background build was started (or it died)
        subprocess.run([sys.executable, "-c", _BUILD, str(folder.parent), folder.name,
                        *DEMO_COMMAND, str(folder)], check=True, env=demo_env(tmp_path_factory))

    folder = shared_once(tmp_path_factory, "demo", build)
    log = (folder.parent / "demo.log").read_text()
    return folder, log


@pytest.fixture(scope="session")
def demo_workspace_master(demo_run) -> Path:
    """The demo's workspace on SQLite. Do not change it: use `demo_workspace`."""
    folder, log = demo_run
    if not log.startswith("0\n"):
        pytest.fail(f"paymaster demo failed:\n{log}")
    return folder / "workspace"


@pytest.fixture
def demo_workspace(demo_workspace_master: Path, tmp_path: Path, monkeypatch):
    """A private copy of the demo workspace, opened; closed after the test."""
    import shutil

    from paymaster.workspace import Workspace

    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    folder = tmp_path / "workspace"
    shutil.copytree(demo_workspace_master, folder)
    ws = Workspace.open(folder)
    yield ws
    ws.close()


SPARK_MASTER = "local[2]"


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession for every Spark test of the session (about 8 s to start)."""
    import shutil

    from paymaster.backends.spark import session

    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (./dev test installs it)")
    spark = session(SPARK_MASTER)
    yield spark
    spark.stop()


# ------------------------------------------------- the order the two workers take tests in
# `./dev test` deals tests to its workers one work unit at a time (pytest-xdist's
# --dist loadgroup, in this order): the Spark tests first, as one unit (one worker starts
# one JVM for all of them while the other works through the rest), then the long tests,
# then the rest, and the modules needing the demo last (it builds in the background
# meanwhile), so the run ends on short tests rather than on one worker alone with a
# long one. Modules stay whole, for their module-scoped fixtures.
LONG_FIRST = ("tests/test_workspace_demo.py", "tests/test_benchmarks.py",
              "tests/test_incremental.py", "tests/security/test_sealed_duckdb.py",
              "tests/test_traces.py", "tests/test_browser.py")


def pytest_collection_modifyitems(config, items) -> None:
    modules: dict[str, list] = {}
    for item in items:
        if item.get_closest_marker("spark"):
            item.add_marker(pytest.mark.xdist_group("spark"))
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)

    demo = {module for module, its in modules.items()
            if any("demo_run" in getattr(i, "fixturenames", ()) for i in its)}

    def place(item) -> tuple[int, int]:
        module = item.nodeid.split("::")[0]
        long = LONG_FIRST.index(module) if module in LONG_FIRST else len(LONG_FIRST)
        return (0 if item.get_closest_marker("spark") else 2 if module in demo else 1, long)

    items.sort(key=place)  # stable: each module keeps its own order
