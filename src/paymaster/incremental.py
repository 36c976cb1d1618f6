"""Incremental recalculation: after a small change to the input, recompute only what
depends on it and give exactly the result of a full run.

A state file (a DuckDB database) keeps, from the previous run, every validated input
table with a 128-bit hash per row (`in_<table>`) and every measure's result tables
(`st_<measure>__<lines|evaluations|credits|titles|accepted>`). The next run:

1. loads and validates the input folder as a full run does;
2. diffs each table against the stored one by row hash (a multiset difference);
3. finds the affected payees: the payees of the changed rows (old and new version, payee
   expression with lookups evaluated in the old and in the new state), of the records
   that read a changed row of another table (links found in the plan: lookups, targets,
   correlated `EXISTS` equalities, `cover`, `payees_from`), and, through the couplings
   between payees, of every record sharing a coupling key with a touched record
   (first-registration-wins keys, group totals such as teams, self-correlated `EXISTS`
   such as "first-ever order of the customer");
4. recomputes each per-payee measure (screening, per_record, one_off, aggregate,
   gated_rebate) on the records of those payees only (widened to whole coupling groups
   where a window needs them), replaces those payees' rows in the stored result tables,
   recomputes the global measures (rankings, streaks, titles) whole, and builds budgets
   and outputs over the spliced tables with the engine's own code;
5. stores the new input rows.

Whatever cannot be localised (no stored state, another plan, a changed table read with
no link to a payee) falls back to a full run, and says so.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot
from sqlglot import expressions as sx

from paymaster import datafiles
from paymaster.datafiles import find_files, load_folder
from paymaster.errors import DataError, Problem
from paymaster.engine import build
from paymaster.engine.context import BlockResult, Context
from paymaster.errors import Collector
from paymaster.plan import LoadedPlan, load_plan
from paymaster.plan.expressions import Compiler
from paymaster.runs import RunResult, StageClock, execute, fingerprint

STATE_FILE = ".paymaster-state.duckdb"
STATE_VERSION = "2"
ATTRS = ("lines", "evaluations", "credits", "titles", "accepted")
LOCAL = {"screening", "per_record", "one_off", "aggregate", "gated_rebate"}
GLOBAL = {"ranking", "streak", "title"}
LITERAL_LIST_MAX = 5000
Progress = Callable[[str], None]


class Fallback(Exception):
    """The change cannot be localised: run in full."""


@dataclass
class Report:
    """What an incremental run did."""

    mode: str = "full"  # "full" or "incremental"
    reason: str = ""
    changed: dict[str, tuple[int, int]] = field(default_factory=dict)  # table: (old, new) rows
    affected: list[str] = field(default_factory=list)
    payees: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = []
        if self.changed:
            out.append("changed rows: " + ", ".join(
                f"{t} -{old} +{new}" for t, (old, new) in sorted(self.changed.items())))
        else:
            out.append("changed rows: none")
        if self.mode == "full":
            out.append(f"full run: {self.reason}")
        else:
            shown = ", ".join(self.affected[:10]) + (" ..." if len(self.affected) > 10 else "")
            out.append(f"incremental: recomputed {len(self.affected)} of {self.payees} payees"
                       + (f" ({shown})" if self.affected else ""))
        return out


# -- the plan's links: which records read which rows of which table


@dataclass
class Link:
    table: str  # the table whose changed rows reach the measure
    column: str  # its column
    kind: str  # "row": equals a column of the measure's records; "payee": the payee id;
    #            "group": the measure's group column
    target: str = ""  # the records' column (kind "row" / "group")
    more: list[tuple[str, str]] = field(default_factory=list)  # further (column, target) pairs


@dataclass
class Usage:
    links: list[Link] = field(default_factory=list)
    couplings: list[list[str]] = field(default_factory=list)  # record columns tying payees
    opaque: set[str] = field(default_factory=set)  # tables read without a link


def analyse(loaded: LoadedPlan) -> dict[str, Usage]:
    """Per measure: how its records reach other tables, and what ties payees together."""
    plan = loaded.plan
    out: dict[str, Usage] = {}
    for measure in plan.measures:
        usage = Usage()
        out[measure.id] = usage
        if measure.type in GLOBAL:
            continue
        source = getattr(measure, "source", None)
        for lookup in getattr(measure, "lookups", []):
            for theirs, ours in lookup.on.items():
                usage.links.append(Link(lookup.table, theirs, "row", ours))
        for text in _texts(measure.model_dump()):
            _correlations(text, source, usage)
        if measure.type == "screening":
            usage.couplings += [r.first_wins.key for r in measure.rules if r.first_wins]
        if measure.type == "aggregate":
            group = measure.group.by if measure.group else None
            if group:
                usage.couplings.append([group])
            for spec in (measure.target, measure.group.target if measure.group else None):
                if spec is None:
                    continue
                ours = dict(spec.on)
                by_payee = [t for t, o in ours.items() if o == "payee_id"]
                by_group = [t for t, o in ours.items() if group and o == group]
                if by_payee:
                    usage.links.append(Link(spec.table, by_payee[0], "payee"))
                elif by_group:
                    usage.links.append(Link(spec.table, by_group[0], "group", group))
                else:
                    usage.opaque.add(spec.table)
        if measure.type == "per_record" and measure.claim is not None:
            screening = plan.measure(measure.claim.screening)
            if measure.payee not in measure.claim.on or screening.payee != measure.payee:
                usage.opaque.add(screening.source)  # claims across payees
        if measure.type == "gated_rebate" and measure.cover is not None:
            cover = measure.cover
            found = _equalities(f"SELECT 1 WHERE {cover.match}")
            cols = [a.name for a, b in found if a.table == cover.table and b.table == "payee"]
            cols += [b.name for a, b in found if b.table == cover.table and a.table == "payee"]
            if cols:
                usage.links.append(Link(cover.table, cols[0], "payee"))
            else:
                usage.opaque.add(cover.table)
    return out


def _texts(value) -> Iterable[str]:
    if isinstance(value, str):
        if "select" in value.lower():
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _conjuncts(node) -> list:
    """The parts of an AND chain: each must hold (an equality inside an OR need not)."""
    if isinstance(node, sx.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    if isinstance(node, sx.Paren):
        return _conjuncts(node.this)
    return [node]


def _column_equalities(node) -> list[tuple[sx.Column, sx.Column]]:
    return [(eq.left, eq.right) for eq in _conjuncts(node) if isinstance(eq, sx.EQ)
            and isinstance(eq.left, sx.Column) and isinstance(eq.right, sx.Column)]


def _equalities(sql: str) -> list[tuple[sx.Column, sx.Column]]:
    where = sqlglot.parse_one(sql, read="duckdb").args.get("where")
    return _column_equalities(where.this) if where is not None else []


def _correlations(text: str, source: str | None, usage: Usage) -> None:
    """Each `EXISTS (SELECT .. FROM t a WHERE a.x = <record>.y ..)`: a link from t.x to the
    record column y (or to the payee, for `payee.payee_id` / `line.payee_id`)."""
    try:
        tree = sqlglot.parse_one(f"SELECT {text}", read="duckdb")
    except sqlglot.errors.ParseError:
        raise Fallback(f"cannot read expression {text!r}") from None
    for select in tree.find_all(sx.Select):
        if select is tree:
            continue
        from_ = select.args.get("from") or select.args.get("from_")
        table = from_.this if from_ is not None else None
        if not isinstance(table, sx.Table):
            continue
        name, alias = table.name, table.alias_or_name
        found = False
        pairs: list[tuple[str, str]] = []  # all must hold: one link on every pair
        where = select.args.get("where")
        for left, right in _column_equalities(where.this) if where is not None else []:
            sides = [left, right]
            for ours, other in (sides, sides[::-1]):
                if ours.table != alias or other.table in (alias, "", "param", "period"):
                    continue
                if other.table in ("payee", "line") and other.name == "payee_id":
                    usage.links.append(Link(name, ours.name, "payee"))
                elif other.table == source:
                    pairs.append((ours.name, other.name))
                else:
                    continue
                found = True
        if pairs and name == source:
            usage.couplings.append([other for _, other in pairs])
        elif pairs:
            usage.links.append(Link(name, pairs[0][0], "row", pairs[0][1], pairs[1:]))
        if not found:
            usage.opaque.add(name)


# -- the state


@dataclass
class Diff:
    table: str
    old_count: int  # changed rows as they were (temp table old_<table>)
    new_count: int  # changed rows as they are (temp table new_<table>)


class State:
    def __init__(self, path: Path, loaded: LoadedPlan, progress: Progress):
        self.path = path
        self.loaded = loaded
        self.say = progress
        path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(path))
        self.backend = ibis.duckdb.from_connection(self.con)
        self.plan_hash = _plan_hash(loaded)

    def names(self) -> set[str]:
        return {r[0] for r in self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            " AND table_catalog = current_database()").fetchall()}

    def usable(self) -> str | None:
        """Why the stored state cannot be used (None when it can)."""
        names = self.names()
        if "pm_meta" not in names:
            return "no stored state"
        meta = dict(self.con.execute("SELECT key, value FROM pm_meta").fetchall())
        if meta.get("version") != STATE_VERSION:
            return "state written by another version"
        if meta.get("plan") != self.plan_hash:
            return "the plan changed"
        if meta.get("complete") != "yes":
            return "the previous run did not finish"
        missing = [t for t in self.loaded.plan.inputs if f"in_{t}" not in names]
        return f"no stored input {missing[0]}" if missing else None

    def mark(self, complete: bool) -> None:
        self.con.execute("CREATE OR REPLACE TABLE pm_meta (key VARCHAR, value VARCHAR)")
        self.con.executemany("INSERT INTO pm_meta VALUES (?, ?)", [
            ("version", STATE_VERSION), ("plan", self.plan_hash),
            ("complete", "yes" if complete else "no")])

    def columns(self, table: str) -> list[str]:
        return list(self.loaded.plan.inputs[table].columns)

    def hashes(self, raw: str, table: str) -> str:
        """Two 64-bit hashes of each raw row's declared columns: its identity."""
        quoted = [f'"{c}"' for c in self.columns(table)]
        return (f'hash({", ".join(quoted)}) AS __h1, '
                f'hash({", ".join(reversed(quoted))}, 1) AS __h2')

    # -- a full load: every file read and validated by datafiles.load_folder
    def load_all(self, folder: Path) -> None:
        for table in self.loaded.plan.inputs:
            self.con.execute(f'DROP VIEW IF EXISTS "{table}"')
        load_folder(self.loaded.plan, folder, self.con, keep_raw=True)

    def save_all(self, folder: Path) -> None:
        for table in self.loaded.plan.inputs:
            self.con.execute(
                f'CREATE OR REPLACE TABLE in_{table} AS SELECT t.*, r.__h1, r.__h2 FROM "{table}" t '
                f'JOIN (SELECT __line, {self.hashes(f"raw_{table}", table)} FROM "raw_{table}") r '
                f"USING (__line)")
        self._save_digests(folder)

    def _save_digests(self, folder: Path) -> None:
        self.con.execute("CREATE OR REPLACE TABLE pm_files (tab VARCHAR, digest VARCHAR)")
        self.con.executemany("INSERT INTO pm_files VALUES (?, ?)", [
            (item.table, _digest(item.path)) for item in find_files(self.loaded.plan, folder)])

    # -- an incremental load: changed files only, changed rows only validated
    def load_changes(self, folder: Path) -> dict[str, Diff]:
        plan = self.loaded.plan
        stored = dict(self.con.execute("SELECT tab, digest FROM pm_files").fetchall())
        diffs: dict[str, Diff] = {}
        problems = Collector()
        files = find_files(plan, folder)
        for item in files:
            table, spec = item.table, plan.inputs[item.table]
            if stored.get(table) == _digest(item.path):
                self.con.execute(f'CREATE OR REPLACE TEMP TABLE "chg_{table}" AS '
                                 f"SELECT __h1, __h2 FROM in_{table} LIMIT 0")
                self.con.execute(f'CREATE OR REPLACE TEMP TABLE "old_{table}" AS '
                                 f"SELECT * FROM in_{table} LIMIT 0")
                self.con.execute(f'CREATE OR REPLACE TEMP TABLE "new_{table}" AS '
                                 f"SELECT * FROM in_{table} LIMIT 0")
                diffs[table] = Diff(table, 0, 0)
                continue
            raw = f"raw_{table}"
            if item.path is not None and item.path.suffix.lower() == ".parquet":
                # Typed columnar input: hash straight from the file; only the changed rows
                # are read into a table (with their line numbers, as a full read numbers them).
                source = (f"read_parquet({datafiles.sql_string(str(item.path))}, "
                          "file_row_number = true)")
                self.con.execute(f'CREATE OR REPLACE TEMP VIEW "{raw}" AS SELECT '
                                 f"file_row_number + 2 AS __line, * EXCLUDE (file_row_number) "
                                 f"FROM {source}")
            elif item.path is None:
                if not spec.optional:
                    raise Fallback(f"input table {table} is missing")
                datafiles.empty_raw(self.con, raw, spec)
            else:
                datafiles.read_raw(self.con, item.path, raw)
            types = datafiles.raw_types(self.con, raw)
            missing = [c for c in spec.columns if c not in types]
            if any(not spec.columns[c].optional for c in missing) or (missing and item.path
                                                                      and item.path.suffix == ".parquet"):
                raise Fallback(f"a column of {table} is missing")
            for column in missing:
                self.con.execute(f'ALTER TABLE "{raw}" ADD COLUMN "{column}" VARCHAR')
            self.con.execute(f'CREATE OR REPLACE TEMP TABLE "hs_{table}" AS '
                             f'SELECT __line, {self.hashes(raw, table)} FROM "{raw}"')
            # Rows of a keyed table are distinct: a full join on the hashes is their
            # difference; otherwise compare how many times each row occurs.
            if spec.key:  # joined on one 64-bit half, the other compared: faster
                self.con.execute(
                    f'CREATE OR REPLACE TEMP TABLE "d_{table}" AS '
                    f"SELECT a.__h1 AS a1, a.__h2 AS a2, b.__h1 AS b1, b.__h2 AS b2 "
                    f"FROM (SELECT __h1, __h2 FROM in_{table}) a FULL JOIN "
                    f'(SELECT __h1, __h2 FROM "hs_{table}") b ON a.__h1 = b.__h1 '
                    f"WHERE a.__h2 IS DISTINCT FROM b.__h2")
                self.con.execute(
                    f'CREATE OR REPLACE TEMP TABLE "chg_{table}" AS '
                    f'SELECT a1 AS __h1, a2 AS __h2 FROM "d_{table}" WHERE a1 IS NOT NULL UNION '
                    f'SELECT b1, b2 FROM "d_{table}" WHERE b1 IS NOT NULL')
            else:
                self.con.execute(
                    f'CREATE OR REPLACE TEMP TABLE "chg_{table}" AS SELECT DISTINCT __h1, __h2 FROM '
                    f"(SELECT __h1, __h2, count(*) AS n FROM in_{table} GROUP BY ALL) a FULL JOIN "
                    f'(SELECT __h1, __h2, count(*) AS n FROM "hs_{table}" GROUP BY ALL) b '
                    f"USING (__h1, __h2) WHERE a.n IS DISTINCT FROM b.n")
            changed_lines = f'(SELECT * FROM "hs_{table}" SEMI JOIN "chg_{table}" USING (__h1, __h2))'
            if item.path is not None and item.path.suffix.lower() == ".parquet":
                self._parquet_rows(item.path, raw, changed_lines, f"rawchg_{table}")
            else:
                self.con.execute(
                    f'CREATE OR REPLACE TEMP TABLE "rawchg_{table}" AS SELECT r.*, h.__h1, h.__h2 '
                    f'FROM "{raw}" r JOIN {changed_lines} h USING (__line)')
            problems.extend(datafiles.check_table(self.con, f"rawchg_{table}", item, spec))
            problems.extend(self._check_keys(table, item.name))
            datafiles.load_typed(self.con, f"typchg_{table}", f"rawchg_{table}", spec, types,
                             keep_raw=True)
            self.con.execute(
                f'CREATE OR REPLACE TEMP TABLE "new_{table}" AS SELECT t.*, r.__h1, r.__h2 '
                f'FROM "typchg_{table}" t JOIN "rawchg_{table}" r USING (__line)')
            rowids = [r[0] for r in self.con.execute(
                f"SELECT rowid FROM in_{table} WHERE {self._among(table)}").fetchall()]
            self.con.execute(f'CREATE OR REPLACE TEMP TABLE "old_{table}" AS SELECT * FROM in_{table} '
                             f"WHERE rowid IN (SELECT unnest(?::BIGINT[]))", [rowids])
            count = lambda name: self.con.execute(f'SELECT count(*) FROM {name}').fetchall()[0][0]  # noqa: E731,B023
            diffs[table] = Diff(table, count(f'"old_{table}"'), count(f'"new_{table}"'))
            if spec.key and count(f'"hs_{table}"') != (count(f"in_{table}") - diffs[table].old_count
                                                      + diffs[table].new_count):
                raise Fallback(f"{table} has repeated rows")  # the full load says where
        problems.raise_if_any(DataError)
        changed = {t for t, d in diffs.items() if d.old_count or d.new_count}
        self.mark(complete=False)
        for table in changed:
            self.con.execute(f'DELETE FROM in_{table} WHERE (__h1, __h2) IN '
                             f'(SELECT __h1, __h2 FROM "chg_{table}")')
            self.con.execute(f'INSERT INTO in_{table} BY NAME SELECT * FROM "new_{table}"')
        for table in plan.inputs:
            cols = ", ".join(f'"{c}"' for c in ["__line", *self.columns(table)])
            self.con.execute(f'CREATE OR REPLACE TEMP VIEW "{table}" AS SELECT {cols} FROM in_{table}')
        # The state is marked unfinished: a refused input leaves it to a full run next time.
        problems.extend(self._check_references(changed, {f.table: f.name for f in files}))
        problems.raise_if_any(DataError)
        self._save_digests(folder)
        return diffs

    def _among(self, table: str) -> str:
        """A filter for the rows whose hash changed: a literal list when short (the scan
        then reads the other columns of matching rows only)."""
        hashes = self.con.execute(f'SELECT __h1, __h2 FROM "chg_{table}" LIMIT 1001').fetchall()
        if len(hashes) > 1000:
            return f'(__h1, __h2) IN (SELECT __h1, __h2 FROM "chg_{table}")'
        if not hashes:
            return "FALSE"
        return (f"__h1 IN ({', '.join(str(h1) for h1, _ in hashes)}) AND (__h1, __h2) IN "
                f'(SELECT __h1, __h2 FROM "chg_{table}")')

    def _parquet_rows(self, path: Path, raw: str, lines: str, name: str) -> None:
        """The rows at `lines` of a Parquet file, read from their row groups only."""
        import pyarrow.parquet as pq

        wanted = self.con.execute(f"SELECT __line, __h1, __h2 FROM {lines} ORDER BY __line").fetchall()
        parquet = pq.ParquetFile(path)
        starts, offset = [], 0
        for group in range(parquet.num_row_groups):
            starts.append(offset)
            offset += parquet.metadata.row_group(group).num_rows
        pieces: list[pa.Table] = []
        by_group: dict[int, list[tuple]] = {}
        for line, h1, h2 in wanted:
            row = line - 2
            group = max(i for i, start in enumerate(starts) if start <= row)
            by_group.setdefault(group, []).append((row - starts[group], line, h1, h2))
        for group, rows in by_group.items():
            data = parquet.read_row_group(group).take([r[0] for r in rows])
            data = data.append_column("__line", pa.array([r[1] for r in rows], pa.int64()))
            data = data.append_column("__h1", pa.array([r[2] for r in rows], pa.uint64()))
            pieces.append(data.append_column("__h2", pa.array([r[3] for r in rows], pa.uint64())))
        self.con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS SELECT * EXCLUDE (__line), '
                         f"0::BIGINT AS __line, 0::UBIGINT AS __h1, 0::UBIGINT AS __h2 "
                         f'FROM "{raw}" LIMIT 0')
        if pieces:
            self.con.register("__pieces", pa.concat_tables(pieces))
            self.con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM __pieces')
            self.con.unregister("__pieces")

    def _check_keys(self, table: str, file: str) -> list[Problem]:
        """A changed row must not take the key of a row that stays."""
        key = self.loaded.plan.inputs[table].key
        if not key:
            return []
        on = " AND ".join(f'k."{c}" = CAST(r."{c}" AS VARCHAR)' for c in key)
        stays = (f'(SELECT {", ".join(f"CAST({c} AS VARCHAR) AS {c}" for c in key)} '
                 f'FROM in_{table} ANTI JOIN "chg_{table}" USING (__h1, __h2))')
        rows = self.con.execute(
            f'SELECT r.__line, {", ".join(f"r.{c}" for c in key)} FROM "rawchg_{table}" r '
            f"WHERE EXISTS (SELECT 1 FROM {stays} k WHERE {on}) ORDER BY 1 LIMIT 50").fetchall()
        return [Problem(f"duplicate key ({', '.join(key)}) = ({', '.join(map(str, r[1:]))})",
                        file=file, row=int(r[0]), field=key[0]) for r in rows]

    def _check_references(self, changed: set[str], names: dict[str, str]) -> list[Problem]:
        """References touching a changed table, checked on the updated inputs."""
        problems = []
        for table, spec in self.loaded.plan.inputs.items():
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
                    checks.append(f'SELECT __line, "{column}" FROM "new_{table}"')
                if ref_table in changed:
                    checks.append(
                        f'SELECT __line, "{column}" FROM in_{table} WHERE "{column}" IN '
                        f'(SELECT "{ref_col}" FROM "old_{ref_table}")')
                rows = self.con.execute(
                    f'SELECT __line, "{column}" FROM ({" UNION ALL ".join(checks)}) t '
                    f'WHERE "{column}" IS NOT NULL ORDER BY __line').fetchall()
                values = sorted({value for _, value in rows})
                present: set = set()
                for start in range(0, len(values), 1000):
                    present |= {r[0] for r in self.con.execute(
                        f'SELECT DISTINCT "{ref_col}" FROM in_{ref_table} WHERE "{ref_col}" IN '
                        f"(SELECT unnest(?))", [values[start:start + 1000]]).fetchall()}
                found = [(line, value) for line, value in rows if value not in present][:50]
                for line, value in found:
                    problems.append(Problem(f"unknown {ref_col} '{value}': not in {ref_table}",
                                            file=names[table], row=int(line), field=column))
        return problems


def _digest(path: Path | None) -> str:
    if path is None:
        return "missing"
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return f"{path.suffix}:{digest.hexdigest()}"


def _plan_hash(loaded: LoadedPlan) -> str:
    path = Path(loaded.path)
    text = path.read_bytes() if path.is_file() else loaded.plan.model_dump_json().encode()
    return hashlib.sha256(text).hexdigest()


# -- the affected payees


def _context(loaded: LoadedPlan, tables: dict[str, ir.Table]) -> Context:
    return Context(loaded=loaded, tables=tables, compiler=Compiler(loaded.source, Collector()))


def _records(ctx: Context, measure) -> ir.Table:
    """The measure's records with lookups and fields, and their payee (no filter: every
    record that could count)."""
    table = ctx.apply_lookups(ctx.tables[measure.source], measure.lookups)
    path = ("measures", measure.id)
    names = (measure.source,)
    for name, text in measure.fields.items():
        table = table.mutate(**{name: ctx.expr(text, ctx.namespace(table, names), path)})
    payee = ctx.expr(measure.payee, ctx.namespace(table, names), path + ("payee",))
    return table.mutate(payee_id=payee.cast("string"))


def affected_payees(loaded: LoadedPlan, backend, new: dict[str, ir.Table],
                    diffs: dict[str, Diff]) -> set[str]:
    """Every payee whose results may differ after the change (raises Fallback)."""
    plan = loaded.plan
    usages = analyse(loaded)
    changed = {t for t, d in diffs.items() if d.old_count or d.new_count}
    if not changed:
        return set()
    fetch = lambda expr: backend.to_pyarrow(expr)  # noqa: E731
    # One pass over every version of every row: each changed table as its new rows plus
    # the old versions of its changed rows. A lookup then meets both versions of a changed
    # row too, so payees, keys and groups of both states are found (a superset, at most).
    both = {t: new[t].union(backend.table(f"old_{t}").select(*new[t].columns))
            if t in changed else new[t] for t in new}
    rows_old = {t: backend.table(f"old_{t}") for t in diffs}
    rows_new = {t: backend.table(f"new_{t}") for t in diffs}
    states = {"both": (both, {t: rows_new[t].select(*new[t].columns).union(
        rows_old[t].select(*new[t].columns)) for t in diffs})}
    used: set[str] = set()
    payees: set[str] = set()

    def values(table: str, column: str) -> list:
        out = set()
        for rows in (rows_old[table], rows_new[table]):
            out |= set(fetch(rows.select(column).distinct())[column].to_pylist())
        return [v for v in out if v is not None]

    for measure in plan.measures:
        usage = usages[measure.id]
        if measure.type in GLOBAL:
            used |= _global_reads(measure)
            continue
        bad = usage.opaque & changed
        if bad:
            raise Fallback(f"table {sorted(bad)[0]} changed and measure '{measure.id}' reads "
                           "it without a link to a payee")
        if measure.type == "one_off":
            for link in usage.links:
                used.add(link.table)
                if link.table in changed:
                    payees |= {str(v) for v in values(link.table, link.column)}
            continue
        source = measure.source
        used.add(source)
        touched: list[tuple[str, ir.Table]] = []
        group_values: dict[str, set] = {}
        for state, (tables, rows) in states.items():
            ctx = _context(loaded, tables)
            if source in changed:
                touched.append((state, _records(_context(loaded, {**tables, source: rows[source]}),
                                                measure)))
            records = _records(ctx, measure)
            for link in usage.links:
                used.add(link.table)
                if link.table not in changed:
                    continue
                vals = values(link.table, link.column)
                if link.kind == "payee":
                    payees |= {str(v) for v in vals}
                elif link.kind == "group":
                    group_values.setdefault(link.target, set()).update(vals)
                elif link.more:
                    pairs = [(link.column, link.target), *link.more]
                    wanted = pa.concat_tables([
                        fetch(rows.select(**{t: rows[c] for c, t in pairs}).distinct())
                        for rows in (rows_old[link.table], rows_new[link.table])])
                    touched.append((state, records.semi_join(ibis.memtable(wanted),
                                                             [t for _, t in pairs])))
                elif vals:
                    touched.append((state, records.filter(records[link.target].isin(vals))))
        for _, frame in touched:
            payees |= set(fetch(frame.select("payee_id").distinct())["payee_id"].to_pylist())
        for columns in usage.couplings:
            keys = [fetch(frame.select(*columns).distinct()) for _, frame in touched]
            if len(columns) == 1 and columns[0] in group_values:
                extra = sorted(group_values[columns[0]], key=str)
                keys.append(pa.table({columns[0]: pa.array(extra, type=keys[0].schema.field(0).type)
                                      if keys else pa.array(extra)}))
            keys = [k for k in keys if k.num_rows]
            if not keys:
                continue
            wanted = ibis.memtable(pa.concat_tables(keys, promote_options="permissive"))
            for tables, _ in states.values():
                records = _records(_context(loaded, tables), measure)
                hit = records.semi_join(wanted, columns)
                payees |= set(fetch(hit.select("payee_id").distinct())["payee_id"].to_pylist())
        spec = getattr(measure, "payees_from", None)
        if spec is not None:
            used.add(spec.table)
            if spec.table in changed:
                for tables, rows in states.values():
                    ctx = _context(loaded, tables)
                    ns = ctx.namespace(rows[spec.table], (spec.table,))
                    payee = ctx.expr(spec.payee, ns, ("payees_from",)).cast("string")
                    payees |= set(fetch(rows[spec.table].select(p=payee))["p"].to_pylist())
        screening = getattr(getattr(measure, "claim", None), "screening", None)
        if screening:
            used.add(plan.measure(screening).source)
    if plan.effect is not None:
        used.add(plan.effect.source)
    payees.discard(None)
    return payees


def _global_reads(measure) -> set[str]:
    reads = {measure.source, *(lookup.table for lookup in measure.lookups)}
    if getattr(measure, "count_table", None):
        reads.add(measure.count_table)
    return reads


# -- the partial build


IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def compactable(loaded: LoadedPlan, measure) -> tuple[str, str, str, str] | None:
    """(table, payee, date, value) when a global measure only sums one column of its source
    per payee and day: then the source can be pre-summed per payee and day, exactly."""
    if measure.type not in GLOBAL or measure.lookups or measure.fields or measure.filter:
        return None
    spec = loaded.plan.inputs[measure.source]
    names = (measure.payee, measure.date, measure.value)
    if not all(isinstance(n, str) and IDENTIFIER.match(n) and n in spec.columns for n in names):
        return None
    value = spec.columns[measure.value]
    if value.type not in ("decimal", "integer") or value.optional:
        return None
    if spec.columns[measure.date].type not in ("date", "timestamp"):
        return None
    return (measure.source, *names)


class Splice:
    """The build's scope: records of the affected payees; results spliced into the state."""

    def __init__(self, state: State, payees: set[str], full: bool,
                 diffs: dict[str, Diff] | None = None):
        self.state = state
        self.full = full
        self.diffs = diffs or {}
        self.compacted: set[str] = set()
        self.payees = sorted(payees)
        state.con.execute("CREATE OR REPLACE TEMP TABLE __affected (payee_id VARCHAR)")
        if self.payees:
            state.con.execute("INSERT INTO __affected SELECT unnest(?)", [self.payees])

    def member(self, table: ir.Table) -> ir.Table:
        if not self.payees:
            return table.filter(ibis.literal(False))
        if len(self.payees) <= LITERAL_LIST_MAX:
            return table.filter(table["payee_id"].isin(self.payees))
        affected = self.state.backend.table("__affected")
        return table.semi_join(affected, "payee_id")

    def narrow(self, measure, table: ir.Table) -> ir.Table:
        if self.full or measure.type in GLOBAL:
            return table
        couplings = []
        if measure.type == "screening":
            couplings = [r.first_wins.key for r in measure.rules if r.first_wins]
        elif measure.type == "aggregate" and measure.group is not None:
            couplings = [[measure.group.by]]
        if not couplings:
            return self.member(table)
        # A window over a coupling group needs the whole group: widen to the groups of the
        # affected payees' records (their other members' rows are computed and dropped).
        # The groups are few: found first, then given as literals (a cheap filter).
        widened = None
        for cols in couplings:
            keys = self.state.backend.to_pyarrow(self.member(table).select(*cols).distinct())
            if len(cols) == 1:
                values = [v for v in keys[cols[0]].to_pylist() if v is not None]
                part = table.filter(table[cols[0]].isin(values) if values else ibis.literal(False))
            else:
                part = table.semi_join(ibis.memtable(keys), cols)
            widened = part if widened is None else widened.union(part)
        return widened

    def tables(self, measure, tables: dict[str, ir.Table]) -> dict[str, ir.Table]:
        """A population table (`payees_from`) read only through links to the payee is
        narrowed to the affected payees' rows: the same results for them, far less work
        (e.g. no certification intervals of every partner)."""
        spec = getattr(measure, "payees_from", None)
        if self.full or spec is None or spec.table == measure.source:
            return tables
        payee = measure.payee if IDENTIFIER.match(str(measure.payee)) else None
        links = [link for link in analyse(self.state.loaded)[measure.id].links
                 if link.table == spec.table]
        if not all(link.kind == "payee" or (link.kind == "row" and not link.more
                                              and link.target == payee) for link in links):
            return tables
        columns = {link.column for link in links}
        if not IDENTIFIER.match(spec.payee) or columns - {spec.payee}:
            return tables
        narrowed = tables[spec.table]
        values = self.payees or [None]
        narrowed = narrowed.filter(narrowed[spec.payee].cast("string").isin(values))
        return {**tables, spec.table: narrowed}

    def _reads_changes(self, measure) -> bool:
        return any(self.diffs[t].old_count or self.diffs[t].new_count
                   for t in _global_reads(measure))

    def compact(self, measure) -> ir.Table | None:
        """Global measures (rankings, streaks, titles) read their source pre-summed per payee
        and day (`cp_...` in the state), kept up to date from the changed rows."""
        found = compactable(self.state.loaded, measure)
        if found is None:
            return None
        table, payee, day, value = found
        name = f"cp_{table}__{payee}__{day}__{value}"
        con = self.state.con
        if name not in self.compacted:
            self.compacted.add(name)
            summed = (lambda rows, sign: f'SELECT "{payee}", "{day}", {sign}sum("{value}") AS '  # noqa: E731
                      f'"{value}", {sign}count(*) AS __n FROM {rows} GROUP BY ALL')
            if self.full or name not in self.state.names():
                self.state.say(f"calculate {name}")
                con.execute(f'CREATE OR REPLACE TABLE {name} AS {summed(f"in_{table}" if not self.full else chr(34) + table + chr(34), "")}')
            elif self.diffs[table].old_count or self.diffs[table].new_count:
                self.state.say(f"recalculate {name}")
                keys = f'"{payee}", "{day}"'
                con.execute(f'CREATE OR REPLACE TEMP TABLE "d_{name}" AS SELECT {keys}, '
                            f'sum("{value}") AS "{value}", sum(__n) AS __n FROM '
                            f'({summed(f"new_{table}", "")} UNION ALL '
                            f'{summed(f"old_{table}", "-")}) GROUP BY ALL')
                match = " AND ".join(f'c."{k}" IS NOT DISTINCT FROM d."{k}"' for k in (payee, day))
                con.execute(f'UPDATE {name} c SET "{value}" = c."{value}" + d."{value}", '
                            f'__n = c.__n + d.__n FROM "d_{name}" d WHERE {match}')
                con.execute(f'INSERT INTO {name} BY NAME SELECT * FROM "d_{name}" d WHERE NOT EXISTS '
                            f"(SELECT 1 FROM {name} c WHERE {match})")
                con.execute(f"DELETE FROM {name} WHERE __n = 0")
        return self.state.backend.table(name)

    def splice(self, measure, result: BlockResult) -> tuple[BlockResult, BlockResult]:
        whole, view = BlockResult(), BlockResult()
        backend, con = self.state.backend, self.state.con
        for attr in ATTRS:
            table = getattr(result, attr)
            if table is None:
                continue
            name = f"st_{measure.id}__{attr}"
            if not self.full and measure.type in GLOBAL and not self._reads_changes(measure):
                stored = backend.table(name)  # its inputs did not change: kept as it was
                setattr(whole, attr, stored)
                setattr(view, attr, stored)
                continue
            if self.full or measure.type in GLOBAL:
                self.state.say(f"calculate {measure.id} {attr}")
                con.execute(f"DROP TABLE IF EXISTS {name}")
                stored = backend.create_table(name, table)
                setattr(whole, attr, stored)
                setattr(view, attr, stored)
                continue
            self.state.say(f"recalculate {measure.id} {attr}")
            con.execute(f'DROP TABLE IF EXISTS "part_{measure.id}__{attr}"')
            part = backend.create_table(f"part_{measure.id}__{attr}", self.member(table), temp=True)
            con.execute(f"DELETE FROM {name} WHERE payee_id IN (SELECT payee_id FROM __affected)")
            con.execute(f'INSERT INTO {name} BY NAME SELECT * FROM "part_{measure.id}__{attr}"')
            setattr(whole, attr, backend.table(name))
            setattr(view, attr, part)
        return whole, view


# -- the run


def calculate(plan: LoadedPlan | str | Path, data: Path, state_path: Path,
              progress: Progress | None = None, full: bool = False) -> tuple[RunResult, Report]:
    """Calculate `plan` on `data`, incrementally against the state at `state_path` when it
    can (else in full), and leave the new state there."""
    say = progress or (lambda _stage: None)
    report = Report()
    clock = StageClock(report.seconds)
    stage = clock.done

    loaded = plan if isinstance(plan, LoadedPlan) else load_plan(plan)
    state = State(Path(state_path), loaded, say)
    try:
        backend = state.backend
        reason = "asked for a full run" if full else state.usable()
        diffs = None
        payees: set[str] = set()
        if reason is None:
            say("read the changed input")
            try:
                diffs = state.load_changes(Path(data))
            except Fallback as err:
                reason = str(err)
            stage("read_changes")
        if reason is None:
            report.changed = {t: (d.old_count, d.new_count) for t, d in diffs.items()
                              if d.old_count or d.new_count}
            new = {name: backend.table(name) for name in loaded.plan.inputs}
            try:
                payees = affected_payees(loaded, backend, new, diffs)
            except Fallback as err:
                reason = str(err)
            stage("affected")
        if reason is not None:
            say("read and validate input")
            state.load_all(Path(data))
            stage("read_input")
            new = {name: backend.table(name) for name in loaded.plan.inputs}
            report.mode, report.reason = "full", reason
            diffs = None
        else:
            report.mode = "incremental"
            report.affected = sorted(payees)
        state.mark(complete=False)
        scope = Splice(state, payees, full=diffs is None, diffs=diffs)

        def store(name: str, expr):
            state.con.execute(f'DROP TABLE IF EXISTS "stage_{name}"')
            return backend.create_table(f"stage_{name}", expr, temp=True)

        outputs = build(loaded, new, clock.materializer(store, say), scope=scope)
        stage("calculate")
        results = execute(outputs, backend.to_pyarrow, say)
        stage("execute")
        report.payees = results["summary"].num_rows
        say("store the state")
        if diffs is None:
            state.save_all(Path(data))
        state.mark(complete=True)
        state.con.execute("CHECKPOINT")
        stage("store_state")
        return RunResult(loaded, results, fingerprint(loaded, Path(data)),
                         dict(report.seconds)), report
    finally:
        state.con.close()
