"""A ``leadbridge run`` process whose sync service is a fake with slow, journalled effects.

Started by the tests as a subprocess so that real signals, a real process death and real
lock contention are exercised. Argument: a JSON object with ``state_url``, ``journal``,
``interval``, ``effects`` (per cycle), ``effect_seconds`` and ``grace``.

Each effect appends ``start <cycle> <n> <pid>`` before its work and ``done <cycle> <n> <pid>``
after it, flushed to disk, so the journal is the ledger the tests check for consistency.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from leadbridge.domain.ports import Lease
from leadbridge.runtime.service import run_service
from leadbridge.service.sync import CycleReport
from leadbridge.settings import Settings


class JournalledService:
    def __init__(self, journal: Path, effects: int, effect_seconds: float) -> None:
        self.journal = journal
        self.effects = effects
        self.effect_seconds = effect_seconds
        self.cycles = 0

    def _write(self, line: str) -> None:
        with self.journal.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())

    def run_cycle(
        self,
        *,
        stop: threading.Event | None = None,
        deadline: datetime | None = None,
        lease: Lease | None = None,
    ) -> CycleReport:
        self.cycles += 1
        report = CycleReport(started_at=datetime.now(UTC), read_ok=True)
        pid = os.getpid()
        self._write(f"cycle {self.cycles} - {pid}")
        for n in range(self.effects):
            if (stop is not None and stop.is_set()) or (
                deadline is not None and datetime.now(UTC) >= deadline
            ):
                report.interrupted = True
                break
            self._write(f"start {self.cycles} {n} {pid}")
            time.sleep(self.effect_seconds)
            self._write(f"done {self.cycles} {n} {pid}")
            report.done += 1
        report.finished_at = datetime.now(UTC)
        return report


def main() -> int:
    args = json.loads(sys.argv[1])
    settings = Settings(
        state={"url": args["state_url"]},
        service={
            "interval_seconds": args["interval"],
            "shutdown_grace_seconds": args["grace"],
            "cycle_timeout_seconds": args.get("cycle_timeout", 3600),
            "http_host": "127.0.0.1",
            "http_port": 0,
        },
    )
    service = JournalledService(Path(args["journal"]), args["effects"], args["effect_seconds"])
    return run_service(settings, build=lambda: service)  # type: ignore[arg-type,return-value]


if __name__ == "__main__":
    sys.exit(main())
