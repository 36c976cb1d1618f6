"""The incremental run's compiled SQL is kept between runs with its lists of values left
out (incremental/compiled.py): a statement taken from the cache with another run's lists
is the SQL Ibis compiles for them, two structures never share an entry, and a run on
cached SQL gives the delta an uncached run gives."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import duckdb
import ibis
import pyarrow as pa
import pytest

from paymaster import incremental
from paymaster.changes import CHANGES, Folder
from paymaster.incremental import compiled

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

pytestmark = pytest.mark.no_sql_cache  # (each test sets the cache it means)


@pytest.fixture
def backends(tmp_path, monkeypatch):
    """A caching backend and Ibis's own over one connection with a table of payees."""
    monkeypatch.setenv("PAYMASTER_SQL_CACHE", str(tmp_path / "cache"))
    con = duckdb.connect()
    con.execute("CREATE TABLE lines AS SELECT * FROM (VALUES ('P1', '2026-01', 1.50::DECIMAL(18,2)),"
                " ('P2', '2026-01', 2.25), ('P3', '2026-02', 4.00), (NULL, '2026-02', 8.00))"
                " t(payee_id, period, amount)")
    return compiled.connect(con), ibis.duckdb.from_connection(con), tmp_path / "cache"


def _entries(cache: Path) -> int:
    folder = cache / compiled.KIND
    return len(list(folder.iterdir())) if folder.exists() else 0


def _scoped(backend, payees: list[str], periods: list[str]):
    t = backend.table("lines")
    return t.filter(t.payee_id.isin(payees) | (t.payee_id + "|" + t.period).isin(periods)
                    ).group_by("payee_id").aggregate(total=t.amount.sum())


def test_a_cached_statement_with_other_lists_is_what_ibis_compiles(backends) -> None:
    cached, plain, cache = backends
    first = _scoped(cached, ["P1"], ["P3|2026-02"])
    assert cached.compile(first) == plain.compile(_scoped(plain, ["P1"], ["P3|2026-02"]))
    assert _entries(cache) == 1
    # Another scope of the same structure: a hit (no new entry), its own values in it,
    # quotes escaped as Ibis escapes them.
    scopes = (["P2", "P3", "O'Brien"], ["P1|2026-01"]), (["P3"], ["x|y", "P2|2026-01"])
    for payees, periods in scopes:
        assert cached.compile(_scoped(cached, payees, periods)) == plain.compile(
            _scoped(plain, payees, periods))
        assert cached.to_pyarrow(_scoped(cached, payees, periods)).sort_by("payee_id").equals(
            plain.to_pyarrow(_scoped(plain, payees, periods)).sort_by("payee_id"))
    assert _entries(cache) == 1


def test_two_structures_do_not_share_an_entry(backends) -> None:
    cached, plain, cache = backends
    t, u = cached.table("lines"), plain.table("lines")
    shapes = [
        (lambda x: x.filter(x.payee_id.isin(["P1", "P2"]))),
        (lambda x: x.filter(x.period.isin(["P1", "P2"]))),  # another column
        (lambda x: x.filter(~x.payee_id.isin(["P1", "P2"]))),  # negated
        (lambda x: x.filter(x.payee_id.isin(["P1", "P2"]), x.amount > 2)),  # a filter more
        (lambda x: x.filter(x.amount > 3)),  # another constant: not a list, in the key
        (lambda x: x.filter(x.amount > 1)),
        (lambda x: x.filter(x.payee_id.isin(["P1"]) | x.period.isin(["2026-02"]))),
        (lambda x: x.filter(x.payee_id.isin(["2026-02"]) | x.period.isin(["P1"]))),
    ]
    for shape in shapes:
        assert cached.compile(shape(t)) == plain.compile(shape(u))
        got = cached.to_pyarrow(shape(t))
        assert got.sort_by([("amount", "ascending")]).equals(
            plain.to_pyarrow(shape(u)).sort_by([("amount", "ascending")]))
    # Lists of another length or other values are the same structure (shapes 7 and 8).
    assert _entries(cache) == len(shapes) - 1


def test_a_table_created_from_cached_sql_has_the_rows_and_types(backends) -> None:
    cached, plain, _ = backends
    expr = _scoped(cached, ["P1", "P2"], [])
    made = cached.create_table("scoped", expr, temp=True)
    assert made.schema() == expr.schema()
    want = plain.to_pyarrow(_scoped(plain, ["P1", "P2"], []))
    assert made.to_pyarrow().sort_by("payee_id").equals(want.sort_by("payee_id"))


def test_a_run_on_cached_sql_gives_the_delta_of_an_uncached_run(tmp_path, monkeypatch) -> None:
    from generate import generate

    program = "trade-in-accelerator"
    plan = ROOT / "examples" / program / "plan.yaml"
    generate(program, 300, tmp_path / "base" / "data", seed=11)
    monkeypatch.setenv("PAYMASTER_SQL_CACHE", "off")
    incremental.calculate(plan, tmp_path / "base" / "data", tmp_path / "base" / "state.duckdb")
    cache = tmp_path / "cache"

    def run(name: str, seed: int, cache_setting: str):
        work = tmp_path / name
        shutil.copytree(tmp_path / "base", work)
        CHANGES[program]["corrected record"](Folder(work / "data", seed=seed))
        monkeypatch.setenv("PAYMASTER_SQL_CACHE", cache_setting)
        _, report = incremental.calculate(plan, work / "data", work / "state.duckdb",
                                          outputs="delta")
        assert report.mode == "incremental"
        return report.delta

    run("warm", 1, str(cache))  # another record corrected: the entries this kind needs
    kept = _entries(cache)
    assert kept > 0
    uncached = run("uncached", 2, "off")
    hits = []
    read = compiled.cachefiles.read
    monkeypatch.setattr(compiled.cachefiles, "read",
                        lambda *a: hits.append(read(*a)) or hits[-1])
    hit = run("cached", 2, str(cache))
    # (most statements are the warm run's, with this run's payees: a change may reach a
    # period more or less, which is another structure)
    assert sum(found is not None for found in hits) > kept // 2
    assert hit.units == uncached.units and hit.payees == uncached.payees
    for name in set(uncached.rows) | set(hit.rows):
        assert hit.rows[name].equals(uncached.rows[name]), name
    for side in ("added", "removed"):
        for name, table in getattr(uncached, side).items():
            assert getattr(hit, side)[name].equals(table), (side, name)
    assert (hit.effect is None) == (uncached.effect is None)
    if hit.effect is not None:
        assert hit.effect.equals(uncached.effect)


def test_fill_never_reads_a_value_put_in_as_a_marker() -> None:
    marker = compiled._marker(1)
    text = f"SELECT 1 WHERE a IN ('{compiled._marker(0)}') AND b IN ('{marker}')"
    assert compiled.fill(text, [[marker], ["x"]]) == (
        f"SELECT 1 WHERE a IN ('{marker}') AND b IN ('x')")


def test_in_memory_tables_are_named_in_the_cached_statement_per_run(backends) -> None:
    """An in-memory table's name is made per process: the entry marks it, and a run with
    another table of the same columns (another name, other rows) fills in its own."""
    cached, plain, cache = backends
    for payees in (["P1"], ["P2", "P3", "P9"]):
        table = ibis.memtable(pa.table({"payee_id": payees}))
        expr = cached.table("lines").semi_join(table, "payee_id")
        assert cached.compile(expr) == plain.compile(
            plain.table("lines").semi_join(table, "payee_id"))
        assert sorted(cached.to_pyarrow(expr)["payee_id"].to_pylist()) == [
            p for p in ["P1", "P2", "P3"] if p in payees]
    assert _entries(cache) == 1
    other = ibis.memtable(pa.table({"payee_id": [1]}))  # other columns: another entry
    cached.compile(cached.table("lines").filter(
        cached.table("lines").amount.cast("int64").isin(other["payee_id"])))
    assert _entries(cache) == 2
