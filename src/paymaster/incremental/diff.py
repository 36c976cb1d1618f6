"""The changed rows: a changed file's rows hashed and compared with the stored ones; only
the changed rows validated, typed and written into the state."""

from __future__ import annotations

from pathlib import Path

from paymaster import datafiles, inputchecks
from paymaster.datafiles import find_files
from paymaster.errors import Collector, DataError, Problem
from paymaster.incremental.base import Fallback
from paymaster.incremental.state import FH, IN, Diff, RowGroup, State, table_name as _n
from paymaster.sqlnames import literal, quote, quote_all

POSITIONAL_MAX = 10_000


def load_changes(state: State, folder: Path) -> dict[str, Diff]:
    plan = state.loaded.plan
    stored = dict(state.con.execute("SELECT tab, digest FROM pm_files").fetchall())
    diffs: dict[str, Diff] = {}
    problems = Collector()
    files = find_files(plan, folder)
    by_position: list[str] = []
    by_hash: list[str] = []
    for item in files:
        table, spec = item.table, plan.inputs[item.table]
        if stored.get(table) == state.digest(item.path):
            state.con.execute(f'CREATE OR REPLACE TEMP TABLE {_n("chg", table)} AS '
                              f"SELECT __h1, __h2 FROM {_n(IN, table)} LIMIT 0")
            state.con.execute(f'CREATE OR REPLACE TEMP TABLE {_n("old", table)} AS '
                              f"SELECT * FROM {_n(IN, table)} LIMIT 0")
            state.con.execute(f'CREATE OR REPLACE TEMP TABLE {_n("new", table)} AS '
                              f"SELECT * FROM {_n(IN, table)} LIMIT 0")
            diffs[table] = Diff(table, 0, 0)
            continue
        raw = reading = f"raw_{table}"
        groups = lines = None
        if item.path is not None and item.path.suffix.lower() == ".parquet":
            # Typed columnar input: hash straight from the file; only the changed rows
            # are read into a table (with their line numbers, as a full read numbers them).
            source = (f"read_parquet({literal(str(item.path))}, "
                      "file_row_number = true)")
            lines = "file_row_number + 2 AS __line, * EXCLUDE (file_row_number)"
            # An optional column the file does not have reads as NULL text, as a full
            # read gives it (a view over the file cannot take ALTER TABLE ADD COLUMN).
            present = {row[0] for row in state.con.execute(
                f"DESCRIBE SELECT * FROM {source}").fetchall()}
            lines += "".join(f", NULL::VARCHAR AS {quote(c)}" for c, column in spec.columns.items()
                             if c not in present and column.optional)
            lines += f" FROM {source}"
            state.con.execute(f'CREATE OR REPLACE TEMP VIEW {quote(raw)} AS SELECT {lines}')
            groups = _row_groups_to_read(state, table, item.path)
            if groups is not None:
                # Only the row groups that differ from the stored file are hashed (DuckDB
                # skips the others on the file_row_number filter); the rest keep their
                # stored hashes. (A changed row's twin may sit in a kept group: the
                # changed rows are read below by line, from whichever group holds them.)
                reading = f"rd_{table}"
                state.con.execute(f'CREATE OR REPLACE TEMP VIEW {quote(reading)} AS SELECT {lines} '
                                  f"WHERE {_within(groups[1], -2, 'file_row_number')}")
        elif item.path is None:
            if not spec.optional:
                raise Fallback(f"input table {table} is missing")
            datafiles.empty_raw(state.con, raw, spec)
        else:
            datafiles.read_raw(state.con, item.path, raw)
        types = inputchecks.raw_types(state.con, raw)
        missing = [c for c in spec.columns if c not in types]
        if any(not spec.columns[c].optional for c in missing) or (missing and item.path
                                                                  and item.path.suffix == ".parquet"):
            raise Fallback(f"a column of {table} is missing")
        for column in missing:
            state.con.execute(f'ALTER TABLE {quote(raw)} ADD COLUMN {quote(column)} VARCHAR')
        # hn_: the hashes of the rows read, in file order; hs_: of every line of the file
        # (the kept groups' from fh_, not sorted: only the positional diff needs an order,
        # and it compares the lines outside the kept groups, which hn_ holds in order).
        state.con.execute(f'CREATE OR REPLACE TEMP TABLE {_n("hn", table)} AS '
                          f'SELECT __line, {state.hashes(raw, table)} FROM {quote(reading)}')
        hashes = f'SELECT * FROM {_n("hn", table)}'
        kept = "FALSE"
        if groups is not None:
            kept = _within(groups[0], 0, "__line")
            hashes = f"SELECT __line, __h1, __h2 FROM {_n(FH, table)} WHERE {kept} UNION ALL {hashes}"
        state.con.execute(f'CREATE OR REPLACE TEMP VIEW {_n("hs", table)} AS {hashes}')
        if _by_position(state, table, f"NOT ({kept})"):
            by_position.append(table)
        else:
            _by_hash(state, table, keyed=bool(spec.key))
            by_hash.append(table)
        changed_lines = f'(SELECT * FROM {_n("hs", table)} SEMI JOIN {_n("chg", table)} USING (__h1, __h2))'
        holding = raw if lines is None else _only_lines(state, table, lines, changed_lines)
        state.con.execute(
            f'CREATE OR REPLACE TEMP TABLE {_n("rawchg", table)} AS SELECT r.*, h.__h1, h.__h2 '
            f'FROM {quote(holding)} r JOIN {changed_lines} h USING (__line)')
        problems.extend(inputchecks.check_table(state.con, f"rawchg_{table}", item, spec))
        problems.extend(_check_keys(state, table, item.name))
        datafiles.load_typed(state.con, f"typchg_{table}", f"rawchg_{table}", spec, types,
                         keep_raw=True)
        state.con.execute(
            f'CREATE OR REPLACE TEMP TABLE {_n("new", table)} AS SELECT t.*, r.__h1, r.__h2 '
            f'FROM {_n("typchg", table)} t JOIN {_n("rawchg", table)} r USING (__line)')
        rowids = [r[0] for r in state.con.execute(
            f"SELECT rowid FROM {_n(IN, table)} WHERE {_among(state, table)}").fetchall()]
        state.con.execute(f'CREATE OR REPLACE TEMP TABLE {_n("old", table)} AS SELECT * FROM {_n(IN, table)} '
                          f"WHERE rowid IN (SELECT unnest(?::BIGINT[]))", [rowids])
        count = lambda name: state.con.execute(f'SELECT count(*) FROM {name}').fetchall()[0][0]  # noqa: E731,B023
        diffs[table] = Diff(table, count(_n("old", table)), count(_n("new", table)),
                            count(quote(reading)))
        if spec.key and count(_n("hs", table)) != (count(_n(IN, table)) - diffs[table].old_count
                                                  + diffs[table].new_count):
            raise Fallback(f"{table} has repeated rows")  # the full load says where
    problems.raise_if_any(DataError)
    changed = {t for t, d in diffs.items() if d.old_count or d.new_count}
    state.mark(complete=False)
    for table in changed:
        state.con.execute(f'DELETE FROM {_n(IN, table)} WHERE (__h1, __h2) IN '
                          f'(SELECT __h1, __h2 FROM {_n("chg", table)})')
        state.con.execute(f'INSERT INTO {_n(IN, table)} BY NAME SELECT * FROM {_n("new", table)}')
    # The files' hashes in their order, for the next comparison: the lines that differ
    # changed in place, else rewritten.
    for table in by_position:
        pd = _n("pd", table)
        state.con.execute(f"UPDATE {_n(FH, table)} f SET __h1 = d.b1, __h2 = d.b2 FROM {pd} d "
                          "WHERE f.__line = d.al AND d.bl IS NOT NULL")
        state.con.execute(f"DELETE FROM {_n(FH, table)} WHERE __line IN (SELECT al FROM {pd} "
                          "WHERE bl IS NULL)")
        state.con.execute(f"INSERT INTO {_n(FH, table)} SELECT bl, b1, b2 FROM {pd} WHERE al IS NULL "
                          "ORDER BY bl")
    for table in by_hash:  # (hs_ reads fh_: stored apart first)
        state.con.execute(f'CREATE OR REPLACE TEMP TABLE {_n("fhn", table)} AS SELECT __line, __h1, '
                          f'__h2 FROM {_n("hs", table)} ORDER BY __line')
        state.con.execute(f'CREATE OR REPLACE TABLE {_n(FH, table)} AS SELECT * FROM {_n("fhn", table)}')
    for table in plan.inputs:
        cols = quote_all(["__line", *state.columns(table)])
        state.con.execute(f"CREATE OR REPLACE TEMP VIEW {quote(table)} AS SELECT {cols} "
                          f"FROM {_n(IN, table)}")
    # The state is marked unfinished: a refused input leaves it to a full run next time.
    problems.extend(_check_references(state, changed, {f.table: f.name for f in files}))
    problems.raise_if_any(DataError)
    state.save_digests(folder)
    return diffs


def _row_groups_to_read(state: State, table: str, path: Path):
    """(unchanged, changed) row groups of a Parquet file against the stored one, or None
    when all must be read (no stored groups or hashes, or none the same)."""
    if f"fh_{table}" not in state.names():
        return None
    old, groups = state.stored_row_groups(table), state.row_groups(path)
    same = [i < len(old) and old[i] == group for i, group in enumerate(groups)]
    if not any(same):
        return None
    return ([g for g, kept in zip(groups, same, strict=True) if kept],
            [g for g, kept in zip(groups, same, strict=True) if not kept])


def _only_lines(state: State, table: str, lines: str, changed_lines: str) -> str:
    """A view of the Parquet file's changed lines only, when they are few: DuckDB then
    reads just the row groups they fall in (a changed row's twin may be in any group)."""
    found = [r[0] for r in state.con.execute(
        f"SELECT __line - 2 FROM {changed_lines} ORDER BY 1 LIMIT {POSITIONAL_MAX + 1}"
    ).fetchall()]
    if len(found) > POSITIONAL_MAX:
        return f"raw_{table}"
    rows = ", ".join(map(str, found)) or "NULL"
    lo, hi = (found[0], found[-1]) if found else (0, -1)
    state.con.execute(f'CREATE OR REPLACE TEMP VIEW {_n("rl", table)} AS SELECT {lines} WHERE '
                      f"file_row_number BETWEEN {lo} AND {hi} AND file_row_number IN ({rows})")
    return f"rl_{table}"


def _within(groups: list[RowGroup], shift: int, column: str) -> str:
    """`column` (a line, shifted by `shift`) inside one of the groups' line ranges."""
    ranges: list[list[int]] = []
    for group in groups:
        first, last = group.first_line + shift, group.first_line + group.rows - 1 + shift
        if ranges and ranges[-1][1] + 1 == first:
            ranges[-1][1] = last
        else:
            ranges.append([first, last])
    return " OR ".join(f"{column} BETWEEN {a} AND {b}" for a, b in ranges) or "FALSE"


def _by_position(state: State, table: str, read: str) -> bool:
    """The changed rows found by comparing each line's hashes with those the same line had
    (`fh_<table>`, the file's hashes in its order), when few lines differ: a corrected
    line, lines appended or cut at the end, a line inserted or removed less than
    POSITIONAL_MAX lines before the end (the later lines shift: each is on both sides and
    cancels out). No hash join of every row. False when more lines differ.

    Only the old lines where `read` holds (outside the kept row groups) are compared with
    the lines read (hn_): the kept groups are the same lines on both sides, so the rest
    pair up line for line as the whole files would."""
    if f"fh_{table}" not in state.names():
        return False
    state.con.execute(
        f'CREATE OR REPLACE TEMP TABLE {_n("pd", table)} AS SELECT * FROM ('
        f"SELECT a.__line AS al, a.__h1 AS a1, a.__h2 AS a2, b.__line AS bl, b.__h1 AS b1, "
        f"b.__h2 AS b2 FROM (SELECT __line, __h1, __h2 FROM {_n(FH, table)} WHERE {read}) a "
        f'POSITIONAL JOIN (SELECT __line, __h1, __h2 FROM {_n("hn", table)}) b) '
        f"WHERE a1 IS DISTINCT FROM b1 OR a2 IS DISTINCT FROM b2 LIMIT {POSITIONAL_MAX + 1}")
    found = state.con.execute(f'SELECT count(*) FROM {_n("pd", table)}').fetchone()[0]
    if found > POSITIONAL_MAX:
        return False
    # Lines that agree hold the same rows: the difference of the rows is that of the
    # lines that differ, as multisets.
    state.con.execute(
        f'CREATE OR REPLACE TEMP TABLE {_n("chg", table)} AS SELECT DISTINCT __h1, __h2 FROM '
        f'(SELECT a1 AS __h1, a2 AS __h2, count(*) AS n FROM {_n("pd", table)} WHERE a1 IS NOT NULL '
        f"GROUP BY ALL) a FULL JOIN "
        f'(SELECT b1 AS __h1, b2 AS __h2, count(*) AS n FROM {_n("pd", table)} WHERE b1 IS NOT NULL '
        f"GROUP BY ALL) b USING (__h1, __h2) WHERE a.n IS DISTINCT FROM b.n")
    return True


def _by_hash(state: State, table: str, keyed: bool) -> None:
    """The changed rows found by joining every row's hashes with the stored ones. Rows of a
    keyed table are distinct: a full join on the hashes is their difference; otherwise
    compare how many times each row occurs."""
    if keyed:  # joined on one 64-bit half, the other compared: faster
        state.con.execute(
            f'CREATE OR REPLACE TEMP TABLE {_n("d", table)} AS '
            f"SELECT a.__h1 AS a1, a.__h2 AS a2, b.__h1 AS b1, b.__h2 AS b2 "
            f"FROM (SELECT __h1, __h2 FROM {_n(IN, table)}) a FULL JOIN "
            f'(SELECT __h1, __h2 FROM {_n("hs", table)}) b ON a.__h1 = b.__h1 '
            f"WHERE a.__h2 IS DISTINCT FROM b.__h2")
        state.con.execute(
            f'CREATE OR REPLACE TEMP TABLE {_n("chg", table)} AS '
            f'SELECT a1 AS __h1, a2 AS __h2 FROM {_n("d", table)} WHERE a1 IS NOT NULL UNION '
            f'SELECT b1, b2 FROM {_n("d", table)} WHERE b1 IS NOT NULL')
    else:
        state.con.execute(
            f'CREATE OR REPLACE TEMP TABLE {_n("chg", table)} AS SELECT DISTINCT __h1, __h2 FROM '
            f"(SELECT __h1, __h2, count(*) AS n FROM {_n(IN, table)} GROUP BY ALL) a FULL JOIN "
            f'(SELECT __h1, __h2, count(*) AS n FROM {_n("hs", table)} GROUP BY ALL) b '
            f"USING (__h1, __h2) WHERE a.n IS DISTINCT FROM b.n")


def _among(state: State, table: str) -> str:
    """A filter for the rows whose hash changed: a literal list when short (the scan
    then reads the other columns of matching rows only)."""
    hashes = state.con.execute(f'SELECT __h1, __h2 FROM {_n("chg", table)} LIMIT 1001').fetchall()
    if len(hashes) > 1000:
        return f'(__h1, __h2) IN (SELECT __h1, __h2 FROM {_n("chg", table)})'
    if not hashes:
        return "FALSE"
    return (f"__h1 IN ({', '.join(str(h1) for h1, _ in hashes)}) AND (__h1, __h2) IN "
            f'(SELECT __h1, __h2 FROM {_n("chg", table)})')

def _check_keys(state: State, table: str, file: str) -> list[Problem]:
    """A changed row must not take the key of a row that stays."""
    key = state.loaded.plan.inputs[table].key
    if not key:
        return []
    on = " AND ".join(f'k.{quote(c)} = CAST(r.{quote(c)} AS VARCHAR)' for c in key)
    stays = (f'(SELECT {", ".join(f"CAST({quote(c)} AS VARCHAR) AS {quote(c)}" for c in key)} '
             f'FROM {_n(IN, table)} ANTI JOIN {_n("chg", table)} USING (__h1, __h2))')
    rows = state.con.execute(
        f'SELECT r.__line, {", ".join(f"r.{quote(c)}" for c in key)} FROM {_n("rawchg", table)} r '
        f"WHERE EXISTS (SELECT 1 FROM {stays} k WHERE {on}) ORDER BY 1 LIMIT 50").fetchall()
    return [Problem(f"duplicate key ({', '.join(key)}) = ({', '.join(map(str, r[1:]))})",
                    file=file, row=int(r[0]), field=key[0]) for r in rows]

def _check_references(state: State, changed: set[str], names: dict[str, str]) -> list[Problem]:
    """References touching a changed table, checked on the updated inputs."""
    problems = []
    for table, spec in state.loaded.plan.inputs.items():
        for column, col in spec.columns.items():
            if not col.references:
                continue
            ref_table, _, ref_col = col.references.partition(".")
            if table not in changed and ref_table not in changed:
                continue
            # New rows of `table` must find their reference; rows that stay can only
            # lose theirs if a value of the referenced column went away.
            checks = []
            if table in changed:
                checks.append(f'SELECT __line, {quote(column)} FROM {_n("new", table)}')
            if ref_table in changed:
                checks.append(
                    f'SELECT __line, {quote(column)} FROM {_n(IN, table)} WHERE {quote(column)} IN '
                    f'(SELECT {quote(ref_col)} FROM {_n("old", ref_table)})')
            rows = state.con.execute(
                f'SELECT __line, {quote(column)} FROM ({" UNION ALL ".join(checks)}) t '
                f'WHERE {quote(column)} IS NOT NULL ORDER BY __line').fetchall()
            values = sorted({value for _, value in rows})
            present: set = set()
            for start in range(0, len(values), 1000):
                present |= {r[0] for r in state.con.execute(
                    f'SELECT DISTINCT {quote(ref_col)} FROM {_n(IN, ref_table)} WHERE {quote(ref_col)} IN '
                    f"(SELECT unnest(?))", [values[start:start + 1000]]).fetchall()}
            found = [(line, value) for line, value in rows if value not in present][:50]
            for line, value in found:
                problems.append(Problem(f"unknown {ref_col} '{value}': not in {ref_table}",
                                        file=names[table], row=int(line), field=column))
    return problems

