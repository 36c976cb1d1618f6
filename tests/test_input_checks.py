"""Reading the input: one counting pass per table, the rows looked into only when a count
is not zero, and the very problems the checks always found (issue 16, input)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.exceptions import ValidationError
from stdnum.pl import nip

from conftest import EXAMPLES
from paymaster import datafiles, inputchecks
from paymaster.plan import load_plan, parse_plan


class Recording:
    """A DuckDB connection that keeps the text of every statement run on it."""

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.statements: list[str] = []

    def execute(self, sql: str, *args):
        self.statements.append(sql)
        return self.con.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self.con, name)


def test_a_clean_input_is_read_in_one_pass_per_table_and_one_join_per_reference() -> None:
    plan = load_plan(EXAMPLES / "generuj-leady" / "plan.yaml").plan
    con = Recording()
    datafiles.load_folder(plan, EXAMPLES / "generuj-leady" / "data", con)
    scans = [s for s in con.statements if s.startswith("SELECT") and "duckdb_views()" not in s]
    for table in plan.inputs:
        # CSV: the raw text is read into a table once, then parsed into the typed one;
        # the checks read it once more, all of them in one pass (keys and NIPs included).
        reading = [s for s in scans if f'"raw_{table}"' in s]
        assert len(reading) == 1, (table, reading)
    references = [s for s in scans if "LEFT JOIN" in s]
    assert len(references) == sum(1 for spec in plan.inputs.values()
                                  for col in spec.columns.values() if col.references)
    assert len(scans) == len(plan.inputs) + len(references)


PLAN = """
program: input-checks
currency: PLN
scope: {start: 2026-01-01, end: 2026-12-31}
inputs:
  partners:
    key: [code]
    columns:
      code: {type: string, values: [M365, O365]}
      nip: {type: string, optional: true, tax_id: pl.nip}
measures:
  - id: flat
    type: per_record
    source: partners
    payee: code
    source_id: code
    date: DATE '2026-01-01'
    period: month
    amount: '1'
"""
CELLS = ["M365", "O365", "m365", " O365 ", "\tM365", "M365\t", "X365", "", " ", "   ", "\t",
         "!", " !", "é", None]
NIPS = ["5260250995", " 5260250995 ", "526-025-09-95", "5260250994", "52602509", "abc", "",
        "  ", "PL5260250995", "0000000000", None]


SPEC = parse_plan(PLAN).plan.inputs["partners"]


def expected(codes: list[str | None], nips: list[str | None]) -> set[tuple]:
    """The problems the spec asks for, worked out in Python: a blank cell (nothing but
    spaces) is empty, a value is one of the plan's in any case around spaces, a key
    repeated is named on its last row with its first, a NIP is judged by stdnum."""
    found = set()
    first_of: dict = {}
    last_of: dict = {}
    for row, (code, number) in enumerate(zip(codes, nips, strict=True), start=2):
        text = None if code is None else code.strip(" ") or None
        if text is None:
            found.add((row, "code", "empty"))
        elif text.lower() not in ("m365", "o365"):
            found.add((row, "code", "one of"))
        first_of.setdefault(code, row)
        last_of[code] = row
        value = None if number is None else number.strip(" ") or None
        if value is not None:
            try:
                nip.validate(value)
            except ValidationError:
                found.add((row, "nip", "pl.nip"))
    for code, row in last_of.items():
        if row != first_of[code]:
            found.add((row, "code", f"first on row {first_of[code]}"))
    return found


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(CELLS), st.sampled_from(NIPS)), min_size=1,
                max_size=12))
def test_the_fast_checks_find_exactly_what_the_spec_calls_a_problem(rows) -> None:
    codes, nips = [r[0] for r in rows], [r[1] for r in rows]
    con = duckdb.connect()
    con.register("cells", pa.table({"__line": list(range(2, len(rows) + 2)),
                                    "code": pa.array(codes, pa.string()),
                                    "nip": pa.array(nips, pa.string())}))
    con.execute('CREATE TEMP TABLE "raw_partners" AS SELECT * FROM cells')
    problems = inputchecks.check_table(con, "raw_partners", datafiles.InputFile("partners", None),
                                     SPEC)
    got = set()
    for p in problems:
        figures = dict(p.args)
        kind = ("empty" if "empty" in p.message else "one of" if "one of" in p.message
                else f"first on row {figures['first']}" if "first" in figures else "pl.nip")
        got.add((p.row, p.field, kind))
    assert got == expected(codes, nips)
