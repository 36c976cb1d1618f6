"""Measures that sum the same records read one stored table of totals; the credits and the
roster's empty lines read what is stored, not the input again (issue 16, sales-team)."""

from __future__ import annotations

import csv
import re
from decimal import Decimal

import ibis
import pyarrow as pa

from conftest import EXAMPLES
from stage_support import built_example


def test_sales_team_totals_are_stored_once_and_read_by_lines_credits_and_rankings() -> None:
    with built_example("sales-team", record=True, credits="all") as built:
        stored, backend, outputs = list(built.stored), built.backend, built.outputs
        totals = {name.removesuffix("__totals") for name in stored if name.endswith("__totals")}
        # One grouping per kind of records: the quarterly contest reads the ladder's totals
        # (rep's sales of a quarter), the champion, best progress and the streak the
        # monthly totals of the same sales (`ladder__month`), the elite title the annual
        # bonus's (of the year); the new-product, new-customer and team measures filter or
        # look up other records.
        assert totals == {"ladder", "ladder__month", "new_product", "new_customer",
                          "team_member", "team_manager", "annual_bonus"}
        # The quarters' and the year's totals are the months' rolled up: they read the
        # stored monthly totals, not the sales again.
        statements = {stage["name"]: " ".join(stage["statements"])
                      for stage in backend.recording.stages}
        for name in ("ladder__totals", "annual_bonus__totals"):
            assert "stage_ladder__month__totals" in statements[name]
            assert '"sales"' not in statements[name]
        assert '"sales"' in statements["ladder__month__totals"]
        # R01 (WORKSHEET.md): 60 000 a month January to June, one sale each; 180 000 in
        # each quarter, 360 000 in the year, counted from the months' totals.
        def row(stage, period):
            return built.con.execute(
                f'SELECT value, count, CAST(__pstart AS VARCHAR), CAST(date AS VARCHAR) '
                f'FROM "stage_{stage}" WHERE payee_id = ? AND period = ?', ["R01", period]).fetchall()
        q1, q2, year = row("ladder__totals", "2025-Q1"), row("ladder__totals", "2025-Q2"), \
            row("annual_bonus__totals", "2025")
        assert [r[:3] for r in q1] == [(180000, 3, "2025-01-01")]
        assert [r[:3] for r in q2] == [(180000, 3, "2025-04-01")]
        # (the year's last sale is the second quarter's last: R01 sold nothing after June)
        assert year == [(360000, 6, "2025-01-01", q2[0][3])]
        sql = ibis.to_sql(outputs.credits, dialect="duckdb")
        # "not above zero" is read from the stored totals: no window over every record
        assert " OVER " not in sql.upper()
        assert sql.count("stage_ladder__totals") == 1
        # The roster's empty lines read each roster table once, not once per measure, in
        # the payout lines stored once for every output (the summary reads those).
        lines = statements["payout_lines"]
        assert lines.count('"reps"') == 1 and lines.count('"teams"') == 1
        summary = ibis.to_sql(outputs.summary, dialect="duckdb")
        assert "stage_payout_lines" in summary and '"reps"' not in summary

        credits = backend.to_pyarrow(outputs.credits).to_pylist()
        # R01's 2025-Q1 ladder credits: the quarter's three sales of 60 000 (WORKSHEET.md:
        # 180k; the 2024 sale H-0001 is outside the scope), each counted.
        r01 = [c for c in credits if c["payee_id"] == "R01" and c["period"] == "2025-Q1"
               and c["measure"] == "ladder"]
        assert [c["source_id"] for c in r01] == ["S-R01-01", "S-R01-02", "S-R01-03"]
        assert sum(c["value"] for c in r01) == 180000
        assert all(c["counts"] and c["reason"] is None for c in r01)


def test_sales_team_records_are_summed_and_credited_in_their_own_type_by_period_start() -> None:
    """The sales' amounts (DECIMAL(18, 4)) are summed and rounded as they are, not cast to
    DECIMAL(38, 8) for every record first; the totals are grouped by each period's first
    day and labelled once per total, and the credits take the label from their total: no
    record's period is built as text (issue 16, seventh round)."""
    with built_example("sales-team", record=True, credits="all") as built:
        statements = {stage["name"]: " ".join(stage["statements"])
                      for stage in built.backend.recording.stages}
        credits = ibis.to_sql(built.outputs.credits, dialect="duckdb")
        effect = ibis.to_sql(built.outputs.effect, dialect="duckdb")
        for name, sql in [*statements.items(), ("credits", credits), ("effect", effect)]:
            assert not re.search(r'CAST\("t\d+"\."amount" AS DECIMAL\(38, 8\)\)', sql), name
        # grouped by the period's first day, labelled from it (once per total)
        for name in ("ladder__month__totals", "new_product__totals", "team_member__totals",
                     "team_manager__totals"):
            label = r'(STRFTIME\(|EXTRACT\(year FROM )"t\d+"\."__pstart"'
            assert re.search(label, statements[name]), name
        # the credits of the ladder, new-product, team and annual measures: each label is
        # their total's
        assert credits.count('"__gperiod"') >= 5
        rows = built.backend.to_pyarrow(built.outputs.credits).to_pylist()
        effect_row = built.backend.to_pyarrow(built.outputs.effect).to_pylist()[0]
        # WORKSHEET.md: R01 sold 60 000 a month January to June (S-R01-01 .. -06); the
        # annual bonus credits them in 2025, the team commission in their quarters.
        r01 = sorted((c["measure"], c["period"], c["source_id"], c["value"]) for c in rows
                     if c["payee_id"] == "R01" and c["measure"] in ("team_member", "annual_bonus"))
        assert [r[:2] for r in r01] == [("annual_bonus", "2025")] * 6 + \
            [("team_member", "2025-Q1")] * 3 + [("team_member", "2025-Q2")] * 3
        assert all(r[3] == 60000 for r in r01)
    # Every sale of the example's 2025, summed in the effect: the sales file's own total.
    with open(EXAMPLES / "sales-team" / "data" / "sales.csv", newline="") as handle:
        sold = [r for r in csv.DictReader(handle) if r["order_date"].startswith("2025")]
    total = sum(Decimal(r["amount"]) for r in sold)
    assert effect_row["sales"] == total.quantize(Decimal("0.01"))


def test_exact_money_rounds_half_up_in_the_values_own_type() -> None:
    """A DECIMAL(18, 4) value rounded to cents in its own type: half away from zero, as
    `lines.money` rounds a DECIMAL(38, 8) (hand-worked: 0.125 -> 0.13, -0.125 -> -0.13,
    1.2345 -> 1.23, 2.5 -> 2.50; an integer is its own amount; yen: 2.5 -> 3)."""
    from paymaster.engine.blocks.totals import exact_money, exact_value

    values = [Decimal("0.125"), Decimal("-0.125"), Decimal("1.2345"), Decimal("2.5"), None]
    table = ibis.memtable(pa.table({"v": pa.array(values, pa.decimal128(18, 4))}))
    value = exact_value(table["v"])
    assert value.type() == table["v"].type()  # (not cast to DECIMAL(38, 8))
    cents = ibis.duckdb.connect().to_pyarrow(
        table.select(c=exact_money(value.fill_null(0), 2), y=exact_money(value, 0),
                     n=exact_money(ibis.literal(7, type="int8"), 2)))
    assert cents["c"].to_pylist() == [Decimal("0.13"), Decimal("-0.13"), Decimal("1.23"),
                                      Decimal("2.50"), Decimal("0.00")]
    assert cents["y"].to_pylist() == [Decimal("0"), Decimal("-0"), Decimal("1"), Decimal("3"), None]
    assert cents["n"].to_pylist() == [Decimal("7.00")] * 5
