"""YAML with positions: plain Python data plus the line and column of every node.

A plan file is hostile input until it is read: before ruamel builds anything, the file's
events (a flat, non-recursive pass) are checked against limits, so a "billion laughs"
file, a 100,000-deep nesting or an object tag is a located plan error in well under a
second, not minutes of CPU, gigabytes of memory or a traceback.

    PAYMASTER_PLAN_MAX_BYTES  the largest plan file read (default 128 KiB; the examples are 8 KB)
    PAYMASTER_PLAN_MAX_DEPTH  the deepest nesting of mappings and lists (default 64)
    PAYMASTER_PLAN_MAX_NODES  the most values a plan may have, every alias counted as the
                              values it stands for (default 20,000; the largest example plan,
                              with its translations, has about 1,100)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scanner import RoundTripScanner
from ruamel.yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    MappingEndEvent,
    NodeEvent,
    SequenceEndEvent,
)

from paymaster.errors import PlanError, Problem
from paymaster.plan.loaded import Path_, Source

__all__ = ["Path_", "Source", "load_yaml", "parse_yaml"]



MAX_BYTES = 128 << 10
MAX_DEPTH = 64
MAX_NODES = 20_000
# The tags a plan may write explicitly (`!!str 0012`); any other, `!!python/object` or a
# local `!tag`, is refused: a plan is data, never objects.
STANDARD_TAGS = {f"tag:yaml.org,2002:{name}" for name in
                 ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}


def limit(name: str, default: int) -> int:
    """A limit, from its environment variable when set (a positive whole number)."""
    text = os.environ.get(f"PAYMASTER_PLAN_{name}", "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) <= 0:
        raise PlanError(Problem(f"PAYMASTER_PLAN_{name} is not a positive whole number: '{text}'",
                                hint=f"leave it unset (default {default}) or give a number"))
    return int(text)


def load_yaml(path: Path) -> Source:
    largest = limit("MAX_BYTES", MAX_BYTES)
    if path.stat().st_size > largest:
        raise PlanError(_too_large(str(path), path.stat().st_size, largest))
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise PlanError(Problem(f"not UTF-8 text: byte {err.start + 1} cannot be decoded",
                                str(path), line, None,
                                hint="save the plan as UTF-8")) from err
    return parse_yaml(text, str(path))


def _too_large(file: str, size: int, largest: int) -> Problem:
    return Problem(f"the plan file is {size:,} bytes, more than the {largest:,} a plan may have",
                   file, 1, 1, hint="a plan is a few kilobytes of YAML; "
                   "PAYMASTER_PLAN_MAX_BYTES raises the limit")


def parse_yaml(text: str, file: str) -> Source:
    largest = limit("MAX_BYTES", MAX_BYTES)
    if len(text.encode("utf-8", "surrogatepass")) > largest:
        raise PlanError(_too_large(file, len(text.encode("utf-8", "surrogatepass")), largest))
    try:
        _check_events(_reader(file), text, file)
        node = _reader(file).load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        raise PlanError(Problem(f"not valid YAML: {err.problem}", file, line, col)) from err
    except YAMLError as err:  # (unmarked: said without a place rather than as a traceback)
        raise PlanError(Problem(f"not valid YAML: {err}", file)) from err
    source = Source(file=file, data=None, positions={(): (1, 1)})
    source.data = _plain(node, (), source)
    return source


def _too_deep(file: str, line: int, col: int) -> Problem:
    deepest = limit("MAX_DEPTH", MAX_DEPTH)
    return Problem(f"the plan nests mappings and lists more than {deepest} deep", file, line,
                   col, hint="a plan nests a few levels deep; "
                   "PAYMASTER_PLAN_MAX_DEPTH raises the limit")


class _Scanner(RoundTripScanner):
    """ruamel's scanner, refusing a flow collection (`[`, `{`) nested deeper than the limit
    as it reads it: its look-ahead for keys takes seconds on a 100,000-deep `[[[[...`
    (every bracket may start a key) before the parser's own depth check would see it."""

    def fetch_flow_collection_start(self, TokenClass: Any, to_push: str) -> None:
        super().fetch_flow_collection_start(TokenClass, to_push)
        if self.flow_level > self.loader.plan_depth:
            mark = self.reader.get_mark()
            raise PlanError(_too_deep(self.loader.plan_file, mark.line + 1, mark.column))


def _reader(file: str) -> YAML:
    yaml = YAML(typ="rt")
    # Quoted scalars keep their style, so that a place inside a quoted expression is
    # counted from its text, not from the opening quote.
    yaml.preserve_quotes = True
    yaml.Scanner = _Scanner
    yaml.plan_file, yaml.plan_depth = file, limit("MAX_DEPTH", MAX_DEPTH)
    return yaml


def _check_events(yaml: YAML, text: str, file: str) -> None:
    """Refuse, from the parser's events alone, what would make loading the file costly or
    unsafe: nesting deeper than the limit, more values than the limit once every alias is
    expanded (the size of each anchored value is counted once, an alias adds it again), and
    any tag but the standard ones."""
    deepest, most = limit("MAX_DEPTH", MAX_DEPTH), limit("MAX_NODES", MAX_NODES)
    sizes: dict[str, int] = {}  # anchor: the values it stands for
    open_: list[list] = []  # per open mapping or list: [values inside, its anchor]
    total = 0

    def where(event) -> tuple[int, int]:
        return event.start_mark.line + 1, event.start_mark.column + 1

    def add(count: int, event) -> None:
        nonlocal total
        total += count
        for frame in open_:
            frame[0] += count
        if total > most:
            line, col = where(event)
            what = " once its aliases are expanded" if sizes else ""
            raise PlanError(Problem(
                f"the plan has more than {most:,} values{what}", file, line, col,
                hint=("remove the aliases that repeat others many times over; " if sizes else "")
                + "a plan has a thousand values or so; PAYMASTER_PLAN_MAX_NODES raises the limit"))

    for event in yaml.parse(text):
        if isinstance(event, AliasEvent):
            if event.anchor not in sizes:
                line, col = where(event)
                raise PlanError(Problem(f"alias *{event.anchor} refers to no anchor before it",
                                        file, line, col))
            add(sizes[event.anchor], event)
            continue
        if isinstance(event, NodeEvent):
            tag = getattr(event.tag, "value", event.tag)
            if tag is not None and str(tag) not in STANDARD_TAGS:
                line, col = where(event)
                raise PlanError(Problem(
                    f"the tag '{str(tag)[:60]}' is not allowed in a plan", file, line, col,
                    hint="a plan is plain data: write the value without a tag "
                    "(only !!str, !!int, !!float, !!bool, !!null, !!timestamp are allowed)"))
            add(1, event)
            if isinstance(event, CollectionStartEvent):
                open_.append([1, event.anchor])
                if len(open_) > deepest:
                    line, col = where(event)
                    raise PlanError(_too_deep(file, line, col))
            elif event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, (MappingEndEvent, SequenceEndEvent)):
            count, anchor = open_.pop()
            if anchor is not None:
                sizes[anchor] = count


def _plain(node: Any, path: Path_, source: Source) -> Any:
    if isinstance(node, CommentedMap):
        out = {}
        for key, value in node.items():
            key_line, key_col = node.lc.key(key)
            val_line, val_col = node.lc.value(key)
            source.positions[path + (str(key),)] = (val_line + 1, val_col + 1)
            source.positions[path + (str(key), "<key>")] = (key_line + 1, key_col + 1)
            style = getattr(value, "style", None)
            if style:
                source.styles[path + (str(key),)] = style
            out[str(key)] = _plain(value, path + (str(key),), source)
        return out
    if isinstance(node, CommentedSeq):
        out_list = []
        for index, value in enumerate(node):
            line, col = node.lc.item(index)
            source.positions[path + (index,)] = (line + 1, col + 1)
            out_list.append(_plain(value, path + (index,), source))
        return out_list
    if hasattr(node, "__str__") and type(node).__module__.startswith("ruamel"):
        # ruamel's scalar wrappers (ScalarFloat, ScalarString...) -> plain values.
        if isinstance(node, str):
            return str(node)
        if isinstance(node, bool):
            return bool(node)
        if isinstance(node, int):
            return int(node)
        return str(node)
    if isinstance(node, float):
        # Keep the written digits: 0.20 must stay exactly 0.20, never a binary float.
        return str(node)
    return node
