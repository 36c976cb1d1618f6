"""The suite's own SQL cache (tests/conftest.py): on for a test unless it is marked
`no_sql_cache`, in the one folder every worker of the session shares."""

from __future__ import annotations

import os

import pytest
from conftest import TEST_CACHE_SWITCH, _shared_root

from paymaster.backends import sqlcache


def test_an_unmarked_test_runs_with_the_sessions_shared_cache(tmp_path_factory) -> None:
    if os.environ.get(TEST_CACHE_SWITCH, "").lower() == "off":
        assert sqlcache.folder() is None
    else:
        assert sqlcache.folder() == _shared_root(tmp_path_factory) / "sql-cache"


@pytest.mark.no_sql_cache
def test_a_marked_test_runs_without_it() -> None:
    assert sqlcache.folder() is None
