"""A stored stage holds only the columns that vary by row: a constant is put back over it."""

from __future__ import annotations

import duckdb

from conftest import EXAMPLES

PLAN = EXAMPLES / "generuj-leady" / "plan.yaml"


def test_the_deal_records_stage_stores_no_constant_column_and_the_lines_keep_them() -> None:
    from paymaster.backends import open_backend
    from paymaster.datafiles import load_folder
    from paymaster.engine import build
    from paymaster.plan import load_plan

    loaded = load_plan(PLAN)
    con = duckdb.connect()
    load_folder(loaded.plan, EXAMPLES / "generuj-leady" / "data", con)
    backend = open_backend("duckdb", None, None)
    tables = backend.bind(con, list(loaded.plan.inputs))
    stored: dict[str, list[str]] = {}

    def materialize(name, expr):
        table = backend.materialize(name, expr)
        stored[name] = list(table.columns)
        return table

    outputs = build(loaded, tables, materialize)
    try:
        deal = stored["deal__records"]
        # The measure's name, program and seq are one value for every deal; a deal sets no
        # ranking, evaluation or balance trace: none of them is written per line.
        for constant in ("program", "measure", "seq", "template", "place", "tied", "run",
                         "evaluation", "threshold", "owed", "value", "target"):
            assert constant not in deal, constant
        # A block's lines stored by the build likewise (a one-off bonus's, a rebate's).
        assert "template" not in stored["new_partner_bonus__lines"]
        for varying in ("payee_id", "source_id", "earned", "eligible", "reason", "claim"):
            assert varying in deal, varying
        payouts = backend.to_pyarrow(outputs.tables()["payouts"]).to_pylist()
    finally:
        backend.close()
    deals = [row for row in payouts if row["measure"] == "deal"]
    assert deals and all(row["program"] == "generuj-leady" for row in payouts)
    # Put back as the same values: every deal line reads its template, none a place.
    assert {row["template"] for row in deals} == {"record.rate"}
    assert all(row["place"] is None and row["evaluation"] is None for row in deals)
