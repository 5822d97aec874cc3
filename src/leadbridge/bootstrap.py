"""The one place that turns settings into wired adapters and a ready SyncService.

Adapters are built only for the services the pipeline uses, so a deployment without GitHub
needs no GitHub token, and SDKs of unused services are never imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.domain.errors import ExternalError
from leadbridge.domain.ledger import RetryPolicy
from leadbridge.domain.ports import Board, CheckFinding, Drive, IssueTracker, LiveCheck, Mailer
from leadbridge.service.effects import Environment, Ports
from leadbridge.service.sync import SyncOptions, SyncService
from leadbridge.settings import DriveFolderEffect, Settings


@dataclass(frozen=True)
class Adapters:
    board: Board
    drive: Drive | None
    mailer: Mailer | None
    issues: IssueTracker | None


def _board(settings: Settings) -> Board:
    from leadbridge.adapters.monday.board import MondayBoard

    return MondayBoard.from_settings(settings)


def _drive(settings: Settings) -> Drive | None:
    if not (settings.uses("drive_folder") or settings.uses("drive_copies")):
        return None
    from leadbridge.adapters.google.drive import GoogleDrive

    return GoogleDrive.from_settings(settings)


def _mailer(settings: Settings) -> Mailer | None:
    if not settings.uses("email"):
        return None
    from leadbridge.adapters.mail.factory import build_mailer

    return build_mailer(settings)


def _issues(settings: Settings) -> IssueTracker | None:
    if not settings.uses("hub_issue"):
        return None
    from leadbridge.adapters.github.issues import GitHubIssues

    return GitHubIssues.from_settings(settings)


_BUILDERS: tuple[tuple[str, Callable[[Settings], Any]], ...] = (
    ("monday", _board),
    ("google", _drive),
    ("mail", _mailer),
    ("github", _issues),
)


def build_adapters(settings: Settings) -> Adapters:
    board, drive, mailer, issues = (build(settings) for _, build in _BUILDERS)
    return Adapters(board, drive, mailer, issues)


def live_checks(settings: Settings) -> list[CheckFinding]:
    """Every adapter's own check; one that cannot even be built is one failed finding."""
    findings: list[CheckFinding] = []
    for service, build in _BUILDERS:
        try:
            adapter: LiveCheck | None = build(settings)
        except ExternalError as error:
            findings.append(
                CheckFinding(service, "set up the client", False, error.message, error.fix)
            )
            continue
        if adapter is not None:
            findings.extend(adapter.check())
    return findings


def environment(settings: Settings) -> Environment:
    return Environment(
        leads_folder_id=settings.google.leads_folder_id,
        issue_labels=settings.github.labels,
        folder_link_columns={
            name: effect.link_column
            for name, effect in settings.effects.items()
            if isinstance(effect, DriveFolderEffect) and effect.link_column
        },
    )


def open_store(settings: Settings) -> SqlStateStore:
    return SqlStateStore.open(settings.state.url, settings.monday.board_id)


def build_sync_service(
    settings: Settings,
    *,
    dry_run: bool = False,
    backfill: bool = False,
    adapters: Adapters | None = None,
    store: SqlStateStore | None = None,
    now: Callable[[], datetime] | None = None,
) -> SyncService:
    adapters = adapters or build_adapters(settings)
    options = SyncOptions(
        policy=RetryPolicy(settings.retry.max_attempts, settings.retry.backoff_seconds),
        full_reconcile_every=timedelta(minutes=settings.monday.full_reconcile_minutes),
        notes=settings.notes.post,
        backfill=backfill,
        dry_run=dry_run,
    )
    return SyncService(
        board_id=settings.monday.board_id,
        pipeline=settings.pipeline(),
        store=store or open_store(settings),
        ports=Ports(adapters.board, adapters.drive, adapters.mailer, adapters.issues),
        env=environment(settings),
        options=options,
        now=now,
    )
