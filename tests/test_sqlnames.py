"""`quote()` and `literal()` answer plain names and text without importing sqlglot (its
import costs more than a cached run of an example): the same text sqlglot writes."""

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from paymaster.sqlnames import literal, quote

DIALECTS = st.sampled_from(["duckdb", "postgres", "sqlite", "spark"])
NAMES = st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,62}", fullmatch=True), st.text())


@settings(max_examples=150)
@given(NAMES, DIALECTS)
def test_quote_is_sqlglots(name: str, dialect: str) -> None:
    assert quote(name, dialect) == exp.to_identifier(name, quoted=True).sql(dialect=dialect)


@settings(max_examples=150)
@given(st.text(), DIALECTS)
def test_literal_is_sqlglots(text: str, dialect: str) -> None:
    assert literal(text, dialect) == exp.Literal.string(text).sql(dialect=dialect)


def test_examples() -> None:
    assert quote("a_1") == '"a_1"' and quote('x"y') == '"x""y"'
    assert literal("/tmp/a b.parquet") == "'/tmp/a b.parquet'"
    assert literal("it's") == "'it''s'"
    assert quote("a_1", "spark") == "`a_1`"
