"""Incremental recalculation gives exactly the result of a full run after each kind of
small change (one corrected record, a late line, a return, a first-wins shift, a team
move, a ranking place, an exhausted budget), on the example folders and on generated data."""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from conftest import AS_OF
from paymaster import incremental
from paymaster.changes import CHANGES, Folder
from paymaster.incremental.budget import candidate_sql
from paymaster.plan import load_plan
from paymaster.runs import calculate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def _incremental(plan, data: Path, state: Path, **options):
    """An incremental run on the tests' one as-of day (conftest.AS_OF): its state's day."""
    return incremental.calculate(plan, data, state, as_of=AS_OF, **options)


def _full(plan, data: Path, **options):
    """A full run on the same as-of day, to compare with."""
    return calculate(plan, data, as_of=AS_OF, **options)


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([(c, "ascending") for c in table.column_names])


def assert_same(got: dict[str, pa.Table], want: dict[str, pa.Table], label: str) -> None:
    assert set(got) == set(want)
    for name in want:
        a, b = _sorted(got[name]), _sorted(want[name])
        assert a.schema == b.schema, f"{label}: {name} schema"
        if not a.equals(b):
            diff = set(map(repr, a.to_pylist())) ^ set(map(repr, b.to_pylist()))
            raise AssertionError(f"{label}: {name} differs ({a.num_rows} vs {b.num_rows} rows), "
                                 f"e.g. {sorted(diff)[:2]}")


def _folder(tmp_path: Path, program: str, generated: int | None) -> Path:
    data = tmp_path / "data"
    if generated:
        from generate import generate

        generate(program, generated, data, seed=11)
    else:
        shutil.copytree(ROOT / "examples" / program / "data", data)
    return data


# Generated data of 1000 lines (2000 until the suite had to fit in 15 minutes): still four
# row groups of 250 sales lines, and many payees.
GENERATED = 1000
# (and sales-team's example with every aggregate's credits: `--credits all`)
CASES = [(p, None, "records") for p in CHANGES] + [(p, GENERATED, "records") for p in CHANGES] \
    + [("sales-team", None, "all")]


@pytest.mark.parametrize(("program", "generated", "credits"), CASES,
                         ids=[f"{p}-{'generated' if g else 'example'}"
                              + ("" if c == "records" else f"-credits-{c}") for p, g, c in CASES])
def test_each_change_matches_a_full_run(tmp_path: Path, program: str, generated, credits: str,
                                        monkeypatch) -> None:
    plan = ROOT / "examples" / program / "plan.yaml"
    data = _folder(tmp_path, program, generated)
    if generated:  # Parquet in row groups of 250 rows: only the groups that differ are read
        from paymaster import changes

        monkeypatch.setattr(changes, "ROW_GROUP_ROWS", 250)
        for path in data.glob("*.parquet"):
            changes.write(data, path.stem, *changes.read(data, path.stem))
    state = tmp_path / "out" / incremental.STATE_FILE
    first, report = _incremental(plan, data, state, credits=credits)
    assert report.mode == "full" and report.reason == "no stored state"
    assert_same(first.tables, _full(plan, data, credits=credits).tables, "first run")
    # The seed the 2000-line cases had: the same three kinds are drawn.
    folder = Folder(data, seed=len(program) + (2000 if generated else 0))
    kinds = list(CHANGES[program])
    if generated:  # every kind runs on the example; three seeded ones on generated data
        kinds = folder.rng.sample(kinds, 3)
    for kind in kinds:
        what = CHANGES[program][kind](folder)
        got, report = _incremental(plan, data, state, credits=credits)
        label = f"{program} {kind}: {what}"
        assert report.mode == "incremental", f"{label}: fell back ({report.reason})"
        assert report.changed, label
        assert_same(got.tables, _full(plan, data, credits=credits).tables, label)


def test_a_stale_splice_is_detected(tmp_path: Path, monkeypatch) -> None:
    """If the affected payees were missed, the comparison with a full run must fail."""
    program = "sales-team"
    plan = ROOT / "examples" / program / "plan.yaml"
    data = _folder(tmp_path, program, None)
    state = tmp_path / incremental.STATE_FILE
    _incremental(plan, data, state)
    CHANGES[program]["ranking place"](Folder(data, seed=3))
    monkeypatch.setattr(incremental.run, "affected_payees", lambda *args: {})
    got, report = _incremental(plan, data, state)
    assert report.mode == "incremental"
    with pytest.raises(AssertionError, match="differs"):
        assert_same(got.tables, _full(plan, data).tables, "stale")


def test_no_state_plan_change_and_unlinked_table_fall_back(tmp_path: Path) -> None:
    program = "sales-team"
    plan = ROOT / "examples" / program / "plan.yaml"
    data = _folder(tmp_path, program, None)
    state = tmp_path / incremental.STATE_FILE
    _, report = _incremental(plan, data, state)
    assert report.mode == "full"
    _, report = _incremental(plan, data, state)
    assert report.mode == "incremental" and not report.changed and not report.affected
    other = tmp_path / "plan.yaml"
    other.write_text(plan.read_text().replace("new_customer_bonus: 500", "new_customer_bonus: 600"))
    got, report = _incremental(other, data, state)
    assert report.mode == "full" and "plan changed" in report.reason
    assert_same(got.tables, _full(other, data).tables, "plan change")
    # A state written by other code (an upgrade that changes a stored stage's shape) is
    # never spliced with this code's stages.
    import duckdb
    with duckdb.connect(str(state)) as con:
        con.execute("UPDATE pm_meta SET value = '3-older' WHERE key = 'version'")
    got, report = _incremental(other, data, state)
    assert report.mode == "full" and "another version of Paymaster" in report.reason
    assert_same(got.tables, _full(other, data).tables, "upgrade")


def test_a_state_of_the_other_credits_choice_runs_in_full(tmp_path: Path) -> None:
    """The state keeps the credits of the choice it was made with: a run asking for the
    other is made in full (and says why), equal to a full run of its own choice."""
    plan = ROOT / "examples" / "sales-team" / "plan.yaml"
    data = _folder(tmp_path, "sales-team", None)
    state = tmp_path / incremental.STATE_FILE
    first, _ = _incremental(plan, data, state)
    got = {}
    for choice, then in (("all", "records"), ("records", "all")):
        got[choice], report = _incremental(plan, data, state, credits=choice)
        assert report.mode == "full", choice
        assert report.reason == (f"the credits asked for changed (the state holds --credits "
                                 f"{then}, this run --credits {choice})")
        assert_same(got[choice].tables, _full(plan, data, credits=choice).tables, choice)
    # (the aggregates' credits are what differs: the default's are a part of them)
    aggregates = {m.id for m in load_plan(plan).plan.measures if m.type == "aggregate"}
    kept = first.tables["credits"].to_pylist()
    every = got["all"].tables["credits"].to_pylist()
    assert kept == [row for row in every if row["measure"] not in aggregates]
    assert len(every) > len(kept) and not {row["measure"] for row in kept} & aggregates
    _, report = _incremental(plan, data, state)  # (the state's own: records)
    assert report.mode == "incremental"
    with pytest.raises(ValueError, match="unknown credits choice 'some'; use records or all"):
        _incremental(plan, data, state, credits="some")


def test_cli_run_incremental_says_what_it_recomputed(tmp_path: Path) -> None:
    import subprocess

    plan = ROOT / "examples" / "trade-in-accelerator" / "plan.yaml"
    data = _folder(tmp_path, "trade-in-accelerator", None)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "paymaster.cli", "run", str(plan), "--data", str(data),
               "--out", str(out), "--incremental"]
    first = subprocess.run(command, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "full run: no stored state" in first.stdout
    assert "changed rows" not in first.stdout  # nothing was compared
    assert (out / incremental.STATE_FILE).is_file() and (out / "payouts.csv").is_file()
    CHANGES["trade-in-accelerator"]["returned RMA"](Folder(data, seed=5))
    second = subprocess.run(command, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert "changed rows: returns -0 +1" in second.stdout
    assert "incremental: recomputed 1 of" in second.stdout


def _sale(folder: Folder, sale_id: str) -> int:
    [(index, _)] = folder.rows("sales", lambda r: r["sale_id"] == sale_id, ["sale_id"])
    return index


# generuj-leady's example: the fund (150 000) is exhausted by S29 on 2018-06-15; S30 and
# S31 (with its new-partner bonus) come after it, unpaid.
BUDGET_CHANGES = {
    "a paid line before the exhaustion earns more": lambda f: f.update(
        "sales", _sale(f, "S02"), licences=240),
    "a paid line before the exhaustion drops out (the pool lasts longer)": lambda f: f.update(
        "sales", _sale(f, "S28"), licences=2),
    "an unpaid line before the exhaustion becomes eligible": lambda f: f.update(
        "sales", _sale(f, "S09"), licences=40),
    "a line after the exhaustion changes": lambda f: f.update(
        "sales", _sale(f, "S30"), licences=90),
    "a late line dated before the exhaustion": lambda f: f.append(
        "sales", _sale(f, "S27"), sale_id="S40", order_date="2018-06-02"),
    "a line after the exhaustion is withdrawn": lambda f: f.delete("sales", _sale(f, "S30")),
}


@pytest.fixture(scope="module")
def generuj_leady_first_run(tmp_path_factory) -> Path:
    """generuj-leady's example data and the state of a first run on it, made once for the
    module: each test changes a copy (`_generuj_leady_state`)."""
    folder = tmp_path_factory.mktemp("generuj-leady-first-run")
    data = _folder(folder, "generuj-leady", None)
    _, report = _incremental(ROOT / "examples" / "generuj-leady" / "plan.yaml", data,
                                      folder / incremental.STATE_FILE)
    assert report.mode == "full"
    return folder


def _generuj_leady_state(tmp_path: Path, first_run: Path):
    """generuj-leady's example data in a folder of its own, with the state of a first run."""
    plan = ROOT / "examples" / "generuj-leady" / "plan.yaml"
    shutil.copytree(first_run / "data", tmp_path / "data")
    shutil.copy2(first_run / incremental.STATE_FILE, tmp_path / incremental.STATE_FILE)
    data, state = tmp_path / "data", tmp_path / incremental.STATE_FILE
    return plan, data, state, Folder(data)


def _each_change_matches_a_full_run(tmp_path: Path, first_run: Path, changes: dict):
    """Apply each change in turn; each incremental run must not fall back and must give
    the full run's tables. Yields (label, report) for further checks."""
    plan, data, state, folder = _generuj_leady_state(tmp_path, first_run)
    for label, change in changes.items():
        change(folder)
        got, report = _incremental(plan, data, state)
        assert report.mode == "incremental", f"{label}: fell back ({report.reason})"
        assert_same(got.tables, _full(plan, data).tables, label)
        yield label, report


def test_budget_changes_before_and_after_its_exhaustion(tmp_path: Path,
                                                       generuj_leady_first_run: Path) -> None:
    """Only the lines that could be charged are charged again (with the replaced ones):
    a change on either side of the point where the fund runs out, in or out of the
    candidates, gives the full run's lines."""
    for label, report in _each_change_matches_a_full_run(tmp_path, generuj_leady_first_run,
                                                         BUDGET_CHANGES):
        assert report.changed == {"sales": report.changed["sales"]}, label
        # The kept candidates followed the splice: those of each stored lines table are
        # exactly its lines a pool can charge (found by scanning it).
        con = duckdb.connect(str(tmp_path / incremental.STATE_FILE), read_only=True)
        may = candidate_sql([b.id for b in load_plan(
            ROOT / "examples" / "generuj-leady" / "plan.yaml").plan.budgets])
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables")
                  .fetchall() if r[0].startswith("st_") and r[0].endswith("__lines")
                  and r[0] != "st___charged_lines"]
        assert "st_deal__lines" in tables, label
        for name in tables:
            kept = f"SELECT * EXCLUDE (__st) FROM st___candidate_lines WHERE __st = '{name}'"
            scan = f"SELECT * FROM {name} WHERE {may}"
            assert con.execute(f"SELECT count(*) FROM ((({kept}) EXCEPT ALL ({scan})) UNION ALL "
                               f"(({scan}) EXCEPT ALL ({kept})))").fetchall() == [(0,)], label
        con.close()


def test_a_measure_whose_inputs_did_not_change_is_not_recomputed(
        tmp_path: Path, monkeypatch, generuj_leady_first_run: Path) -> None:
    """A sales line changes deals, not the screening of registrations: no screening row is
    rewritten, and yet every table equals a full run."""
    from paymaster.incremental import splice

    plan, data, state, _ = _generuj_leady_state(tmp_path, generuj_leady_first_run)
    Folder(data).update("sales", _sale(Folder(data), "S03"), licences=120)
    recalculated = []
    original = splice.Splice.splice

    def spy(self, measure, result):
        if self.payees(measure):
            recalculated.append(measure.id)
        return original(self, measure, result)

    monkeypatch.setattr(splice.Splice, "splice", spy)
    got, report = _incremental(plan, data, state)
    assert report.mode == "incremental" and report.affected == ["P2"]
    assert recalculated == ["deal", "new_partner_bonus"]
    assert_same(got.tables, _full(plan, data).tables, "sales line")


def _registration(folder: Folder, registration_id: str) -> int:
    [(index, _)] = folder.rows("registrations", lambda r: r["registration_id"] == registration_id,
                               ["registration_id"])
    return index


# A corrected or late sales line recomputes deals of its partner's month only, and of
# the months of every sale of its claim group (partner, customer, family): R21's claim
# (registered 2018-04-02) goes to the earliest sale of the group on or after that day,
# S13 on 2018-04-22.
PERIOD_CHANGES = {
    "a late line a month later finds the claim taken": lambda f: f.append(
        "sales", _sale(f, "S13"), sale_id="S43", order_date="2018-05-25"),
    "another sale of that month corrected (the claim stays in April)": lambda f: f.update(
        "sales", _sale(f, "S06"), licences=30),
    "the claimed sale moves to May (before the late line)": lambda f: f.update(
        "sales", _sale(f, "S13"), order_date="2018-05-22"),
    "a late line in April takes the claim": lambda f: f.append(
        "sales", _sale(f, "S13"), sale_id="S42", order_date="2018-04-05"),
    "the April line is corrected (the claim stays)": lambda f: f.update(
        "sales", _sale(f, "S42"), licences=30),
    "the April line is withdrawn (the claim returns)": lambda f: f.delete(
        "sales", _sale(f, "S42")),
    "a registration without customer NIP": lambda f: f.append(
        "registrations", _registration(f, "R05"), registration_id="R50", customer_nip=""),
    "another registration of its partner rejected": lambda f: f.update(
        "registrations", _registration(f, "R05"), decision="rejected"),
    "the registration claiming S13 rejected (S13 loses its claim)": lambda f: f.update(
        "registrations", _registration(f, "R21"), decision="rejected"),
    "R02 moved before R01 (P2 wins the opportunity, P1's S01 and bonus lose it)": lambda f: (
        f.update("registrations", _registration(f, "R02"), submitted_at="2018-04-01 09:00:00")),
}


def test_a_change_recomputes_its_months_and_claim_groups(tmp_path: Path,
                                                         generuj_leady_first_run: Path) -> None:
    """A sales line recomputes deals of some months of a partner (as whole claim groups,
    across months); a registration rescreens its first-wins group (a NULL key included),
    and the deals whose claims it may change."""
    reports = list(_each_change_matches_a_full_run(tmp_path, generuj_leady_first_run,
                                                   PERIOD_CHANGES))
    assert len(reports) == len(PERIOD_CHANGES)


# S12 (2018-04-01) and S13 (2018-04-22) share a claim group (P2, 5201583809, M365); the
# first change makes it reach May. A corrected record (keys, date and id the same) changes
# no claim: only its own month is recomputed, not the other months of its group. A record
# added, removed or moved reaches its group from its earliest date on: claims go in date
# order, and no earlier record's claim depends on a later one.
CLAIM_MONTHS = {
    "a late line in May joins the group": (lambda f: f.append(
        "sales", _sale(f, "S13"), sale_id="S43", order_date="2018-05-25"), {"2018-05"}),
    "the May line corrected": (lambda f: f.update("sales", _sale(f, "S43"), licences=30),
                               {"2018-05"}),
    "S13 corrected (its claim stays)": (lambda f: f.update("sales", _sale(f, "S13"),
                                                           licences=40), {"2018-04"}),
    "S12 moved to May (before the May line)": (lambda f: f.update(
        "sales", _sale(f, "S12"), order_date="2018-05-02"), {"2018-04", "2018-05"}),
}


def test_a_corrected_record_recomputes_its_month_only(tmp_path: Path, monkeypatch,
                                                      generuj_leady_first_run: Path) -> None:
    """The deals recomputed after each change are P2's months above, and the result is the
    full run's."""
    from paymaster.incremental import run

    scopes = []
    original = run.affected_payees
    monkeypatch.setattr(run, "affected_payees",
                        lambda *args: scopes.append(original(*args)) or scopes[-1])
    changes = {label: change for label, (change, _) in CLAIM_MONTHS.items()}
    for label, _ in _each_change_matches_a_full_run(tmp_path, generuj_leady_first_run, changes):
        deal = scopes[-1]["deal"]
        assert (deal.payees, deal.periods) == (
            set(), {("P2", month) for month in CLAIM_MONTHS[label][1]}), label
        # A corrected record moves no claim: the claims are read from the stored lines
        # (S13's is the one R21 closed), and the result is still the full run's.
        assert deal.claims_kept == ("corrected" in label), label


# The rows of a changed file are compared line by line with the file's previous hashes
# when few lines differ, else joined by hash: both must find exactly the changed rows.
ROW_CHANGES = {
    "a row appended": (lambda f: f.append("sales", _sale(f, "S20"), sale_id="S44"), (0, 1)),
    "a row corrected in place": (lambda f: f.update("sales", _sale(f, "S21"), licences=9),
                                 (1, 1)),
    "a row removed in the middle (the later rows shift)": (
        lambda f: f.delete("sales", _sale(f, "S05")), (1, 0)),
    "a row inserted at the top": (lambda f: f.write_rows("sales", lambda rows: [
        {**rows[0], "sale_id": "S45", "licences": "12"}, *rows]), (0, 1)),
    "the last row cut": (lambda f: f.write_rows("sales", lambda rows: rows[:-1]), (1, 0)),
}


@pytest.mark.parametrize("by_position", [True, False], ids=["by position", "by hash"])
def test_changed_rows_are_found_by_position_or_by_hash(tmp_path: Path, monkeypatch,
                                                       generuj_leady_first_run: Path,
                                                       by_position: bool) -> None:
    from paymaster.incremental import diff

    if not by_position:
        monkeypatch.setattr(diff, "POSITIONAL_MAX", 0)
    used = []
    for name in ("_by_position", "_by_hash"):
        original = getattr(diff, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            found = _original(*args, **kwargs)
            used.append((_name, found))
            return found

        monkeypatch.setattr(diff, name, spy)
    plan, data, state, folder = _generuj_leady_state(tmp_path, generuj_leady_first_run)
    for label, (change, rows) in ROW_CHANGES.items():
        change(folder)
        used.clear()
        got, report = _incremental(plan, data, state)
        assert report.mode == "incremental", f"{label}: fell back ({report.reason})"
        assert report.changed == {"sales": rows}, label
        assert used[0] == ("_by_position", by_position), label
        assert_same(got.tables, _full(plan, data).tables, label)


def test_payouts_fetched_a_range_of_payees_at_a_time_keep_their_order(tmp_path: Path,
                                                                        monkeypatch) -> None:
    from paymaster.incremental import output

    monkeypatch.setattr(output, "CHUNK_ROWS", 5)
    ranges = []
    original = output.by_payee_ranges

    def spy(expr, backend):
        table = original(expr, backend)
        ranges.append(table["payee_id"].num_chunks)
        return table

    monkeypatch.setattr(output, "by_payee_ranges", spy)
    plan = ROOT / "examples" / "generuj-leady" / "plan.yaml"
    data = _folder(tmp_path, "generuj-leady", None)
    got, _ = _incremental(plan, data, tmp_path / incremental.STATE_FILE)
    assert ranges and ranges[0] > 1  # several ranges of payees
    assert_same(got.tables, _full(plan, data).tables, "payouts by ranges")
    keys = got.tables["payouts"].select(["payee_id", "period", "date", "source_id"]).to_pylist()
    order = [(k["payee_id"], k["period"], k["date"] or dt.date.max, k["source_id"]) for k in keys]
    assert order == sorted(order)


def test_a_parquet_file_is_read_only_in_the_row_groups_that_differ(tmp_path: Path) -> None:
    """A Parquet input rewritten by the same writer with one row corrected keeps its other
    row groups byte for byte: only the changed group's rows are read and hashed, and the
    result is still that of a full run. A row appended reads the last group only."""
    import pyarrow.parquet as pq

    plan = ROOT / "examples" / "trade-in-accelerator" / "plan.yaml"
    data = _folder(tmp_path, "trade-in-accelerator", GENERATED)  # 1000 orders, 908 returns
    path = data / "orders.parquet"
    group = 200

    def rewrite(table: pa.Table) -> None:
        pq.write_table(table, path, row_group_size=group)

    rewrite(pq.read_table(path))
    rows = pq.read_metadata(path).num_rows
    assert pq.read_metadata(path).num_row_groups >= 4
    state = tmp_path / incremental.STATE_FILE
    _, report = _incremental(plan, data, state)
    assert report.mode == "full"

    orders = pq.read_table(path).to_pylist()
    index = group * 2 + 17  # in the third row group
    orders[index]["trade_in_credit"] += 1
    rewrite(pa.Table.from_pylist(orders, schema=pq.read_schema(path)))
    got, report = _incremental(plan, data, state)
    assert report.mode == "incremental", report.reason
    assert report.changed == {"orders": (1, 1)}
    assert report.read == {"orders": group}
    assert_same(got.tables, _full(plan, data).tables, "a corrected order")

    orders.append({**orders[5], "line_id": "LATE-1", "rma_number": "RMA-LATE-1"})
    rewrite(pa.Table.from_pylist(orders, schema=pq.read_schema(path)))
    got, report = _incremental(plan, data, state)
    assert report.changed == {"orders": (0, 1)}
    assert report.read["orders"] <= group  # the last group only
    assert_same(got.tables, _full(plan, data).tables, "an order appended")
    assert rows + 1 == pq.read_metadata(path).num_rows

    # A row of a table without a key repeated in a later group: both copies are new rows
    # of the changed hash, although one of them sits in a group that was not read.
    path = data / "returns.parquet"
    rewrite(pq.read_table(path))
    _incremental(plan, data, state)
    returns = pq.read_table(path).to_pylist()
    returns.insert(group * 3 + 5, returns[3])
    rewrite(pa.Table.from_pylist(returns, schema=pq.read_schema(path)))
    got, report = _incremental(plan, data, state)
    assert report.changed == {"returns": (1, 2)}
    assert report.read["returns"] == len(returns) - group * 3
    assert_same(got.tables, _full(plan, data).tables, "a repeated return")
