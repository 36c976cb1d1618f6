"""A tax id cleans the same on DuckDB and Spark: the characters written between its digits
(plan.taxids.TAX_ID_SEPARATORS) are spelt out, not `\\s`, which RE2 and Java read
differently (Java's holds the vertical tab). The load (datafiles) and the registration
check's key groups (plan.narrowing) clean the same characters as the screening."""

from __future__ import annotations

import string

import duckdb
import ibis
import pytest

from paymaster.datafiles import _tax_id_cleaned
from paymaster.engine.rules import nip_digits, nip_valid
from paymaster.plan.narrowing import _coarse

VALID = "5260250995"  # weights 6 5 7 2 3 4 5 6 7: sum 192, 192 % 11 = 5, the last digit
# One valid NIP written with each character between its digits, and a few controls.
WRITTEN = [f"526{c}025{c}09{c}95" for c in string.whitespace + "-"] + [
    "526\xa00250995",      # no-break space: not whitespace to either backend
    "526\u20030250995",    # em space: neither
    "526_025_09_95",       # underscore: not a separator
    " 5260250995\x0b",     # around it
    "526\r\n025\t09\x0c95",
    VALID, "5260250996", None,
]


def _expected(text: str | None) -> bool:
    """Worked in Python: remove string.whitespace and dashes, then the NIP checksum."""
    if text is None:
        return False
    digits = "".join(c for c in text if c not in string.whitespace + "-")
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return False
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 == int(digits[9])


def _verdicts():
    table = ibis.memtable({"i": list(range(len(WRITTEN))), "v": WRITTEN},
                          schema={"i": "int64", "v": "string"})
    return table.select("i", ok=nip_valid(table.v).fill_null(False),
                        digits=nip_digits(table.v)).order_by("i")


def _check(rows) -> None:
    for text, row in zip(WRITTEN, rows, strict=True):
        assert bool(row["ok"]) == _expected(text), repr(text)
        if _expected(text):
            assert row["digits"] == VALID, repr(text)


def test_tax_id_cleaning_on_duckdb() -> None:
    _check(_verdicts().execute().to_dict("records"))


@pytest.mark.spark
def test_tax_id_cleaning_on_spark_equals_duckdb(spark) -> None:
    rows = ibis.pyspark.connect(spark).execute(_verdicts()).to_dict("records")
    _check(rows)
    assert rows == _verdicts().execute().to_dict("records")


def test_load_and_key_groups_clean_what_the_screening_cleans() -> None:
    """The loaded column (a valid tax id cleaned) and narrowing's coarse key: a record the
    screening counts as the customer 5260250995 must be that customer to both."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, nip VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(WRITTEN)))
    rows = con.execute(f"SELECT nip, {_tax_id_cleaned('nip', 'pl.nip')}, {_coarse('nip')} "
                       "FROM t ORDER BY i").fetchall()
    for text, loaded, coarse in rows:
        if _expected(text):
            assert loaded == VALID and coarse == VALID, repr(text)
        else:
            assert loaded == text, repr(text)
