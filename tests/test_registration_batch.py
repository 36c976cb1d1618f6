"""A file of registrations (`register --file`): checked by one engine run and stored in one
transaction, with the verdicts and refusals the registrations would get one by one.

Expected verdicts are the example's hand-worked ones (examples/generuj-leady/expected/
evaluations.csv, from shared/programs/generuj-leady.md), and the one-by-one workflow's.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from paymaster.errors import PaymasterError
from paymaster.services import registrations
from paymaster.services.registration_file import read_submissions
from test_registrations import DATA, EXAMPLES, PROGRAM, make_workspace, stored

EXPECTED = EXAMPLES / PROGRAM / "expected" / "evaluations.csv"


def rows_of(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write(path: Path, columns: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def ws(tmp_path, store_url, monkeypatch):
    """The example's plan and master data, no registrations, on SQLite and PostgreSQL."""
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    monkeypatch.delenv("PAYMASTER_TODAY", raising=False)
    workspace = make_workspace(tmp_path, store_url)
    yield workspace
    workspace.close()


def verdicts(regs) -> dict[str, tuple[str, str | None]]:
    return {r.registration_id: (r.status, r.reason) for r in regs}


def test_the_example_file_at_once_gets_the_hand_worked_verdicts(ws, tmp_path):
    """The example's 35 registrations with auto_accept: each accepted or rejected as the
    example's evaluations say, except the owner's own decision, which a file does not
    give (R13 was rejected by the owner; unrejected it is accepted, and R14, the same
    opportunity by another partner a day later, loses to it: already_registered)."""
    ws.config.programs[PROGRAM].auto_accept = True
    expected = {r["subject"]: ("accepted", None) if r["passed"] == "true"
                else ("rejected", r["reason"])
                for r in rows_of(EXPECTED)[1] if r["evaluation"] == "registration"}
    expected["R13"] = ("accepted", None)
    expected["R14"] = ("rejected", "already_registered")
    regs = registrations.register_many(
        ws, PROGRAM, read_submissions(DATA / "registrations.csv", ws.config.limits), actor="office")
    assert verdicts(regs) == expected
    assert verdicts(stored(ws).values()) == expected
    # taken in order of submission: R21 (04-02 10:00) before R02 (04-03), R10 (06-28) last
    ids = [r.registration_id for r in regs]
    assert ids[:3] == ["R01", "R21", "R02"] and ids[-1] == "R10"


def test_a_file_gives_what_one_by_one_gives_and_refuses_the_same_rows(tmp_path, monkeypatch):
    """The same rows one by one and as a file, on two fresh workspaces: the same verdicts
    (R02 loses to R01, accepted a day before it; R03 has 2 licences). Rows
    refused (an unknown partner, an unknown field, an id given twice) are refused with
    the message one by one gives, named by their row, and the file stores nothing."""
    monkeypatch.delenv("PAYMASTER_DATABASE_URL", raising=False)
    monkeypatch.delenv("PAYMASTER_TODAY", raising=False)
    columns, rows = rows_of(DATA / "registrations.csv")
    subset = write(tmp_path / "some.csv", columns,
                   [r for r in rows if r["registration_id"] in ("R01", "R02", "R03")])
    one = make_workspace(tmp_path / "one", f"sqlite:///{tmp_path}/one.db")
    batch = make_workspace(tmp_path / "batch", f"sqlite:///{tmp_path}/batch.db")
    try:
        for ws in (one, batch):
            ws.config.programs[PROGRAM].auto_accept = True
        singly = [registrations.register(one, PROGRAM, dict(sub.fields), actor="office",
                                         at=sub.at)
                  for sub in read_submissions(subset, one.config.limits)]
        at_once = registrations.register_many(
            batch, PROGRAM, read_submissions(subset, batch.config.limits), actor="office")
        assert verdicts(at_once) == verdicts(singly) == {
            "R01": ("accepted", None), "R02": ("rejected", "already_registered"),
            "R03": ("rejected", "too_few_licences")}
        assert [r.due_on for r in at_once] == [r.due_on for r in singly]

        bad = [dict(rows[4], registration_id="R90", partner_id="P9"),     # row 3
               dict(rows[5], registration_id="R91"),                      # row 4: fine
               dict(rows[6], registration_id="R01"),                      # row 5: stored
               dict(rows[7], registration_id="R91")]                      # row 6: twice
        refused = write(tmp_path / "refused.csv", columns, [rows[3], *bad])
        with pytest.raises(PaymasterError) as caught:
            registrations.register_many(batch, PROGRAM, read_submissions(
                refused, batch.config.limits), actor="office", file=str(refused))
        said = {(p.row, p.message) for p in caught.value.problems}
        assert {p.file for p in caught.value.problems} == {str(refused)}
        for row, values in ((3, bad[0]), (5, bad[2])):
            with pytest.raises(PaymasterError) as alone:
                registrations.register(one, PROGRAM, {**values, "submitted_at": None},
                                       actor="office")
            assert (row, alone.value.problems[0].message) in said
        assert (6, "registration R91 exists already") in said
        assert len(said) == 3
        assert set(stored(batch)) == {"R01", "R02", "R03"}  # nothing of the file

        short = tmp_path / "short.csv"
        short.write_text(",".join(columns) + "\n" + ",".join(rows[3].values()) + "\n"
                         + "R92,P1,2018-04-02 09:00:00,Client\n", encoding="utf-8")
        with pytest.raises(PaymasterError) as caught:
            read_submissions(short, batch.config.limits)
        [problem] = caught.value.problems
        assert (problem.file, problem.row) == (str(short), 3)
        assert "has 4 values; the header names 18 columns: no value for customer_address, " \
               "customer_nip," in problem.message
    finally:
        one.close()
        batch.close()
