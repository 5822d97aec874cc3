"""Running the real CLI against a sandbox, and counting what it did on the far side.

The counts come from the sandbox's own state (Drive files by their tag, mail by Message-ID,
issues by their hidden marker), never from leadbridge's ledger, so a duplicate that the
ledger does not know about is still seen.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leadbridge.adapters.google.drive import EFFECT_KEY, ITEM_KEY
from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.sandbox import Sandbox, SandboxConfig, write_sandbox_config
from leadbridge.sandbox.world import BOARD_ID, default_columns

COLUMNS = default_columns()
TRIAGE = COLUMNS["triage_status"].labels
NEGOTIATION = COLUMNS["negotiation_status"].labels
HUB = COLUMNS["hub_status"].labels
#: Column id of each status column name, and of each link column the effects write back.
STATUS_IDS = {
    name: COLUMNS[name].id for name in ("triage_status", "negotiation_status", "hub_status")
}
LINK_IDS = {
    name: COLUMNS[name].id for name in ("lead_folder", "pricing_sheet", "price_quote", "hub_issue")
}
TEMPLATES = ("pricing_sheet", "price_quote")
#: Ledger states that mean "not finished yet"; a converged ledger has none of them.
UNFINISHED = {"pending", "running", "failed"}

_MESSAGE_ID = re.compile(r"^<leadbridge\.(\d+)\.([a-z_]+)@")
_MARKER = re.compile(r"<!-- leadbridge:item=(\d+) -->")
#: Settings every e2e run shares: each failure is retried on the next cycle and nothing
#: parks that should not, and GitHub writes are not spaced (the sandbox has no limit).
BASE_OVERRIDES: dict[str, Any] = {
    "retry": {"max_attempts": 30, "backoff_seconds": [0]},
    "github": {"seconds_between_writes": 0},
    # These tests move dozens of leads at once on purpose; the mass-action guard has tests
    # of its own (tests/unit/test_change.py, tests/e2e/test_plan.py).
    "guard": {"max_new_per_kind": 10_000},
}


@dataclass
class Leadbridge:
    """One sandbox and one configuration (with its own SQLite state) in ``directory``."""

    sandbox: Sandbox
    directory: Path
    overrides: dict[str, Any] = field(default_factory=dict)
    config: SandboxConfig = field(init=False)

    def __post_init__(self) -> None:
        self.config = write_sandbox_config(
            self.sandbox, self.directory, **_merged(BASE_OVERRIDES, self.overrides)
        )

    @property
    def database(self) -> Path:
        return self.directory / "leadbridge.db"

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "leadbridge", "--config", str(self.config.path), *args]

    def env(self) -> dict[str, str]:
        """The caller's environment minus any LEADBRIDGE_* that could point elsewhere."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEADBRIDGE_")}
        env["LEADBRIDGE_SECRETS_DIR"] = str(self.config.secrets_dir)
        return env

    def run(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args), env=self.env(), capture_output=True, text=True, timeout=timeout
        )

    def start(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        """Start a command in the background, its output into ``log``.

        Not a pipe: a child whose pipe nobody reads stalls once it is full, and a test that
        kills the child must find it working, not blocked on a write.
        """
        with log.open("wb") as output:
            return subprocess.Popen(
                self.command(*args), env=self.env(), stdout=output, stderr=subprocess.STDOUT
            )

    def sync(self, *extra: str) -> subprocess.CompletedProcess[str]:
        """One cycle that must read the board (exit 0)."""
        result = self.run("sync", "--once", *extra)
        assert result.returncode == 0, _tail(result)
        return result

    def status(self) -> dict[str, Any]:
        result = self.run("status", "--json")
        assert result.returncode in (0, 1), _tail(result)
        document: dict[str, Any] = json.loads(result.stdout)
        # 1 exactly when something needs a person (a parked effect, a held mass action).
        assert result.returncode == int(document["needs_person"]), _tail(result)
        return document

    def ledger(self) -> dict[tuple[str, str], str]:
        """(item, effect) → state, read from the state database in this process.

        The rows ``status --json`` shows, without starting a process for each look: for the
        loops that look after every cycle or kill. Final checks go through ``status``.
        """
        store = SqlStateStore.open(f"sqlite:///{self.database}", BOARD_ID)
        try:
            return {(entry.item_id, entry.effect): entry.state.value for entry in store.ledger()}
        finally:
            store.close()

    def converge(self, *extra: str, cap: int) -> int:
        """Cycles until the ledger has nothing unfinished; returns how many ran (≤ cap)."""
        for cycle in range(1, cap + 1):
            self.run("sync", "--once", *extra)
            if not unfinished_in(self.ledger()):
                return cycle
        raise AssertionError(f"not converged after {cap} cycles: {unfinished(self.status())}")


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = {key: dict(value) if isinstance(value, dict) else value for key, value in base.items()}
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _tail(result: subprocess.CompletedProcess[str], chars: int = 4000) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout[-chars:]}\nstderr:\n{result.stderr[-chars:]}"


def ledger_states(status: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """(item, effect) → ledger state, from ``status --json``."""
    return {
        (lead["item_id"], effect["effect"]): effect["state"]
        for lead in status["leads"]
        for effect in lead["effects"]
    }


def unfinished(status: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    return unfinished_in(ledger_states(status))


def unfinished_in(states: Mapping[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    return {key: state for key, state in states.items() if state in UNFINISHED}


# ---------------------------------------------------------------- what the sales team did


@dataclass
class Progress:
    """How far one lead got in each status column (index into its labels, -1: never set),
    and whether it sat at Send Questionnaire while leadbridge looked."""

    triage: int = -1
    negotiation: int = -1
    hub: int = -1
    questionnaire: bool = False

    def expected(self) -> set[str]:
        """The externally visible effects the default pipeline owes this lead."""
        effects = set()
        if self.questionnaire:
            effects.add("send_questionnaire")
        if self.triage >= TRIAGE.index("Questionnaire Received"):
            effects.add("lead_folder")
        steps = (
            "quote_copies",
            "notify_icsi_quote_sent",
            "notify_icsi_contract",
            "request_invoice",
        )
        effects.update(steps[: self.negotiation + 1])
        if self.negotiation >= NEGOTIATION.index("Contract Signed") or self.hub >= 0:
            effects.add("hub_issue")
        return effects


def progress_of(values: Mapping[str, str]) -> Progress:
    """Progress of a lead whose statuses (by column name, label text) only moved forward."""
    return Progress(
        triage=_index(TRIAGE, values.get("triage_status")),
        negotiation=_index(NEGOTIATION, values.get("negotiation_status")),
        hub=_index(HUB, values.get("hub_status")),
    )


def _index(labels: tuple[str, ...], label: str | None) -> int:
    return labels.index(label) if label in labels else -1


def advance(progress: Progress, values: Mapping[str, str]) -> None:
    """Record a forward move of the sales team."""
    moved = progress_of(values)
    progress.triage = max(progress.triage, moved.triage)
    progress.negotiation = max(progress.negotiation, moved.negotiation)
    progress.hub = max(progress.hub, moved.hub)


def by_column_id(values: Mapping[str, str]) -> dict[str, str]:
    """Status values by column name → by column id, as ``set_values`` takes them."""
    return {STATUS_IDS[name]: label for name, label in values.items()}


# ---------------------------------------------------------------- what happened out there


@dataclass
class Observed:
    """Everything leadbridge made, counted in the sandbox by tag, Message-ID and marker."""

    folders: Counter[str]
    copies: Counter[tuple[str, str]]
    mails: Counter[tuple[str, str]]
    issues: Counter[str]
    snapshot: dict[str, Any]

    def duplicates(self) -> list[str]:
        found = [f"{n} folders for item {i}" for i, n in self.folders.items() if n > 1]
        found += [f"{n} {t} copies for item {i}" for (i, t), n in self.copies.items() if n > 1]
        found += [f"{n} {e} e-mails for item {i}" for (i, e), n in self.mails.items() if n > 1]
        found += [f"{n} hub issues for item {i}" for i, n in self.issues.items() if n > 1]
        return found

    def effects(self) -> dict[str, set[str]]:
        """item → effects seen done out there (quote copies only when both copies exist)."""
        seen: dict[str, set[str]] = {}
        for item in self.folders:
            seen.setdefault(item, set()).add("lead_folder")
        for item in {i for i, _ in self.copies}:
            if all((item, t) in self.copies for t in TEMPLATES):
                seen.setdefault(item, set()).add("quote_copies")
        for item, effect in self.mails:
            seen.setdefault(item, set()).add(effect)
        for item in self.issues:
            seen.setdefault(item, set()).add("hub_issue")
        return seen


def observe(sandbox: Sandbox) -> Observed:
    snapshot = sandbox.state.snapshot()
    folders: Counter[str] = Counter()
    copies: Counter[tuple[str, str]] = Counter()
    for file in snapshot["drive"]["files"]:
        tag = file["appProperties"]
        if file["trashed"] or ITEM_KEY not in tag:
            continue
        effect, _, template = tag[EFFECT_KEY].partition(":")
        if effect == "lead_folder":
            folders[tag[ITEM_KEY]] += 1
        elif effect == "quote_copies":
            copies[(tag[ITEM_KEY], template)] += 1
    mails: Counter[tuple[str, str]] = Counter()
    for message in snapshot["gmail"]["messages"]:
        match = _MESSAGE_ID.match(message["message_id"])
        assert match, f"an e-mail without leadbridge's Message-ID: {message['message_id']!r}"
        mails[(match.group(1), match.group(2))] += 1
    issues: Counter[str] = Counter()
    for repo in snapshot["github"]["repos"]:
        for issue in repo["issues"]:
            marker = issue_marker(issue["body"])
            if marker:
                issues[marker] += 1
    return Observed(folders, copies, mails, issues, snapshot)


def issue_marker(body: str | None) -> str | None:
    """The item id in a hub issue's hidden marker; None for issues people opened by hand."""
    match = _MARKER.search(body or "")
    return match.group(1) if match else None


def expected_effects(progress: Mapping[str, Progress]) -> dict[str, set[str]]:
    return {item: effects for item, p in progress.items() if (effects := p.expected())}


def assert_exactly_once(sandbox: Sandbox, progress: Mapping[str, Progress]) -> Observed:
    """Every owed effect exists out there once, and nothing else does."""
    observed = observe(sandbox)
    assert observed.duplicates() == []
    assert observed.effects() == expected_effects(progress)
    return observed


#: The default pipeline's completeness checks: on the demo leads (MANIAC-T fields empty, no
#: contract file filed) they wait for people, which is not a fault of leadbridge's.
COMPLETENESS_CHECKS = frozenset({"check_maniac_t", "check_signed_contract"})


def assert_nothing_parked(status: Mapping[str, Any]) -> None:
    states = ledger_states(status)
    unfinished = {
        k: s
        for k, s in states.items()
        if s not in ("done", "skipped") and not (s == "waiting" and k[1] in COMPLETENESS_CHECKS)
    }
    assert unfinished == {}


def counts(observed: Observed) -> str:
    """A one-line figure for the test output."""
    return (
        f"folders={sum(observed.folders.values())} copies={sum(observed.copies.values())} "
        f"mails={sum(observed.mails.values())} issues={sum(observed.issues.values())}"
    )


def pace(started: float) -> str:
    return f"{time.monotonic() - started:.1f}s"


def item_label(sandbox: Sandbox, item_id: str, column: str) -> str:
    """The label a status column shows on an item now ("" when empty)."""
    with sandbox.state.lock:
        board = sandbox.state.board()
        stored = board.items[item_id].values.get(STATUS_IDS[column])
        return board.columns[STATUS_IDS[column]].labels.get(stored["index"], "") if stored else ""
