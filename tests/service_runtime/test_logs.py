"""No secret reaches the logs: from the config, an HTTP error, a traceback or a library."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import httpx
import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from leadbridge.logs import (
    _PATTERNS,
    REDACTED,
    Redactor,
    configure_logging,
    may_be_secret_shaped,
    secret_values,
)
from leadbridge.settings import Settings

pytestmark = pytest.mark.usefixtures("isolated_logging")

MONDAY_TOKEN = "eyMondayPersonalToken-4f9c2a7b"
GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0" * 2
SMTP_PASSWORD = "correct horse battery staple"
PRIVATE_KEY = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7Vx0vExampleKeyLine\n"
    "AoIBAQC7Vx0vExampleKeyLineNumberTwoThatIsLongEnoughToBeRegisteredOk\n"
    "-----END PRIVATE KEY-----\n"
)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps({"type": "service_account", "private_key": PRIVATE_KEY}))
    monkeypatch.setenv("LEADBRIDGE_MONDAY__TOKEN", MONDAY_TOKEN)
    monkeypatch.setenv("LEADBRIDGE_GITHUB__TOKEN", GITHUB_TOKEN)
    monkeypatch.setenv("LEADBRIDGE_MAIL__SMTP__PASSWORD", SMTP_PASSWORD)
    return Settings(google={"service_account_file": key_file})


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _assert_clean(out: str) -> None:
    key_lines = PRIVATE_KEY.splitlines()[1:3]
    for secret in (MONDAY_TOKEN, GITHUB_TOKEN, SMTP_PASSWORD, *key_lines):
        assert secret not in out
    assert "BEGIN PRIVATE KEY" not in out


def test_secret_values_collects_every_secret_of_the_settings(settings: Settings) -> None:
    found = secret_values(settings)
    assert {MONDAY_TOKEN, GITHUB_TOKEN, SMTP_PASSWORD, PRIVATE_KEY} <= set(found)
    assert PRIVATE_KEY.splitlines()[1] in found


def test_secret_values_ignores_an_unreadable_key_file(tmp_path: Path) -> None:
    settings = Settings(google={"service_account_file": tmp_path / "missing.json"})
    assert secret_values(settings) == []


def test_tokens_from_the_config_are_removed_wherever_they_are_logged(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(json=True, secrets=secret_values(settings))
    log = structlog.get_logger("leadbridge.test")
    log.info(f"calling monday with {MONDAY_TOKEN}", item_id="1", effect="lead_folder", attempt=1)
    log.info("request", headers={"Authorization": MONDAY_TOKEN, "API-Version": "2026-07"})
    log.info("smtp", detail=f"login as sales with {SMTP_PASSWORD}", values=[GITHUB_TOKEN])
    log.warning("key", text=PRIVATE_KEY.splitlines()[1], escaped=json.dumps(PRIVATE_KEY))

    out = capsys.readouterr().out
    _assert_clean(out)
    lines = _lines(out)
    assert len(lines) == 4
    assert lines[0]["item_id"] == "1" and lines[0]["effect"] == "lead_folder"
    assert lines[0]["attempt"] == 1
    assert lines[1]["headers"] == {"Authorization": REDACTED, "API-Version": "2026-07"}


def test_an_http_error_carrying_the_token_is_redacted(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(json=True, secrets=secret_values(settings))

    def echo_back(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, text=f"bad credentials: {request.headers['Authorization']}")

    client = httpx.Client(
        transport=httpx.MockTransport(echo_back),
        headers={"Authorization": f"Bearer {GITHUB_TOKEN}"},
    )
    response = client.get(f"https://api.example/v2?access_token={MONDAY_TOKEN}")
    try:
        response.raise_for_status()
    except httpx.HTTPStatusError as error:
        structlog.get_logger().error(
            "effect_failed",
            error=str(error),
            body=error.response.text,
            request_headers=dict(error.request.headers),
            url=error.request.url,
            exc_info=True,
        )
    out = capsys.readouterr().out
    _assert_clean(out)
    library, line = _lines(out)
    # httpx logs every request with its URL at INFO: a library line, redacted like ours.
    assert library["logger"] == "httpx"
    assert "access_token=" in str(library["event"])
    assert "401 Unauthorized" in str(line["error"])
    assert "access_token=" in str(line["url"])


def test_a_token_in_an_exception_and_its_traceback_is_redacted(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(json=True, secrets=secret_values(settings))

    def connect(token: str) -> None:
        raise ConnectionError(f"could not authenticate with token {token!r} as {SMTP_PASSWORD}")

    try:
        connect(MONDAY_TOKEN)
    except ConnectionError:
        structlog.get_logger().exception("cycle_failed")
        logging.getLogger("googleapiclient.http").exception("library saw %s", GITHUB_TOKEN)
    out = capsys.readouterr().out
    _assert_clean(out)
    first, second = _lines(out)
    assert "ConnectionError" in str(first["exception"])
    assert "Traceback" in str(second["exception"])
    assert second["logger"] == "googleapiclient.http"


def test_uncaught_exceptions_in_threads_go_through_redaction(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(json=True, secrets=secret_values(settings))

    def work() -> None:
        raise RuntimeError(f"token={MONDAY_TOKEN}")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    captured = capsys.readouterr()
    _assert_clean(captured.out + captured.err)
    (line,) = _lines(captured.out)
    assert line["event"] == "uncaught exception in a thread"


def test_console_format_is_redacted_too(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(json=False, secrets=secret_values(settings))
    try:
        raise ValueError(f"rejected {GITHUB_TOKEN}")
    except ValueError:
        structlog.get_logger().exception("effect_failed", item_id="7")
    out = capsys.readouterr().out
    _assert_clean(out)
    assert "effect_failed" in out and "item_id" in out
    with pytest.raises(ValueError):
        json.loads(out.splitlines()[0])


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("GET https://api/v2?access_token=abc123xyz&x=1", "abc123xyz"),
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("{'authorization': 'Token sekret-value'}", "sekret-value"),
        ("smtp login failed: password=hunter22", "hunter22"),
        ('{"client_secret": "s3cr3t-val"}', "s3cr3t-val"),
        ("postgresql://leadbridge:pw-in-url@db/state", "pw-in-url"),
        ("token github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_11ABCDEFG"),
        ("google said ya29.a0AfH6SMBx-token", "ya29.a0AfH6SMBx"),
        ("monday eyJhbGciOiJIUzI1NiJ9.eyJ0aWQiOjF9.c2lnbmF0dXJl bad", "eyJhbGciOiJIUzI1NiJ9"),
        ("key: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\n(cut)", "MIIEow"),
    ],
)
def test_secret_shaped_text_is_redacted_without_being_registered(text: str, hidden: str) -> None:
    redacted = Redactor().text(text)
    assert hidden not in redacted
    assert REDACTED in redacted


@pytest.mark.parametrize("pattern", [p for p, _ in _PATTERNS], ids=lambda p: p.pattern[:24])
@given(data=st.data())
def test_text_a_pattern_matches_is_never_skipped_as_harmless(
    pattern: re.Pattern[str], data: st.DataObject
) -> None:
    """The quick test that lets ordinary text skip the patterns keeps every match: ASCII text
    (the quick test proper) and any text (which takes the patterns)."""
    ascii_text = data.draw(st.from_regex(pattern, alphabet=st.characters(codec="ascii")))
    any_text = data.draw(st.from_regex(pattern))
    assert may_be_secret_shaped(ascii_text)
    assert may_be_secret_shaped(any_text)


def test_ordinary_text_is_left_alone() -> None:
    text = "created folder 'Lead 1' for item 42 (effect lead_folder, attempt 2)"
    assert not may_be_secret_shaped(text)
    assert Redactor(["short"]).text(text) == text


def test_registered_secrets_are_removed_in_their_encoded_forms() -> None:
    redactor = Redactor(["p@ss word/+1"])
    for form in ("p@ss word/+1", "p%40ss%20word%2F%2B1", "p%40ss+word%2F%2B1"):
        assert redactor.text(f"x {form} y") == f"x {REDACTED} y"


def test_a_real_process_keeps_the_token_out_of_stdout_and_stderr(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import structlog
        from leadbridge.logs import configure_logging, secret_values
        from leadbridge.settings import Settings
        settings = Settings()
        configure_logging(secrets=secret_values(settings))
        structlog.get_logger().info("loaded", token_hint=settings.monday.token.get_secret_value())
        raise SystemError("crash with " + settings.monday.token.get_secret_value())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={"LEADBRIDGE_MONDAY__TOKEN": MONDAY_TOKEN, "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert MONDAY_TOKEN not in done.stdout + done.stderr
    events = [line["event"] for line in _lines(done.stdout)]
    assert events == ["loaded", "uncaught exception"]
