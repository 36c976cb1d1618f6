"""Settings of the DuckDB connection a run calculates on.

DuckDB's defaults (memory up to 80% of RAM, insertion order kept) suit interactive use;
a run over tens of millions of lines needs a bound it spills under instead (temporary
tables and large joins, sorts and windows go to disk in `temp_directory`), so that 100M
lines finish on a 24 GiB machine and 10M lines stay under a few GiB.

    PAYMASTER_DUCKDB_MEMORY   memory_limit, e.g. "3GB" (default: 3GB, at most half the RAM)
    PAYMASTER_DUCKDB_THREADS  threads (default: DuckDB's, one per core)
    PAYMASTER_DUCKDB_TEMP     temp_directory for spilling (default: one per process in the system temp dir)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
