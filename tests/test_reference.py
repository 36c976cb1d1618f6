"""The engine against an independent per-record reference (benchmarks/reference/), on the
examples and on generated data with thousands of records."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from conftest import EXAMPLES, ROOT
from paymaster.runs import calculate

sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "benchmarks" / "reference"))

import generate  # noqa: E402
import generuj_leady  # noqa: E402


def as_csv(parquet_folder: Path, out: Path) -> Path:
    out.mkdir()
    for file in parquet_folder.glob("*.parquet"):
        pacsv.write_csv(pq.read_table(file), out / f"{file.stem}.csv")
    return out


def engine_lines(data: Path) -> dict:
    result = calculate(EXAMPLES / "generuj-leady" / "plan.yaml", data)
    payouts = {(r["measure"], r["source_id"]): (r["amount"], r["paid"], r["reason"])
               for r in result.tables["payouts"].to_pylist()}
    screened = {r["subject"]: r["reason"] for r in result.tables["evaluations"].to_pylist()}
    return {"payouts": payouts, "evaluations": screened}


def reference_lines(data: Path) -> dict:
    result = generuj_leady.run(data)
    payouts = {(r["measure"], r["source_id"]): (r["amount"].quantize(Decimal("0.01")), r["paid"],
                                                r["reason"]) for r in result["payouts"]}
    return {"payouts": payouts, "evaluations": {r["subject"]: r["reason"]
                                                for r in result["evaluations"]}}


def assert_same_tables(engine: dict, reference: dict) -> None:
    for table in engine:
        differ = {k: (engine[table].get(k), reference[table].get(k))
                  for k in set(engine[table]) | set(reference[table])
                  if engine[table].get(k) != reference[table].get(k)}
        assert not differ, f"{table}: {sorted(differ.items(), key=str)[:10]}"


def test_reference_agrees_on_the_example() -> None:
    data = EXAMPLES / "generuj-leady" / "data"
    assert_same_tables(engine_lines(data), reference_lines(data))


@pytest.mark.parametrize("seed", [3, 11])
def test_reference_agrees_on_generated_data(tmp_path: Path, seed: int) -> None:
    parquet = generate.generate("generuj-leady", 4000, tmp_path / "parquet", seed=seed)
    data = as_csv(parquet, tmp_path / "csv")
    engine, reference = engine_lines(data), reference_lines(data)
    assert len(engine["payouts"]) > 4000
    assert_same_tables(engine, reference)


import sales_team  # noqa: E402


def team_engine(data: Path) -> dict:
    result = calculate(EXAMPLES / "sales-team" / "plan.yaml", data)
    return {"payouts": {(r["payee_id"], r["period"], r["measure"], r["source_id"]):
                        (r["amount"], r["paid"], r["reason"])
                        for r in result.tables["payouts"].to_pylist()},
            "titles": {(r["payee_id"], r["period"], r["title"]): True
                       for r in result.tables["titles"].to_pylist()}}


def team_reference(data: Path) -> dict:
    result = sales_team.run(data)
    return {"payouts": {(r["payee_id"], r["period"], r["measure"], r["source_id"]):
                        (r["amount"], r["paid"], r["reason"]) for r in result["payouts"]},
            "titles": {(r["payee_id"], r["period"], r["title"]): True for r in result["titles"]}}


def test_sales_team_reference_agrees_on_the_example() -> None:
    data = EXAMPLES / "sales-team" / "data"
    assert_same_tables(team_engine(data), team_reference(data))


@pytest.mark.parametrize("seed", [5, 8])
def test_sales_team_reference_agrees_on_generated_data(tmp_path: Path, seed: int) -> None:
    parquet = generate.generate("sales-team", 6000, tmp_path / "parquet", seed=seed)
    data = as_csv(parquet, tmp_path / "csv")
    engine = team_engine(data)
    assert len(engine["payouts"]) > 100
    assert_same_tables(engine, team_reference(data))


import trade_in_accelerator  # noqa: E402


def rebate_engine(data: Path) -> dict:
    result = calculate(EXAMPLES / "trade-in-accelerator" / "plan.yaml", data)
    t = result.tables
    return {
        "payouts": {(r["payee_id"], r["period"]): (r["amount"], r["paid"], r["reason"])
                    for r in t["payouts"].to_pylist()},
        "evaluations": {(r["payee_id"], r["period"], r["evaluation"]):
                        (r["passed"], r["reason"], r["value"],
                         None if r["ratio"] is None else r["ratio"].quantize(Decimal("0.0001")))
                        for r in t["evaluations"].to_pylist()},
        "credits": {(r["payee_id"], r["period"], r["source_id"]): (r["counts"], r["reason"])
                    for r in t["credits"].to_pylist()},
    }


def rebate_reference(data: Path) -> dict:
    result = trade_in_accelerator.run(data)
    return {
        "payouts": {(r["payee_id"], r["period"]): (r["amount"], r["paid"], r["reason"])
                    for r in result["payouts"]},
        "evaluations": {(r["payee_id"], r["period"], r["evaluation"]):
                        (r["passed"], r["reason"], r["value"], r["ratio"])
                        for r in result["evaluations"]},
        "credits": {(r["payee_id"], r["period"], r["source_id"]): (r["counts"], r["reason"])
                    for r in result["credits"]},
    }


def test_trade_in_reference_agrees_on_the_example() -> None:
    data = EXAMPLES / "trade-in-accelerator" / "data"
    assert_same_tables(rebate_engine(data), rebate_reference(data))


@pytest.mark.parametrize("seed", [2, 9])
def test_trade_in_reference_agrees_on_generated_data(tmp_path: Path, seed: int) -> None:
    parquet = generate.generate("trade-in-accelerator", 5000, tmp_path / "parquet", seed=seed)
    data = as_csv(parquet, tmp_path / "csv")
    engine = rebate_engine(data)
    assert len(engine["credits"]) > 4000
    assert_same_tables(engine, rebate_reference(data))
