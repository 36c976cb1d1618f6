"""Overdue lead registrations (shared/programs/generuj-leady.md, "Lead registration"): "The
owner confirms or rejects it within 5 business days (Polish working days: no weekends, no
Polish public holidays); an unanswered registration past that is *overdue* and shows so."

One scenario, run on a few as-of days (the run's `as_of`, `paymaster run --as-of`). Due
dates worked by hand from the Polish calendar of 2018 (holidays: Easter Monday 04-02,
May 1, May 3):

- R01 (P1, C1) submitted Fri 2018-03-30, pending: Mon 04-02 is Easter Monday, so the five
  business days are 04-03, 04-04, 04-05, 04-06, 04-09: due 2018-04-09.
- R02 (P1, C2) submitted Mon 2018-04-30, pending: 05-01 and 05-03 are holidays, 05-05/06 a
  weekend: 05-02, 05-04, 05-07, 05-08, 05-09: due 2018-05-09.
- R03 (P1, C3) submitted Tue 2018-04-03, pending: 04-04 .. 04-06, 04-09, 04-10: due 04-10.
- R04 (P2, C3, same customer and family) submitted 2018-04-20, answered (accepted) long
  after R03's due date: a waiting or overdue registration blocks no later one ("only an
  earlier *accepted* registration blocks"), so R04 is accepted and its sale S04 (10
  licences x 10.00 x 12 = 1 200.00, M365 annual 20%) is paid 240.00.
- R05 (P1, C5) submitted 2018-03-30, accepted by the owner (after its due date): answered,
  never overdue; S05 paid 240.00.
- S01 (R01's customer) stays unpaid `registration_pending` whether R01 waits or is overdue.

"Past that": on its due date a registration is not overdue yet, the day after it is.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from paymaster.runs import calculate, fingerprint
from test_spec_generuj_leady import PAID, PLAN, UNPAID, Case, lines, verdicts


def scenario(folder: Path) -> Path:
    c = Case()
    c.reg("R01", "P1", "2018-03-30 09:00:00", "C1", decision="pending")
    c.reg("R02", "P1", "2018-04-30 09:00:00", "C2", decision="pending")
    c.reg("R03", "P1", "2018-04-03 09:00:00", "C3", decision="pending")
    c.reg("R04", "P2", "2018-04-20 09:00:00", "C3", decision="accepted")
    c.reg("R05", "P1", "2018-03-30 09:00:00", "C5", decision="accepted")
    c.sale("S01", "P1", "C1", "2018-04-20")
    c.sale("S04", "P2", "C3", "2018-04-25")
    c.sale("S05", "P1", "C5", "2018-04-25")
    return c.write(folder)


WAITING, LATE = "awaiting_decision", "overdue"
EXPECTED = {  # as-of day: the verdicts of R01, R02, R03
    dt.date(2018, 4, 10): (LATE, WAITING, WAITING),    # R03 due today: not yet
    dt.date(2018, 5, 9): (LATE, WAITING, LATE),        # R02 due today
    dt.date(2018, 5, 10): (LATE, LATE, LATE),
}


def test_overdue_registrations_by_the_as_of_day(tmp_path: Path) -> None:
    data = scenario(tmp_path / "data")
    said: list[str] = []
    fingerprints = {}
    for day, (r01, r02, r03) in EXPECTED.items():
        result = calculate(PLAN, data, said.append, as_of=day)
        assert verdicts(result) == {"R01": r01, "R02": r02, "R03": r03, "R04": "accepted",
                                    "R05": "accepted"}, day
        assert lines(result) == {("deal", "S01"): ("0.00", UNPAID, "registration_pending"),
                                 ("deal", "S04"): ("240.00", PAID, None),
                                 ("deal", "S05"): ("240.00", PAID, None)}, day
        assert result.as_of == day
        fingerprints[day] = result.fingerprint
    # The day is part of what made the result; the SQL is not: later days ran the SQL the
    # first day compiled (the as-of day is a value in a table, not text in the SQL).
    assert len(set(fingerprints.values())) == len(EXPECTED)
    assert said.count("run the plan's compiled SQL (cached)") >= len(EXPECTED) - 1
    assert fingerprint(result.loaded, data, dt.date(2018, 5, 10)) \
        == fingerprints[dt.date(2018, 5, 10)]

    # Shown as overdue, with its due date, never as rejected, in every language.
    text = {row["subject"]: row["explanation"] for row in result.explained("evaluations")}
    assert text["R01"] == ("not accepted yet: overdue (no answer within 5 business days, "
                           "due 2018-04-09)")
    assert text["R02"] == ("not accepted yet: overdue (no answer within 5 business days, "
                           "due 2018-05-09)")
    deal = {row["source_id"]: row["explanation"] for row in result.explained("payouts")}
    assert deal["S01"].startswith("registration R01 not accepted yet: overdue; ")
    polish = {row["subject"]: row["explanation"] for row in result.explained("evaluations", "pl")}
    assert "po terminie" in polish["R01"] and "9 kwi 2018" in polish["R01"]
    chinese = {row["subject"]: row["explanation"] for row in result.explained("evaluations", "zh")}
    assert "逾期" in chinese["R03"] and "2018年4月10日" in chinese["R03"]
    for rows in (text, polish, chinese):
        assert not any(word in rows["R01"].lower() for word in ("rejected", "odrzuc", "拒绝"))


def test_run_as_of_on_the_command_line(tmp_path: Path) -> None:
    """`paymaster run --as-of 2018-04-10`: R01 overdue, R02 and R03 still waiting; run.json
    says the day; a day that is no date is refused before anything runs."""
    from typer.testing import CliRunner

    from paymaster.cli import app

    data, out = scenario(tmp_path / "data"), tmp_path / "out"
    done = CliRunner().invoke(app, ["run", str(PLAN), "--data", str(data), "--out", str(out),
                                    "--as-of", "2018-04-10"])
    assert done.exit_code == 0, done.output
    with open(out / "evaluations.csv", encoding="utf-8", newline="") as handle:
        reasons = {row["subject"]: row["reason"] for row in csv.DictReader(handle)}
    assert reasons == {"R01": LATE, "R02": WAITING, "R03": WAITING, "R04": "", "R05": ""}
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["as_of"] == "2018-04-10"
    done = CliRunner().invoke(app, ["run", str(PLAN), "--data", str(data), "--out",
                                    str(tmp_path / "bad"), "--as-of", "10.04.2018"])
    assert done.exit_code == 2 and not (tmp_path / "bad").exists()


@pytest.mark.parametrize("text, problem", [
    ("answer_within: {business_days: 5, country: XX}",
     "'XX' is not a country whose public holidays are known"),
    ("answer_within: {business_days: 0, country: PL}", "greater than or equal to 1"),
])
def test_answer_within_is_checked_where_it_is_written(tmp_path: Path, text: str,
                                                      problem: str) -> None:
    from paymaster.errors import PaymasterError
    from paymaster.plan import load_plan

    written = PLAN.read_text(encoding="utf-8")
    assert "answer_within: {business_days: 5, country: PL}" in written
    plan = tmp_path / "plan.yaml"
    plan.write_text(written.replace("answer_within: {business_days: 5, country: PL}", text),
                    encoding="utf-8")
    with pytest.raises(PaymasterError) as raised:
        load_plan(plan)
    line = next(i for i, row in enumerate(plan.read_text().splitlines(), 1) if text in row)
    assert problem in str(raised.value) and f"plan.yaml:{line}:" in str(raised.value)


def test_an_incremental_run_keeps_to_its_as_of_day(tmp_path: Path) -> None:
    """The state remembers the day it was made on: the same day again is incremental (no
    record's overdue changed), another day is a full run, which finds R02 and R03 late."""
    from paymaster.incremental import calculate as incremental

    data, state = scenario(tmp_path / "data"), tmp_path / "state.duckdb"
    first, report = incremental(PLAN, data, state, as_of=dt.date(2018, 4, 10))
    assert report.mode == "full" and verdicts(first)["R03"] == WAITING
    again, report = incremental(PLAN, data, state, as_of=dt.date(2018, 4, 10))
    assert report.mode == "incremental" and verdicts(again) == verdicts(first)
    later, report = incremental(PLAN, data, state, as_of=dt.date(2018, 5, 10))
    assert (report.mode, report.reason) == ("full", "the as-of day changed")
    assert verdicts(later) == {"R01": LATE, "R02": LATE, "R03": LATE, "R04": "accepted",
                               "R05": "accepted"}
    assert later.as_of == dt.date(2018, 5, 10)
