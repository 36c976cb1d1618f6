"""`refers` to a measure with several lines per payee and period (a per_record measure)
brings in one row per payee and period, the sums of its lines: the referring record is
never repeated once per line (issue 17 item 9)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from paymaster.runs import calculate

PLAN = """
program: refers-case
currency: USD
scope: {start: 2025-01-01, end: 2025-12-31}
inputs:
  sales:
    columns: {sale_id: string, rep: string, amount: decimal, day: date}
  returns:
    columns: {return_id: string, rep: string, day: date, sale_day: date}
measures:
  - id: deal
    type: per_record
    source: sales
    payee: rep
    source_id: sale_id
    date: day
    base: amount
    rate: 0.1
  - id: clawback
    type: per_record
    source: returns
    payee: rep
    source_id: return_id
    date: day
    refers: [{measure: deal, period_of: sale_day}]
    amount: "-(deal.earned / 10)"
"""

SALES = """sale_id,rep,amount,day
S1,R1,100.00,2025-01-05
S2,R1,300.00,2025-01-20
S3,R1,55.55,2025-02-10
S4,R2,70.00,2025-01-07
"""
RETURNS = """return_id,rep,day,sale_day
T1,R1,2025-02-03,2025-01-20
T2,R2,2025-02-04,2025-01-07
T3,R2,2025-03-01,2025-02-15
"""


def test_refers_to_a_per_record_measure_gives_one_line_per_record(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    (tmp_path / "data" / "sales.csv").write_text(SALES, encoding="utf-8")
    (tmp_path / "data" / "returns.csv").write_text(RETURNS, encoding="utf-8")
    payouts = calculate(tmp_path / "plan.yaml", tmp_path / "data").tables["payouts"].to_pylist()
    clawbacks = sorted((r["source_id"], r["amount"]) for r in payouts if r["measure"] == "clawback")
    # By hand: deal pays 10% a sale. R1's January lines S1 10.00 + S2 30.00 = 40.00, a
    # tenth back is -4.00, once (joining each line repeated T1: -1.00 and -3.00). R2's
    # January line S4 7.00 -> -0.70. R2 has no February line: deal.earned is empty, so
    # T3's amount is empty too, 0.00.
    assert clawbacks == [("T1", Decimal("-4.00")), ("T2", Decimal("-0.70")),
                         ("T3", Decimal("0.00"))]
    deals = sorted((r["source_id"], r["amount"]) for r in payouts if r["measure"] == "deal")
    assert deals == [("S1", Decimal("10.00")), ("S2", Decimal("30.00")), ("S3", Decimal("5.56")),
                     ("S4", Decimal("7.00"))]
