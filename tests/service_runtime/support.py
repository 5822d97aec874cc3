"""Handles on ``fake_run.py`` subprocesses and bounded waits shared by the runtime tests."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

FAKE_RUN = Path(__file__).with_name("fake_run.py")
#: Generous bound for anything a subprocess is waited for on a shared, noisy machine.
PATIENCE = 60.0


def wait_for(condition: Callable[[], Any], what: str, timeout: float = PATIENCE) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what} after {timeout:.0f}s")


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class FakeRun:
    """A running ``fake_run.py``: its JSON log lines, its HTTP port and its journal."""

    def __init__(self, journal: Path, **args: Any) -> None:
        self.journal = journal
        args = {"journal": str(journal), **args}
        self.process = subprocess.Popen(
            [sys.executable, str(FAKE_RUN), json.dumps(args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                self.lines.put({"event": "<not json>", "text": line})

    def wait_event(self, event: str, timeout: float = PATIENCE) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for seen in self.seen:
            if seen.get("event") == event:
                return seen
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if line.get("event") == event:
                return line
        raise AssertionError(f"no {event!r} log line; saw {[s.get('event') for s in self.seen]}")

    def drain(self) -> list[dict[str, Any]]:
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return self.seen

    @property
    def port(self) -> int:
        return int(self.wait_event("http_listening")["port"])

    def health(self) -> tuple[int, dict[str, Any]]:
        status, body = get(f"http://127.0.0.1:{self.port}/healthz")
        return status, json.loads(body)

    def journal_lines(self) -> list[list[str]]:
        if not self.journal.exists():
            return []
        return [line.split() for line in self.journal.read_text().splitlines()]

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def wait(self, timeout: float = PATIENCE) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=PATIENCE)
