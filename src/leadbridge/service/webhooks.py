"""Which monday webhooks leadbridge keeps on its board, and how it tells its own apart.

A webhook is only a hint that a poll is due: one per configured status column
(``change_status_column_value``, any label) and one for new items (``create_item``).

monday lists a board's webhooks without their URLs, so leadbridge remembers each webhook it
creates, by id, in the state database (board fact ``webhooks``), with a fingerprint of the URL
it gave monday. The URL itself is never stored: it carries the path token. Its own webhooks
are the recorded ids of the URL now configured; a recorded webhook of another URL (public_url
or the token changed), of a column no longer configured, or a second one for the same thing
is deleted, and one found missing is created again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from leadbridge.domain.ports import CheckFinding, StateStore, Webhook, WebhookRegistry
from leadbridge.settings import ColumnSettings

log = structlog.get_logger(__name__)

STATUS_EVENT = "change_status_column_value"
CREATE_EVENT = "create_item"
#: The board fact holding ``{webhook id: {"url": fingerprint, "key": WantedWebhook.key}}``.
FACT = "webhooks"
SERVICE = "monday"
REACH_FIX = (
    "make sure monday.webhook.public_url reaches this service's HTTP port (service.http_port) "
    "from the internet: monday creates a webhook only after its challenge is answered there"
)


@dataclass(frozen=True)
class WantedWebhook:
    """One webhook leadbridge keeps: an event, and for status changes the column watched."""

    event: str
    column_id: str | None = None
    #: The column's name in the configuration, for messages.
    column: str | None = None

    @property
    def key(self) -> str:
        return f"{self.event}:{self.column_id}" if self.column_id else self.event

    def config(self) -> dict[str, Any] | None:
        if self.column_id is None:
            return None
        return {"columnId": self.column_id, "columnValue": {"$any$": True}}

    def describe(self) -> str:
        if self.column_id is None:
            return "new items"
        return f"status changes of {self.column} ({self.column_id})"


def wanted_webhooks(columns: Mapping[str, ColumnSettings]) -> tuple[WantedWebhook, ...]:
    """One per status column of the configuration (two names for one column count once),
    then new items."""
    wanted: dict[str, WantedWebhook] = {}
    for name, column in columns.items():
        if column.type == "status" and column.id not in wanted:
            wanted[column.id] = WantedWebhook(STATUS_EVENT, column.id, name)
    return (*wanted.values(), WantedWebhook(CREATE_EVENT))


def fingerprint(url: str) -> str:
    """Names a webhook URL in the state database without storing the secret it holds."""
    return "sha256:" + hashlib.sha256(url.encode()).hexdigest()[:32]


def key_of(webhook: Webhook) -> str:
    """The ``WantedWebhook.key`` a listed webhook would have."""
    column = webhook.config.get("columnId")
    return f"{webhook.event}:{column}" if column else webhook.event


@dataclass(frozen=True)
class Upkeep:
    """What one look at the board's webhooks found and did."""

    #: The token's user: deliveries of its changes are echoes of leadbridge's own writes.
    user_id: str
    kept: tuple[str, ...] = ()
    created: tuple[str, ...] = ()
    #: Created again after being found deleted on monday (by a person, or by monday).
    recreated: tuple[str, ...] = ()
    retired: tuple[str, ...] = ()


class _Records:
    """The board fact, written back after every change so a failure halfway loses nothing."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        stored = store.fact(FACT)
        self.entries: dict[str, dict[str, str]] = {
            str(webhook_id): {"url": str(entry.get("url", "")), "key": str(entry.get("key", ""))}
            for webhook_id, entry in (stored if isinstance(stored, Mapping) else {}).items()
            if isinstance(entry, Mapping)
        }
        self._saved = dict(self.entries)

    def save(self) -> None:
        if self.entries != self._saved:
            self._store.save_fact(FACT, dict(self.entries))
            self._saved = dict(self.entries)


def ensure_webhooks(
    registry: WebhookRegistry, store: StateStore, *, url: str, wanted: Sequence[WantedWebhook]
) -> Upkeep:
    """Make the board carry exactly leadbridge's wanted webhooks for ``url``.

    One call when all is well (the list); a create or delete only for what is off.
    """
    listing = registry.list_webhooks()
    present = {webhook.id: webhook for webhook in listing.webhooks}
    records = _Records(store)
    mine = fingerprint(url)
    # Recorded, but no longer on monday: deleted behind leadbridge's back (or by monday).
    vanished = {
        e["key"] for i, e in records.entries.items() if i not in present and e["url"] == mine
    }
    records.entries = {i: e for i, e in records.entries.items() if i in present}
    records.save()
    wanted_keys = {spec.key for spec in wanted}
    kept: dict[str, str] = {}
    retired: list[str] = []
    for webhook_id, entry in list(records.entries.items()):
        key = entry["key"]
        if entry["url"] == mine and key in wanted_keys and key not in kept:
            kept[key] = webhook_id
            continue
        # Another URL, a column no longer configured, or a second webhook for one thing.
        registry.delete_webhook(webhook_id)
        del records.entries[webhook_id]
        records.save()
        retired.append(webhook_id)
        log.info("webhook_retired", webhook_id=webhook_id, watches=describe(present[webhook_id]))
    created: list[str] = []
    recreated: list[str] = []
    for spec in wanted:
        if spec.key in kept:
            continue
        webhook = registry.create_webhook(url, spec.event, spec.config())
        records.entries[webhook.id] = {"url": mine, "key": spec.key}
        records.save()
        kept[spec.key] = webhook.id
        if spec.key in vanished:
            recreated.append(webhook.id)
            log.warning(
                "webhook_recreated",
                webhook_id=webhook.id,
                watches=spec.describe(),
                reason="it was no longer on monday (deleted by someone, or by monday)",
            )
        else:
            created.append(webhook.id)
            log.info("webhook_created", webhook_id=webhook.id, watches=spec.describe())
    return Upkeep(
        user_id=listing.user_id,
        kept=tuple(i for i in kept.values() if i not in created and i not in recreated),
        created=tuple(created),
        recreated=tuple(recreated),
        retired=tuple(retired),
    )


def remove_webhooks(
    registry: WebhookRegistry, store: StateStore, *, url: str | None
) -> list[Webhook]:
    """Delete leadbridge's webhooks of ``url`` (None: of any URL, webhooks being off);
    never one leadbridge did not create. Returns those deleted."""
    listing = registry.list_webhooks()
    present = {webhook.id: webhook for webhook in listing.webhooks}
    records = _Records(store)
    records.entries = {i: e for i, e in records.entries.items() if i in present}
    records.save()
    mine = fingerprint(url) if url is not None else None
    removed: list[Webhook] = []
    for webhook_id, entry in list(records.entries.items()):
        if mine is not None and entry["url"] != mine:
            continue
        registry.delete_webhook(webhook_id)
        del records.entries[webhook_id]
        records.save()
        removed.append(present[webhook_id])
        log.info("webhook_removed", webhook_id=webhook_id, watches=describe(present[webhook_id]))
    return removed


@dataclass(frozen=True)
class Listed:
    """A webhook of the board, and whether leadbridge made it for the configured URL."""

    webhook: Webhook
    ours: bool


def list_webhooks(registry: WebhookRegistry, store: StateStore, *, url: str | None) -> list[Listed]:
    """Every webhook of the board; ``ours`` for those leadbridge recorded for ``url`` (any
    URL when None)."""
    records = _Records(store).entries
    mine = fingerprint(url) if url is not None else None
    return [
        Listed(
            webhook,
            webhook.id in records and (mine is None or records[webhook.id]["url"] == mine),
        )
        for webhook in registry.list_webhooks().webhooks
    ]


def describe(webhook: Webhook) -> str:
    """A webhook in words for operators: its event, and the column it watches if any."""
    column = webhook.config.get("columnId")
    return f"{webhook.event} of column {column}" if column else webhook.event


def webhook_findings(
    registry: WebhookRegistry,
    store: StateStore,
    *,
    url: str,
    wanted: Sequence[WantedWebhook],
    recheck_seconds: int,
) -> list[CheckFinding]:
    """``leadbridge check``: each webhook of the board, then each wanted one that is missing."""
    listed = list_webhooks(registry, store, url=url)
    findings = [
        CheckFinding(
            SERVICE,
            f"webhook {entry.webhook.id}",
            True,
            describe(entry.webhook)
            + (
                ", leadbridge's"
                if entry.ours
                else ", not leadbridge's (another integration's, or made for another URL)"
            ),
        )
        for entry in listed
    ]
    ours = {key_of(entry.webhook) for entry in listed if entry.ours}
    for spec in wanted:
        if spec.key not in ours:
            findings.append(
                CheckFinding(
                    SERVICE,
                    f"webhook for {spec.describe()}",
                    False,
                    "missing: deliveries for it cannot reach leadbridge, so those changes "
                    "wait for the safety-net poll",
                    "`leadbridge run` creates it at start and looks again every "
                    f"{recheck_seconds} s; if it runs, its log says why it could not "
                    f"(webhooks_check_failed). Else {REACH_FIX}",
                )
            )
    return findings
