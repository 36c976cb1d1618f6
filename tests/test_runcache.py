"""A run of an unchanged plan on unchanged input neither validates the plan nor checks the
input again (paymaster.runcache, issue 16); an entry that is torn, foreign or not private
is a miss, and input that changed is checked again: never a wrong result from the cache."""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from paymaster import runcache
from paymaster.backends import sqlcache
from paymaster.errors import DataError
from paymaster.plan import load_plan
from paymaster.runs import calculate_into

# Without the session's SQL cache (tests/conftest.py): tests the run cache itself, in
# folders of its own.
pytestmark = pytest.mark.no_sql_cache

EXAMPLE = ROOT / "examples" / "trade-in-accelerator"


class _Boom:
    def __reduce__(self):
        return (os.system, ("exit 3",))


def test_the_plan_and_the_input_verdicts_are_reused_and_never_trusted_blindly(
        tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv(sqlcache.CACHE_ENV, str(cache))
    plan = tmp_path / "plan.yaml"
    shutil.copy(EXAMPLE / "plan.yaml", plan)
    fresh = load_plan(plan)

    first = runcache.load_plan(plan)
    [entry] = (cache / "plans").iterdir()
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    again = runcache.load_plan(plan)  # from the entry: equal, with its positions
    assert again.loaded.plan == fresh.plan and again.loaded.source == fresh.source
    assert again.digest == first.digest == runcache.plan_digest(fresh)

    def stored(body: bytes) -> None:
        entry.write_bytes(hashlib.sha256(body).hexdigest().encode() + b"\n" + body)

    # A pickle naming anything but the plan's classes is refused before it runs.
    stored(pickle.dumps((runcache.FORMAT, entry.name, _Boom())))
    assert runcache._read_plan(cache / "plans", entry.name) is None
    # Nor a gadget through what our modules import (runcache's `os`) and getattr: the
    # unpickler gives only classes defined in the plan's modules.
    pwned = tmp_path / "pwned"
    for gadget in (b"cpaymaster.runcache\nos\n.",
                   b"cbuiltins\ngetattr\n(cpaymaster.runcache\nos\nVsystem\ntR(V"
                   + f"touch {pwned}".encode() + b"\ntR."):
        stored(gadget)
        assert runcache._read_plan(cache / "plans", entry.name) is None
    assert not pwned.exists()
    # A torn entry (its hash no longer matches), or one others may write: a miss.
    entry.write_bytes(entry.read_bytes()[:-10])
    assert runcache._read_plan(cache / "plans", entry.name) is None
    assert runcache.load_plan(plan).loaded.plan == fresh.plan  # read again, rewritten
    assert runcache._read_plan(cache / "plans", entry.name) is not None
    os.chmod(entry, 0o664)
    assert runcache._read_plan(cache / "plans", entry.name) is None
    os.chmod(entry, 0o600)
    # An edited plan is another entry: the edit counts.
    plan.write_text(plan.read_text().replace("title:", "title: X", 1) if "title:" in
                    plan.read_text() else plan.read_text() + "\n# edited\n")
    assert runcache.load_plan(plan).loaded.plan == load_plan(plan).plan

    # The input's verdicts: a clean input is checked once; a changed file again.
    data = tmp_path / "data"
    shutil.copytree(EXAMPLE / "data", data)
    calculate_into(EXAMPLE / "plan.yaml", data, tmp_path / "a")
    markers = len(list((cache / "verdicts").iterdir()))
    assert markers == len(list(data.iterdir())) + 1  # each table, and the references
    calculate_into(EXAMPLE / "plan.yaml", data, tmp_path / "b")
    assert len(list((cache / "verdicts").iterdir())) == markers  # nothing checked anew
    orders = data / "orders.csv"
    orders.write_text(orders.read_text().replace("2008-02-16", "2008-02-31", 1))
    with pytest.raises(DataError) as refused:
        calculate_into(EXAMPLE / "plan.yaml", data, tmp_path / "c")
    assert any(p.row == 3 and p.field == "order_date" for p in refused.value.problems)
    # A reference to a partner no longer there: the references are checked again too.
    shutil.copy(EXAMPLE / "data" / "orders.csv", orders)
    partners = data / "partners.csv"
    partners.write_text("\n".join(line for line in partners.read_text().splitlines()
                                  if not line.startswith("B,")) + "\n")
    with pytest.raises(DataError) as refused:
        calculate_into(EXAMPLE / "plan.yaml", data, tmp_path / "d")
    assert any("unknown partner_id 'B'" in p.message for p in refused.value.problems)
