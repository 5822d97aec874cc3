"""The Dockerfile's steps, run outside Docker (no engine on these machines).

The install steps are read from the Dockerfile itself and run in a fresh venv on a copy of
exactly what its COPY lines bring in, so a file missing from the image (README.md is read by
the build) or a broken install step fails here. The HEALTHCHECK command is run against a
real health server in both states.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadbridge.runtime.coordinator import PollCoordinator
from leadbridge.runtime.http import HealthServer
from leadbridge.service.sync import CycleReport

from .doubles import Clock, ScriptedService, coordinator, tick

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
CONSTRAINTS = REPO / "constraints.txt"
INSTALL_MARKER = "# install:"
#: A base image pinned to a release (``python:3.11.14-slim-bookworm``), digest optional.
PINNED_BASE = re.compile(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined; comments kept as ("#", text)."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            if line:
                result.append(("#", line))
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        result.append((keyword.upper(), rest.strip()))
        pending = ""
    return result


def _install_steps() -> list[str]:
    instructions = _instructions()
    start = next(
        i for i, (kind, text) in enumerate(instructions) if text.startswith(INSTALL_MARKER)
    )
    steps = []
    for kind, text in instructions[start + 1 :]:
        if kind != "RUN":
            break
        steps.append(text)
    return steps


def _copied_paths() -> list[tuple[str, str]]:
    pairs = []
    for kind, text in _instructions():
        if kind == "COPY":
            *sources, destination = shlex.split(text)
            pairs += [(source, destination) for source in sources]
    return pairs


def test_the_dockerfile_has_the_shape_operators_rely_on() -> None:
    instructions = dict(
        (kind, text) for kind, text in _instructions() if kind in ("FROM", "USER", "ENTRYPOINT")
    )
    assert PINNED_BASE.fullmatch(instructions["FROM"]), instructions["FROM"]
    assert instructions["USER"] not in ("root", "0")
    # Exec form, so that SIGTERM reaches Python rather than a shell.
    assert json.loads(instructions["ENTRYPOINT"]) == ["leadbridge"]
    text = DOCKERFILE.read_text()
    assert "LEADBRIDGE_CONFIG=/config/leadbridge.yaml" in text
    assert 'VOLUME ["/data"]' in text
    assert _install_steps(), f"no RUN lines after {INSTALL_MARKER!r}"


def _pins() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, equals, version = line.partition("==")
            assert equals and version.strip(), f"constraints.txt: {line!r} is not name==version"
            pins[_normal(name)] = version.strip()
    return pins


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().strip()


def test_the_image_installs_the_tested_versions_from_a_chosen_index() -> None:
    instructions = _instructions()
    arguments = [text for kind, text in instructions if kind == "ARG"]
    assert any(text.split("=")[0] == "PIP_INDEX_URL" for text in arguments), arguments
    installs = [step for step in _install_steps() if " install " in step]
    assert installs and all("-c constraints.txt" in step for step in installs), installs
    copied = {source for source, _ in _copied_paths()}
    assert "constraints.txt" in copied
    # Every dependency of the project is pinned there (its own dependencies too).
    pyproject = (REPO / "pyproject.toml").read_text()
    block = pyproject.split("dependencies = [", 1)[1].split("]", 1)[0]
    required = [
        re.split(r"[\[<>=!~ ;]", line.strip().strip('",'))[0] for line in block.splitlines()
    ]
    pins = _pins()
    missing = [name for name in required if name and _normal(name) not in pins]
    assert not missing, f"not in constraints.txt: {missing}"


def test_install_steps_work_in_a_fresh_venv_and_the_command_starts(tmp_path: Path) -> None:
    context = tmp_path / "src"
    context.mkdir()
    for source, destination in _copied_paths():
        target = context / destination if destination.endswith("/") else context
        origin = REPO / source
        if origin.is_dir():
            shutil.copytree(
                origin,
                target,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
            )
        else:
            shutil.copy2(origin, target / origin.name if target == context else target)
    venv = tmp_path / "venv"
    # PYTHONDONTWRITEBYTECODE as the image's ENV sets it: pip compiles nothing, so the
    # bytecode below is the install steps' own doing.
    env = {
        **os.environ,
        "VIRTUAL_ENV": str(venv),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("PYTHONPATH", None)
    python_dir = str(Path(sys.executable).resolve().parent)
    # `python` in the steps is the base interpreter, as in the image, not this test's venv.
    env["PATH"] = python_dir + os.pathsep + "/usr/bin:/bin"
    for step in _install_steps():
        done = subprocess.run(
            ["bash", "-c", step],
            cwd=context,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"{step}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    started = subprocess.run(
        [str(venv / "bin" / "leadbridge"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert started.returncode == 0, started.stderr
    assert "run" in started.stdout
    # Bytecode is in the image (the image sets PYTHONDONTWRITEBYTECODE, so nothing is cached
    # at run time): a command does not compile leadbridge and its libraries each time.
    site = next((venv / "lib").glob("python3.*/site-packages"))
    for module in ("leadbridge/cli.py", "sqlalchemy/engine/base.py", "graphql/language/parser.py"):
        bytecode = Path(importlib.util.cache_from_source(str(site / module)))
        assert bytecode.is_file(), f"no bytecode for {module}"
    # The venv holds exactly the versions constraints.txt names, as the image will.
    frozen = subprocess.run(
        [str(venv / "bin" / "pip"), "freeze", "--exclude", "leadbridge"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    pins = _pins()
    installed = dict(
        (_normal(name), version)
        for name, _, version in (line.partition("==") for line in frozen.stdout.splitlines())
    )
    assert {name: pins.get(name) for name in installed} == installed
    imported = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import leadbridge.runtime.service, leadbridge.runtime.http",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert imported.returncode == 0, imported.stderr


@pytest.fixture
def health() -> Iterator[tuple[PollCoordinator, ScriptedService, HealthServer, Clock]]:
    clock = Clock(datetime.now(UTC))
    service = ScriptedService()
    poller = coordinator(clock, lambda: service)
    server = HealthServer(poller, "127.0.0.1", 0)
    server.start()
    yield poller, service, server, clock
    server.stop()


def _healthcheck_command() -> list[str]:
    (text,) = [text for kind, text in _instructions() if kind == "HEALTHCHECK"]
    command = json.loads(text[text.index("CMD") + 3 :].strip())
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


def test_the_healthcheck_command_follows_healthz(
    health: tuple[PollCoordinator, ScriptedService, HealthServer, Clock],
) -> None:
    poller, service, server, clock = health
    env = {**os.environ, "LEADBRIDGE_SERVICE__HTTP_PORT": str(server.port)}

    def check() -> int:
        return subprocess.run(
            _healthcheck_command(), env=env, capture_output=True, timeout=60
        ).returncode

    assert check() == 0
    # Three intervals without a good poll: the same command must now report unhealthy.
    clock.advance(3 * 60)
    failed = CycleReport(started_at=clock.now, read_ok=False, error="monday: HTTP 500")
    tick(poller, service, failed)
    assert check() != 0
