"""The checks of an input table, as SQL inside DuckDB: every per-row check of a table
counted in one pass (conditional aggregates; the key's duplicates by hash, the tax ids SQL
cannot prove valid), and only a check that finds something reads its first bad rows again
for the messages (file, row, column, value); references by one outer join each; a
table's `refuse` group checks. `datafiles` loads a folder with them; an incremental run
and a warm registration check apply them to changed rows.
"""

from __future__ import annotations

from typing import Protocol

from paymaster.errors import N_, Problem, Word, suggest
from paymaster.plan.model import ColumnSpec, InputTable, Plan
from paymaster.sqlnames import literal, quote, quote_all


class TableFile(Protocol):
    """A declared table's file (datafiles.InputFile): the name its problems show."""
    table: str

    @property
    def name(self) -> str: ...


MAX_PROBLEMS_PER_CHECK = 50
SQL_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "decimal": "DECIMAL(18, 4)",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
}
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")


def _native(declared: str, actual: str) -> bool:
    """Is a typed (Parquet) column already of the declared kind? Then it needs no parsing."""
    actual = actual.upper()
    integer = actual.endswith("INT") or actual in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT")
    if declared == "decimal" and actual.startswith("DECIMAL"):
        scale = int(actual.rstrip(")").split(",")[-1]) if "," in actual else 0
        return scale <= 4
    return {
        "string": actual == "VARCHAR",
        "integer": integer,
        "decimal": integer,
        "date": actual == "DATE",
        "timestamp": actual.startswith("TIMESTAMP") or actual == "DATE",
        "boolean": actual == "BOOLEAN",
    }[declared]


def raw_types(con, raw: str) -> dict[str, str]:
    """Each column of a raw table and its DuckDB type (VARCHAR unless read typed)."""
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE {quote(raw)}").fetchall() if r[0] != "__line"}


def check_table(con, raw: str, item: TableFile, spec: InputTable) -> list[Problem]:
    """Every problem of a raw table against its declaration, each with file, row, column."""
    types = raw_types(con, raw)
    present = list(types)
    problems = []
    for column, col in spec.columns.items():
        if column not in present and not col.optional:
            close = suggest(column, [p for p in present if p not in spec.columns])
            problems.append(Problem.of(
                N_("missing column '%(heading)s'"), file=item.name, row=1, field=column,
                heading=column, kind=Word(col.type),
                close=close and close.removeprefix("did you mean '").removesuffix("'?"),
                hint=N_("did you mean '%(close)s'?") if close
                else N_("add a column '%(heading)s' (%(kind)s)")))
    if problems:
        return problems
    checks: list[tuple[str, str, str, dict]] = []
    for column, col in spec.columns.items():
        if column in present:
            native = _native(col.type, types[column])
            text = quote(column) if types[column] == "VARCHAR" else f"CAST({quote(column)} AS VARCHAR)"
            checks.extend((column, *check) for check in _column_checks(column, col, native, text))
    # The key's duplicates and the tax ids no SQL can prove valid are counted in the
    # same pass; each is looked into (exactly, row by row) only when its count is not 0.
    extra = []
    if spec.key:
        # Equal keys have equal hashes: no duplicate hash, no duplicate key.
        extra.append(f"count(*) - count(DISTINCT hash({quote_all(spec.key)}))")
    tax_ids = [(column, col.tax_id) for column, col in spec.columns.items()
               if col.tax_id and col.invalid_tax_id == "error" and column in present]
    extra.extend(f"count(*) FILTER (WHERE {_tax_id_unproven(column, kind)})"
                 for column, kind in tax_ids)
    found, counts = _run_checks(con, raw, item.name, checks, extra)
    problems.extend(found)
    if spec.key and counts.pop(0):
        problems.extend(_check_key(con, raw, item.name, spec))
    for (column, kind), count in zip(tax_ids, counts, strict=True):
        if count:
            problems.extend(_check_tax_ids(con, raw, item.name, column, kind))
    return problems


def _nip_surely_valid(text: str, number: str) -> str:
    """SQL on a value's text and its BIGINT: ten digits, nothing else, with the right check
    digit (weights 6 5 7 2 3 4 5 6 7, sum mod 11 = the tenth digit). stdnum.pl.nip accepts
    every such value. Integer arithmetic: far cheaper than ten substrings per row."""
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    total = " + ".join(f"{w} * ({number} // {10 ** (9 - i)} % 10)" for i, w in enumerate(weights))
    return f"regexp_full_match({text}, '[0-9]{{10}}') AND ({total}) % 11 = {number} % 10"


SURELY_VALID_TAX_IDS = {"pl.nip": _nip_surely_valid}


def _tax_id_unproven(column: str, kind: str) -> str:
    """True on a row whose tax id SQL cannot prove valid (those `_check_tax_ids` gives
    stdnum). A value of ten digits as written is its own cleaned text: its checksum is
    tested first, and only the other values are cleaned."""
    surely_valid = SURELY_VALID_TAX_IDS.get(kind)
    value = _cleaned(column)
    if surely_valid is None:
        return f"{value} IS NOT NULL"
    text = f"CAST({quote(column)} AS VARCHAR)"
    return (f"CASE WHEN coalesce({surely_valid(text, f'TRY_CAST({text} AS BIGINT)')}, FALSE) "
            f"THEN FALSE ELSE {value} IS NOT NULL AND NOT coalesce("
            f"{surely_valid(value, f'TRY_CAST({value} AS BIGINT)')}, FALSE) END")


def _check_tax_ids(con, raw: str, file: str, column: str, kind: str) -> list[Problem]:
    import importlib

    from stdnum.exceptions import ValidationError

    module = importlib.import_module(f"stdnum.{kind}")
    problems = []
    # Values SQL can prove valid (canonical form, right check digit) skip Python; stdnum
    # judges every other value, so the problems found are exactly the same.
    # (The cleaned value is computed once in a subquery: repeated, it costs per use.)
    surely_valid = SURELY_VALID_TAX_IDS.get(kind)
    skip = f" AND NOT coalesce({surely_valid('__v', '__n')}, FALSE)" if surely_valid else ""
    rows = con.execute(
        f"SELECT __line, __v FROM (SELECT __line, __v, TRY_CAST(__v AS BIGINT) AS __n FROM "
        f"(SELECT __line, {_cleaned(column)} AS __v FROM {quote(raw)})) "
        f"WHERE __v IS NOT NULL{skip} ORDER BY __line").fetchall()
    for line, value in rows:
        try:
            module.validate(value)
        except ValidationError as err:
            problems.append(Problem.of(
                N_("'%(value)s' is not a valid %(kind)s (%(name)s): %(reason)s"), file=file,
                row=int(line), field=column, value=value, kind=kind,
                name=Word(module.__doc__.splitlines()[0]), reason=Word(err.message.rstrip(".")),
                hint=N_("check the digits against the registration document")))
            if len(problems) >= MAX_PROBLEMS_PER_CHECK:
                break
    return problems


# Words a file problem names (errors.Word): the column types, and stdnum's name of a
# tax id and its reasons for refusing one.
WORDS = (
    N_("string"), N_("integer"), N_("decimal"), N_("date"), N_("timestamp"), N_("boolean"),
    N_("NIP (Numer Identyfikacji Podatkowej, Polish VAT number)."),
    N_("The number's checksum or check digit is invalid"),
    N_("One of the parts of the number are invalid or unknown"),
    N_("The number has an invalid format"),
    N_("The number has an invalid length"),
)

# A failed check's message, as catalog templates: the value shown in front ('x' is ...)
# or, when the cell is blank, not.
EMPTY = (N_("'%(value)s' is empty; a value is required"), N_("is empty; a value is required"))
NOT_VALID = {
    "date": N_("'%(value)s' is not a valid date (write dates as YYYY-MM-DD)"),
    "timestamp": N_("'%(value)s' is not a valid timestamp (write YYYY-MM-DD HH:MM:SS)"),
    "boolean": N_("'%(value)s' is not a valid boolean (write true or false)"),
    "decimal": N_("'%(value)s' is not a valid decimal (write 1234.56, no thousands separators)"),
    "integer": N_("'%(value)s' is not a valid integer (a whole number)"),
    "string": N_("'%(value)s' is not a valid string"),
}
PLACES = N_("'%(value)s' has more than 4 decimal places")
AT_LEAST = N_("'%(value)s' must be at least %(limit)s")
AT_MOST = N_("'%(value)s' must be at most %(limit)s")
ONE_OF = N_("'%(value)s' must be one of %(values)s")


def _column_checks(column: str, col: ColumnSpec, native: bool = False, text: str | None = None
                   ) -> list[tuple[str, str, dict]]:
    """(condition true on a bad row, message template, its figures) for one column, in
    reporting order. `text` is the column as VARCHAR: a text column's checks test it as
    written first (a cheap comparison settles almost every row) and clean it only for the
    rows left."""
    text = text or f"CAST({quote(column)} AS VARCHAR)"
    value = _cleaned(column) if not native or col.type == "string" else quote(column)
    checks: list[tuple[str, str, dict]] = []
    if not col.optional:
        checks.append((_blank(text, value) if col.type == "string" else f"{value} IS NULL",
                       EMPTY[0], {}))
    parsed = f"CAST({value} AS {SQL_TYPES[col.type]})" if native else _parse(value, col.type)
    if not native:
        checks.append((f"{value} IS NOT NULL AND ({parsed}) IS NULL", NOT_VALID[col.type], {}))
    if col.type == "decimal" and not native:
        checks.append((
            f"{value} IS NOT NULL AND regexp_full_match({value}, '-?[0-9]*\\.[0-9]{{5,}}')",
            PLACES, {}))
    if col.min is not None:
        checks.append((f"({parsed}) < {col.min}", AT_LEAST, {"limit": col.min}))
    if col.max is not None:
        checks.append((f"({parsed}) > {col.max}", AT_MOST, {"limit": col.max}))
    if col.values:
        allowed = ", ".join(sql_string(v.lower()) for v in col.values)
        wrong = f"{value} IS NOT NULL AND lower({value}) NOT IN ({allowed})"
        if col.type == "string":  # most values are spelled as the plan spells them
            spelled = ", ".join(sql_string(v) for v in col.values)
            wrong = f"CASE WHEN {text} IN ({spelled}) THEN FALSE ELSE {wrong} END"
        checks.append((wrong, ONE_OF, {"values": tuple(col.values)}))
    return checks


def _blank(text: str, cleaned: str) -> str:
    """True on a blank text: NULL, empty or only spaces (what TRIM removes). A text
    whose first character sorts after the space cannot be blank; only the others are
    trimmed (TRIM on every row of a wide table costs as much as reading it)."""
    return f"CASE WHEN {text} >= '!' THEN FALSE ELSE {cleaned} IS NULL END"


def _run_checks(con, raw: str, file: str, checks: list[tuple[str, str, str, dict]],
                extra: list[str] = ()) -> tuple[list[Problem], list[int]]:
    """Count every check's bad rows in one pass over the table (with the `extra`
    aggregates, whose values are returned); read the first bad rows (for the messages)
    only of the checks that found any."""
    if not checks and not extra:
        return [], []
    # A parsed column's cleaned text is computed once (DuckDB evaluates a repeated
    # expression once per use), in a subquery the conditions then refer to. (A text
    # column's checks clean it only on the rows that need it: not here.)
    cleaned = {_cleaned(column): f"__clean_{i}"
               for i, column in enumerate(dict.fromkeys(
                   c for c, condition, *_ in checks if condition.startswith(_cleaned(c))))}
    conditions = []
    for _, condition, *_ in checks:
        if not condition.startswith("CASE "):
            for text, alias in cleaned.items():
                condition = condition.replace(text, alias)
        conditions.append(condition)
    inner = "".join(f", {text} AS {alias}" for text, alias in cleaned.items())
    counts = con.execute(
        "SELECT " + ", ".join([f"count(*) FILTER (WHERE {c})" for c in conditions] + list(extra))
        + f" FROM (SELECT *{inner} FROM {quote(raw)})"
    ).fetchall()[0]
    problems = []
    for (column, condition, template, args), count in zip(checks, counts, strict=False):
        if not count:
            continue
        rows = con.execute(
            f"SELECT __line, CAST({quote(column)} AS VARCHAR) FROM {quote(raw)} WHERE {condition} "
            f"ORDER BY __line LIMIT {MAX_PROBLEMS_PER_CHECK}"
        ).fetchall()
        for line, shown in rows:
            if shown in (None, ""):  # a blank cell: the message without the value
                template = template.removeprefix("'%(value)s' ")
            problems.append(Problem.of(template, file=file, row=int(line), field=column,
                                       value=shown, **args))
    return problems, list(counts[len(checks):])


def _parse(value: str, kind: str) -> str:
    if kind == "boolean":
        yes = ", ".join(sql_string(w) for w in TRUE_WORDS)
        no = ", ".join(sql_string(w) for w in FALSE_WORDS)
        return (f"CASE WHEN lower({value}) IN ({yes}) THEN TRUE "
                f"WHEN lower({value}) IN ({no}) THEN FALSE END")
    if kind == "string":
        return value
    if kind == "date":
        # A date written as a midnight timestamp is still that date.
        return f"COALESCE(TRY_CAST({value} AS DATE), CAST(TRY_CAST({value} AS TIMESTAMP) AS DATE))"
    return f"TRY_CAST({value} AS {SQL_TYPES[kind]})"


def _check_key(con, raw: str, file: str, spec: InputTable) -> list[Problem]:
    if not spec.key:
        return []
    keys = quote_all(spec.key)
    rows = con.execute(
        f"SELECT min(__line), max(__line), {keys} FROM {quote(raw)} GROUP BY {keys} "
        f"HAVING count(*) > 1 ORDER BY 1 LIMIT {MAX_PROBLEMS_PER_CHECK}"
    ).fetchall()
    return [
        Problem.of(N_("duplicate key (%(key)s) = (%(values)s); first on row %(first)s"),
                   file=file, row=int(r[1]), field=spec.key[0], key=tuple(spec.key),
                   values=tuple(map(str, r[2:])), first=int(r[0]))
        for r in rows
    ]


def _cleaned(column: str) -> str:
    return f"NULLIF(TRIM(CAST({quote(column)} AS VARCHAR)), '')"


def check_references(con, plan: Plan, files: list[TableFile]) -> list[Problem]:
    names = {f.table: f.name for f in files}
    problems = []
    for table, spec in plan.inputs.items():
        for column, col in spec.columns.items():
            if not col.references:
                continue
            ref_table, _, ref_col = col.references.partition(".")
            col_, ref = quote(column), quote(ref_col)
            # An outer join, not NOT EXISTS: DuckDB may then build its hash table on the
            # smaller side (a few returns against a million sales). A row without a match
            # comes out once, whatever the referenced column's duplicates.
            rows = con.execute(
                f"SELECT t.__line, t.{col_} FROM {quote(table)} t LEFT JOIN "
                f"(SELECT {ref} FROM {quote(ref_table)}) r ON r.{ref} = t.{col_} "
                f"WHERE t.{col_} IS NOT NULL AND r.{ref} IS NULL "
                f"ORDER BY t.__line LIMIT {MAX_PROBLEMS_PER_CHECK}"
            ).fetchall()
            for line, value in rows:
                problems.append(Problem.of(
                    N_("unknown %(heading)s '%(value)s': not in %(table)s"),
                    file=names[table], row=int(line), field=column, heading=ref_col,
                    value=value, table=ref_table, names=names[ref_table],
                    hint=N_("add it to %(names)s or correct the id")))
    return problems


def check_groups(con, table: str, file: str, spec: InputTable) -> list[Problem]:
    """The table's `refuse` group checks: each failing group named with its rows (a
    `hold` check is the engine's: it keeps the rows and holds their lines)."""
    problems = []
    for check in spec.checks:
        if check.action != "refuse":
            continue
        by = quote_all(check.by)
        rows = con.execute(
            f"SELECT {by}, coalesce(sum({quote(check.sum)}), 0) AS total, "
            f"list(__line ORDER BY __line) AS lines FROM {quote(table)} GROUP BY {by} "
            "HAVING abs(coalesce(sum(" + quote(check.sum) + "), 0) - $1) > $2 "
            f"ORDER BY min(__line) LIMIT {MAX_PROBLEMS_PER_CHECK}",
            [check.equals, check.tolerance]).fetchall()
        for row in rows:
            group = ", ".join(f"{c} {v}" for c, v in zip(check.by, row, strict=False))
            lines = row[-1]
            shown = ", ".join(map(str, lines[:20])) + (" ..." if len(lines) > 20 else "")
            correct = N_("correct the rows so that %(sum)s adds up to %(equals)s for each "
                         "%(by)s")
            english = {"sum": check.sum, "equals": _plain(check.equals), "by": tuple(check.by)}
            # The plan's description is the CLI's hint; a page gives the catalog's.
            problems.append(Problem.of(
                N_("%(check)s: %(group)s: %(sum)s adds up to %(total)s, not %(equals)s (rows "
                   "%(rows)s)"), file=file, row=int(lines[0]), field=check.sum,
                check=check.name, group=group, total=_plain(row[-2]), rows=shown,
                hint=correct, cli_hint=check.description or None, **english))
    return problems


def _plain(number) -> str:
    """A decimal as people write it: 1.3, not 1.3000."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def sql_string(text: str) -> str:
    """A SQL string literal (escaped by sqlglot)."""
    return literal(text)
