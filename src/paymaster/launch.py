"""The `paymaster` command's entry point: `paymaster run` of a plan run before, on input
checked before, takes the fast path (fastrun.py: DuckDB and the cached SQL, 0.3 s less
of imports than the command line's framework); every other command, and every run the
fast path cannot make, goes to the command line (paymaster.cli) from the same argv."""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["run"]:
        from paymaster import fastrun

        code = fastrun.main(argv[1:])
        if code is not None:
            sys.exit(code)
    from paymaster.cli import main as full

    full()
