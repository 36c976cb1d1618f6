"""A stored stage holds only the columns that vary by row: a constant is put back over it."""

from __future__ import annotations

from stage_support import built_example


def test_the_deal_records_stage_stores_no_constant_column_and_the_lines_keep_them() -> None:
    with built_example("generuj-leady") as built:
        stored, backend = built.stored, built.backend
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
        payouts = backend.to_pyarrow(built.outputs.tables()["payouts"]).to_pylist()
    deals = [row for row in payouts if row["measure"] == "deal"]
    assert deals and all(row["program"] == "generuj-leady" for row in payouts)
    # Put back as the same values: every deal line reads its template, none a place.
    assert {row["template"] for row in deals} == {"record.rate"}
    assert all(row["place"] is None and row["evaluation"] is None for row in deals)
