"""docs/go-live.md's commands, run as written against the sandbox, from an empty directory.

Every ```sh block of the guide is either run here (first line ``# sandbox``: must exit 0;
``# sandbox: exit N``: must exit N and print each line of the ```text block right under it) or
says why not (``# not run by the test: REASON``), so a command cannot be added untested by
accident. Blocks share one shell environment, as a reader's terminal does: what a block
exports, the next one sees. The only change made to a command is the sandbox's port (the guide
says 8765; the test takes a free one).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.network import free_port

pytestmark = pytest.mark.e2e

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "go-live.md"
GUIDE_PORT = "8765"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
MARK = re.compile(r"^# sandbox(?::\s*exit\s+(\d+))?\s*$")
NOT_RUN = re.compile(r"^# not run by the test: \S.*$")


@dataclass(frozen=True)
class Step:
    commands: str
    exit_code: int
    expected: tuple[str, ...]
    line: int


def guide_steps(text: str) -> list[Step]:
    """The runnable blocks in order; raise on a ``sh`` block that is neither run nor excused."""
    blocks = [
        (m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1, m.end())
        for m in FENCE.finditer(text)
    ]
    steps = []
    for index, (language, body, line, end) in enumerate(blocks):
        if language != "sh":
            continue
        first, _, rest = body.partition("\n")
        if NOT_RUN.match(first):
            continue
        mark = MARK.match(first)
        if mark is None:
            raise AssertionError(
                f"{GUIDE.name}:{line}: a sh block must start with '# sandbox', "
                "'# sandbox: exit N' or '# not run by the test: REASON'"
            )
        exit_code = int(mark.group(1) or 0)
        expected: tuple[str, ...] = ()
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        if (
            exit_code
            and following is not None
            and following[0] == "text"
            and not text[end : text.index("```", end)].strip()
        ):
            expected = tuple(x.strip() for x in following[1].splitlines() if x.strip())
        steps.append(Step(rest, exit_code, expected, line))
    return steps


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "deploy"
    directory.mkdir()
    yield directory
    pid_file = directory / "sandbox.pid"
    if pid_file.exists():  # the guide's last step did not run: stop the sandbox it started
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)


def test_every_sh_block_is_run_or_says_why_not() -> None:
    steps = guide_steps(GUIDE.read_text(encoding="utf-8"))
    assert len(steps) >= 10
    assert any("leadbridge check" in step.commands and not step.exit_code for step in steps)
    assert all(step.expected for step in steps if step.exit_code), "show what wrong looks like"


def test_the_guide_runs_from_an_empty_directory_to_a_passing_check(
    workdir: Path, tmp_path: Path
) -> None:
    port = str(free_port())
    env_file = tmp_path / "env.sh"
    env_file.write_text("")
    bin_dir = Path(sys.executable).parent
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LEADBRIDGE_") or key == "LEADBRIDGE_TEST_POSTGRES_URL"
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    passed_checks = 0
    for step in guide_steps(GUIDE.read_text(encoding="utf-8")):
        commands = step.commands.replace(GUIDE_PORT, port)
        keep = "" if step.exit_code else f"\nexport -p > {shlex.quote(str(env_file))}"
        script = (
            f". {shlex.quote(str(env_file))}\n"
            + ("set -eo pipefail\n" if not step.exit_code else "")
            + commands
            + keep
        )
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
        )
        said = result.stdout + result.stderr
        where = f"{GUIDE.name}:{step.line}\n{commands}\n--- said:\n{said[-4000:]}"
        assert result.returncode == step.exit_code, where
        assert "Traceback" not in said, where
        for line in step.expected:
            assert line.replace(GUIDE_PORT, port) in said, f"missing {line!r}\n{where}"
        if not step.exit_code and "live checks passed." in result.stdout:
            passed_checks += 1
    assert passed_checks >= 2  # the first check, and again after github.repository is set
