"""``serve`` runs the sandbox in its own process until it is interrupted."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

SCRIPT = (
    "import sys; from pathlib import Path; from leadbridge.sandbox.serve import serve; "
    "sys.exit(serve(port=0, config_dir=Path(sys.argv[1])))"
)


def test_serve_prints_its_url_answers_and_stops_on_sigint(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert match, first
        lines = [process.stdout.readline() for _ in range(7)]
        assert any("--config" in line for line in lines)
        state = httpx.get(f"{match.group(0)}/_sandbox/state", timeout=5).json()
        assert len(state["monday"]["boards"][0]["items"]) >= 12
        assert (tmp_path / "leadbridge.yaml").is_file()
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
        assert "stopped" in out
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
