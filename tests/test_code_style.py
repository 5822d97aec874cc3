"""ruff is part of the test command, so style problems fail CI like any other defect."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    found = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("ruff is not installed: install the test extra (pip install -e '.[test]')")
    return [found]


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_is_clean(args: list[str]) -> None:
    result = subprocess.run(
        [*_ruff(), *args, "src", "tests", "benchmarks"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_only_an_effect_kinds_own_modules_name_it() -> None:
    """A kind is one module: nothing else in the package names it (the default pipeline,
    which configures it, aside), so adding or changing a kind touches no other file."""
    package = REPO / "src" / "leadbridge"
    own = {package / "effects" / "hub.py", package / "effects" / "hub_body.py"}
    naming = [
        f"{path.relative_to(REPO)}:{number}"
        for path in sorted(package.rglob("*"))
        if path.suffix in {".py", ".html", ".js"} and path not in own
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "hub_issue" in line
    ]
    assert naming == []


def test_the_core_imports_no_sdk() -> None:
    """domain/ and service/ decide; only adapters talk to monday, Google and GitHub."""
    sdks = ("googleapiclient", "google.auth", "github", "gql", "httpx", "smtplib", "psycopg")
    package = REPO / "src" / "leadbridge"
    found = [
        f"{path.relative_to(REPO)}: {line.strip()}"
        for folder in ("domain", "service", "effects")
        for path in sorted((package / folder).rglob("*.py"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.lstrip().startswith(("import ", "from "))
        and any(f" {sdk}" in line.split(" import ")[0] + " " for sdk in sdks)
    ]
    assert found == []
