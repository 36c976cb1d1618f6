"""`paymaster serve` starts the portal, prints its address and the demo accounts."""

from __future__ import annotations

import queue
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from liveserver import free_port


def test_serve_prints_the_address_and_answers(demo_workspace_master: Path, tmp_path: Path) -> None:
    folder = tmp_path / "workspace"
    shutil.copytree(demo_workspace_master, folder)
    port = free_port()
    # A workspace the demo made: its accounts are printed without --demo-accounts.
    process = subprocess.Popen(
        [sys.executable, "-m", "paymaster.cli", "serve", str(folder), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # Lines read by a thread: a line that never comes fails the test, not hangs it.
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                         daemon=True).start()
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(line)
            if "alfa-demo-pass" in line:
                break
        text = "".join(seen)
        assert f"http://127.0.0.1:{port}/" in text and "admin-demo-pass" in text, text
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login") as answer:
                    assert answer.status == 200 and b'name="password"' in answer.read()
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("the portal did not answer")
    finally:
        process.terminate()
        process.wait(timeout=20)
