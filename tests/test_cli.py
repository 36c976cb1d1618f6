"""The CLI end to end: explain prints each line's arithmetic; demo runs the examples."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, check_demo_workspace

PLAN = EXAMPLES / "generuj-leady" / "plan.yaml"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "paymaster.cli", *args],
                          capture_output=True, text=True)


def test_explain_shows_the_arithmetic_in_words_and_figures(data: Path) -> None:
    run = cli("explain", str(PLAN), "--data", str(data), "--payee", "P1")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    deal = next(line for line in lines if "deal S1" in line)
    # 57.10 x 12 x 500 (620 capped) = 342 600.00; 2% (251+) -> 6 852.00
    assert "licences 620 capped at 500" in deal
    assert "annual value 57.10 x 12 x 500 = 342600.00" in deal
    assert "2% band 251+ -> 6852.00" in deal
    assert deal.endswith("paid 6,852.00 PLN")
    assert any("new_partner_bonus S1" in line and "paid 365.00 PLN" in line for line in lines)
    assert any("registration R1" in line and "passed" in line for line in lines)
    assert lines[-1] == "total paid: 7,217.00 PLN"
    # Progress goes to stderr: the explanation alone can be piped or saved.
    assert "read and validate input" not in run.stdout
    assert "read and validate input" in run.stderr


def test_explain_unpaid_line_gives_its_reason(data: Path) -> None:
    run = cli("explain", str(PLAN), "--data", str(data), "--payee", "P2", "--period", "2018-04")
    assert run.returncode == 0, run.stderr
    assert "deal S2" in run.stdout and "not paid: no_registration" in run.stdout


def test_explain_unknown_payee_is_an_error(data: Path) -> None:
    run = cli("explain", str(PLAN), "--data", str(data), "--payee", "P404")
    assert run.returncode == 1
    assert "payee 'P404' has no lines" in run.stderr


def test_demo_runs_the_three_examples(demo_run, tmp_path: Path) -> None:
    """`paymaster demo` (run once for the session by the `demo_run` fixture, as a user runs
    it) writes each example's results and a workspace whose ledger holds the golden totals."""
    if not all((EXAMPLES / p / "data").is_dir() for p in
               ("generuj-leady", "trade-in-accelerator", "sales-team")):
        pytest.fail("example data missing")
    folder, log = demo_run
    assert log.startswith("0\n"), log
    for program in ("generuj-leady", "trade-in-accelerator", "sales-team"):
        assert (folder / program / "payouts.csv").is_file()
    assert f"workspace in {folder}/workspace" in log
    # a copy: opening a workspace may write to it, and other tests copy the shared one
    shutil.copytree(folder / "workspace", tmp_path / "workspace")
    check_demo_workspace(tmp_path / "workspace")


def test_run_records_each_stage_and_its_time(data: Path, tmp_path: Path) -> None:
    import json

    run = cli("run", str(PLAN), "--data", str(data), "--out", str(tmp_path / "out"),
              "--explanations", "text", "--locale", "pl")
    assert run.returncode == 0, run.stderr
    meta = json.loads((tmp_path / "out" / "run.json").read_text())
    assert meta["program"] == "generuj-leady"
    assert meta["fingerprint"] in run.stdout
    stages = meta["timings"]
    assert {"load_plan", "read_input", "calculate", "execute"} <= set(stages)
    assert any(name.startswith("stage ") for name in stages)
    assert all(seconds >= 0 for seconds in stages.values())
    payouts = (tmp_path / "out" / "payouts.csv").read_text().splitlines()
    assert meta["rows"]["payouts"] == len(payouts) - 1
    # the trace columns, and (asked for) each line's explanation rendered in Polish
    header = payouts[0].split(",")
    assert '"template"' in header and header[-1] == '"explanation"'
    assert any("licencje 620 ograniczone do 500" in line and "próg 251+" in line
               for line in payouts)
    evaluations = (tmp_path / "out" / "evaluations.csv").read_text().splitlines()
    assert evaluations[0].endswith('"explanation"')
    assert any("zaakceptowana: spełnia wszystkie warunki" in line for line in evaluations)
    # each finished stage is shown with its time while the run goes on
    assert "  read and validate input: " in run.stdout


def test_running_out_of_memory_says_which_setting_to_change(data: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PAYMASTER_DUCKDB_MEMORY": "1MB"}
    run = subprocess.run([sys.executable, "-m", "paymaster.cli", "run", str(PLAN), "--data",
                          str(data), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, env=env)
    assert run.returncode == 3, run.stderr
    assert "DuckDB ran out of memory while reading the input" in run.stderr
    assert "PAYMASTER_DUCKDB_MEMORY=" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "out" / "payouts.csv").exists()


def _bound_to_tiny_memory(data: Path, progress=None, spill: Path | None = None):
    """The generuj-leady example's input read in, then DuckDB's limit cut to 2MB: the
    first stored stage is refused memory by DuckDB itself."""
    import duckdb

    from paymaster import asof
    from paymaster.backends import open_backend
    from paymaster.datafiles import load_folder
    from paymaster.plan import load_plan

    loaded = load_plan(PLAN)
    con = duckdb.connect(config={"temp_directory": str(spill)} if spill else {})
    load_folder(loaded.plan, data, con)
    backend = open_backend("duckdb", None, progress)
    tables = backend.bind(con, list(loaded.plan.inputs) + asof.register(con, loaded.plan, None))
    con.execute("SET memory_limit = '2MB'")
    return loaded, backend, tables, con


def test_out_of_memory_in_a_stage_is_not_reported_as_a_plan_problem(
        data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paymaster.engine import build
    from paymaster.errors import ResourceError

    # a limit the user chose is kept: no second try
    monkeypatch.setenv("PAYMASTER_DUCKDB_MEMORY", "2MB")
    loaded, backend, tables, _con = _bound_to_tiny_memory(data)
    with pytest.raises(ResourceError, match="while calculating registration__") as raised:
        build(loaded, tables, backend.materialize)
    assert not str(raised.value).startswith("<input>")
    assert backend.retried == {}


@pytest.mark.parametrize("stages", ["memory", "disk"])
def test_a_stage_out_of_memory_is_calculated_again_with_the_larger_limit(
        data: Path, stages: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paymaster.duckdb_config import memory_bytes
    from paymaster.engine import build
    from paymaster.runs import calculate

    monkeypatch.delenv("PAYMASTER_DUCKDB_MEMORY", raising=False)
    monkeypatch.setenv("PAYMASTER_DUCKDB_STAGES", stages)
    monkeypatch.setenv("PAYMASTER_DUCKDB_MEMORY_MAX", "1GB")
    said: list[str] = []
    loaded, backend, tables, con = _bound_to_tiny_memory(data, said.append, tmp_path / "spill")
    outputs = build(loaded, tables, backend.materialize)
    first = next(iter(backend.retried))
    assert first.startswith("registration__") and list(backend.retried) == [first]
    assert any(f"calculate {first} again" in message and "now 1GB" in message
               for message in said)
    limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert memory_bytes(limit) > 900 * 10**6  # kept for the later stages and the outputs
    payouts = backend.to_pyarrow(outputs.tables()["payouts"])
    backend.close()
    monkeypatch.delenv("PAYMASTER_DUCKDB_STAGES")
    assert payouts.equals(calculate(PLAN, data).tables["payouts"])


def test_stages_kept_in_a_database_file_give_the_same_tables(
        data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paymaster.runs import calculate

    in_memory = calculate(PLAN, data)
    monkeypatch.setenv("PAYMASTER_DUCKDB_STAGES", "disk")
    monkeypatch.setenv("PAYMASTER_DUCKDB_TEMP", str(tmp_path / "spill"))
    said: list[str] = []
    on_disk = calculate(PLAN, data, said.append)
    assert any(message.startswith("stages stored compressed in ") for message in said)
    assert on_disk.tables.keys() == in_memory.tables.keys()
    for name, table in in_memory.tables.items():
        assert on_disk.tables[name].equals(table), name
    assert list(tmp_path.glob("*stages*")) == []  # the file went with the run


def test_large_inputs_store_stages_on_disk_with_a_larger_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from paymaster.duckdb_config import LARGE_INPUT_ROWS, large_input_limit, stages_on_disk

    monkeypatch.delenv("PAYMASTER_DUCKDB_STAGES", raising=False)
    monkeypatch.delenv("PAYMASTER_DUCKDB_MEMORY", raising=False)
    monkeypatch.setenv("PAYMASTER_DUCKDB_MEMORY_MAX", "12GB")
    assert not stages_on_disk(LARGE_INPUT_ROWS - 1)
    assert large_input_limit(LARGE_INPUT_ROWS - 1) is None
    assert stages_on_disk(LARGE_INPUT_ROWS)
    assert large_input_limit(LARGE_INPUT_ROWS) == "12GB"
    monkeypatch.setenv("PAYMASTER_DUCKDB_STAGES", "Memory")
    assert not stages_on_disk(10 * LARGE_INPUT_ROWS)
    # a limit the user chose is kept whatever the size
    monkeypatch.setenv("PAYMASTER_DUCKDB_MEMORY", "2GB")
    monkeypatch.delenv("PAYMASTER_DUCKDB_MEMORY_MAX")
    assert large_input_limit(10 * LARGE_INPUT_ROWS) is None


def test_a_bad_stages_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from paymaster.duckdb_config import stages_on_disk
    from paymaster.errors import PaymasterError

    monkeypatch.setenv("PAYMASTER_DUCKDB_STAGES", "ssd")
    with pytest.raises(PaymasterError, match="PAYMASTER_DUCKDB_STAGES is not one of auto, "
                                             "memory, disk: 'ssd'"):
        stages_on_disk(1)


def test_a_bad_memory_maximum_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from paymaster.duckdb_config import retry_limit
    from paymaster.errors import PaymasterError

    monkeypatch.setenv("PAYMASTER_DUCKDB_MEMORY_MAX", "lots")
    with pytest.raises(PaymasterError, match="PAYMASTER_DUCKDB_MEMORY_MAX is not a memory "
                                             "size: 'lots'"):
        retry_limit()


def test_a_wrong_format_or_chart_is_said_before_calculating(data: Path, tmp_path: Path) -> None:
    done = cli("effect", str(PLAN), "--data", str(data), "--out", str(tmp_path / "o"),
               "--format", "json")
    assert done.returncode == 1
    assert "unknown format 'json'; use one of csv, parquet, xlsx" in done.stderr
    assert "Traceback" not in done.stderr and "attainment" not in done.stdout  # nothing ran
    done = cli("compare", str(PLAN), "--data", str(data), "--set", "x=1",
               "--chart", str(tmp_path / "c.gif"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{tmp_path / 'c.gif'}: a chart is .svg or .png, not '.gif'" in done.stderr
    blocked = tmp_path / "file"
    blocked.write_text("not a folder", encoding="utf-8")
    done = cli("run", str(PLAN), "--data", str(data), "--out", str(blocked / "out"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{blocked / 'out'}: Not a directory" in done.stderr
    assert "read and validate input" not in done.stdout  # said before calculating
    done = cli("schema", "--out", str(tmp_path / "no" / "such" / "s.json"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{tmp_path / 'no' / 'such' / 's.json'}: No such file or directory" in done.stderr


def test_a_refused_run_leaves_no_folder_and_a_short_row_is_named(data: Path,
                                                                   tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from paymaster.cli import app

    def refused(*args: str) -> str:
        done = CliRunner().invoke(app, list(args))
        assert done.exit_code == 1 and done.exception is not None
        return str(done.exception)

    out = tmp_path / "a" / "b"
    said = refused("run", str(tmp_path / "no-such-plan.yaml"), "--data", str(data),
                   "--out", str(out))
    assert "plan file not found" in said
    assert not (tmp_path / "a").exists()  # neither OUT nor the parent made for it
    partners = data / "partners.csv"
    lines = partners.read_text(encoding="utf-8").splitlines()
    partners.write_text("\n".join([*lines, "P9,Partner P9"]) + "\n", encoding="utf-8")
    width = len(lines[0].split(","))
    said = refused("run", str(PLAN), "--data", str(data), "--out", str(out))
    missing = ", ".join(lines[0].split(",")[2:])
    assert said == (f"{partners}:row {len(lines) + 1}: has 2 values; the header names {width} "
                    f"columns: no value for {missing} (check the commas and quotes of this row)")
    assert not (tmp_path / "a").exists()


def test_effect_shows_ratios_to_four_places_and_money_as_run_does() -> None:
    """The example's payouts (expected/payouts.csv, worked by hand): the top 10% of its 5
    payees is the first one; its share of the total, half up to 4 places."""
    import csv
    from decimal import ROUND_HALF_UP, Decimal

    from typer.testing import CliRunner

    from paymaster.cli import app

    totals: dict[str, Decimal] = {}
    with (EXAMPLES / "generuj-leady" / "expected" / "payouts.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            totals[row["payee_id"]] = totals.get(row["payee_id"], Decimal(0)) + Decimal(row["amount"])
    share = (max(totals.values()) / sum(totals.values())).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    done = CliRunner().invoke(app, ["effect", str(PLAN), "--data",
                                    str(EXAMPLES / "generuj-leady" / "data")])
    assert done.exit_code == 0, done.output
    [row] = [line for line in done.stdout.splitlines() if "│ generuj-leady" in line]
    cells = [c.strip() for c in row.split("│")]
    assert cells[-2] == str(share) and len(totals) == 5
    assert f"{max(totals.values()):,.2f}" in cells  # the largest payee total, as `run` shows money


def test_cli_amounts_have_their_currencys_places() -> None:
    from decimal import Decimal

    from paymaster.cli_common import amount

    assert amount(Decimal("282")) == "282.00"  # currency not known: two places
    assert amount(Decimal("1234567"), "JPY") == "1,234,567"
    assert amount(Decimal("1.25"), "BHD") == "1.250"
    assert amount(Decimal("12345.6"), "PLN") == "12,345.60"
    assert amount(None, "PLN") == ""
