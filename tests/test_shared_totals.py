"""Measures that sum the same records read one stored table of totals; the credits and the
roster's empty lines read what is stored, not the input again (issue 16, sales-team)."""

from __future__ import annotations

import ibis

from stage_support import built_example


def test_sales_team_totals_are_stored_once_and_read_by_lines_credits_and_rankings() -> None:
    with built_example("sales-team", record=True) as built:
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
