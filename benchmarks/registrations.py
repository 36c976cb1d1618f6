"""Bulk lead registration: `paymaster register --file` of N registrations, timed.

    python benchmarks/registrations.py [--rows 1000] [--work /tmp/paymaster-regs]
                                       [--database URL] [--auto-accept] [--out FILE.json]

Makes a workspace with the Generuj Leady example's plan and master data (partners,
customers, holdings, vendor registry), writes a seeded file of N registrations (the
example's partners and customers, every family, times spread over the promotion, so
some repeat an opportunity, some fail a check, some are late), then times the command as
a user runs it (`paymaster register generuj-leady --file F`, a fresh process) and, apart,
the service call alone (`registrations.register_many`, on a second workspace). The
target (issue 18): 1,000 registrations in under 10 s. Checks that every row was stored.

    python benchmarks/registrations.py --checks 10 [--out FILE.json]

instead times single registrations in one warm process (as in a running portal), the
warm screening state (services/warm_screening.py) off and on alternating, round by
round: one registration submitted and checked (`registrations.register`: export, check,
store) and the check alone on its export (`_Check.verdict`); medians of wall and CPU
time with the load average. Target (issue 16): a check under 50 ms.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "generuj-leady"
PROGRAM = "generuj-leady"
MASTER = ("partners", "customers", "holdings", "vendor_registry")


def workspace(folder: Path, database: str | None, auto_accept: bool):
    from paymaster.services import imports, programs
    from paymaster.workspace import Workspace

    if folder.exists():
        shutil.rmtree(folder)
    ws = Workspace.init(folder, database)
    programs.add_program(ws, EXAMPLE / "plan.yaml", "bench", registrations="registrations",
                         auto_accept=auto_accept)
    for table in MASTER:
        imports.import_file(ws, PROGRAM, table, EXAMPLE / "data" / f"{table}.csv",
                            actor="bench", as_of=dt.date(2018, 3, 1))
    return ws


def registrations_file(path: Path, rows: int, seed: int = 18) -> Path:
    """`rows` registrations in the example's columns, seeded."""
    rng = random.Random(seed)
    with (EXAMPLE / "data" / "partners.csv").open(encoding="utf-8") as f:
        partners = list(csv.DictReader(f))
    with (EXAMPLE / "data" / "customers.csv").open(encoding="utf-8") as f:
        customers = list(csv.DictReader(f))
    with (EXAMPLE / "data" / "registrations.csv").open(encoding="utf-8") as f:
        columns = list(csv.DictReader(f).fieldnames or [])
    start = dt.datetime(2018, 3, 20, 8, 0)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for i in range(rows):
            partner, customer = rng.choice(partners), rng.choice(customers)
            writer.writerow({
                "registration_id": f"B{i + 1:06d}", "partner_id": partner["partner_id"],
                "submitted_at": (start + dt.timedelta(minutes=rng.randrange(60 * 24 * 105)))
                .isoformat(sep=" "),
                "customer_name": customer["name"], "customer_address": customer["address"],
                "customer_nip": customer["nip"], "family": rng.choice(["M365", "O365", "D365"]),
                "plan": rng.choice(["E1", "E3", "E5", "Business Premium"]),
                "licences": str(rng.choice([2, 5, 10, 40, 300])), "pcs": "10",
                "partner_name": partner["name"], "partner_address": partner["address"],
                "partner_nip": partner["nip"], "contact_name": "Jan Kowalski",
                "contact_phone": "+48 600 000 000", "contact_email": "kontakt@partner.pl",
                "decision": "", "decision_reason": "",
            })
    return path



def timer(measured: dict[str, list[dict]]):
    """A call timed (wall, this process's CPU, the load average), its figures kept under
    its name in `measured`: `timer(measured)(name, call)` returns the call's value."""
    def timed(name: str, call):
        load, wall, cpu = os.getloadavg(), time.perf_counter(), time.process_time()
        value = call()
        measured.setdefault(name, []).append(
            {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
             "load_average": load})
        return value
    return timed

def check_latency(rounds: int, work: Path) -> dict:
    """Single registrations and their checks, whole and warm alternating (module
    docstring); the first round of each warms the process, the caches and the state."""
    from paymaster.services import registrations as regs
    from paymaster.services import warm_screening

    ws = workspace(work / "checks", None, False)
    with registrations_file(work / "checks.csv", 2 * (rounds + 1)).open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    check = regs._Check.of(ws, PROGRAM, regs.setup(ws, PROGRAM))
    measured: dict[str, list[dict]] = {}
    timed = timer(measured)

    for round_ in range(rounds + 1):
        modes = ("whole", "warm") if round_ % 2 else ("warm", "whole")
        for mode in modes:
            warm_screening.ENABLED = mode == "warm"
            row = rows.pop()
            fields = {k: v for k, v in row.items()
                      if k not in ("submitted_at", "decision", "decision_reason")}
            reg = timed(f"{mode}: submitted and checked (register)",
                        lambda fields=fields: regs.register(ws, PROGRAM, fields, actor="bench"))
            with tempfile.TemporaryDirectory() as tmp, ws.store.reading() as session:
                check.export(session, reg, Path(tmp))
                timed(f"{mode}: the check alone", lambda tmp=tmp, reg=reg:
                      check.verdict(Path(tmp), reg))
        if round_ == 0:
            measured.clear()
    warm_screening.ENABLED = True
    ws.close()
    result = {"rounds": rounds, "cores": os.cpu_count(), "load_average_at_end": os.getloadavg(),
              "target_seconds": 0.05, "rows": []}
    for name, runs in measured.items():
        wall = statistics.median(m["wall"] for m in runs)
        cpu = statistics.median(m["cpu"] for m in runs)
        load = max(m["load_average"][0] for m in runs)
        result["rows"].append({"name": name, "wall": wall, "cpu": cpu, "load_average_max": load,
                               "rounds": runs})
        print(f"{name:40} wall {wall * 1000:7.1f} ms  cpu {cpu * 1000:6.1f} ms  (median of "
              f"{len(runs)}; load average up to {load:.1f} on {os.cpu_count()} cores)", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--checks", type=int, metavar="ROUNDS",
                        help="time single checks, whole and warm alternating (docstring)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/paymaster-registrations"))
    parser.add_argument("--database", help="SQLAlchemy URL (default: SQLite in the workspace)")
    parser.add_argument("--auto-accept", action="store_true")
    parser.add_argument("--out", type=Path, help="write the measurement as JSON here")
    args = parser.parse_args()
    if args.checks:
        args.work.mkdir(parents=True, exist_ok=True)
        result = check_latency(args.checks, args.work)
        if args.out:
            args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        return

    from paymaster.services import registrations
    from paymaster.services.registration_file import read_submissions

    args.work.mkdir(parents=True, exist_ok=True)
    file = registrations_file(args.work / "registrations.csv", args.rows)
    ws = workspace(args.work / "cli", args.database, args.auto_accept)
    ws.close()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "paymaster"), "register", PROGRAM, "--file", str(file),
         "-w", str(args.work / "cli")], capture_output=True, text=True)
    command = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    command_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    if done.returncode != 0:
        sys.exit(done.stderr)

    ws = workspace(args.work / "service", args.database, args.auto_accept)
    started, cpu = time.perf_counter(), time.process_time()
    regs = registrations.register_many(ws, PROGRAM, read_submissions(file, ws.config.limits),
                                       actor="bench", file=str(file))
    service, service_cpu = time.perf_counter() - started, time.process_time() - cpu
    stored = len(registrations.listing(ws, PROGRAM))
    ws.close()
    assert stored == len(regs) == args.rows, (stored, len(regs))
    statuses: dict[str, int] = {}
    for reg in regs:
        statuses[reg.status] = statuses.get(reg.status, 0) + 1
    # CPU seconds (all threads) beside the wall clock: on a shared machine they vary less.
    result = {"rows": args.rows, "command_seconds": round(command, 2),
              "command_cpu_seconds": round(command_cpu, 2),
              "service_seconds": round(service, 2), "service_cpu_seconds": round(service_cpu, 2),
              "statuses": statuses,
              "auto_accept": args.auto_accept, "database": args.database or "sqlite",
              "target_seconds": 10}
    print(f"{args.rows} registrations from a file: `paymaster register --file` {command:.2f}s "
          f"(CPU {command_cpu:.2f}s; a fresh process), register_many alone {service:.2f}s "
          f"(CPU {service_cpu:.2f}s); {statuses}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
