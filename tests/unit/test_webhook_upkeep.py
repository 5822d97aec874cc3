"""Which webhooks leadbridge keeps, how it knows its own, and what one check costs.

monday does not list a webhook's URL, so the policy rests on the ids recorded in the state
database: these tests run it against a registry that remembers URLs (as monday does, without
saying) and the real store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.domain.errors import TransientError
from leadbridge.domain.ports import Webhook, WebhookListing
from leadbridge.service.webhooks import (
    FACT,
    ensure_webhooks,
    fingerprint,
    list_webhooks,
    remove_webhooks,
    wanted_webhooks,
    webhook_findings,
)
from leadbridge.settings import ColumnSettings

URL = "https://leadbridge.example.org/monday/webhook/" + "t" * 40
COLUMNS = {
    "triage_status": ColumnSettings(id="status_triage", type="status", labels=("A", "B")),
    "negotiation_status": ColumnSettings(id="status_neg", type="status", labels=("C",)),
    "organization": ColumnSettings(id="text_org", type="text"),
}
WANTED = wanted_webhooks(COLUMNS)
USER = "58000001"


@dataclass
class Registry:
    """monday's side: webhooks with their URLs, and every call made."""

    hooks: dict[str, tuple[Webhook, str]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    fail_create: bool = False
    made: int = 0

    def list_webhooks(self) -> WebhookListing:
        self.calls.append("list")
        return WebhookListing(tuple(hook for hook, _ in self.hooks.values()), USER)

    def create_webhook(self, url: str, event: str, config: Mapping[str, Any] | None) -> Webhook:
        self.calls.append("create")
        if self.fail_create:
            raise TransientError("monday", "Failed to communicate with URL provided.")
        self.made += 1
        hook = Webhook(str(700 + self.made), event, dict(config or {}))
        self.hooks[hook.id] = (hook, url)
        return hook

    def delete_webhook(self, webhook_id: str) -> None:
        self.calls.append("delete")
        del self.hooks[webhook_id]

    def urls(self) -> list[tuple[str, str, str]]:
        return sorted(
            (hook.event, str(hook.config.get("columnId", "")), url)
            for hook, url in self.hooks.values()
        )


EXPECTED = [
    ("change_status_column_value", "status_neg", URL),
    ("change_status_column_value", "status_triage", URL),
    ("create_item", "", URL),
]


def test_one_webhook_per_status_column_and_one_for_new_items() -> None:
    assert [(w.event, w.column_id) for w in WANTED] == [
        ("change_status_column_value", "status_triage"),
        ("change_status_column_value", "status_neg"),
        ("create_item", None),
    ]
    assert WANTED[0].config() == {"columnId": "status_triage", "columnValue": {"$any$": True}}
    assert WANTED[-1].config() is None


def test_the_first_check_creates_them_and_the_next_costs_one_call(store: SqlStateStore) -> None:
    registry = Registry()

    first = ensure_webhooks(registry, store, url=URL, wanted=WANTED)
    assert registry.urls() == EXPECTED
    assert len(first.created) == 3 and first.user_id == USER
    # The URL holds the path token: the database keeps only its fingerprint.
    assert URL not in str(store.fact(FACT))
    assert {e["url"] for e in store.fact(FACT).values()} == {fingerprint(URL)}

    registry.calls.clear()
    second = ensure_webhooks(registry, store, url=URL, wanted=WANTED)
    assert registry.calls == ["list"]
    assert second.created == () and len(second.kept) == 3


def test_a_webhook_deleted_behind_its_back_is_created_again(store: SqlStateStore) -> None:
    registry = Registry()
    ensure_webhooks(registry, store, url=URL, wanted=WANTED)
    gone = next(i for i, (hook, _) in registry.hooks.items() if hook.event == "create_item")
    del registry.hooks[gone]

    found = ensure_webhooks(registry, store, url=URL, wanted=WANTED)

    assert len(found.recreated) == 1 and found.created == ()
    assert registry.urls() == EXPECTED
    assert gone not in store.fact(FACT)


def test_others_webhooks_are_left_alone(store: SqlStateStore) -> None:
    registry = Registry()
    foreign = Webhook("1", "change_status_column_value", WANTED[0].config() or {})
    registry.hooks["1"] = (foreign, "https://zapier.example/hook")

    ensure_webhooks(registry, store, url=URL, wanted=WANTED)
    removed = remove_webhooks(registry, store, url=URL)

    # Same event and config, but not made by leadbridge: created beside it, never removed.
    assert list(registry.hooks) == ["1"]
    assert len(removed) == 3


def test_a_new_url_retires_the_old_webhooks(store: SqlStateStore) -> None:
    registry = Registry()
    ensure_webhooks(registry, store, url=URL, wanted=WANTED)
    moved = "https://new.example.org/monday/webhook/" + "u" * 40

    found = ensure_webhooks(registry, store, url=moved, wanted=WANTED)

    assert len(found.retired) == 3 and len(found.created) == 3
    assert {url for _, _, url in registry.urls()} == {moved}


def test_a_column_no_longer_configured_loses_its_webhook(store: SqlStateStore) -> None:
    registry = Registry()
    ensure_webhooks(registry, store, url=URL, wanted=WANTED)

    fewer = wanted_webhooks({"triage_status": COLUMNS["triage_status"]})
    found = ensure_webhooks(registry, store, url=URL, wanted=fewer)

    assert len(found.retired) == 1
    assert registry.urls() == [EXPECTED[1], EXPECTED[2]]


def test_a_failed_create_keeps_what_was_made(store: SqlStateStore) -> None:
    registry = Registry()
    ensure_webhooks(registry, store, url=URL, wanted=WANTED[:1])
    registry.fail_create = True

    with pytest.raises(TransientError):
        ensure_webhooks(registry, store, url=URL, wanted=WANTED)

    registry.fail_create = False
    registry.calls.clear()
    ensure_webhooks(registry, store, url=URL, wanted=WANTED)
    assert registry.calls == ["list", "create", "create"]
    assert registry.urls() == EXPECTED


def test_remove_with_webhooks_off_removes_every_one_leadbridge_made(
    store: SqlStateStore,
) -> None:
    registry = Registry()
    ensure_webhooks(registry, store, url=URL, wanted=WANTED)
    registry.hooks["1"] = (Webhook("1", "create_item", {}), "https://zapier.example/hook")

    listed = list_webhooks(registry, store, url=None)
    removed = remove_webhooks(registry, store, url=None)

    assert sorted(entry.ours for entry in listed) == [False, True, True, True]
    assert len(removed) == 3 and list(registry.hooks) == ["1"]
    assert store.fact(FACT) == {}


def test_check_findings_name_each_webhook_and_fail_a_missing_one(store: SqlStateStore) -> None:
    registry = Registry()
    ensure_webhooks(registry, store, url=URL, wanted=WANTED)
    gone = next(i for i, (hook, _) in registry.hooks.items() if hook.event == "create_item")
    del registry.hooks[gone]
    registry.hooks["1"] = (Webhook("1", "create_item", {}), "https://zapier.example/hook")

    findings = webhook_findings(registry, store, url=URL, wanted=WANTED, recheck_seconds=21600)

    ok = [f for f in findings if f.ok]
    failed = [f for f in findings if not f.ok]
    assert len(ok) == 3
    assert any("not leadbridge's" in f.detail for f in ok)
    assert [f.what for f in failed] == ["webhook for new items"]
    assert "public_url" in failed[0].fix
