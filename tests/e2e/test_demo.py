"""The README's first command: ``leadbridge demo`` runs the pipeline and says what it did."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.e2e
def test_demo_runs_the_pipeline_exactly_once(tmp_path: Path) -> None:
    output = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "leadbridge", "demo", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = result.stdout
    assert "Round 1 of" in text  # progress is shown while it runs
    counts = dict(re.findall(r"^  (lead_folder|issues opened by leadbridge): (\d+)", text, re.M))
    ledger = dict(
        re.findall(
            r"^  (lead_folder|issues opened by leadbridge): .*\(ledger: (\d+) done\)", text, re.M
        )
    )
    assert len(counts) == 2 and counts == ledger  # the sandbox holds what the ledger says
    copies, done = re.search(
        r"quote_copies: (\d+) Drive file.*\(ledger: (\d+) done\)", text
    ).groups()
    assert int(copies) == 2 * int(done) > 0
    sent, distinct = re.search(r"e-mails sent: (\d+), distinct Message-IDs: (\d+)", text).groups()
    assert sent == distinct and int(sent) > 0
    emls = list((output / "sent-mail").glob("*.eml"))
    assert len(emls) == int(sent)
    assert (output / "leadbridge-demo.db").is_file()
    assert "(leadbridge: Questionnaire Sent)" in text
    assert "PARKED" not in text and "parked" not in text.split("What leadbridge did")[1]
