"""A registration check screens only the new registration's group (plan/narrowing.py): the
same verdicts as screening every registration, for random registrations added to the
Generuj Leady example; and no narrowing where the plan's rules read other records."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paymaster.backends import sqlcache
from paymaster.plan import load_plan, parse_plan
from paymaster.plan.narrowing import narrowing
from paymaster.runs import calculate
from paymaster.services.registrations import _screening_plan

EXAMPLE = ROOT / "examples" / "generuj-leady"
LOADED = load_plan(EXAMPLE / "plan.yaml")
MEASURE = LOADED.plan.measure("registration")
CHECK = _screening_plan(LOADED, MEASURE)
with (EXAMPLE / "data" / "registrations.csv").open(encoding="utf-8") as _handle:
    ROWS = list(csv.DictReader(_handle))
HEADER = list(ROWS[0])
with (EXAMPLE / "data" / "customers.csv").open(encoding="utf-8") as _handle:
    NIPS = [row["nip"] for row in csv.DictReader(_handle)][:4] + ["5260250995", ""]


def _written(nip: str, form: int) -> str:
    """A tax id as people write it: as is, with dashes, with spaces (the screening compares
    it cleaned: the same customer to the first-wins key)."""
    if len(nip) != 10 or form == 0:
        return nip
    parts = (nip[:3], nip[3:6], nip[6:8], nip[8:])
    return ("-" if form == 1 else " ").join(parts)


REGISTRATION = st.fixed_dictionaries({
    "nip": st.sampled_from(NIPS), "form": st.integers(0, 2),
    "family": st.sampled_from(["M365", "O365", "D365", "m365", ""]),
    "plan": st.sampled_from(["E3", "E5", "E1", "F3"]),
    "partner": st.sampled_from(["P1", "P2", "P3", "P4"]),
    "when": st.sampled_from(["2018-04-02 09:00:00", "2018-04-03 09:00:00",
                             "2018-05-10 12:00:00", "2018-06-01 08:00:00"]),
    "licences": st.sampled_from(["1", "3", "10", "300"]),
    "decision": st.sampled_from(["", "", "pending", "rejected", "accepted"]),
})


def _verdicts(folder: Path, narrow=None) -> dict[str, tuple]:
    result = calculate(CHECK, folder, only=("evaluations",), narrow=narrow)
    return {ev["subject"]: (ev["passed"], ev["reason"])
            for ev in result.tables["evaluations"].to_pylist() if ev["evaluation"] == MEASURE.id}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    where = tmp_path_factory.mktemp("narrowing")
    shutil.copytree(EXAMPLE / "data", where / "data")
    with pytest.MonkeyPatch.context() as patch:  # compiled once, then its SQL (fast)
        patch.setenv(sqlcache.CACHE_ENV, str(where / "cache"))
        yield where / "data"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(added=st.lists(REGISTRATION, min_size=1, max_size=5), picks=st.lists(
    st.integers(0, 60), min_size=1, max_size=3))
def test_a_narrowed_check_gives_the_whole_screenings_verdicts(folder: Path, added, picks) -> None:
    rows = [dict(row) for row in ROWS]
    for i, new in enumerate(added):
        template = dict(ROWS[i % len(ROWS)])
        rows.append(template | {
            "registration_id": f"R{90 + i}", "partner_id": new["partner"],
            "submitted_at": new["when"], "customer_nip": _written(new["nip"], new["form"]),
            "family": new["family"], "plan": new["plan"], "licences": new["licences"],
            "decision": new["decision"], "decision_reason": ""})
    with (folder / "registrations.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, HEADER)
        writer.writeheader()
        writer.writerows(rows)
    whole = _verdicts(folder)
    # the new registrations (what a check asks about) and some stored ones
    subjects = sorted({row["registration_id"] for row in rows[len(ROWS):]}
                      | {rows[p % len(rows)]["registration_id"] for p in picks})
    narrowed = narrowing(CHECK.loaded.plan, MEASURE, subjects)
    assert narrowed is not None and narrowed.key == ("customer_nip", "family")
    got = _verdicts(folder, narrowed)
    # the subjects' groups alone were screened, each record as the whole screening said
    assert set(subjects) <= set(got) and len(got) < len(whole)
    assert got == {s: whole[s] for s in got}


def test_no_narrowing_where_a_rule_reads_other_records() -> None:
    text = (EXAMPLE / "plan.yaml").read_text(encoding="utf-8")
    own = text.replace("      - name: too_few_licences\n        fail_when: registrations.licences",
                       "      - name: too_many\n        fail_when: (SELECT count(*) FROM "
                       "registrations r WHERE r.partner_id = registrations.partner_id) > 9\n"
                       "      - name: too_few_licences\n        fail_when: registrations.licences",
                       1)
    window = text.replace("fail_when: registrations.licences < param.min_licences",
                          "fail_when: registrations.licences < param.min_licences OR "
                          "count(*) OVER (PARTITION BY registrations.partner_id) > 9", 1)
    twice = text.replace("      - name: in_vendor_registry\n",
                         "      - name: same_contact\n        first_wins: {key: "
                         "[contact_email], other: partner_id}\n"
                         "      - name: in_vendor_registry\n", 1)
    for changed in (own, window, twice):
        assert changed != text
        plan = parse_plan(changed, "plan.yaml").plan
        assert narrowing(plan, plan.measure("registration"), ["R01"]) is None
    assert narrowing(LOADED.plan, MEASURE, ["R01"]) is not None
