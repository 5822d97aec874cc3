"""How leadbridge's cost grows with the board: monday calls and complexity, CPU and memory.

For boards of 100, 1,000 and 10,000 leads in the sandbox, one ``leadbridge sync --once``
subprocess each for: the first full read (which adopts what the leads' statuses imply), a
quiet poll (nothing changed since) and a later full reconcile. monday requests and complexity
come from the run leadbridge records, cross-checked against the sandbox's request counter;
CPU seconds (user + system) and peak memory (max RSS) are the child's own, from ``wait4``;
the quiet poll is the median of several runs. Before measuring, leadbridge and its libraries
are byte-compiled, as the image is at build: with ``PYTHONDONTWRITEBYTECODE`` set (as there)
and no bytecode, every process would compile its ~860 modules and the figure would be the
compiler's. After the table, what a process that only imports the quiet poll's libraries
(every module it loaded, except leadbridge's own) spends: the floor no leadbridge change moves.

Between them, "quiet cycle in a service" is what ``leadbridge run`` spends on a quiet tick:
one SyncService built once in this process, as the service builds it, then the median of
several quiet cycles; CPU is the cycle thread's own (``thread_time``), not the sandbox's,
which answers on other threads of this process. Last, the start-up of ``leadbridge --help``.

    python benchmarks/run.py [--sizes 100 1000 10000]

Not part of the test suite: figures depend on the machine. Prints a table, then the same as
markdown for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from leadbridge.sandbox import Sandbox, write_sandbox_config
from leadbridge.sandbox.state import MondayItem
from leadbridge.sandbox.world import default_columns

SIZES = (100, 1_000, 10_000)
#: Leads that may stand on a label asking for work when leadbridge first meets the board.
PENDING_REQUESTS = 12
REQUESTS = frozenset({"Send Questionnaire", "Create Quote"})
#: Seeded leads are this old, so a quiet poll's look-back (watermark skew) finds none of them.
AGE = timedelta(days=2)
CASES = ("first full read", "quiet poll", "quiet cycle in a service", "full reconcile")
#: Quiet cycles measured in the long-running case; the median is reported.
SERVICE_CYCLES = 7
#: ``sync --once`` processes measured for the quiet poll, and library-only processes after.
QUIET_RUNS = 5


@dataclass(frozen=True)
class Measure:
    leads: int
    case: str
    items_read: int
    requests: int
    complexity: int
    sandbox_requests: int
    wall_seconds: float
    cpu_seconds: float
    max_rss_mb: float


def seed(sandbox: Sandbox, count: int, rng: random.Random) -> None:
    """Write ``count`` leads straight into the sandbox's board: fast, and with no activity
    log, as if they had been there for days."""
    columns = default_columns()
    board = sandbox.state.board()
    newest = datetime.now(UTC) - AGE
    label_ids = {
        name: {text: index for index, text in board.columns[columns[name].id].labels.items()}
        for name in ("triage_status", "negotiation_status", "hub_status")
    }
    with sandbox.state.lock:
        for number in range(count):
            values: dict[str, object] = {
                columns["organization"].id: f"Organization {number}",
                columns["contact_name"].id: f"Contact {number}",
                columns["contact_email"].id: {
                    "email": f"contact{number}@lead.example",
                    "text": f"contact{number}@lead.example",
                },
                columns["community"].id: {"text": "A community of researchers. " * 4},
            }
            # Labels that ask for work (a questionnaire, a quote) stand only on the first few
            # leads, as on a board leadbridge has kept up with: the rest is history, adopted.
            acting = number < PENDING_REQUESTS
            triage = rng.choice(
                [None, *(t for t in label_ids["triage_status"] if acting or t not in REQUESTS)]
            )
            if triage:
                values[columns["triage_status"].id] = {"index": label_ids["triage_status"][triage]}
            if triage == "In Scope" and rng.random() < 0.6:
                negotiation = rng.choice(
                    [n for n in label_ids["negotiation_status"] if acting or n not in REQUESTS]
                )
                values[columns["negotiation_status"].id] = {
                    "index": label_ids["negotiation_status"][negotiation]
                }
            item_id = str(1_900_000_000 + number)
            # One lead edited every ten minutes, going back in time: distinct stamps, as on
            # a real board, so the quiet poll's look-back finds only the newest.
            stamp = (newest - timedelta(minutes=10 * number)).strftime("%Y-%m-%dT%H:%M:%SZ")
            board.items[item_id] = MondayItem(
                id=item_id, name=f"Lead {number}", created_at=stamp, updated_at=stamp, values=values
            )


#: Runs ``python -m leadbridge ARGS`` and, at exit, writes the process's own peak resident
#: memory (``VmHWM``, kB) to the file named first. ``ru_maxrss`` from ``wait4`` would not do:
#: a child forked from this process, which holds the sandbox's board, starts with this
#: process's pages counted, so at 10,000 leads it reported the benchmark, not leadbridge.
PEAK_PROBE = """
import atexit, runpy, sys
peak_file = sys.argv.pop(1)
def peak():
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    with open(peak_file, "w") as out:
        out.write(line.split()[1])
    with open(peak_file + ".modules", "w") as out:
        out.write("\\n".join(sys.modules))
atexit.register(peak)
sys.argv[0] = "leadbridge"
runpy.run_module("leadbridge", run_name="__main__", alter_sys=True)
"""

#: Imports, in the order a leadbridge process loaded them, every module it loaded except
#: leadbridge's own (and this benchmark's probe): the cost of the libraries alone.
LIBRARIES_PROBE = """
import importlib, sys
names = open(sys.argv[1]).read().split()
for name in names:
    if name.split(".")[0] in ("leadbridge", "__main__"):
        continue
    try:
        importlib.import_module(name)
    except Exception:
        pass
"""


def run_once(args: list[str], env: dict[str, str], log: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS in MB of one ``leadbridge ARGS``.

    Output goes to a file, not a pipe: the child's report of 10,000 leads would fill a pipe
    that nobody reads while this process waits for it.
    """
    peak_file = log.with_suffix(".peak")
    command = [sys.executable, "-c", PEAK_PROBE, str(peak_file), *args]
    started = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(args[-2:])} exited {code}: {tail}")
    return wall, usage.ru_utime + usage.ru_stime, int(peak_file.read_text()) / 1024


def libraries_alone(modules: Path, env: dict[str, str]) -> float:
    """Median CPU seconds of a process importing the modules a leadbridge process loaded,
    leadbridge's own excepted."""
    cpus = []
    for _ in range(QUIET_RUNS):
        process = subprocess.Popen([sys.executable, "-c", LIBRARIES_PROBE, str(modules)], env=env)
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError("importing the libraries alone failed")
        cpus.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(cpus)


def byte_compile() -> None:
    """Compile leadbridge and every library on the path, as the image does at build."""
    import leadbridge

    folders = [Path(leadbridge.__file__).parent]
    folders += [Path(entry) for entry in sys.path if entry.endswith("site-packages")]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", *map(str, folders)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def measure(count: int, workdir: Path, seed_value: int, floors: list[float]) -> list[Measure]:
    """The table's rows for a board of ``count`` leads; the quiet poll's library-only CPU
    seconds are appended to ``floors``."""
    results = []
    with Sandbox(seed=seed_value) as sandbox:
        seed(sandbox, count, random.Random(seed_value))
        directory = workdir / f"board-{count}"
        config = write_sandbox_config(sandbox, directory, notes={"post": "none"})
        database = directory / "leadbridge.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEADBRIDGE_")}
        env["LEADBRIDGE_SECRETS_DIR"] = str(config.secrets_dir)
        options = ["--config", str(config.path)]
        base = [sys.executable, "-m", "leadbridge", *options]
        for case in CASES:
            if case == "quiet cycle in a service":
                results.append(quiet_cycle_in_a_service(count, config.path, config.secrets_dir))
                continue
            if case == "full reconcile":
                # As if the last full read were more than full_reconcile_minutes ago.
                with sqlite3.connect(database) as connection:
                    connection.execute("UPDATE board_state SET last_full_read_at = NULL")
            before = sandbox.state.request_count("monday")
            log = directory / f"{case.replace(' ', '-')}.log"
            runs = QUIET_RUNS if case == "quiet poll" else 1
            timed = [run_once([*options, "sync", "--once"], env, log) for _ in range(runs)]
            counted = (sandbox.state.request_count("monday") - before) // runs
            wall = statistics.median(t[0] for t in timed)
            cpu = statistics.median(t[1] for t in timed)
            rss = max(t[2] for t in timed)
            if case == "quiet poll":
                floors.append(libraries_alone(log.with_suffix(".peak.modules"), env))
            # status exits 1 when something needs a person; the run history is read either way.
            status = subprocess.run(
                [*base, "status", "--json"], env=env, capture_output=True, text=True
            )
            if status.returncode not in (0, 1):
                raise subprocess.CalledProcessError(status.returncode, status.args, status.stdout)
            last = json.loads(status.stdout)["runs"][0]
            results.append(
                Measure(
                    count,
                    case,
                    last["items_read"],
                    last["requests"],
                    last["complexity"],
                    counted,
                    wall,
                    cpu,
                    rss,
                )
            )
    return results


def quiet_cycle_in_a_service(count: int, config: Path, secrets: Path) -> Measure:
    """Median wall and thread CPU of quiet cycles of one service built once, and the
    process's peak RSS so far (this process also holds the sandbox's board)."""
    from leadbridge.bootstrap import build_sync_service
    from leadbridge.logs import configure_logging
    from leadbridge.settings import load_settings

    with open(os.devnull, "w") as quiet:
        configure_logging(stream=quiet)
        service = build_sync_service(load_settings(config, secrets_dir=secrets))
        walls, cpus, reports = [], [], []
        for _ in range(SERVICE_CYCLES):
            wall, cpu = time.perf_counter(), time.thread_time()
            reports.append(service.run_cycle())
            cpus.append(time.thread_time() - cpu)
            walls.append(time.perf_counter() - wall)
        service.store.close()
    last = reports[-1]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    requests = sum(report.requests for report in reports) // len(reports)
    return Measure(
        count,
        "quiet cycle in a service",
        last.items_read,
        requests,
        last.complexity,
        requests,
        statistics.median(walls),
        statistics.median(cpus),
        rss,
    )


def help_start_up(runs: int = 7) -> tuple[float, float]:
    """Median wall and CPU seconds of ``leadbridge --help`` in a new process."""
    walls, cpus = [], []
    for _ in range(runs):
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "leadbridge", "--help"], stdout=subprocess.DEVNULL
        )
        _, _, usage = os.wait4(process.pid, 0)
        walls.append(time.monotonic() - started)
        cpus.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


HEADERS = (
    "leads",
    "cycle",
    "items read",
    "monday requests",
    "complexity",
    "wall s",
    "CPU s (user+sys)",
    "max RSS MB",
)


def rows(measures: list[Measure]) -> list[tuple[str, ...]]:
    return [
        (
            f"{m.leads:,}",
            m.case,
            f"{m.items_read:,}",
            str(m.requests)
            if m.requests == m.sandbox_requests
            else f"{m.requests} (sandbox {m.sandbox_requests})",
            f"{m.complexity:,}",
            f"{m.wall_seconds:.2f}",
            f"{m.cpu_seconds:.2f}",
            f"{m.max_rss_mb:.0f}",
        )
        for m in measures
    ]


def plain_table(table: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in [HEADERS, *table]) for i in range(len(HEADERS))]
    line = lambda row: "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))  # noqa: E731
    return "\n".join([line(HEADERS), line(tuple("-" * w for w in widths)), *map(line, table)])


def markdown_table(table: list[tuple[str, ...]]) -> str:
    numeric = [False, False, True, True, True, True, True, True]
    lines = ["| " + " | ".join(HEADERS) + " |"]
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in table]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    byte_compile()
    measures: list[Measure] = []
    floors: list[float] = []
    with tempfile.TemporaryDirectory(prefix="leadbridge-bench-") as workdir:
        for count in args.sizes:
            started = time.monotonic()
            measures += measure(count, Path(workdir), args.seed, floors)
            print(f"measured {count:,} leads in {time.monotonic() - started:.1f}s", file=sys.stderr)
    table = rows(measures)
    print(plain_table(table))
    print()
    print(markdown_table(table))
    quiet = [m.cpu_seconds for m in measures if m.case == "quiet poll"]
    print(
        f"\nquiet poll (`sync --once`, median of {QUIET_RUNS}): "
        + ", ".join(f"{q:.2f} s" for q in quiet)
        + " CPU; a process importing only its libraries (leadbridge's own modules excepted): "
        + ", ".join(f"{f:.2f} s" for f in floors)
    )
    wall, cpu = help_start_up()
    print(f"\nleadbridge --help: {wall:.3f} s wall, {cpu:.3f} s CPU (median of 7)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
