"""The incremental run's compiled SQL, kept between runs.

A full run of an unchanged plan replays its SQL (backends/sqlcache.py); an incremental
run cannot: its statements depend on the change (which measures, which stages, which
payees). But most of them differ from run to run only in the lists of values their
filters test (`payee_id IN ('P00003', ...)`: the scope), and compiling them through Ibis
and sqlglot costs ~0.3-0.5 s of CPU per run whatever the data's size (18 compiles for a
trade-in-accelerator change), a tenth of a run at 1M lines.

So each statement is compiled with its lists of string literals (`isin` of literals)
replaced by numbered markers, and kept under a digest of the expression's structure with
the lists left out: the next run with the same structure (the same kind of change, any
payees) takes the SQL and puts its own lists where the markers are, each value rendered
as sqlglot renders a string literal (as the compiler would have). The lists stay
literals, not temporary tables: DuckDB prunes a scan's row groups by a literal list
(the stored tables are in payee order), not by a semi-join.

The digest covers every node of the expression (its type, its arguments: names, types,
schemas, other literal values), the engine (cachefiles.engine_version: our sources and
the versions of Ibis, sqlglot and DuckDB) and the list markers' positions. An expression
holding anything it cannot digest the same in every process (an object of an unknown
kind) is compiled as before, uncached; an in-memory table (its name made per process) is
digested by its columns and marked by number, as a list is.
Entries live in the SQL cache's folder, trusted as the run cache's are (private folder
and files, the body matching its hash: cachefiles.read/write); PAYMASTER_SQL_CACHE=off
turns it off.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import re
from collections.abc import Mapping

import ibis.expr.datatypes as dtypes
import ibis.expr.operations as ops
import ibis.expr.schema as schemas
import ibis.expr.types as ir
from ibis.backends import BaseBackend
from ibis.backends.duckdb import Backend
from ibis.common.graph import Node

from paymaster import cachefiles
from paymaster.sqlnames import literal, quote, quote_all

KIND = "incremental-sql"  # the run-cache folder of these entries
FORMAT = 1
# A list's marker, a string literal in the compiled SQL: 'paymaster-list-<n>-6c1f0e'
# (plain text: rendered alike by sqlglot and sqlnames.literal; the suffix keeps a value
# from being taken for one).
MARK = re.compile(r"'paymaster-list-([0-9]+)-6c1f0e'")
# An in-memory table's name (made per process) is marked alike, as a quoted identifier.
TABLE = "table"
TABLE_MARK = re.compile(r'"paymaster-table-([0-9]+)-6c1f0e"')
PLAIN = (str, int, float, bool, type(None), decimal.Decimal, dt.date, dt.datetime, dt.time,
         dt.timedelta, bytes)


class Uncacheable(Exception):
    """The expression holds something without a digest that is the same in every process."""


class Shape:
    """An expression's structure with its string lists left out: `digest`, `lists` (each
    list's values, by marker number) and `marked` (the InValues nodes to replace, each
    with its list's number)."""

    def __init__(self, node: Node):
        self.lists: list[list[str]] = []
        self.marked: dict[Node, int] = {}
        self.tables: dict[Node, int] = {}  # in-memory tables, numbered as lists are
        self._seen: dict[Node, str] = {}
        self.digest = self._node(node)

    def _node(self, root: Node) -> str:
        # Iterative (a plan's expressions are hundreds of nodes deep), children first,
        # arguments in order: the same structure gives the same digest and numbering.
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, ready = stack.pop()
            if node in self._seen:
                continue
            if isinstance(node, ops.InMemoryTable):  # by its columns: its name is per process
                if node not in self.tables:
                    self.tables[node] = len(self.tables)
                self._seen[node] = hashlib.sha256(
                    f"InMemoryTable(table {self.tables[node]}, {node.schema!r})".encode()
                ).hexdigest()
                continue
            if not ready:
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(_children(node.__args__)))
                continue
            values = _strings(node)
            if values is not None:  # a list of string literals: a marker
                number = len(self.lists)
                self.lists.append(values)
                self.marked[node] = number
                text = f"InValues({self._seen[node.value]}, list {number})"
            else:
                text = f"{type(node).__module__}.{type(node).__qualname__}(" + ", ".join(
                    f"{name}={self._value(arg)}"
                    for name, arg in zip(node.__argnames__, node.__args__, strict=True)) + ")"
            self._seen[node] = hashlib.sha256(text.encode()).hexdigest()
        return self._seen[root]

    def with_markers(self, root: Node) -> Node:
        """`root` with each list replaced by its marker (a one-value list): a node is
        rebuilt from its rewritten children, so that every reference stays in one graph."""

        def marked(node: Node, children: dict | None) -> Node:
            new = node.__recreate__(children) if children else node
            if node in self.tables:
                return ops.InMemoryTable(name=_marker(self.tables[node], TABLE),
                                         schema=node.schema, data=node.data)
            number = self.marked.get(node)
            if number is None:
                return new
            return ops.InValues(new.value, (ops.Literal(_marker(number), dtypes.string),))

        return root.replace(marked) if self.marked or self.tables else root

    def names(self) -> list[str]:
        """The in-memory tables' names of this process, by number."""
        return [node.name for node, _ in sorted(self.tables.items(), key=lambda kv: kv[1])]

    def _value(self, value) -> str:
        if isinstance(value, Node):
            return self._seen[value]
        if isinstance(value, (tuple, list, frozenset)):
            items = sorted(map(self._value, value)) if isinstance(value, frozenset) \
                else [self._value(v) for v in value]
            return f"{type(value).__name__}[{', '.join(items)}]"
        if isinstance(value, Mapping):
            return "{" + ", ".join(f"{self._value(k)}: {self._value(v)}"
                                   for k, v in value.items()) + "}"
        if isinstance(value, (dtypes.DataType, schemas.Schema)):
            return repr(value)
        if isinstance(value, enum.Enum):
            return f"{type(value).__qualname__}.{value.name}"
        if isinstance(value, ops.Namespace):  # (a table's catalog and database)
            return f"Namespace({self._value(value.catalog)}, {self._value(value.database)})"
        if isinstance(value, BaseBackend):  # (a table's source: its SQL names the table)
            return "backend"
        if isinstance(value, PLAIN):
            return f"{type(value).__name__}:{value!r}"
        raise Uncacheable(type(value).__qualname__)


def _children(args) -> list[Node]:
    found = []
    for arg in args:
        if isinstance(arg, Node):
            found.append(arg)
        elif isinstance(arg, (tuple, list, frozenset)):
            found.extend(_children(arg))
        elif isinstance(arg, Mapping):
            found.extend(_children(list(arg.keys()) + list(arg.values())))
    return found


def _strings(node: Node) -> list[str] | None:
    """The values of `x IN ('a', 'b', ...)`, string literals only (else None)."""
    if not isinstance(node, ops.InValues) or not node.options:
        return None
    values = []
    for option in node.options:
        if not (isinstance(option, ops.Literal) and option.dtype.is_string()
                and isinstance(option.value, str)):
            return None
        values.append(option.value)
    return values


def _marker(number: int, kind: str = "list") -> str:
    return f"paymaster-{kind}-{number}-6c1f0e"


class CachingBackend(Backend):
    """Ibis's DuckDB backend whose queries (`compile`, and the tables `create_table`
    fills from an expression) are compiled once per structure (see the module's text)."""

    def compile(self, expr: ir.Expr, /, *, limit=None, params=None, pretty: bool = False,
                **kwargs) -> str:
        if limit is not None or params or pretty or kwargs:
            return super().compile(expr, limit=limit, params=params, pretty=pretty, **kwargs)
        try:
            shape = Shape(expr.op())
        except Uncacheable:
            return super().compile(expr)
        key = hashlib.sha256(repr((FORMAT, cachefiles.engine_version(), "duckdb",
                                   shape.digest)).encode()).hexdigest()
        where = cachefiles.kind_folder(KIND)
        body = cachefiles.read(where, key) if where is not None else None
        if body is None:
            text = super().compile(shape.with_markers(expr.op()).to_expr())
            if where is not None:
                cachefiles.write(where, key, text.encode())
        else:
            text = body.decode()
        return fill(text, shape.lists, shape.names())

    def create_table(self, name: str, /, obj=None, *, schema=None, database=None,
                     temp: bool = False, overwrite: bool = False):
        if not isinstance(obj, ir.Table) or schema is not None or database is not None \
                or overwrite:
            return super().create_table(name, obj, schema=schema, database=database,
                                        temp=temp, overwrite=overwrite)
        # What Ibis's create_table runs (CREATE, then INSERT of the query), with the
        # query from `compile`.
        self._run_pre_execute_hooks(obj)
        query = self.compile(obj)
        columns = ", ".join(c.sql(dialect="duckdb")
                            for c in obj.schema().to_sqlglot_column_defs("duckdb"))
        self.con.execute(f"CREATE {'TEMP ' if temp else ''}TABLE {quote(name)} ({columns})")
        self.con.execute(f"INSERT INTO {quote(name)} ({quote_all(obj.columns)}) {query}")
        return self.table(name, database=("temp", "main") if temp else None)


def fill(text: str, lists: list[list[str]], tables: list[str] = ()) -> str:
    """The compiled SQL with each list's marker replaced by its values and each in-memory
    table's by its name (in one pass each: a value put in is never read as a marker)."""
    text = TABLE_MARK.sub(lambda found: quote(tables[int(found[1])]), text)
    return MARK.sub(lambda found: ", ".join(literal(v) for v in lists[int(found[1])]), text)


def connect(con) -> CachingBackend:
    """The caching backend over an open DuckDB connection."""
    return CachingBackend.from_connection(con)


