"""Sales-team specifics beyond the golden example."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

from conftest import EXAMPLES
from paymaster.runs import calculate

FOLDER = EXAMPLES / "sales-team"


def clawbacks(data: Path) -> dict[str, Decimal]:
    rows = calculate(FOLDER / "plan.yaml", data).tables["payouts"].to_pylist()
    return {r["source_id"]: r["amount"] for r in rows if r["measure"] == "clawback"}


def test_a_return_written_as_a_positive_amount_is_clawed_back_the_same(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(FOLDER / "data", data)
    returns = data / "returns.csv"
    returns.write_text(returns.read_text().replace("-6000.00", "6000.00"), encoding="utf-8")
    # -(6 000 x 8 800 / 180 000 + 2% x 6 000 + 1% x 6 000), see WORKSHEET.md
    assert clawbacks(data)["X1"] == Decimal("-473.33")


def test_returns_may_be_absent(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(FOLDER / "data", data)
    (data / "returns.csv").unlink()
    rows = calculate(FOLDER / "plan.yaml", data).tables["payouts"].to_pylist()
    # No return: each of the 12 reps gets one 0.00 clawback line a quarter, `no_returns`.
    assert sorted((r["amount"], r["paid"], r["reason"], r["source_id"]) for r in rows
                  if r["measure"] == "clawback") == [
        (Decimal("0.00"), False, "no_returns", "")] * 48


def test_a_rep_without_a_target_is_not_paid_a_ladder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(FOLDER / "data", data)
    targets = data / "rep_targets.csv"
    targets.write_text("\n".join(line for line in targets.read_text().splitlines()
                                 if not line.startswith("R05,2025-Q1")) + "\n", encoding="utf-8")
    rows = calculate(FOLDER / "plan.yaml", data).tables["payouts"].to_pylist()
    [ladder] = [r for r in rows if r["measure"] == "ladder" and r["payee_id"] == "R05"
                and r["period"] == "2025-Q1"]
    assert (ladder["paid"], ladder["amount"], ladder["reason"]) == (False, Decimal("0.00"),
                                                                   "no_target")
