"""A gated rebate's stages do what the hand SQL does: one pass per line, the gates judged on
per-payee sums, narrow stored stages, no join of every payee with every interval."""

from __future__ import annotations

import json

import duckdb

from stage_support import built_example

NESTED_LOOPS = {"NESTED_LOOP_JOIN", "BLOCKWISE_NL_JOIN", "CROSS_PRODUCT"}


def test_trade_in_stages_read_each_line_once_and_join_payees_to_their_own_intervals() -> None:
    with built_example("trade-in-accelerator", record=True) as built:
        evaluations = built.backend.to_pyarrow(built.outputs.tables()["evaluations"]).to_pylist()
        plans = {stage["name"]: _operators(built.con, stage["statements"][-1])
                 for stage in built.backend.recording.stages}
        stored = built.stored
        records = next(stage["statements"][-1] for stage in built.backend.recording.stages
                       if stage["name"] == "rebate__records")
        value_type = built.con.execute(
            "SELECT data_type FROM duckdb_columns() WHERE table_name = 'stage_rebate__records' "
            "AND column_name = '__value'").fetchall()
    # The records keep the columns the gates' conditions read, not every order column;
    # one pass over them gives each payee's sums at every date (the lines paired with no
    # date, the population found in the same aggregate).
    assert {"tier", "shipped_on", "rma_number", "__value", "__qualifies"} <= set(stored["rebate__records"])
    for unread in ("tmp_quote", "credit_currency", "resale", "claimed_program"):
        assert unread not in stored["rebate__records"], unread
    assert {"__q0", "__t0", "__q1", "__t1"} <= set(stored["rebate__payees"])
    # ... and each record's value in the order's own DECIMAL(18, 4), not widened to 16
    # bytes: the credits round it in 64 bits (`_narrow`, `_money` below).
    assert value_type == [("DECIMAL(18,4)",)], value_type
    # TRIM(tmp_quote) (a rule and the population's condition) and TRIM(credit_currency)
    # (twice in one rule) are each computed once (`rules.shared_parts`), not five times.
    assert records.count("REGEXP_MATCHES") == 2, records.count("REGEXP_MATCHES")
    assert "stage_rebate__records" in plans["rebate__payees"][1]
    # The evaluations are judged on the per-payee sums: they read neither the lines nor the
    # returns again, and each payee meets only its own certifications (a hash join, not
    # every payee paired with every interval: 200M pairs at 10M lines).
    operators, read = plans["rebate__evaluated"]
    assert "stage_rebate__payees" in read
    assert "stage_rebate__records" not in read and "returns" not in read, read
    assert "HASH_JOIN" in operators and not operators & NESTED_LOOPS, operators
    # ... and judge them per date as the worksheet does (examples/trade-in-accelerator/
    # WORKSHEET.md): A's tier-2 L03, reported after the first date, does not count at it;
    # C's return is back by the second date only; G's RMA is confirmed by a case.
    judged = {(e["payee_id"], e["evaluation"]): (e["passed"], str(e["value"]), str(e["ratio"]))
              for e in evaluations if e["period"] == "phase-6" and e["payee_id"] in "ACG"}
    assert judged == {
        ("A", "1"): (True, "12500.00", "1.0000"),
        ("C", "1"): (False, "25000.00", "0.2000"), ("C", "2"): (True, "25000.00", "1.0000"),
        ("G", "1"): (False, "15000.00", "0.0000"), ("G", "2"): (True, "15000.00", "1.0000"),
    }


def test_a_value_is_kept_narrow_only_where_that_is_exact_and_rounds_half_away_from_zero() -> None:
    import ibis

    from paymaster.engine.blocks.rebate import _money, _narrow
    from paymaster.plan.expressions import WIDE

    table = ibis.memtable({"v": ["0.0050", "0.0149", "2.3450", "-0.0050", "-2.3449", "7"]}).select(
        d4=ibis._.v.cast("decimal(18, 4)"), d38=ibis._.v.cast("decimal(38, 4)"),
        d10=ibis._.v.cast("decimal(18, 10)"), n=ibis._.v.cast("decimal(18, 4)").cast("int64"))
    # A DECIMAL of at most 18 digits and 8 places is held exactly by the wide type: kept.
    assert _narrow(table.d4).type() == table.d4.type()
    for wider in (table.d38, table.d10, table.n):
        assert _narrow(wider).type() == WIDE, wider.type()
    con = ibis.duckdb.connect()
    got = con.to_pyarrow(table.select(
        cents=_money(_narrow(table.d4), 2), fils=_money(_narrow(table.d4), 3),
        yen=_money(_narrow(table.d4), 0), wide=_money(_narrow(table.d10), 2))).to_pydict()
    # worked by hand: ties away from zero, as the wide rounding does
    assert [str(v) for v in got["cents"]] == ["0.01", "0.01", "2.35", "-0.01", "-2.34", "7.00"]
    assert [str(v) for v in got["fils"]] == ["0.005", "0.015", "2.345", "-0.005", "-2.345", "7.000"]
    assert [str(v) for v in got["yen"]] == ["0", "0", "2", "0", "-2", "7"]
    assert got["wide"] == got["cents"]


def test_a_repeated_costly_part_is_computed_once_and_a_guarded_one_stays_guarded() -> None:
    import ibis

    from paymaster.engine.rules import shared_parts

    table = ibis.memtable({"q": [" a", "", None, "7 ", "x"], "n": ["1", "x", None, "2", "y"]})
    trimmed = table.q.strip()
    guarded = ibis.ifelse(table.n.re_search("^[0-9]+$"), table.n.cast("int64") > 1, False)
    values = [trimmed == "", trimmed.upper() != "A", guarded, guarded | table.q.isnull()]
    wider, rewritten = shared_parts(table, values)
    # the TRIM is one column now; the cast, which only digits may reach, is not moved out
    # of its condition (computed on every row it would fail on "x")
    assert [c for c in wider.columns if c not in table.columns] == ["__part0"]
    got = ibis.duckdb.connect().to_pyarrow(wider.select(
        *[value.name(f"v{i}") for i, value in enumerate(rewritten)])).to_pydict()
    assert got == {"v0": [False, True, None, False, False], "v1": [False, True, None, True, True],
                   "v2": [False, False, False, True, False], "v3": [False, False, True, True, False]}


def _operators(con: duckdb.DuckDBPyConnection, statement: str) -> tuple[set[str], set[str]]:
    """The physical plan's operators and the tables it scans (by their last name)."""
    operators: set[str] = set()
    tables: set[str] = set()
    nodes = json.loads(con.execute("EXPLAIN (FORMAT JSON) " + statement).fetchall()[0][1])
    while nodes:
        node = nodes.pop()
        operators.add(node["name"])
        table = node.get("extra_info", {}).get("Table")
        if table:
            tables.add(table.rsplit(".", 1)[-1].strip('"'))
        nodes.extend(node.get("children", []))
    return operators, tables
