"""The benchmark script still runs end to end and prints its table (figures are not judged)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


def test_benchmark_prints_a_table_for_the_smallest_board() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--sizes", "100"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    print("\n" + result.stdout)
    assert lines[0].split()[:2] == ["leads", "cycle"]
    markdown = [line for line in lines if line.startswith("| 100 |")]
    assert [row.split(" | ")[1] for row in markdown] == [
        "first full read",
        "quiet poll",
        "quiet cycle in a service",
        "full reconcile",
    ]
    quiet = markdown[1].split(" | ")
    assert quiet[3] == "1", "a quiet poll costs one monday request"
