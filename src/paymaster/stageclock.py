"""How long each stage of a run took, as run.json records it and `paymaster run` prints
it: the standard library alone, so that the fast path (fastrun.py) times its stages with
the same clock as the full path (runs.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class StageClock:
    """Seconds per stage of a run: `done(name)` records the time since the previous stage
    ended; each stored pipeline stage is also timed on its own (`stage <name>`)."""

    def __init__(self, timings: dict[str, float] | None = None) -> None:
        self.timings = {} if timings is None else timings
        self._last = time.perf_counter()
        self._moved: dict[str, float] = {}  # later stage -> seconds counted in it (`part`)

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._last + self._moved.pop(name, 0.0), 4)
        self._last = now

    @contextmanager
    def part(self, name: str, counted_in: str | None = None) -> Iterator[None]:
        """Time a part of the current stage on its own, as `name`. With `counted_in`, its
        seconds belong to that later stage, not the current one (an output written while
        the stages are still calculated is a write, of `execute`): the stages still add up
        to the run's time."""
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        self.timings[name] = round(seconds, 4)
        if counted_in is not None:
            self._moved[counted_in] = self._moved.get(counted_in, 0.0) + seconds
            self._last += seconds

    def materializer(self, store: Callable, say: Callable[[str], None]) -> Callable:
        """The engine's `materialize` callback: store a stage, say so, time it."""
        def materialize(name: str, expr):
            say(f"calculate {name}")
            with self.part(f"stage {name}"):
                return store(name, expr)
        return materialize


class StageLines:
    """The line the command line prints as each stage ends (`  name: 1.23s`): `stage(name)`
    ends the current stage and starts the next, `finish()` ends the last. Each line goes to
    `write`; without one they are kept in `text`, one per line (the fast path prints them
    once the run succeeded)."""

    def __init__(self, write: Callable[[str], None] | None = None) -> None:
        self.text = ""
        self._write = write or self._keep
        self._current: str | None = None
        self._started = time.perf_counter()

    def __call__(self, stage: str) -> None:
        self.finish()
        self._current, self._started = stage, time.perf_counter()

    def finish(self) -> None:
        if self._current is not None:
            self._write(f"  {self._current}: {time.perf_counter() - self._started:.2f}s")
            self._current = None

    def _keep(self, line: str) -> None:
        self.text += line + "\n"
