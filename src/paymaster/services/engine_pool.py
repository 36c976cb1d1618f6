"""Engine runs for a long-running server, in worker processes.

Building a run is mostly Python (the plan compiled into Ibis expressions), so an engine
run inside the portal's process holds the interpreter lock for a second or more, and
every page of every other user waits behind it. `paymaster serve` starts worker
processes (`--engine-processes`, default 1) for the runs someone waits for (a
registration's check), and one more, at a lower CPU priority (nice +10), for background
work (the status pages' calculations), so that work never delays a page or a check. The
CLI, the library and the tests start no pool and run the engine in their own process, as
before. Workers are spawned (not forked: the server has threads) at start and live as
long as the server: a worker whose server is gone (killed, crashed) exits by itself.
Living that long, a worker keeps what a check can reuse: each program's warm screening
state (services/warm_screening.py), built by its first check.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
BACKGROUND_NICE = 10
_pools: dict[bool, ProcessPoolExecutor] = {}  # background? -> its pool
_guard = threading.Lock()


def start(workers: int) -> None:
    """Run engine work in worker processes from now on: `workers` for work someone waits
    for and one for background work (0: everything in this process)."""
    with _guard:
        for pool in _pools.values():
            pool.shutdown()
        _pools.clear()
        if workers <= 0:
            return
        spawn = multiprocessing.get_context("spawn")
        server = (os.getpid(),)
        _pools[False] = ProcessPoolExecutor(workers, mp_context=spawn, initializer=_worker,
                                            initargs=server)
        _pools[True] = ProcessPoolExecutor(1, mp_context=spawn, initializer=_background,
                                           initargs=server)
        for background, pool in _pools.items():  # spawn and import now, not in a request
            for _ in range(1 if background else workers):
                pool.submit(_warm)


def stop() -> None:
    start(0)


def run(function: Callable[..., T], *args, background: bool = False) -> T:
    """function(*args) in a worker when a pool was started, else here. The function must
    be importable by name, its arguments and result picklable; its exceptions come back
    as they were raised."""
    pool = _pools.get(background)
    if pool is None:
        return function(*args)
    return pool.submit(function, *args).result()


def _warm() -> None:
    import paymaster.services.registrations  # noqa: F401 - the engine and what it imports
    import paymaster.services.status  # noqa: F401


def _worker(server: int) -> None:
    # A worker blocked on its queue would outlive a server that was killed: watch it.
    threading.Thread(target=_exit_without, args=(server,), daemon=True).start()
    _warm()


def _background(server: int) -> None:
    os.nice(BACKGROUND_NICE)
    _worker(server)


def _exit_without(server: int) -> None:
    while os.getppid() == server:
        time.sleep(1)
    os._exit(0)
