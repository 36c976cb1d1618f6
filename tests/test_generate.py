"""The benchmark data generator: seeded, written in chunks, consistent across tables."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import generate  # noqa: E402


def _tables(folder: Path) -> dict:
    return {path.stem: pq.read_table(path) for path in sorted(folder.glob("*.parquet"))}


@pytest.mark.parametrize("program", generate.PROGRAMS)
def test_same_seed_same_files_and_chunks_join_up(program: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # Chunks much smaller than the table, so the many-chunk path (used at 100M) runs here.
    monkeypatch.setattr(generate, "CHUNK", 700)
    first = _tables(generate.generate(program, 5000, tmp_path / "a", seed=3))
    again = _tables(generate.generate(program, 5000, tmp_path / "b", seed=3))
    other = _tables(generate.generate(program, 5000, tmp_path / "c", seed=4))
    assert first.keys() == again.keys()
    for name in first:
        assert first[name].equals(again[name]), name
    transactions = {"generuj-leady": ("sales", "sale_id"),
                    "trade-in-accelerator": ("orders", "line_id"),
                    "sales-team": ("sales", "sale_id")}[program]
    table, key = transactions
    assert first[table].num_rows == 5000
    # Row ids run on across chunk boundaries: unique, in order.
    column = first[table][key]
    assert pc.count_distinct(column).as_py() == 5000
    assert column.to_pylist() == sorted(column.to_pylist())
    assert not first[table].equals(other[table])
    assert not list(tmp_path.glob("*/.*.partial"))


def test_references_between_tables_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generate, "CHUNK", 900)
    gl = _tables(generate.generate("generuj-leady", 4000, tmp_path / "gl", seed=5))
    customers = set(gl["customers"]["nip"].to_pylist())
    partners = set(gl["partners"]["partner_id"].to_pylist())
    for table in ("registrations", "sales"):
        assert set(gl[table]["customer_nip"].to_pylist()) <= customers
        assert set(gl[table]["partner_id"].to_pylist()) <= partners
    # Most sales follow a registration of the same partner, customer and family.
    registered = set(zip(*(gl["registrations"][c].to_pylist()
                           for c in ("partner_id", "customer_nip", "family")), strict=True))
    sales = list(zip(*(gl["sales"][c].to_pylist() for c in ("partner_id", "customer_nip", "family")),
                     strict=True))
    assert sum(sale in registered for sale in sales) > 0.7 * len(sales)

    st = _tables(generate.generate("sales-team", 4000, tmp_path / "st", seed=5))
    sale_day = dict(zip(st["sales"]["sale_id"].to_pylist(), st["sales"]["order_date"].to_pylist(),
                        strict=True))
    for sale, returned in zip(st["returns"]["sale_id"].to_pylist(),
                              st["returns"]["return_date"].to_pylist(), strict=True):
        assert sale_day[sale] < returned

    ti = _tables(generate.generate("trade-in-accelerator", 4000, tmp_path / "ti", seed=5))
    assert set(ti["returns"]["rma_number"].to_pylist()) <= set(ti["orders"]["rma_number"].to_pylist())
    assert 0.8 * 4000 < ti["returns"].num_rows < 4000
