"""Settings of the DuckDB connection a run calculates on.

DuckDB's defaults (memory up to 80% of RAM, insertion order kept) suit interactive use;
a run over tens of millions of lines needs a bound it spills under instead (temporary
tables and large joins, sorts and windows go to disk in `temp_directory`), so that 100M
lines finish on a 24 GiB machine and 10M lines stay under a few GiB.

    PAYMASTER_DUCKDB_MEMORY   memory_limit, e.g. "3GB" (default: 3GB, at most half the RAM;
                              from 20,000,000 input rows the maximum below)
    PAYMASTER_DUCKDB_MEMORY_MAX  the limit a stage that ran out of memory is calculated
                              again with (default: 60% of the RAM when the limit above is
                              the default; none, i.e. no second try, when it was set)
    PAYMASTER_DUCKDB_THREADS  threads (default: DuckDB's, one per core)
    PAYMASTER_DUCKDB_TEMP     temp_directory for spilling (default: one per process in the system temp dir)
    PAYMASTER_DUCKDB_STAGES   where the stored stages are kept: "memory" (temporary tables,
                              spilled uncompressed when they outgrow the limit), "disk" (a
                              compressed DuckDB file beside the spill folder, deleted with
                              the run) or "auto" (the default: disk from 20,000,000 input
                              rows; from 2,000,000 the stages a cached run keeps to its last
                              outputs on disk, the others in memory)
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import _duckdb as duckdb  # (the engine module alone, as fastrun.py imports it: 0.1 s less)

from paymaster.errors import PaymasterError, Problem, ResourceError
from paymaster.sqlnames import literal

DEFAULT_MEMORY_GIB = 3.0


def _ram_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return 2 * DEFAULT_MEMORY_GIB


def config() -> dict[str, str]:
    memory = os.environ.get("PAYMASTER_DUCKDB_MEMORY")
    if not memory:
        memory = f"{min(DEFAULT_MEMORY_GIB, _ram_gib() / 2):.1f}GiB"
    temp = os.environ.get("PAYMASTER_DUCKDB_TEMP") or str(
        Path(tempfile.gettempdir()) / f"paymaster-duckdb-{os.getpid()}")
    settings = {"memory_limit": memory, "temp_directory": temp}
    threads = os.environ.get("PAYMASTER_DUCKDB_THREADS")
    if threads:
        settings["threads"] = threads
    return settings


STAGES = ("auto", "memory", "disk")
# From this many input rows a cached run writes each output as soon as the stages it reads
# are stored (runs._early), so that what only it read is dropped before the later stages:
# at 10M lines the registrations' stages held ~2 GiB the deal records then spilled for.
EARLY_OUTPUT_ROWS = 2_000_000
# From this many input rows a run is large: its stages go to disk, its memory limit up.
LARGE_INPUT_ROWS = 20_000_000
# From this many input rows a DuckDB run numbers its claims over narrow rows and joins the
# records' other columns back by their key (engine/blocks/records.py): at 10M lines the
# wide windows spilled under the memory limit (deal records 27.7 -> 23.8 s, idle), at 1M
# nothing spills and the join back costs more than it saves (1.6 -> 2.1 s).
NARROW_CLAIMS_ROWS = 2_000_000


def narrow_claims(input_rows: int) -> bool:
    """Whether a DuckDB run over `input_rows` input rows takes the narrow claims."""
    return input_rows >= NARROW_CLAIMS_ROWS


def stages_setting() -> str:
    """PAYMASTER_DUCKDB_STAGES, checked: auto, memory or disk."""
    chosen = (os.environ.get("PAYMASTER_DUCKDB_STAGES") or "auto").strip().lower()
    if chosen not in STAGES:
        raise PaymasterError(Problem(
            f"PAYMASTER_DUCKDB_STAGES is not one of {', '.join(STAGES)}: "
            f"'{os.environ['PAYMASTER_DUCKDB_STAGES']}'",
            hint="leave it unset (auto), or set memory or disk"))
    return chosen


def stages_on_disk(input_rows: int) -> bool:
    """Whether a run over `input_rows` input rows keeps its stages in a database file.

    Spilled temporary tables are written uncompressed: at 100M lines the stages of
    generuj-leady filled 71 GB of disk. A database file stores the same rows compressed
    (about a third of that at 10M) but costs a small run 15-25% of its time, so only
    large inputs use one unless told."""
    chosen = stages_setting()
    if chosen == "auto":
        return input_rows >= LARGE_INPUT_ROWS
    return chosen == "disk"


def some_stages_on_disk(input_rows: int) -> bool:
    """Whether a run over `input_rows` input rows stores the stages its last outputs read
    in a database file, the others in memory (backends/duckstages.py): from
    EARLY_OUTPUT_ROWS input rows unless PAYMASTER_DUCKDB_STAGES says where they all go."""
    return stages_setting() == "auto" and input_rows >= EARLY_OUTPUT_ROWS


def large_input_limit(input_rows: int) -> str | None:
    """The memory limit a run over `input_rows` starts with, when not the default: for a
    large input, the one a stage that ran out of memory gets (`retry_limit`). The default
    3 GiB keeps 10M lines under 4 GiB; at 100M lines it had generuj-leady's windows and
    sorts spill over 40 GB, which a machine's disk may not have while its RAM sits idle."""
    return retry_limit() if input_rows >= LARGE_INPUT_ROWS else None


def stages_file(temp_directory: str) -> Path:
    """The stages' database file: beside the spill folder, not in it (DuckDB removes a
    spill folder it created only when it is empty), named for this process."""
    folder = Path(temp_directory)
    return folder.with_name(f"{folder.name}-stages-{os.getpid()}.duckdb")


def retry_limit() -> str | None:
    """The larger limit to calculate a stage again with after it ran out of memory.

    Some of DuckDB's operators cannot spill all they hold: at 100M lines a stage may need
    more than the default limit, which is kept small so that 10M lines stay under a few
    GiB. A limit the user chose is theirs: no second try unless they also set the maximum."""
    chosen = os.environ.get("PAYMASTER_DUCKDB_MEMORY_MAX")
    if chosen:
        memory_bytes(chosen, "PAYMASTER_DUCKDB_MEMORY_MAX")
        return chosen
    if os.environ.get("PAYMASTER_DUCKDB_MEMORY"):
        return None
    room = _ram_gib() * 0.6
    return f"{room:.1f}GiB" if room > DEFAULT_MEMORY_GIB else None


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def memory_bytes(size: str, setting: str = "memory_limit") -> int:
    """'3.0GiB', '10GB', '2.7 GiB' (as DuckDB shows a limit) in bytes."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*", size.lower())
    if not match or match[2] not in _UNITS:
        raise PaymasterError(Problem(f"{setting} is not a memory size: '{size}'",
                                     hint="write a size such as 12GB or 12GiB"))
    return int(float(match[1]) * _UNITS[match[2]])


def advice() -> str:
    """What to change when a run hits the memory limit, with this machine's figures."""
    settings = config()
    room = max(DEFAULT_MEMORY_GIB, _ram_gib() * 0.6)
    return (f"the limit is {settings['memory_limit']} of this machine's {_ram_gib():.0f} GiB; "
            f"run again with a larger limit, e.g. PAYMASTER_DUCKDB_MEMORY={room:.0f}GB, or "
            f"fewer threads (PAYMASTER_DUCKDB_THREADS=1); spilled data goes to "
            f"{settings['temp_directory']} (PAYMASTER_DUCKDB_TEMP)")


@contextmanager
def out_of_memory(stage: str) -> Iterator[None]:
    """DuckDB's out-of-memory error says what to SET; a user of `paymaster` sets our
    environment variables instead, so say those (with this machine's sizes)."""
    try:
        yield
    except duckdb.OutOfMemoryException as err:
        raise ResourceError(
            f"DuckDB ran out of memory while {stage} ({str(err).splitlines()[0]}); "
            f"{advice()}") from err


def seal(con: duckdb.DuckDBPyConnection, readable: Iterable[Path | None] = (),
         writable: Path | None = None) -> None:
    """Once a run's input is read: the connection can reach no file but `readable` (the
    input files, which Parquet views still read), the folder `writable` (a run's fresh
    staging folder, outputs.Staging, which DuckDB writes the output files into) and what
    DuckDB keeps for itself (its spill files, a database already attached). A statement
    that a future bug let a plan or a file shape cannot read `/etc/...`, write a file
    elsewhere, ATTACH, INSTALL or LOAD.

    DuckDB refuses to turn external access back on, or to change the allowed paths or the
    temp_directory, once it is off; `lock` freezes every other setting as well."""
    paths = sorted({str(Path(p).resolve()) for p in readable if p is not None})
    if paths:
        con.execute(f"SET allowed_paths = [{', '.join(literal(p) for p in paths)}]")
    if writable is not None:
        # (the trailing separator: the folder's own files, not a sibling named like it)
        folder = str(Path(writable).resolve()).rstrip("/") + "/"
        con.execute(f"SET allowed_directories = [{literal(folder)}]")
    con.execute("SET enable_external_access = false")
    if memory_is_final(con):
        lock(con)


def lock(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET lock_configuration = true")


def memory_is_final(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the memory limit can no longer be raised by a stage that ran out of memory
    (`retry_limit`): the configuration is locked only then, as the raise is a SET."""
    larger = retry_limit()
    current = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    return larger is None or memory_bytes(current) >= memory_bytes(larger)
