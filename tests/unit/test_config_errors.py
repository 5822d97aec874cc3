"""Bad configuration exits 2 with a short message naming the key, the problem and the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from leadbridge.cli import main
from tests.conftest import EXAMPLE_CONFIG, filled_example_text


def _example() -> dict:
    """The example as a deployment has it: every placeholder filled in."""
    return yaml.safe_load(filled_example_text())


def _write(tmp_path: Path, data: dict | str) -> Path:
    path = tmp_path / "leadbridge.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def _run_check(
    path: Path, secrets_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> tuple[int, str]:
    monkeypatch.setenv("LEADBRIDGE_SECRETS_DIR", str(secrets_dir))
    code = main(["--config", str(path), "check", "--offline"])
    captured = capsys.readouterr()
    return code, captured.err + captured.out


def test_example_config_is_valid(tmp_path, secrets_dir, monkeypatch, capsys) -> None:
    data = _example()
    # /data (the container's volume) is not on this machine: the state goes to tmp_path.
    data["state"]["url"] = f"sqlite:///{tmp_path / 'leadbridge.db'}"
    code, output = _run_check(_write(tmp_path, data), secrets_dir, monkeypatch, capsys)
    assert code == 0, output
    assert "configuration: valid" in output


def test_the_example_as_shipped_asks_for_its_state_directory(
    secrets_dir, monkeypatch, capsys
) -> None:
    if Path("/data").is_dir():
        pytest.skip("/data exists on this machine")
    code, output = _run_check(EXAMPLE_CONFIG, secrets_dir, monkeypatch, capsys)
    assert code == 2
    assert "state.url: the directory /data of the state database does not exist" in output


def _unknown_key(data: dict) -> None:
    data["monday"]["tokn"] = "x"


def _unknown_label(data: dict) -> None:
    data["rules"][1]["label"] = "Questionaire Received"


def _cycle(data: dict) -> None:
    data["effects"]["lead_folder"]["needs"] = ["hub_issue"]


def _bad_placeholder(data: dict) -> None:
    data["effects"]["send_questionnaire"]["subject"] = "Hello {organisation}"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_unknown_key, ["monday.tokn: unknown key", "Fix:"]),
        (
            _unknown_label,
            [
                "rules[1]",
                "no label 'Questionaire Received'",
                "did you mean 'Questionnaire Received'",
            ],
        ),
        (_cycle, ["cycle", "lead_folder", "hub_issue", "Fix:"]),
        (
            _bad_placeholder,
            ["effects.send_questionnaire.subject", "{organisation}", "{organization}"],
        ),
    ],
    ids=["unknown-key", "unknown-label", "dependency-cycle", "unknown-placeholder"],
)
def test_bad_config_exits_2_with_key_problem_and_fix(
    tmp_path, secrets_dir, monkeypatch, capsys, mutate, expected
) -> None:
    data = _example()
    mutate(data)
    code, output = _run_check(_write(tmp_path, data), secrets_dir, monkeypatch, capsys)
    assert code == 2
    for fragment in expected:
        assert fragment in output
    assert "Traceback" not in output
    assert len(output.splitlines()) <= 4


def test_missing_secret_is_named_with_where_to_put_it(tmp_path, monkeypatch, capsys) -> None:
    empty = tmp_path / "no-secrets"
    empty.mkdir()
    monkeypatch.delenv("LEADBRIDGE_MONDAY__TOKEN", raising=False)
    monkeypatch.delenv("LEADBRIDGE_GITHUB__TOKEN", raising=False)
    code, output = _run_check(EXAMPLE_CONFIG, empty, monkeypatch, capsys)
    assert code == 2
    assert "monday.token: missing" in output
    assert "LEADBRIDGE_MONDAY__TOKEN" in output and "monday__token" in output


def test_malformed_yaml_names_the_line(tmp_path, secrets_dir, monkeypatch, capsys) -> None:
    text = EXAMPLE_CONFIG.read_text().replace(
        '  board_id: "1234567890"', '  board_id: ["1234567890"'
    )
    code, output = _run_check(_write(tmp_path, text), secrets_dir, monkeypatch, capsys)
    assert code == 2
    assert "malformed YAML" in output and "line" in output
    assert "Traceback" not in output


def test_config_error_happens_before_any_side_effect(
    tmp_path, secrets_dir, monkeypatch, capsys
) -> None:
    data = _example()
    database = tmp_path / "state.db"
    data["state"]["url"] = f"sqlite:///{database}"
    _unknown_label(data)
    monkeypatch.setenv("LEADBRIDGE_SECRETS_DIR", str(secrets_dir))
    code = main(["--config", str(_write(tmp_path, data)), "sync", "--once"])
    assert code == 2
    assert not database.exists()


def test_secret_in_environment_is_never_printed(tmp_path, secrets_dir, monkeypatch, capsys) -> None:
    data = _example()
    _unknown_key(data)
    monkeypatch.setenv("LEADBRIDGE_MONDAY__TOKEN", "sekret-monday-token-123")
    code, output = _run_check(_write(tmp_path, data), secrets_dir, monkeypatch, capsys)
    assert code == 2
    assert "sekret-monday-token-123" not in output


def test_real_process_exits_2_without_traceback(tmp_path, secrets_dir) -> None:
    data = _example()
    _cycle(data)
    env = {**os.environ, "LEADBRIDGE_SECRETS_DIR": str(secrets_dir)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "leadbridge",
            "--config",
            str(_write(tmp_path, data)),
            "sync",
            "--once",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "the needs form a cycle" in result.stderr


def test_no_configuration_file_is_a_clear_error(monkeypatch, capsys) -> None:
    monkeypatch.delenv("LEADBRIDGE_CONFIG", raising=False)
    code = main(["sync", "--once"])
    output = capsys.readouterr().err
    assert code == 2
    assert "no configuration file" in output and "--config" in output


def test_a_client_that_cannot_be_set_up_is_reported_without_traceback(
    tmp_path, secrets_dir, monkeypatch, capsys
) -> None:
    data = _example()
    data["state"]["url"] = f"sqlite:///{tmp_path / 'state.db'}"
    data["google"]["service_account_file"] = str(tmp_path / "no-such-key.json")
    monkeypatch.setenv("LEADBRIDGE_SECRETS_DIR", str(secrets_dir))
    # A cycle builds the Google client only when an effect needs it; `check` builds them all.
    code = main(["--config", str(_write(tmp_path, data)), "check"])
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert code == 1
    assert "no-such-key.json" in output
    assert "Traceback" not in output
