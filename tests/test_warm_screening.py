"""A registration check on the warm state (services/warm_screening.py) answers what the
whole check answers: random registrations added to the Generuj Leady example, stored ones
decided again, one state followed from file to file; and an edited master-data file or
plan is a new state, never a stale one."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_registration_narrowing import CHECK, EXAMPLE, HEADER, MEASURE, NIPS, ROWS, _written

from paymaster.backends import sqlcache
from paymaster.plan import parse_plan
from paymaster.services import warm_screening
from paymaster.services.registrations import _screened, _screening_plan


REGISTRATION = st.fixed_dictionaries({
    "nip": st.sampled_from(NIPS), "form": st.integers(0, 2),
    "family": st.sampled_from(["M365", "O365", "D365", "m365"]),
    "partner": st.sampled_from(["P1", "P2", "P3", "P4"]),
    # few times, so ties in submission time are common
    "when": st.sampled_from(["2018-04-02 09:00:00", "2018-05-10 12:00:00",
                             "2018-06-01 08:00:00"]),
    "licences": st.sampled_from(["1", "3", "300"]),
    "decision": st.sampled_from(["", "", "pending", "rejected", "accepted"]),
})


def _write(folder: Path, rows: list[dict]) -> None:
    with (folder / "registrations.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, HEADER)
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    """The warm state runs the screening's compiled SQL: the session's SQL cache
    (conftest.py: compiled once per session), or this module's own when that is off."""
    setting = os.environ.get(sqlcache.CACHE_ENV, "off")
    return str(tmp_path_factory.mktemp("sql-cache")) if setting.lower() == "off" else setting


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """The example's data, copied once for the module (the tests rewrite its files)."""
    where = tmp_path_factory.mktemp("warm") / "data"
    shutil.copytree(EXAMPLE / "data", where)
    yield where
    warm_screening.drop()


@pytest.fixture
def folder(data: Path, cache: str, monkeypatch) -> Path:
    monkeypatch.setenv(sqlcache.CACHE_ENV, cache)
    return data


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(added=st.lists(REGISTRATION, min_size=1, max_size=4),
       redecided=st.lists(st.tuples(st.integers(0, 34), st.sampled_from(
           ["", "pending", "rejected", "accepted"])), max_size=3),
       picks=st.lists(st.integers(0, 60), min_size=1, max_size=3), narrow=st.booleans())
def test_the_warm_check_answers_what_the_whole_check_answers(folder: Path, added, redecided,
                                                             picks, narrow) -> None:
    rows = [dict(row) for row in ROWS]
    for at, decision in redecided:  # a stored registration decided again (a diff in place)
        rows[at]["decision"] = decision
    for i, new in enumerate(added):
        template = dict(ROWS[(i * 7) % len(ROWS)])
        rows.append(template | {
            "registration_id": f"R{90 + i}", "partner_id": new["partner"],
            "submitted_at": new["when"], "customer_nip": _written(new["nip"], new["form"]),
            "family": new["family"], "licences": new["licences"],
            "decision": new["decision"], "decision_reason": ""})
    _write(folder, rows)
    subjects = sorted({row["registration_id"] for row in rows[len(ROWS):]}
                      | {rows[p % len(rows)]["registration_id"] for p in picks})
    whole = _screened(CHECK, folder, MEASURE.id, subjects, narrow=False)
    with pytest.MonkeyPatch.context() as patch:  # the subjects' groups alone, or all
        patch.setattr(warm_screening, "NARROW_FROM", 0 if narrow else 10**9)
        warm = warm_screening.screened(CHECK, folder, MEASURE.id, subjects, "equivalence")
    assert warm == whole and set(whole) == set(subjects)
    # one state, followed line by line from one file to the next, never loaded again
    assert warm_screening.builds("equivalence") == 1


def test_an_edited_master_data_file_or_plan_is_a_new_state(folder: Path) -> None:
    # R90: P2 (a Polish partner) registers a Polish SMB customer with 3 licences
    rows = [dict(row) for row in ROWS] + [dict(ROWS[0]) | {
        "registration_id": "R90", "partner_id": "P2", "submitted_at": "2018-04-02 09:00:00",
        "customer_nip": ROWS[0]["customer_nip"], "family": "D365", "licences": "3",
        "decision": "", "decision_reason": ""}]
    _write(folder, rows)
    name = "invalidation"

    def warm(check=CHECK) -> dict | None:
        return warm_screening.screened(check, folder, MEASURE.id, ["R90"], name)

    passes = {"R90": (True, None)}
    assert warm() == _screened(CHECK, folder, MEASURE.id, ["R90"], narrow=False) == passes
    assert warm_screening.builds(name) == 1
    partners = (folder / "partners.csv").read_text(encoding="utf-8")
    try:
        # P2 moves abroad: the partner rule now rejects R90 (the spec: a Polish partner)
        (folder / "partners.csv").write_text(partners.replace("P2,Beta,Krakow,PL",
                                                              "P2,Beta,Krakow,DE"), "utf-8")
        assert warm() == {"R90": (False, "partner_not_polish")}
        assert warm_screening.builds(name) == 2
    finally:
        (folder / "partners.csv").write_text(partners, encoding="utf-8")
    # the plan asks for 5 licences: R90's 3 are too few (a new plan digest, a new state)
    stricter = parse_plan((EXAMPLE / "plan.yaml").read_text(encoding="utf-8")
                          .replace("min_licences: 3", "min_licences: 5", 1), "plan.yaml")
    check = _screening_plan(stricter, stricter.plan.measure(MEASURE.id))
    assert check.digest != CHECK.digest
    strict = _screened(check, folder, MEASURE.id, ["R90"], narrow=False)  # compiles, records
    assert warm(check) == strict == {"R90": (False, "too_few_licences")}
    assert warm_screening.builds(name) == 3
    assert warm() == passes and warm_screening.builds(name) == 4  # back to the first plan
    # a line the run would refuse: no warm answer (the whole check reports the row)
    for refused in ({"licences": "three"}, {"partner_id": "P99"}):  # not a number; unknown
        _write(folder, rows[:-1] + [rows[-1] | refused])
        assert warm() is None and warm_screening.builds(name) == 4
    # many lines changed (a file imported): loaded whole again, not followed line by line
    many = rows + [dict(ROWS[i % len(ROWS)]) | {"registration_id": f"R{200 + i}",
                                                 "submitted_at": "2018-06-02 08:00:00"}
                   for i in range(70)]
    _write(folder, many)
    assert warm() == passes and warm_screening.builds(name) == 5
