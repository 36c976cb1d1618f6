"""Engine runs for a long-running server, in worker processes.

Building a run is mostly Python (the plan compiled into Ibis expressions), so an engine
run inside the portal's process holds the interpreter lock for most of a second or more,
and every page of every other user waits behind it. `paymaster serve` starts a few worker
processes (`--engine-processes`, default 1) and the registration check and the status
page's calculation run there; the CLI, the library and the tests, which start no pool,
run the engine in their own process as before. Workers are spawned (not forked: the
server has threads), once, and live as long as the server.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
_pool: ProcessPoolExecutor | None = None
_guard = threading.Lock()


def start(workers: int) -> None:
    """Run engine work in `workers` processes from now on (0: in this process)."""
    global _pool
    with _guard:
        if _pool is not None:
            _pool.shutdown()
        _pool = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_warm) if workers > 0 else None)
    if _pool is not None:  # spawn and import now, not in the first user's request
        for _ in range(workers):
            _pool.submit(_warm)


def _warm() -> None:
    import paymaster.services.registrations  # noqa: F401 - the engine and what it imports
    import paymaster.services.status  # noqa: F401


def stop() -> None:
    start(0)


def run(function: Callable[..., T], *args) -> T:
    """function(*args) in a worker when a pool was started, else here. The function must
    be importable by name and its arguments and result picklable; its exceptions come
    back as they were raised."""
    pool = _pool
    if pool is None:
        return function(*args)
    return pool.submit(function, *args).result()
