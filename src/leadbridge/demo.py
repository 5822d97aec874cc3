"""``leadbridge demo``: the whole pipeline, real adapters and service, against the local sandbox.

A scripted sales team moves a dozen leads through triage, negotiation and hub setup (some of
them skipping statuses), and after each round of moves one sync cycle runs, exactly as the
service would run it on its schedule. The summary is built from two independent sources, the
ledger and the sandbox's own record of what was created, so it doubles as an exactly-once check.
"""

from __future__ import annotations

import logging
import shutil
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from leadbridge.adapters.google.drive import EFFECT_KEY
from leadbridge.bootstrap import build_sync_service
from leadbridge.domain.ledger import EffectState, LedgerEntry
from leadbridge.effects.registry import kind_of
from leadbridge.effects.services import DRIVE, ISSUES
from leadbridge.logs import configure_logging, secret_values
from leadbridge.sandbox import (
    DEMO_LEADS,
    Sandbox,
    SeedLead,
    seed_board,
    set_values,
    write_sandbox_config,
)
from leadbridge.service.sync import CycleReport, SyncService
from leadbridge.settings import Settings, load_settings

Step = Mapping[str, str]  # logical status column → label

SQ = {"triage_status": "Send Questionnaire"}
QR = {"triage_status": "Questionnaire Received"}
IS = {"triage_status": "In Scope"}
CQ = {"negotiation_status": "Create Quote"}
QS = {"negotiation_status": "Quote Sent"}
QA = {"negotiation_status": "Quote Accepted"}
CS = {"negotiation_status": "Contract Signed"}

#: What the scripted sales team does to each lead, one step per round (round-robin over leads).
JOURNEYS: tuple[tuple[str, tuple[Step, ...]], ...] = (
    ("the whole pipeline, one status at a time", (SQ, QR, IS, CQ, QS, QA, CS)),
    ("skips statuses between polls", (SQ, IS, CQ, CS)),
    ("arrives in scope and accepts at once", ({**IS, **QA}, CS)),
    ("turns out to be out of scope", (SQ, QR, {"triage_status": "Out of Scope"})),
    ("goes straight to hub setup", (QR, {"hub_status": "Create Hub Issue"})),
    ("is still negotiating", (SQ, QR, IS, CQ, QS)),
)

_STATUS_NAMES = {
    "triage_status": "Triage",
    "negotiation_status": "Negotiation",
    "hub_status": "Hub",
}


@dataclass
class LeadStory:
    item_id: str
    name: str
    journey: str
    steps: tuple[Step, ...]
    path: list[str] = field(default_factory=list)
    changed_at: float | None = None


def _demo_leads(count: int) -> list[SeedLead]:
    """The sandbox's realistic leads, with statuses cleared: the sales team sets them."""
    leads = []
    for index in range(count):
        base = DEMO_LEADS[index % len(DEMO_LEADS)]
        suffix = f" #{index // len(DEMO_LEADS) + 1}" if index >= len(DEMO_LEADS) else ""
        values = {k: v for k, v in base.values.items() if k not in _STATUS_NAMES}
        leads.append(SeedLead(base.name + suffix, values))
    return leads


def run_demo(output: Path, leads: int = 12, seed: int = 7, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    started = time.monotonic()
    output = output.resolve()
    if output.exists():
        shutil.rmtree(output)
    output.mkdir(parents=True)

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    with Sandbox(seed=seed) as sandbox:
        seeds = _demo_leads(leads)
        ids = seed_board(sandbox.state, None, seeds)
        written = write_sandbox_config(
            sandbox,
            output,
            state_url=f"sqlite:///{output / 'leadbridge-demo.db'}",
            # GitHub's advice to space content writes protects a real account; the sandbox
            # has no such limit and the demo should not sit idle.
            github={"seconds_between_writes": 0},
        )
        settings = load_settings(written.path, secrets_dir=written.secrets_dir)
        configure_logging(json=False, secrets=secret_values(settings))
        logging.getLogger().setLevel(logging.ERROR)
        stories = [
            LeadStory(item_id, seed_lead.name, *JOURNEYS[i % len(JOURNEYS)])
            for i, (item_id, seed_lead) in enumerate(zip(ids, seeds, strict=True))
        ]
        say(
            f"leadbridge demo: a sandbox at {sandbox.url} stands in for monday.com, Google and GitHub."
        )
        say(f"Board with {len(stories)} new leads; leadbridge meets the board for the first time.")
        service = build_sync_service(settings)
        first = service.run_cycle()
        say(f"  first cycle: {first.items_read} items read, {first.adopted} effects adopted.\n")

        latencies: list[float] = []
        rounds = max(len(story.steps) for story in stories)
        for number in range(rounds):
            moved = _move(sandbox, settings, stories, number)
            say(f"Round {number + 1} of {rounds}: the sales team changed {len(moved)} lead(s)")
            for line in moved[:4]:
                say(f"    {line}")
            if len(moved) > 4:
                say(f"    … and {len(moved) - 4} more")
            report = service.run_cycle()
            finished = time.monotonic()
            latencies += [finished - s.changed_at for s in stories if s.changed_at is not None]
            for story in stories:
                story.changed_at = None
            say(f"  leadbridge: {_one_line(report)}")
        settle = service.run_cycle()
        if settle.done or settle.failed:
            say(f"  one more cycle: {_one_line(settle)}")
        _record_own_status_writes(service, stories)
        say()
        _summary(say, service, sandbox, settings, stories)
        store_path = output / "leadbridge-demo.db"
        say(f"\nState database: {store_path}")
        say(f"A copy of every e-mail sent: {settings.mail.archive_dir}/*.eml")
        if latencies:
            say(
                f"Status change → effects done: median {statistics.median(latencies):.2f} s, "
                f"max {max(latencies):.2f} s over {len(latencies)} changes (one cycle right after "
                "each change; in production add up to one poll interval)."
            )
        say(f"Demo finished in {time.monotonic() - started:.1f} s.")
        parked = [e for e in service.store.ledger() if e.state is EffectState.PARKED]
        return 0 if not parked and not sandbox.errors else 1


def _move(
    sandbox: Sandbox, settings: Settings, stories: Sequence[LeadStory], number: int
) -> list[str]:
    moved = []
    for story in stories:
        if number >= len(story.steps):
            continue
        step = story.steps[number]
        set_values(
            sandbox.state,
            story.item_id,
            {settings.columns[column].id: label for column, label in step.items()},
        )
        story.changed_at = time.monotonic()
        story.path.append(" + ".join(step.values()))
        change = ", ".join(f"{_STATUS_NAMES[c]} → {label}" for c, label in step.items())
        moved.append(f"{story.name}: {change}")
    return moved


def _record_own_status_writes(service: SyncService, stories: Sequence[LeadStory]) -> None:
    """Show where leadbridge itself moved a status (the questionnaire), as staff would see it."""
    sent = {e.item_id for e in service.store.ledger() if e.effect == "send_questionnaire"}
    for story in stories:
        if story.item_id in sent and "Send Questionnaire" in story.path:
            at = story.path.index("Send Questionnaire") + 1
            story.path.insert(at, "(leadbridge: Questionnaire Sent)")


def _one_line(report: CycleReport) -> str:
    parts = [f"{report.done} effect(s) done"]
    if report.failed:
        parts.append(f"{report.failed} failed (retried next cycle)")
    if report.parked:
        parts.append(f"{report.parked} parked")
    if report.waiting:
        parts.append(f"{report.waiting} waiting for another effect")
    return (
        ", ".join(parts)
        + f"; {report.transitions} status change(s) seen, {report.requests} monday request(s)"
    )


def _summary(
    say: Callable[[str], None],
    service: SyncService,
    sandbox: Sandbox,
    settings: Settings,
    stories: Sequence[LeadStory],
) -> None:
    ledger = service.store.ledger()
    say("What leadbridge did, per lead (links point into the sandbox):")
    for story in stories:
        entries = {e.effect: e for e in ledger if e.item_id == story.item_id}
        say(f"\n{story.name} (item {story.item_id}): {story.journey}")
        say(f"  statuses: {' → '.join(story.path) or 'none'}")
        for name in service.order:
            if name in entries:
                say(f"  {_effect_line(name, entries[name], settings)}")
    snapshot = sandbox.state.snapshot()
    say("\nCounted in the sandbox itself (what really exists there):")
    for line in _sandbox_counts(snapshot, ledger, settings):
        say(f"  {line}")


def _effect_line(name: str, entry: LedgerEntry, settings: Settings) -> str:
    if entry.state is not EffectState.DONE:
        return f"{name}: {entry.state.value} {entry.last_error}".rstrip()
    return f"{name}: {kind_of(settings.pipeline().effects[name].kind).made(entry.ref)}"


def _sandbox_counts(
    snapshot: Mapping[str, Any], ledger: Sequence[LedgerEntry], settings: Settings
) -> list[str]:
    """Objects the sandbox holds, set against the effects the ledger says are done."""
    effects = settings.pipeline().effects
    ports = {name: kind_of(spec.kind).port for name, spec in effects.items()}
    #: Effects that make something (they declare links), not those that only look.
    making = {n for n, spec in effects.items() if list(kind_of(spec.kind).links(spec.params))}
    done = Counter(e.effect for e in ledger if e.state is EffectState.DONE)
    tags = Counter(
        f["appProperties"][EFFECT_KEY].split(":")[0]
        for f in snapshot["drive"]["files"]
        if f["appProperties"].get(EFFECT_KEY)
    )
    mails = snapshot["gmail"]["messages"]
    issues = [
        issue
        for repo in snapshot["github"]["repos"]
        for issue in repo["issues"]
        if "leadbridge:item=" in (issue.get("body") or "")
    ]
    message_ids = Counter(m.get("message_id") for m in mails)
    lines = [
        f"{name}: {tags[name]} Drive file(s) (ledger: {done[name]} done)"
        for name, port in ports.items()
        if port is DRIVE and name in making
    ]
    issue_effects = sum(done[name] for name, port in ports.items() if port is ISSUES)
    return [
        *lines,
        f"e-mails sent: {len(mails)}, distinct Message-IDs: {len(message_ids)}",
        f"issues opened by leadbridge: {len(issues)} (ledger: {issue_effects} done)",
    ]
