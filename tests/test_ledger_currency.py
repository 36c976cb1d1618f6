"""Money keeps its currency's places through the store, on SQLite and PostgreSQL: yen
with none, dinars with three, in run lines, run totals, ledger entries, statements,
payout batches and their files (issue 17 item 8). Figures: tests/cases/currency-*/
WORKSHEET.md, worked by hand."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from conftest import ROOT
from paymaster.services import imports, ledger, payouts, programs, statements
from paymaster.workspace import Workspace

CASES = ROOT / "tests" / "cases"
YEN, DINAR = "yen-commission", "dinar-commission"


def test_yen_and_dinars_keep_their_places_from_run_to_payout_file(tmp_path: Path,
                                                                   store_url: str) -> None:
    ws = Workspace.init(tmp_path / "ws", database=store_url)
    try:
        for case, program in (("currency-jpy", YEN), ("currency-bhd", DINAR)):
            programs.add_program(ws, CASES / case / "plan.yaml", "office")
            imports.import_file(ws, program, "sales", CASES / case / "data" / "sales.csv",
                                actor="office", as_of=dt.date(2026, 1, 1))
            run = ledger.create_run(ws, program, actor="office")
            ledger.approve(ws, run.id, actor="approver")
            ledger.post(ws, run.id, actor="office")

        # Text, not only value: 51 yen is "51" (never "51.00"), 0.125 dinar is "0.125".
        def posted(program: str) -> dict[str, str]:
            return {e.source_id: str(e.amount) for e in ledger.entries(ws, program)}

        # every paid line with an amount; S5 (0) and S8 (the pool ran out) post nothing
        assert posted(YEN) == {"S1": "51", "S2": "50", "S3": "-51", "S4": "1", "S6": "200",
                               "S7": "31"}
        assert posted(DINAR) == {"B1": "0.125", "B2": "0.127", "B3": "-0.127", "B4": "0.125",
                                 "B5": "0.001", "B6": "15.432"}
        runs = {r.program: r for r in ledger.runs(ws)}
        assert str(runs[YEN].total) == "282"          # 132 - 50 + 200
        assert str(runs[DINAR].total) == "15.683"     # 0.252 - 0.002 + 15.433
        lines = {r.line_key: str(r.amount) for r in ledger.run_lines(ws, runs[YEN].id)}
        assert lines["R2|2025-03|commission|S8"] == "0"  # unpaid: 0 yen, not 0.00

        statement = statements.build(ws, YEN, "R1")
        assert [str(x) for x in (statement.total_earned, statement.total_posted,
                                 statement.total_paid)] == ["132", "132", "0"]
        assert str(statements.build(ws, DINAR, "R3").total_posted) == "15.433"

        (tmp_path / "out").mkdir()
        for program, total, amounts in ((YEN, "282", {"R1": "132", "R2": "-50", "R3": "200"}),
                                        (DINAR, "15.683", {"R1": "0.252", "R2": "-0.002",
                                                           "R3": "15.433"})):
            out = tmp_path / "out" / f"{program}.csv"
            batch = payouts.pay(ws, program, out, actor="office")
            assert list(batch.totals.values()) == [total]
            with out.open(encoding="utf-8", newline="") as handle:
                assert {r["payee_id"]: r["amount"] for r in csv.DictReader(handle)} == amounts
    finally:
        ws.close()
