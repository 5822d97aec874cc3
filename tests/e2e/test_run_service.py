"""``leadbridge run`` as a real process against the sandbox: the promises an operator relies on.

The runtime tests in ``tests/service_runtime`` prove signals, health and takeover with a fake
sync service; these prove the same promises hold for the real service, whose effects reach
real HTTP APIs. What was done is always counted in the sandbox itself (Drive files by their
tag, e-mails by Message-ID, issues by their hidden marker), never taken from the ledger alone,
so a duplicate the ledger does not know about is still seen.

The first cycle on a board adopts what its items already imply, so every test starts the
leads without statuses, lets a first cycle pass, and only then moves them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from leadbridge.sandbox import DEMO_LEADS, Sandbox, SandboxConfig, SeedLead, seed_board
from leadbridge.sandbox import set_values as sandbox_set_values
from leadbridge.sandbox.world import default_columns
from tests.e2e.support import Observed, observe
from tests.service_runtime.support import PATIENCE, get, wait_for

pytestmark = pytest.mark.e2e


COLUMNS = default_columns()
#: One move that owes every kind of effect: Questionnaire Received owes the folder, Contract
#: Signed owes every negotiation effect before it (level-triggered) and the hub issue.
MOVE = {
    COLUMNS["triage_status"].id: "Questionnaire Received",
    COLUMNS["negotiation_status"].id: "Contract Signed",
}
#: What MOVE owes each lead, by effect name (the default pipeline).
EFFECTS = (
    "lead_folder",
    "quote_copies",
    "notify_icsi_quote_sent",
    "notify_icsi_contract",
    "request_invoice",
    "hub_issue",
)
EMAILS = ("notify_icsi_quote_sent", "notify_icsi_contract", "request_invoice")


# ---------------------------------------------------------------- the service as a process


class Service:
    """A ``leadbridge run`` child: its stdout (JSON lines) and stderr, kept whole."""

    def __init__(self, config: SandboxConfig, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            _command(config, "run"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(
                target=self._read, args=(self.process.stdout, self.stdout), daemon=True
            ),
            threading.Thread(
                target=self._read, args=(self.process.stderr, self.stderr), daemon=True
            ),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    def events(self) -> list[dict[str, Any]]:
        """Every stdout line so far, parsed (a line that is not JSON is kept as text)."""
        parsed = []
        for line in list(self.stdout):
            try:
                parsed.append(json.loads(line))
            except ValueError:
                parsed.append({"event": "<not json>", "text": line})
        return parsed

    def named(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.events() if line.get("event") == event]

    def wait_event(self, event: str, count: int = 1, timeout: float = PATIENCE) -> dict[str, Any]:
        """The ``count``-th line of this event, waiting for it; fails if the child dies first."""

        def seen() -> dict[str, Any] | None:
            lines = self.named(event)
            if len(lines) >= count:
                return lines[count - 1]
            assert self.process.poll() is None, f"exited before {event!r}: {self.output()}"
            return None

        found: dict[str, Any] = wait_for(seen, f"{count} {event!r} line(s)", timeout)
        return found

    @property
    def port(self) -> int:
        return int(self.wait_event("http_listening")["port"])

    def health(self) -> tuple[int, dict[str, Any]]:
        status, body = get(f"http://127.0.0.1:{self.port}/healthz")
        return status, json.loads(body)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of ``/metrics`` by (name, sorted labels)."""
        status, body = get(f"http://127.0.0.1:{self.port}/metrics")
        assert status == 200
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body.decode())
            for sample in family.samples
        }

    def finish(self, timeout: float = PATIENCE) -> int:
        """Wait for the exit and for both pipes to be read to their end."""
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout)
        return code

    def output(self) -> str:
        tail = "".join(self.stdout[-40:])
        return f"exit {self.process.poll()}\nstdout:\n{tail}\nstderr:\n{''.join(self.stderr)}"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.finish()


def _command(config: SandboxConfig, *args: str) -> list[str]:
    return [sys.executable, "-m", "leadbridge", "--config", str(config.path), *args]


def _env(config: SandboxConfig, **extra: str) -> dict[str, str]:
    """The caller's environment minus any LEADBRIDGE_* that could point the child elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADBRIDGE_")}
    return {**env, "LEADBRIDGE_SECRETS_DIR": str(config.secrets_dir), **extra}


def _until(condition: Callable[[], Any], what: str, *watched: Service) -> Any:
    """``wait_for`` that, when it gives up, shows what the watched children were doing."""
    try:
        return wait_for(condition, what)
    except AssertionError as error:
        raise AssertionError("\n".join([str(error), *(s.output() for s in watched)])) from None


def _cli(
    config: SandboxConfig, *args: str, codes: tuple[int, ...] = (0,)
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        _command(config, *args), env=_env(config), capture_output=True, text=True, timeout=240
    )
    assert result.returncode in codes, f"{args}: {result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _ledger(config: SandboxConfig) -> dict[tuple[str, str], str]:
    """(item, effect) → state of the effects that act on the far side (``EFFECTS``), as
    ``leadbridge status --json`` shows them to operators.

    The completeness checks (MANIAC-T fields, the signed contract) wait for people by design
    and have tests of their own (tests/unit/test_completeness.py).
    """
    # status exits 1 when something needs a person (a parked effect, a held mass action).
    status = json.loads(_cli(config, "status", "--json", codes=(0, 1)).stdout)
    return {
        (lead["item_id"], effect["effect"]): effect["state"]
        for lead in status["leads"]
        for effect in lead["effects"]
        if effect["effect"] in EFFECTS
    }


# ---------------------------------------------------------------- the far side


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=11) as running:
        yield running
        assert running.errors == [], "the sandbox itself failed:\n" + "\n".join(running.errors)


def _new_leads(sandbox: Sandbox, count: int) -> list[str]:
    """Realistic leads with no status at all, so the first cycle adopts nothing."""
    statuses = {"triage_status", "negotiation_status", "hub_status"}
    leads = [
        SeedLead(lead.name, {k: v for k, v in lead.values.items() if k not in statuses})
        for lead in DEMO_LEADS[:count]
    ]
    return seed_board(sandbox.state, None, leads)


def _move(sandbox: Sandbox, items: list[str]) -> None:
    for item in items:
        sandbox_set_values(sandbox.state, item, MOVE)


def _config(sandbox: Sandbox, directory: Path, **overrides: Any) -> SandboxConfig:
    from leadbridge.sandbox import write_sandbox_config

    service = {"interval_seconds": 1, "http_host": "127.0.0.1", "http_port": 0}
    return write_sandbox_config(
        sandbox,
        directory,
        github={"seconds_between_writes": 0},
        **{**overrides, "service": {**service, **overrides.get("service", {})}},
    )


def _assert_exactly_once(sandbox: Sandbox, items: list[str]) -> Observed:
    """Each owed effect exists exactly once out there, and nothing else does."""
    observed = observe(sandbox)
    assert observed.duplicates() == []
    assert observed.effects() == {item: set(EFFECTS) for item in items}
    return observed


def _assert_all_done_once(sandbox: Sandbox, config: SandboxConfig, items: list[str]) -> None:
    """Each owed effect exists exactly once out there, and the ledger calls each one done."""
    _assert_exactly_once(sandbox, items)
    assert _ledger(config) == {(i, effect): "done" for i in items for effect in EFFECTS}


def _all_created(sandbox: Sandbox, items: list[str]) -> bool:
    """Every owed effect exists at least once: the point to wait for, so that a duplicate
    then fails the exact count at once, showing itself, instead of timing out the wait."""
    seen = observe(sandbox).effects()
    return all(seen.get(item, set()) >= set(EFFECTS) for item in items)


# ---------------------------------------------------------------- 1. SIGTERM mid-effect


def test_sigterm_mid_effect_exits_0_with_the_effect_recorded_and_nothing_doubled(
    sandbox: Sandbox, tmp_path: Path, services: Callable[..., Service]
) -> None:
    items = _new_leads(sandbox, 2)
    # A long interval: the run's first poll (at start) is the only one, and its deadline is
    # far away, so only the signal can end the cycle early.
    config = _config(sandbox, tmp_path, service={"interval_seconds": 60})
    _cli(config, "sync", "--once")  # meets the board: nothing to adopt, no status set yet
    _move(sandbox, items)
    # The first e-mail is held by the "server" for a while: it is in flight when SIGTERM comes.
    held = sandbox.faults.add("gmail", "messages.send", "latency", seconds=4, times=1)
    service = services(config, _env(config))
    _until(lambda: held.fired == 1, "the e-mail to be in flight", service)
    service.process.send_signal(signal.SIGTERM)

    assert service.finish() == 0, service.output()
    events = service.events()
    names = [line.get("event") for line in events]
    signalled = names.index("signal_received")
    in_flight = [line for line in events[:signalled] if line.get("event") == "effect_started"][-1]
    assert in_flight["effect"] in EMAILS
    # The effect in flight finished after the signal and was recorded; no other one started.
    # The write-backs of the effects done before it (one request for all) end them after it.
    after = events[signalled:]
    ended = [line for line in after if line["event"].startswith("effect_")]
    assert {line["event"] for line in ended} == {"effect_done"}
    assert (in_flight["item_id"], in_flight["effect"]) in {
        (line["item_id"], line["effect"]) for line in ended
    }
    started_before = {
        (line["item_id"], line["effect"])
        for line in events[:signalled]
        if line.get("event") == "effect_started"
    }
    assert {(line["item_id"], line["effect"]) for line in ended} <= started_before
    assert (after[0]["event"], names[-1]) == ("signal_received", "service_stopped")
    cycle = [line for line in after if line["event"] == "cycle_finished"]
    assert cycle and cycle[0]["interrupted"] is True
    ledger = _ledger(config)
    assert "running" not in ledger.values()
    assert ledger[(in_flight["item_id"], in_flight["effect"])] == "done"
    # The signal left effects owed (the cycle stopped) — one more cycle does the rest once.
    assert len(ledger) < len(items) * len(EFFECTS)

    _cli(config, "sync", "--once")
    _assert_all_done_once(sandbox, config, items)
    assert sandbox.state.request_count("gmail", "messages.send") == len(items) * len(EMAILS)


# ---------------------------------------------------------------- 2. /healthz and /metrics


def test_healthz_turns_503_with_a_reason_while_monday_fails_and_200_once_it_recovers(
    sandbox: Sandbox, tmp_path: Path, services: Callable[..., Service]
) -> None:
    _new_leads(sandbox, 1)
    config = _config(sandbox, tmp_path)
    service = services(config, _env(config))
    status, body = _until(
        lambda: (health := service.health())[1].get("status") == "ok" and health,
        "a successful poll",
        service,
    )
    assert status == 200 and body["last_cycle"]["read_ok"] is True
    polled_before = datetime.fromisoformat(body["last_successful_poll"])

    outage = sandbox.faults.add("monday", "*", "status", status=500, probability=1.0)
    # The failing cycle itself retries monday for a few seconds, so /healthz may turn 503
    # (no success for three 1 s intervals) before that cycle has recorded its error.
    status, body = _until(
        lambda: (health := service.health())[0] == 503 and "last_error" in health[1] and health,
        "/healthz to turn 503 with the failed poll's error",
        service,
    )
    assert outage.fired > 0
    assert body["status"] == "failing"
    assert body["reason"].startswith("no successful poll for ")
    assert "monday" in body["last_error"] and "500" in body["last_error"]
    assert body["reason"].endswith(body["last_error"])

    sandbox.faults.clear()
    status, body = _until(
        lambda: (health := service.health())[0] == 200 and health, "/healthz to recover", service
    )
    assert body["status"] == "ok" and "last_error" not in body
    assert datetime.fromisoformat(body["last_successful_poll"]) > polled_before
    service.process.send_signal(signal.SIGTERM)
    assert service.finish() == 0, service.output()


def _value(
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_after_known_cycles_match_what_the_sandbox_shows(
    sandbox: Sandbox, tmp_path: Path, services: Callable[..., Service]
) -> None:
    items = _new_leads(sandbox, 2)
    config = _config(sandbox, tmp_path)
    started = time.time()
    service = services(config, _env(config))
    service.wait_event("cycle_finished")
    _move(sandbox, items)
    _until(lambda: _all_created(sandbox, items), "every effect out there", service)
    done = len(items) * len(EFFECTS)
    _assert_exactly_once(sandbox, items)
    service.wait_event("effect_done", count=done)
    # One whole cycle after the last effect: every gauge it sets has been set since.
    finished = len(service.named("cycle_finished"))
    service.wait_event("cycle_finished", count=finished + 2)

    cycles_before = len(service.named("cycle_finished"))
    monday_before = sandbox.state.request_count("monday")
    metrics = service.metrics()
    service.process.send_signal(signal.SIGTERM)
    assert service.finish() == 0, service.output()
    # Upper bounds taken after the exit, when every line has been read: later, never less.
    cycles_after = len(service.named("cycle_started"))
    monday_after = sandbox.state.request_count("monday")

    def value(name: str, **labels: str) -> float:
        return _value(metrics, name, **labels)

    last_poll = value("leadbridge_last_successful_poll_timestamp_seconds")
    assert started < last_poll < time.time()
    assert cycles_before <= value("leadbridge_poll_duration_seconds_count") <= cycles_after
    # One thread polls, so at most one monday request was in flight during the scrape.
    monday_ok = value("leadbridge_api_requests_total", service="monday", outcome="ok")
    assert monday_before - 1 <= monday_ok <= monday_after
    assert value("leadbridge_api_requests_total", service="monday", outcome="error") == 0
    assert monday_before - 1 <= value("leadbridge_monday_calls_today") <= monday_after
    assert value("leadbridge_transitions_total", column="triage_status") == len(items)
    assert value("leadbridge_transitions_total", column="negotiation_status") == len(items)
    assert value("leadbridge_transitions_total", column="hub_status") == 0
    created = observe(sandbox)
    folders, copies = sum(created.folders.values()), sum(created.copies.values())
    assert value("leadbridge_effects_total", kind="drive_folder", outcome="done") == folders
    assert value("leadbridge_effects_total", kind="drive_copies", outcome="done") * 2 == copies
    mails = sum(created.mails.values())
    assert value("leadbridge_effects_total", kind="email", outcome="done") == mails
    issues = sum(created.issues.values())
    assert value("leadbridge_effects_total", kind="hub_issue", outcome="done") == issues
    ended_done = [
        v
        for (name, labels), v in metrics.items()
        if name == "leadbridge_effects_total" and ("outcome", "done") in labels
    ]
    assert sum(ended_done) == done
    assert value("leadbridge_parked_effects") == 0
    assert _ledger(config) == {(i, effect): "done" for i in items for effect in EFFECTS}


# ---------------------------------------------------------------- 3. two replicas on PostgreSQL


def _pairs(service: Service, event: str) -> list[tuple[str, str]]:
    """(item, effect) of each ``event`` line about the effects that act on the far side."""
    return [
        (line["item_id"], line["effect"])
        for line in service.named(event)
        if line["effect"] in EFFECTS
    ]


@pytest.mark.postgres
def test_two_replicas_on_postgres_one_acts_the_other_takes_over_after_sigkill(
    sandbox: Sandbox,
    tmp_path: Path,
    services: Callable[..., Service],
    postgres_url: str,
    record_property: Callable[[str, object], None],
) -> None:
    items = _new_leads(sandbox, 2)
    # A cycle starts effects for 0.8 of the interval: at 1 s, a slow machine's cycle stops
    # after the folders, and the first replica would die having finished nothing.
    config = _config(sandbox, tmp_path, state_url=postgres_url, service={"interval_seconds": 4})
    first = services(config, _env(config))
    first.wait_event("cycle_finished")
    second = services(config, _env(config))
    status, body = _until(
        lambda: (health := second.health())[1].get("role") == "standby" and health,
        "the second replica to stand by",
        first,
        second,
    )
    assert status == 200 and body["standby"] is True

    # The cycle's write-backs (one request for all of them) hang: every effect of the cycle
    # was carried out and recorded as running, but not yet as done, when the active replica
    # dies.
    hang = sandbox.faults.add(
        "monday", "change_multiple_column_values", "latency", seconds=5, times=1
    )
    _move(sandbox, items)
    _until(lambda: hang.fired == 1, "a write-back in flight", first, second)
    assert second.named("cycle_started") == [], "the standby replica ran a cycle"
    killed_at = time.time()
    first.process.send_signal(signal.SIGKILL)
    first.finish()

    acquired = second.wait_event("runner_lock_acquired")
    takeover = datetime.fromisoformat(acquired["timestamp"]).timestamp() - killed_at
    record_property("takeover_seconds", round(takeover, 2))
    _until(lambda: _all_created(sandbox, items), "the survivor to finish the work", second)
    _until(
        lambda: (
            "running" not in _ledger(config).values()
            and len(_pairs(first, "effect_done")) + len(_pairs(second, "effect_done"))
            == len(items) * len(EFFECTS)
        ),
        "every effect recorded done",
        second,
    )
    second.process.send_signal(signal.SIGTERM)
    assert second.finish() == 0, second.output()

    _assert_all_done_once(sandbox, config, items)
    done_first, done_second = _pairs(first, "effect_done"), _pairs(second, "effect_done")
    assert done_first and done_second
    assert sorted(done_first + done_second) == sorted(
        (i, effect) for i in items for effect in EFFECTS
    )
    # The effects cut off by the kill (those whose write-backs were in the hung request) are
    # the ones the survivor resumed, by lookup, not anew.
    cut_off = set(_pairs(first, "effect_started")) - set(done_first)
    resumed = {
        (line["item_id"], line["effect"])
        for line in second.named("effect_started")
        if line["interrupted_before"]
    }
    assert cut_off and cut_off == resumed
    assert {effect for _, effect in cut_off} <= {"lead_folder", "quote_copies", "hub_issue"}
    assert sandbox.state.request_count("github", "issues.create") == len(items)


# ---------------------------------------------------------------- 4. no secret in the output


def test_tokens_from_env_echoed_in_http_errors_never_reach_stdout_or_stderr(
    sandbox: Sandbox, tmp_path: Path, services: Callable[..., Service]
) -> None:
    # Distinctive values, so any leak is found verbatim (and not in a look-alike).
    monday_token = "mnd-e2e-Secret-4f1c9a77b2"
    github_token = "ghtok-e2e-Secret-93d0c1ee5a"
    sandbox.state.monday.token = monday_token
    sandbox.state.github.token = github_token
    items = _new_leads(sandbox, 1)
    config = _config(sandbox, tmp_path, retry={"backoff_seconds": [0]})
    for secret_file in ("monday__token", "github__token"):
        (config.secrets_dir / secret_file).unlink()
    env = _env(config, LEADBRIDGE_MONDAY__TOKEN=monday_token, LEADBRIDGE_GITHUB__TOKEN=github_token)
    service = services(config, env)
    service.wait_event("cycle_finished")

    echo = f"token {monday_token} is not allowed; Authorization: {monday_token}"
    board_down = sandbox.faults.add(
        "monday",
        "items_page",
        "status",
        status=500,
        probability=1.0,
        body={"errors": [{"message": echo}], "error_message": echo, "status_code": 500},
    )
    service.wait_event("board_read_failed")
    sandbox.faults.clear()
    issue_down = sandbox.faults.add(
        "github",
        "issues.create",
        "status",
        status=500,
        times=1,
        body={"message": f"bad credentials {github_token}", "token": github_token},
    )
    _move(sandbox, items)
    _until(lambda: _all_created(sandbox, items), "every effect after the faults", service)
    _assert_exactly_once(sandbox, items)
    _, health = service.health()
    service.process.send_signal(signal.SIGTERM)
    assert service.finish() == 0, service.output()

    assert board_down.fired >= 1 and issue_down.fired == 1
    # The monday error was reported with the echoed token cut out, so the text was looked at;
    # the GitHub failure was reported too (its adapter does not quote the body at all).
    read_failure = service.named("board_read_failed")[0]["error"]
    assert "HTTP 500" in read_failure and read_failure.count("[REDACTED]") == 2
    assert [line["effect"] for line in service.named("effect_failed")] == ["hub_issue"]
    output = "".join(service.stdout) + "".join(service.stderr)
    for token in (monday_token, github_token):
        assert token not in output
        assert token not in json.dumps(health)
