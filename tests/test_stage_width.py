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


def _sorted_columns(table) -> list[str]:
    """The columns the payouts' sort carries: the schema of the Sort in its expression."""
    import ibis.expr.operations as ops

    sorts = table.op().find(ops.Sort)
    assert len(sorts) == 1
    return list(sorts[0].schema.names)


def test_the_payouts_sort_carries_no_column_that_is_one_literal_on_every_line() -> None:
    with built_example("generuj-leady") as built:
        payouts = built.outputs.tables()["payouts"]
        carried = _sorted_columns(payouts)
        rows = built.backend.to_pyarrow(payouts).to_pylist()
    # No measure of generuj-leady sets a ranking's, an aggregate's or a rebate's trace, and
    # every line is the program's and the fund's (a budget's charged lines included): the
    # sort does not store them per line; they are put back after it.
    for constant in ("program", "budget", "place", "tied", "run", "growth", "value",
                     "target", "group_value", "group_target", "evaluation", "threshold",
                     "ratio", "required_ratio"):
        assert constant not in carried, constant
    # What varies between lines (a bonus line has no base, a deal's claim varies) is carried.
    for varying in ("payee_id", "source_id", "measure", "template", "base", "claim",
                    "budget_left", "seq"):
        assert varying in carried, varying
    assert {row["program"] for row in rows} == {"generuj-leady"}
    assert {row["budget"] for row in rows} == {"fund"}
    assert all(row["place"] is None and row["threshold"] is None for row in rows)
    assert {row["measure"] for row in rows} == {"deal", "new_partner_bonus"}


def test_a_budgets_charged_lines_are_stored_without_the_literals_of_every_measure() -> None:
    with built_example("generuj-leady") as built:
        charged = built.stored["budget_fund"]
    # Charged deal lines and bonus lines alike leave a ranking's trace NULL and name the
    # program: seen through the charge's windows and the union of both measures' lines.
    for constant in ("program", "budget", "place", "value", "threshold"):
        assert constant not in charged, constant
    for varying in ("measure", "seq", "source_id", "amount", "budget_left", "base"):
        assert varying in charged, varying
