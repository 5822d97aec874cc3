"""Every configuration or environment problem, through the real command in a real process:
exit 2, the key named, a fix given, and never a traceback.

Each case breaks the shipped example, its placeholders filled in, one way (the file, the
environment, the secrets, the machine, a placeholder put back) and runs ``check --offline`` and
``sync --once`` on it (``run`` for the port).
Cases about permissions run the command as an unprivileged user when the tests run as root,
for whom every directory is writable and every file readable.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLE_CONFIG, filled_example_text

NOBODY = 65534
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass
class Setup:
    """One deployment: the example configuration, its secrets and its environment."""

    directory: Path
    data: dict[str, Any]
    env: dict[str, str]
    as_nobody: bool = False
    listening: list[socket.socket] = field(default_factory=list)

    @property
    def secrets(self) -> Path:
        return self.directory / "secrets"

    def effect_sending_to(self, address: str) -> str:
        """Put ``address`` as the first recipient of an e-mail written out in the file."""
        for name, effect in self.data["effects"].items():
            if effect.get("kind") == "email" and "{" not in "".join(effect.get("to", [])):
                effect["to"] = [address, *effect["to"][1:]]
                return name
        raise AssertionError("the example has no e-mail to a fixed address")

    def unprivileged(self) -> None:
        """Permissions must hold for the command: as root they never do, so run as nobody."""
        if ROOT:
            if shutil.which("setpriv") is None:
                pytest.skip("running as root without setpriv: permissions cannot be tested")
            if not _nobody_can_run_leadbridge():
                pytest.skip(
                    "running as root in a checkout the user nobody cannot read (a private "
                    "parent folder): permissions cannot be tested here"
                )
            self.as_nobody = True


@functools.cache
def _nobody_can_run_leadbridge() -> bool:
    probe = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    result = subprocess.run(
        [*probe, sys.executable, "-c", "import leadbridge.cli"],
        capture_output=True,
        timeout=60,
        cwd="/",
    )
    return result.returncode == 0


@pytest.fixture
def setup() -> Iterator[Setup]:
    # Not tmp_path: its parents are private to root, and some cases run as nobody.
    directory = Path(tempfile.mkdtemp(prefix="leadbridge-config-"))
    directory.chmod(0o755)
    (directory / "state").mkdir(mode=0o777)
    (directory / "state").chmod(0o777)
    secrets = directory / "secrets"
    secrets.mkdir(mode=0o755)
    for name, value in (("monday__token", "monday-test-token"), ("github__token", "gh-test")):
        (secrets / name).write_text(value)
        (secrets / name).chmod(0o644)
    data = yaml.safe_load(filled_example_text())
    data["state"]["url"] = f"sqlite:///{directory / 'state' / 'leadbridge.db'}"
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("LEADBRIDGE_")}
    env["LEADBRIDGE_SECRETS_DIR"] = str(secrets)
    made = Setup(directory, data, env)
    yield made
    for listener in made.listening:
        listener.close()
    for path in directory.rglob("*"):
        if not path.is_symlink():
            path.chmod(stat.S_IRWXU | path.stat().st_mode)
    shutil.rmtree(directory, ignore_errors=True)


def leadbridge(made: Setup, *args: str) -> subprocess.CompletedProcess[str]:
    config = made.directory / "leadbridge.yaml"
    config.write_text(yaml.safe_dump(made.data, allow_unicode=True))
    config.chmod(0o644)
    command = [sys.executable, "-m", "leadbridge", "--config", str(config), *args]
    if made.as_nobody:
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    return subprocess.run(
        command,
        env=made.env,
        cwd=made.directory,
        capture_output=True,
        text=True,
        timeout=60,
    )


# ---------------------------------------------------------------- the broken configurations


def _github_url(s: Setup) -> None:
    s.data["github"]["base_url"] = "htps//api.github.com"


def _monday_url(s: Setup) -> None:
    s.data["monday"]["api_url"] = "api.monday.com/v2"


def _token_uri(s: Setup) -> None:
    s.data["google"]["token_uri"] = "127.0.0.1:8765/google/token"


def _labels_not_json(s: Setup) -> None:
    s.env["LEADBRIDGE_GITHUB__LABELS"] = "Hub"


def _mysql(s: Setup) -> None:
    s.data["state"]["url"] = "mysql://leadbridge:hunter22@db/state"


def _no_state_directory(s: Setup) -> None:
    s.data["state"]["url"] = f"sqlite:///{s.directory / 'missing' / 'leadbridge.db'}"


def _read_only_state_directory(s: Setup) -> None:
    (s.directory / "state").chmod(0o555)
    s.unprivileged()


def _recipient_not_an_address(s: Setup) -> None:
    s.effect_sending_to("finance at icsi.example.org")


def _sender_not_an_address(s: Setup) -> None:
    s.data["mail"]["sender"] = "sales at example.org"


def _empty_secret_file(s: Setup) -> None:
    (s.secrets / "monday__token").write_text("\n")


def _unreadable_secret_file(s: Setup) -> None:
    (s.secrets / "github__token").chmod(0)
    s.unprivileged()


def _unreadable_secrets_directory(s: Setup) -> None:
    s.secrets.chmod(0)
    s.unprivileged()


def _token_in_yaml(s: Setup) -> None:
    s.data["github"]["token"] = "ghp_written_into_the_file"


def _password_in_yaml(s: Setup) -> None:
    s.data["mail"]["smtp"]["password"] = "hunter22"


def _unknown_variable(s: Setup) -> None:
    s.env["LEADBRIDGE_MONDAYY__TOKEN"] = "monday-test-token"


def _empty_token_variable(s: Setup) -> None:
    s.env["LEADBRIDGE_MONDAY__TOKEN"] = ""


def _labels_not_a_list(s: Setup) -> None:
    s.data["github"]["labels"] = {"name": "Hub"}


def _unknown_key(s: Setup) -> None:
    s.data["monday"]["tokn"] = "x"


def _unknown_label(s: Setup) -> None:
    s.data["rules"][1]["label"] = "Questionaire Received"


def _webhook_url(s: Setup) -> None:
    s.data["monday"]["webhook"] = {"public_url": "leadbridge.example.org"}


def _webhook_without_token(s: Setup) -> None:
    s.data["monday"]["webhook"] = {"public_url": "https://leadbridge.example.org"}


def _placeholder_recipient(s: Setup) -> None:
    s.effect_sending_to("contracting@icsi.example.org")


def _placeholder_link(s: Setup) -> None:
    effect = s.data["effects"]["send_questionnaire"]
    effect["body"] = effect["body"].replace("forms.2i2c.example", "forms.example.org")


def _placeholder_sender(s: Setup) -> None:
    s.data["mail"]["sender"] = "sales@example.org"


def _placeholder_board_id(s: Setup) -> None:
    s.data["monday"]["board_id"] = "1234567890"


def _placeholder_template_id(s: Setup) -> None:
    s.data["effects"]["quote_copies"]["templates"]["price_quote"]["file_id"] = (
        "1PriceQuoteTemplateId"
    )


def _placeholder_copy_on_example_com(s: Setup) -> None:
    s.data["effects"]["request_invoice"]["cc"] = ["billing@accounts.example.com"]


def _placeholder_from_the_environment(s: Setup) -> None:
    s.env["LEADBRIDGE_GOOGLE__LEADS_FOLDER_ID"] = "0AbCdEfLeadsFolder"


PLACEHOLDER_FIX = "Fix: replace the example's placeholder with"

CASES: dict[str, tuple[Callable[[Setup], None], list[str]]] = {
    "github-url-without-scheme": (
        _github_url,
        ["github.base_url", "htps//api.github.com", "https://api.github.com"],
    ),
    "monday-url-without-scheme": (_monday_url, ["monday.api_url", "https://api.monday.com/v2"]),
    "token-uri-without-scheme": (_token_uri, ["google.token_uri", "http(s) URL"]),
    "env-list-not-json": (
        _labels_not_json,
        ["LEADBRIDGE_GITHUB__LABELS", "not a JSON list", "LEADBRIDGE_GITHUB__LABELS='[\"Hub\"]'"],
    ),
    "state-url-mysql": (_mysql, ["state.url", "mysql", "postgresql+psycopg://"]),
    "state-directory-missing": (_no_state_directory, ["state.url", "does not exist", "mkdir -p"]),
    "state-directory-read-only": (_read_only_state_directory, ["state.url", "not writable"]),
    "recipient-not-an-address": (
        _recipient_not_an_address,
        [".to[0]", "'finance at icsi.example.org' is not an e-mail address"],
    ),
    "sender-not-an-address": (_sender_not_an_address, ["mail.sender", "not an e-mail address"]),
    "empty-secret-file": (_empty_secret_file, ["monday.token", "monday__token", "is empty"]),
    "unreadable-secret-file": (
        _unreadable_secret_file,
        ["github.token", "github__token", "cannot be read (Permission denied)"],
    ),
    "unreadable-secrets-directory": (
        _unreadable_secrets_directory,
        ["LEADBRIDGE_SECRETS_DIR", "secrets", "cannot be read (Permission denied)"],
    ),
    "token-in-yaml": (_token_in_yaml, ["github.token", "LEADBRIDGE_GITHUB__TOKEN"]),
    "password-in-yaml": (
        _password_in_yaml,
        ["mail.smtp.password", "LEADBRIDGE_MAIL__SMTP__PASSWORD", "mail__smtp__password"],
    ),
    "unknown-environment-variable": (
        _unknown_variable,
        ["LEADBRIDGE_MONDAYY__TOKEN", "did you mean LEADBRIDGE_MONDAY__TOKEN?"],
    ),
    "empty-token-variable": (_empty_token_variable, ["LEADBRIDGE_MONDAY__TOKEN", "empty"]),
    "list-in-words": (_labels_not_a_list, ["github.labels: should be a list"]),
    "placeholder-recipient": (
        _placeholder_recipient,
        [".to[0]: 'contracting@icsi.example.org' is a placeholder", PLACEHOLDER_FIX],
    ),
    "placeholder-link-in-a-body": (
        _placeholder_link,
        [
            "effects.send_questionnaire.body: 'https://forms.example.org/2i2c-questionnaire'",
            PLACEHOLDER_FIX,
        ],
    ),
    "placeholder-sender": (
        _placeholder_sender,
        ["mail.sender: 'sales@example.org'", PLACEHOLDER_FIX],
    ),
    "placeholder-board-id": (
        _placeholder_board_id,
        ["monday.board_id: '1234567890'", PLACEHOLDER_FIX, "leadbridge init"],
    ),
    "placeholder-template-id": (
        _placeholder_template_id,
        ["effects.quote_copies.templates.price_quote.file_id: '1PriceQuoteTemplateId'"],
    ),
    "placeholder-on-example-com": (
        _placeholder_copy_on_example_com,
        ["effects.request_invoice.cc[0]: 'billing@accounts.example.com'", PLACEHOLDER_FIX],
    ),
    "placeholder-from-the-environment": (
        _placeholder_from_the_environment,
        ["google.leads_folder_id: '0AbCdEfLeadsFolder'", PLACEHOLDER_FIX],
    ),
    # Already handled before; kept in the table so that they stay so.
    "unknown-key": (_unknown_key, ["monday.tokn: unknown key"]),
    "unknown-label": (_unknown_label, ["rules[1]", "did you mean 'Questionnaire Received'"]),
    "webhook-url-without-scheme": (
        _webhook_url,
        ["monday.webhook.public_url", "https://leadbridge.example.org"],
    ),
    "webhook-without-path-token": (
        _webhook_without_token,
        ["monday.webhook.path_token", "LEADBRIDGE_MONDAY__WEBHOOK__PATH_TOKEN", "token_urlsafe"],
    ),
}


def _assert_explained(result: subprocess.CompletedProcess[str], expected: list[str]) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    for fragment in expected:
        assert fragment in output, output
    assert "Fix:" in output, output
    for word in ("valid tuple", "valid dictionary", "Input should", "hunter22", "ghp_written"):
        assert word not in output, output


@pytest.mark.parametrize("command", [["check", "--offline"], ["sync", "--once"]])
@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_configuration_is_explained_before_anything_runs(
    setup: Setup, case: str, command: list[str]
) -> None:
    mutate, expected = CASES[case]
    mutate(setup)
    result = leadbridge(setup, *command)
    _assert_explained(result, expected)
    assert not (setup.directory / "state" / "leadbridge.db").exists()


def test_the_port_in_use_stops_run_before_it_starts(setup: Setup) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    setup.listening.append(taken)
    port = taken.getsockname()[1]
    setup.data["service"].update(http_host="127.0.0.1", http_port=port)

    result = leadbridge(setup, "run")

    _assert_explained(result, ["service.http_port", f"127.0.0.1:{port}", "in use"])


def test_the_unbroken_example_passes(setup: Setup) -> None:
    result = leadbridge(setup, "check", "--offline")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_example_as_shipped_names_every_placeholder_it_holds(setup: Setup) -> None:
    setup.data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    setup.data["state"]["url"] = f"sqlite:///{setup.directory / 'state' / 'leadbridge.db'}"

    result = leadbridge(setup, "check", "--offline")

    _assert_explained(result, [PLACEHOLDER_FIX])
    named = [line for line in result.stderr.splitlines() if PLACEHOLDER_FIX in line]
    keys = {line.strip().removeprefix("- ").split(":")[0] for line in named}
    assert keys == {
        "monday.board_id",
        "google.leads_folder_id",
        "google.shared_drive_id",
        "google.subject",
        "mail.sender",
        "effects.send_questionnaire.body",
        "effects.quote_copies.templates.pricing_sheet.file_id",
        "effects.quote_copies.templates.price_quote.file_id",
        "effects.notify_icsi_quote_sent.to[0]",
        "effects.notify_icsi_contract.to[0]",
        "effects.notify_icsi_contract.to[1]",
        "effects.request_invoice.to[0]",
    }, result.stderr


def test_status_reads_the_state_database_whatever_placeholders_are_left(setup: Setup) -> None:
    setup.data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    setup.data["state"]["url"] = f"sqlite:///{setup.directory / 'state' / 'leadbridge.db'}"

    result = leadbridge(setup, "status")

    assert result.returncode == 0, result.stdout + result.stderr


def test_an_unquoted_board_id_is_the_same_id(setup: Setup) -> None:
    setup.data["monday"]["board_id"] = 4711000001  # YAML: board_id: 4711000001

    result = leadbridge(setup, "check", "--offline")

    assert result.returncode == 0, result.stdout + result.stderr


def test_config_after_the_command_and_version(setup: Setup) -> None:
    config = setup.directory / "leadbridge.yaml"
    config.write_text(yaml.safe_dump(setup.data))
    after = subprocess.run(
        [sys.executable, "-m", "leadbridge", "check", "--offline", "--config", str(config)],
        env=setup.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert after.returncode == 0, after.stdout + after.stderr
    version = subprocess.run(
        [sys.executable, "-m", "leadbridge", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("leadbridge ")


def test_a_port_taken_between_the_check_and_the_bind_is_told_in_words(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from leadbridge import cli

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    setup.listening.append(taken)
    port = taken.getsockname()[1]
    setup.data["service"].update(http_host="127.0.0.1", http_port=port)
    config = setup.directory / "leadbridge.yaml"
    config.write_text(yaml.safe_dump(setup.data))
    from leadbridge.settings import environment

    # The check saw it free.
    monkeypatch.setattr(environment, "port_problem", lambda *args: None)
    monkeypatch.setenv("LEADBRIDGE_SECRETS_DIR", str(setup.secrets))

    code = cli.main(["--config", str(config), "run"])

    err = capsys.readouterr().err
    assert code == 2, err
    assert f"service.http_port: cannot listen on 127.0.0.1:{port}" in err and "Fix:" in err
