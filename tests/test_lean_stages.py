"""Generuj-leady's pool and bonus stages read only the rows they charge or rank (issue 16,
fifth round): the pool's running sum is one window; the deals check their ids' shape once
(sixth round), stored once for both windows, and write each line's figures once (seventh
round). (Natural order's shape check on the filtered rows of a stored table:
tests/test_ordering.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from paymaster import duckdb_config, runs
from paymaster.backends import sqlcache

pytestmark = pytest.mark.no_sql_cache  # reads the SQL this run compiles

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "examples" / "generuj-leady" / "plan.yaml"
CASE = ROOT / "tests" / "cases" / "generuj-leady" / "data"


def test_pool_sums_once(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PAYMASTER_SQL_CACHE", str(tmp_path / "sql"))
    result = runs.calculate(PLAN, CASE)
    (entry_file,) = (tmp_path / "sql").glob("*.json")
    stages = {stage["name"]: "\n".join(stage["statements"])
              for stage in sqlcache.load(entry_file.stem).stages}
    # the running sum is one window, read by every figure of the charged lines (each
    # figure was a window of its own)
    assert len(re.findall(r"SUM\([^()]*\) OVER", stages["budget_fund"])) == 1
    # the deals' two natural orders (the claims' numbering, the monthly cap's slots) both
    # check the shape of the sale ids as they are in `sales`: the cap's rows come through
    # the claims' union of numbered and other records, whose ids are the sales' (its check
    # was a regular expression over every row of that union)
    # (seventh round) and compute that check once: it is a one-row stage both windows
    # read (Ibis wrote its scalar subquery into each window, and DuckDB ran each copy, a
    # regular expression over every sale id)
    deals = stages["deal__records"]
    assert "REGEXP_MATCHES" not in deals.upper()
    (once,) = set(re.findall(r'"stage_(once_\d+)"', deals))
    assert len(re.findall(f'"stage_{once}"', deals)) == 2
    checks = re.findall(r"REGEXP_MATCHES\([^()]*\) AS BOOLEAN\)\) AS \"__shaped\" FROM (\S+)",
                        stages[once], re.IGNORECASE)
    assert checks == ['"sales"'], checks
    # the line's figures are columns the next step reads, each written once (seventh
    # round): the rate table's conditions (the band's number), the base's product
    # (unit price x 12 x paid licences), the claim's reasons; they were written in the
    # rate, the band, the raw and the earned amount, the reason and the eligibility
    assert deals.count("'M365'") == 1
    assert deals.count("* 12") == 1
    assert deals.count("'registration_already_used'") == 2  # the reason; the cancellation's
    # and the payouts are the hand-worked ones (tests/test_golden.py): the pool's lines
    payouts = result.tables["payouts"].to_pylist()
    charged = [r for r in payouts if r["budget_left"] is not None]
    assert charged and all(r["amount"] == min(r["earned"], r["budget_left"]) for r in charged)


def test_claims_number_narrow_rows(tmp_path, monkeypatch) -> None:
    """(eighth round) The claims' numbering sorts only the columns the claims read (keys,
    day, order, the sale's id), not every column of every sale, and the claimed and other
    sales are no union to store: each sale meets its claim by its key (`sales.sale_id`),
    joined back once. At 10M both carried every column and spilled under the memory limit.
    (A DuckDB run takes them from duckdb_config.NARROW_CLAIMS_ROWS input rows: here from 0.)"""
    import sqlglot
    from sqlglot import exp

    monkeypatch.setenv("PAYMASTER_SQL_CACHE", str(tmp_path / "sql"))
    monkeypatch.setattr(duckdb_config, "NARROW_CLAIMS_ROWS", 0)
    runs.calculate(PLAN, CASE)
    (entry_file,) = (tmp_path / "sql").glob("*.json")
    deals = next(stage["statements"] for stage in sqlcache.load(entry_file.stem).stages
                 if stage["name"] == "deal__records")
    insert = sqlglot.parse_one(deals[-1], read="duckdb")
    claim_keys = {"partner_id", "customer_nip", "family"}
    numbering = [w for w in insert.find_all(exp.Window)
                 if {c.name for c in w.args.get("partition_by") or []} == claim_keys
                 and isinstance(w.this, exp.RowNumber)]
    assert numbering, "the claims' numbering of the sales is gone"
    for window in numbering:
        select = window.find_ancestor(exp.Select)
        columns = {e.alias_or_name for e in select.expressions}
        # the registrations' numbering reads five columns of the verdicts; the sales' the
        # keys, the day, the order and the id: no price, plan or billing of a sale
        assert not columns & {"unit_price", "billing", "plan", "licences"}, columns
    # one split and union left: the monthly cap's eligible lines and the others
    assert len(list(insert.find_all(exp.Union))) == 1

def test_small_inputs_take_the_wide_claims_large_ones_the_narrow(tmp_path, monkeypatch) -> None:
    """A DuckDB run chooses the claims' SQL by its input's size: under NARROW_CLAIMS_ROWS the
    wide windows (at 1M lines nothing spills and the join back costs more than it saves),
    from it the narrow rows. The two are separate entries of the SQL cache (its key says
    which) and write the same bytes."""
    cache = tmp_path / "sql"
    monkeypatch.setenv("PAYMASTER_SQL_CACHE", str(cache))

    def deals_sql() -> str:
        (entry_file,) = [f for f in cache.glob("*.json") if f.stem not in seen]
        seen.add(entry_file.stem)
        return " ".join(next(stage["statements"] for stage in sqlcache.load(entry_file.stem).stages
                             if stage["name"] == "deal__records"))

    seen: set[str] = set()
    runs.calculate_into(PLAN, CASE, tmp_path / "wide")
    wide = deals_sql()
    monkeypatch.setattr(duckdb_config, "NARROW_CLAIMS_ROWS", 0)
    runs.calculate_into(PLAN, CASE, tmp_path / "narrow")
    narrow = deals_sql()  # (a second entry: the first one's key said wide)
    assert "__id_sale_id" in narrow and "__id_sale_id" not in wide
    files = sorted(p.name for p in (tmp_path / "wide").iterdir() if p.name != "run.json")
    assert files and files == sorted(p.name for p in (tmp_path / "narrow").iterdir()
                                     if p.name != "run.json")
    for name in files:
        assert (tmp_path / "wide" / name).read_bytes() == (tmp_path / "narrow" / name).read_bytes(), name


def test_verdicts_are_columns_of_the_screened_stage(tmp_path, monkeypatch) -> None:
    """The claims read the screening's verdicts as columns of its stored screened stage
    (eighth round): the note and the pending flag are computed there, with the reason, and
    no copy of every registration is stored for the claims (it was 14 columns of every
    registration written again: 0.12 s of CPU at 1M, about 1 s at 10M)."""
    monkeypatch.setenv("PAYMASTER_SQL_CACHE", str(tmp_path / "sql"))
    result = runs.calculate(PLAN, CASE)
    (entry_file,) = (tmp_path / "sql").glob("*.json")
    entry = sqlcache.load(entry_file.stem)
    stages = {stage["name"]: "\n".join(stage["statements"]) for stage in entry.stages}
    assert "registration__verdicts" not in stages
    assert '"stage_registration__screened"' in stages["deal__records"]
    (create, *_) = next(stage["statements"] for stage in entry.stages
                        if stage["name"] == "registration__screened")
    assert '"__note" TEXT' in create and '"__pending" BOOLEAN' in create
    # the evaluations read the stored note (the owner's words, trimmed once)
    evaluations = entry.outputs["evaluations"]["sql"]
    assert "TRIM" not in evaluations.upper() and '"__note"' in evaluations
    # and the verdicts still tell the claims each registration's reason: a sale left
    # unclaimed shows its registration's (tests/test_golden.py: every figure)
    reasons = {r["subject"]: r["reason"] for r in result.tables["evaluations"].to_pylist()}
    told = [(r["claim"], r["claim_reason"]) for r in result.tables["payouts"].to_pylist()
            if r["claim_reason"] is not None]
    assert told and all(reasons[claim] == reason for claim, reason in told)
