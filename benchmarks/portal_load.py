"""Portal under load (issue 15, item 9): does one partner's registering stall another's pages?

A real portal (`paymaster serve`, its own process) on a copy of the demo workspace. One
partner (beta, P2) reads its status page in a loop: first for --seconds alone (idle), then
for --seconds while another partner (alfa, P1) registers a lead once a second through the
API. Prints both throughputs and their ratio; --json keeps every figure. Not a timed test:
run it by hand, on an otherwise quiet machine if the figures are to mean much.

    python benchmarks/portal_load.py --json benchmarks/results/DATE-portal-load.json
    python benchmarks/portal_load.py --workspace /tmp/demo-ws --seconds 30 --clients 2

--workspace names a demo workspace to copy (made there first when missing: about a
minute); the run itself always works on a throwaway copy, so registrations never pile up.
The demo's programs ended years ago, so the registrations are refused
(outside_promotion_period): the check still runs the engine on the store, which is the
load that matters, and the script counts the reasons it got back to show that it did.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

PROGRAM = "generuj-leady"
READER = ("beta", "beta-demo-pass")           # partner P2: reads its status page
REGISTRANT = ("alfa", "alfa-demo-pass")       # partner P1: registers once a second
CUSTOMERS = ["5200079196", "5200158381", "5200237577", "5201662992", "5201742188"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, help="demo workspace to copy (made if missing)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--clients", type=int, default=1,
                        help="threads reading the status page at once")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between registrations")
    parser.add_argument("--page", default=f"/programs/{PROGRAM}/status",
                        help="the page the reader loads")
    parser.add_argument("--engine-processes", type=int, default=None,
                        help="passed to paymaster serve (its default when not given)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--label", default="", help="a note kept in the JSON (e.g. before/after)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="portal-load-") as tmp:
        folder = Path(tmp) / "workspace"
        _workspace(args.workspace, folder)
        with _server(folder, args.engine_processes) as base:
            result = measure(base, args)
    result |= {"label": args.label, "engine_processes": args.engine_processes,
               "machine": _machine()}
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))
    print(f"\nidle {result['idle']['per_second']:.2f} req/s, while registering "
          f"{result['loaded']['per_second']:.2f} req/s: ratio {result['ratio']:.3f} "
          f"(target >= 0.5)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


def measure(base: str, args) -> dict:
    readers = [_login(base, *READER) for _ in range(args.clients)]
    for client, _token in readers:  # the first view calculates; that is not the idle rate
        _get(client, args.page)
    idle = _read_for(readers, args.page, args.seconds)
    stop = threading.Event()
    registered: list[dict] = []
    registrant = threading.Thread(target=_register_loop,
                                  args=(base, args.interval, stop, registered))
    registrant.start()
    try:
        time.sleep(min(2.0, args.interval * 2))  # into the steady state first
        loaded = _read_for(readers, args.page, args.seconds)
    finally:
        stop.set()
        registrant.join()
    for client, _token in readers:
        client.close()
    seconds = [r["seconds"] for r in registered]
    return {
        "page": args.page, "clients": args.clients, "phase_seconds": args.seconds,
        "idle": idle, "loaded": loaded,
        "ratio": round(loaded["per_second"] / idle["per_second"], 4)
        if idle["per_second"] else None,
        "registrations": {
            "count": len(registered), "interval": args.interval,
            "http_status": dict(Counter(str(r["status"]) for r in registered)),
            "outcomes": dict(Counter(r["outcome"] for r in registered)),
            "median_seconds": round(statistics.median(seconds), 4) if seconds else None,
            "max_seconds": round(max(seconds), 4) if seconds else None,
        },
    }


def _read_for(readers: list, page: str, seconds: float) -> dict:
    """Every reader loads `page` in a loop for `seconds`; the count of good answers."""
    latencies: list[float] = []
    errors: Counter = Counter()
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def loop(client: httpx.Client) -> None:
        while time.monotonic() < end:
            started = time.monotonic()
            try:
                status = _get(client, page)
            except httpx.HTTPError as err:
                status = type(err).__name__
            took = time.monotonic() - started
            with lock:
                if status == 200:
                    latencies.append(took)
                else:
                    errors[str(status)] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=loop, args=(client,)) for client, _token in readers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "requests": len(latencies), "seconds": round(elapsed, 3),
        "per_second": round(len(latencies) / elapsed, 3), "errors": dict(errors),
        "median_seconds": round(statistics.median(latencies), 4) if latencies else None,
        "p95_seconds": round(latencies[int(0.95 * (len(latencies) - 1))], 4)
        if latencies else None,
        "max_seconds": round(latencies[-1], 4) if latencies else None,
    }


def _register_loop(base: str, interval: float, stop: threading.Event,
                   out: list[dict]) -> None:
    client, token = _login(base, *REGISTRANT)
    n = 0
    next_at = time.monotonic()
    try:
        while not stop.is_set():
            fields = {
                "customer_name": f"Load {n}", "customer_address": "Lodz",
                "customer_nip": CUSTOMERS[n % len(CUSTOMERS)], "family": "M365",
                "plan": "E3", "licences": "10", "pcs": "12", "partner_name": "Alfa",
                "partner_address": "Warszawa", "partner_nip": "5208710903",
                "contact_name": "Jan Kowalski", "contact_phone": "+48 600 000 000",
                "contact_email": "kontakt@alfa.pl",
            }
            started = time.monotonic()
            response = client.post(f"/api/programs/{PROGRAM}/registrations", json=fields,
                                   headers={"X-CSRF-Token": token})
            body = response.json() if response.headers.get(
                "content-type", "").startswith("application/json") else {}
            outcome = (f"{body.get('status')}: {body.get('reason')}" if "status" in body
                       else f"error {response.status_code}")
            out.append({"status": response.status_code, "outcome": outcome,
                        "seconds": time.monotonic() - started})
            n += 1
            next_at += interval
            stop.wait(max(0.0, next_at - time.monotonic()))
    finally:
        client.close()


def _login(base: str, username: str, password: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=120, follow_redirects=False)
    response = client.post("/api/login", json={"username": username, "password": password})
    response.raise_for_status()
    return client, response.json()["csrf_token"]


def _get(client: httpx.Client, page: str) -> int:
    response = client.get(page)
    response.read()
    return response.status_code


# ---------------------------------------------------------------- workspace and server
def _workspace(source: Path | None, folder: Path) -> None:
    from paymaster.services.demo import run_workspace_demo
    from paymaster.workspace import CONFIG

    if source is None or not (source / CONFIG).is_file():
        target = source or folder
        print(f"making the demo workspace in {target} (about a minute)...", flush=True)
        run_workspace_demo(target, lambda _line: None).close()
        if source is None:
            return
    shutil.copytree(source, folder)


class _server:
    """`paymaster serve FOLDER` on a free loopback port, in its own process."""

    def __init__(self, folder: Path, engine_processes: int | None) -> None:
        self.folder = folder
        self.extra = ([] if engine_processes is None
                      else ["--engine-processes", str(engine_processes)])

    def __enter__(self) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        script = Path(sys.executable).with_name("paymaster")
        command = [str(script)] if script.is_file() else [
            sys.executable, "-c", "from paymaster.cli import main; main()"]
        env = {k: v for k, v in os.environ.items()
               if k not in ("PAYMASTER_DATABASE_URL", "PAYMASTER_TODAY")}
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [*command, "serve", str(self.folder), "--port", str(port), *self.extra],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/login", timeout=5).status_code == 200:
                    return base
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise SystemExit("the portal did not start:\n" + self.log.read().decode())
            time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _machine() -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "load_average": [round(x, 2) for x in load] if load else None,
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


if __name__ == "__main__":
    main()
