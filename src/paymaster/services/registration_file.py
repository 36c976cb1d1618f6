"""A file of registrations (received by e-mail, say) read for `registrations.register_many`:
checked as any uploaded file is (size, UTF-8, every row as wide as the header), each row's
submission time parsed, in order of submission."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from paymaster import filecheck
from paymaster.errors import N_, DataError, Problem
from paymaster.limits import Limits
from paymaster.services.registrations import Submission

# The owner's decision, given later through `decide`; a file's columns of it are ignored.
IGNORED = ("decision", "decision_reason")


def read_submissions(path: Path, limits: Limits) -> list[Submission]:
    """The file's rows (row 1 is the header) in order of their submitted_at; rows without
    one come last, in file order (they are submitted now)."""
    if path.suffix.lower() != ".csv":
        raise DataError(Problem.of(N_("unsupported file type '%(suffix)s'"), file=str(path),
                                   suffix=path.suffix,
                                   hint=N_("give a .csv file with a header row")))
    filecheck.check_file(path, limits)
    batch, problems = [], []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row, values in enumerate(csv.DictReader(handle), start=2):
            try:
                batch.append(Submission(values, submission_time(values), row))
            except DataError as err:
                problems += [p.at(file=str(path), row=row) for p in err.problems]
    if problems:
        raise DataError(problems)
    return sorted(batch, key=lambda sub: sub.at or dt.datetime.max)


def submission_time(values: dict) -> dt.datetime | None:
    """The submission time a registration was given (its submitted_at field or column),
    taken out of its fields with the owner's decision, which the owner gives later."""
    when = values.pop("submitted_at", None)
    for ignored in IGNORED:
        values.pop(ignored, None)
    if not when:
        return None
    try:
        return dt.datetime.fromisoformat(when)
    except ValueError:
        raise DataError(Problem.of(N_("submitted_at '%(when)s' is not a date and time"),
                                   field="submitted_at", when=when,
                                   hint=N_("write it as 2018-04-02 09:00:00, or leave it out to "
                                           "mean now"))) from None
