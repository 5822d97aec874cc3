"""The webhook receiver: only monday's deliveries count, and a burst of them is one poll.

Played without a scheduler: ``PollSoon`` hands the poll it asks for to a list the test fires
by hand, and a hand-moved clock stands in for time, so a debounce is exact.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from leadbridge.domain.errors import TransientError
from leadbridge.logs import Redactor, secret_values
from leadbridge.runtime.http import HealthServer
from leadbridge.runtime.pacing import PollPacing
from leadbridge.runtime.webhooks import (
    REPLAY_SECONDS,
    Answer,
    PollSoon,
    WebhookReceiver,
    WebhookUpkeep,
)
from leadbridge.service.webhooks import Upkeep
from leadbridge.settings import ServiceSettings, Settings

from .doubles import T0, Clock, ScriptedService, coordinator

BOARD = "1140216585"
TOKEN = "pT0k3n-" + "x" * 33
PATH = f"/monday/webhook/{TOKEN}"
URL = f"https://leadbridge.example.org{PATH}"
SECRET = "monday-app-signing-secret-0123456789abcdef"
DEBOUNCE = 3.0


class Harness:
    """A receiver whose hints go through a real ``PollSoon`` into ``scheduled``."""

    def __init__(self, *, signing_secret: str | None = None) -> None:
        self.clock = Clock()
        self.scheduled: list[tuple[datetime, Callable[[], None]]] = []
        self.polls: list[datetime] = []
        self.soon = PollSoon(
            debounce_seconds=DEBOUNCE,
            poll=lambda: self.polls.append(self.clock()),
            schedule=lambda when, fire: self.scheduled.append((when, fire)),
            now=self.clock,
        )
        self.receiver = WebhookReceiver(
            url=URL,
            paths={PATH},
            board_id=BOARD,
            signing_secret=signing_secret,
            hint=self.soon.hint,
            clock=lambda: (self.clock() - T0).total_seconds(),
        )

    def post(self, body: Any, *, path: str = PATH, authorization: str | None = None) -> Answer:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.receiver.receive(path, authorization, raw)

    def fire_due(self) -> None:
        """Run every scheduled poll whose time has come, as the scheduler would."""
        due = [entry for entry in self.scheduled if entry[0] <= self.clock()]
        self.scheduled = [entry for entry in self.scheduled if entry[0] > self.clock()]
        for _, fire in due:
            fire()


def delivery(trigger: str = "504b2eb76c80f672a18f892c0f700e41", **event: Any) -> dict[str, Any]:
    """A status change as monday delivers it (the reference sample, on this board)."""
    return {
        "event": {
            "userId": 9603417,
            "originalTriggerUuid": None,
            "boardId": int(BOARD),
            "groupId": "topics",
            "pulseId": 1772099344,
            "pulseName": "Lead",
            "columnId": "status",
            "columnType": "color",
            "columnTitle": "Status",
            "value": {"label": {"index": 3, "text": "In Scope"}, "post_id": None},
            "previousValue": None,
            "changedAt": 1633944017.473193,
            "isTopGroup": True,
            "app": "monday",
            "type": "update_column_value",
            "triggerTime": "2021-10-11T09:20:18.022Z",
            "subscriptionId": 73761176,
            "triggerUuid": trigger,
            **event,
        }
    }


def signed(*, key: str = SECRET, **claims: Any) -> str:
    """A JWT as monday signs it; a claim given as None is left out."""
    now = int(time.time())
    body = {"aud": URL, "iat": now, "exp": now + 60, "accountId": 1, "userId": 2, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="HS256")


# ---------------------------------------------------------------- the challenge and the path


def test_the_challenge_is_echoed_and_costs_no_poll() -> None:
    harness = Harness(signing_secret=SECRET)

    answer = harness.post({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdrrWBV"})

    assert answer == Answer(200, {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdrrWBV"})
    assert harness.scheduled == []


def test_a_wrong_path_token_is_not_found() -> None:
    harness = Harness()

    answer = harness.post(delivery(), path="/monday/webhook/" + "y" * 40)

    assert answer.status == 404
    assert harness.receiver.serves("/monday/webhook/guess")
    assert not harness.receiver.serves("/healthz")
    assert harness.scheduled == []


# ---------------------------------------------------------------- the signature


def test_a_delivery_signed_for_this_url_asks_for_a_poll() -> None:
    harness = Harness(signing_secret=SECRET)

    answer = harness.post(delivery(), authorization=signed())
    bearer = harness.post(delivery("other"), authorization="Bearer " + signed())

    assert answer.status == 200 and bearer.status == 200
    assert len(harness.scheduled) == 1


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "no Authorization header"),
        (lambda: signed(exp=int(time.time()) - 120), "expired"),
        (lambda: signed(aud="https://elsewhere.example/monday/webhook"), "another URL"),
        (lambda: signed(key="not-the-signing-secret-0123456789abcdef"), "signature"),
        (lambda: "not.a.jwt", "not a valid JWT"),
        (lambda: signed(exp=None), "not a valid JWT"),
    ],
    ids=["missing", "expired", "wrong-audience", "wrong-signature", "garbage", "no-expiry"],
)
def test_an_unverified_delivery_is_refused_and_costs_nothing(
    authorization: Callable[[], str] | None, reason: str
) -> None:
    harness = Harness(signing_secret=SECRET)

    answer = harness.post(delivery(), authorization=authorization() if authorization else None)

    assert answer.status == 401
    assert reason in answer.body["error"]
    assert harness.scheduled == []
    # Its triggerUuid was not remembered: monday's own delivery of it still counts.
    assert harness.post(delivery(), authorization=signed()).status == 200
    assert len(harness.scheduled) == 1


# ---------------------------------------------------------------- what a delivery may not be


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[1, 2]",
        {"hello": "world"},
        {"event": "update_column_value"},
        {"event": {"boardId": int(BOARD)}},
        {"event": {"triggerUuid": "abc"}},
        b"{}" + b" " * (70 * 1024),
    ],
    ids=["not-json", "not-utf8", "array", "no-event", "event-text", "no-uuid", "no-board", "big"],
)
def test_a_malformed_body_is_refused_and_costs_nothing(body: Any) -> None:
    harness = Harness()

    answer = harness.post(body)

    assert answer.status in (400, 413)
    assert harness.scheduled == []


def test_another_board_s_delivery_is_ignored() -> None:
    harness = Harness()

    answer = harness.post(delivery(boardId=42))

    assert answer.status == 200 and "another board" in answer.body["ignored"]
    assert harness.scheduled == []


def test_an_echo_of_leadbridge_s_own_write_is_ignored() -> None:
    harness = Harness()
    harness.receiver.own_user("58000001")

    assert harness.post(delivery(userId=58000001)).status == 200
    assert harness.scheduled == []
    assert harness.post(delivery("next", userId=58000002)).status == 200
    assert len(harness.scheduled) == 1


def test_a_replay_costs_nothing_until_it_is_forgotten() -> None:
    harness = Harness()
    assert harness.post(delivery("t1")).body == {"ok": True, "poll": "scheduled"}
    harness.clock.advance(DEBOUNCE)
    harness.fire_due()
    assert len(harness.polls) == 1

    replay = harness.post(delivery("t1"))

    assert replay.status == 200 and "seen before" in replay.body["ignored"]
    assert harness.scheduled == []
    harness.clock.advance(REPLAY_SECONDS + 1)
    assert harness.post(delivery("t1")).body["poll"] == "scheduled"


# ---------------------------------------------------------------- debounce


def test_ten_deliveries_in_a_burst_are_one_poll_after_the_debounce() -> None:
    harness = Harness()
    start = harness.clock()

    for n in range(10):
        assert harness.post(delivery(f"burst-{n}")).status == 200
        harness.clock.advance(0.25)

    assert [when for when, _ in harness.scheduled] == [start + timedelta(seconds=DEBOUNCE)]
    harness.fire_due()
    assert harness.polls == []  # 2.5 s in: not yet
    harness.clock.advance(0.5)
    harness.fire_due()
    assert harness.polls == [start + timedelta(seconds=DEBOUNCE)]
    harness.clock.advance(10)
    harness.fire_due()
    assert len(harness.polls) == 1


def test_a_delivery_once_the_poll_has_started_asks_for_another() -> None:
    harness = Harness()
    seen_during_poll: list[Answer] = []
    # The poll reads the board; a change made while it runs arrives as a delivery.
    harness.soon._poll = lambda: seen_during_poll.append(harness.post(delivery("during")))

    harness.post(delivery("before"))
    harness.clock.advance(DEBOUNCE)
    harness.fire_due()

    assert seen_during_poll[0].body["poll"] == "scheduled"
    assert len(harness.scheduled) == 1


# ---------------------------------------------------------------- the HTTP side


def test_the_http_server_answers_deliveries_beside_healthz() -> None:
    harness = Harness()
    clock = Clock()
    poller = coordinator(clock, lambda: ScriptedService())
    server = HealthServer(poller, "127.0.0.1", 0, webhook=harness.receiver)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        challenge = httpx.post(base + PATH, json={"challenge": "abc"}, timeout=5)
        accepted = httpx.post(base + PATH, json=delivery(), timeout=5)
        wrong = httpx.post(base + "/monday/webhook/nope", json=delivery("x"), timeout=5)
        health = httpx.get(base + "/healthz", timeout=5)
    finally:
        server.stop()
    assert challenge.json() == {"challenge": "abc"}
    assert accepted.status_code == 200 and accepted.json()["poll"] == "scheduled"
    assert wrong.status_code == 404
    assert health.status_code == 200
    assert len(harness.scheduled) == 1


# ---------------------------------------------------------------- secrets stay out of the log


def test_the_path_token_and_the_signing_secret_are_redacted() -> None:
    settings = Settings(
        monday={
            "webhook": {
                "public_url": "https://leadbridge.example.org",
                "path_token": TOKEN,
                "signing_secret": SECRET,
            }
        }
    )
    redact = Redactor(secret_values(settings)).text

    line = redact(f"POST {settings.monday.webhook.url()} Authorization: {signed()} {SECRET}")

    assert TOKEN not in line and SECRET not in line and "eyJ" not in line
    assert "https://leadbridge.example.org/monday/webhook/" in line


# ---------------------------------------------------------------- upkeep


class UpkeepHarness:
    def __init__(self) -> None:
        self.now = 0.0
        self.holding = False
        self.checks = 0
        self.failing: Exception | None = None
        self.users: list[str] = []
        self.upkeep = WebhookUpkeep(
            check=self.check,
            may_act=lambda: self.holding,
            on_user=self.users.append,
            every_seconds=21600,
            clock=lambda: self.now,
        )

    def check(self) -> Upkeep:
        self.checks += 1
        if self.failing is not None:
            raise self.failing
        return Upkeep(user_id="58000001")


def test_upkeep_waits_for_the_lock_then_checks_every_interval() -> None:
    harness = UpkeepHarness()

    harness.upkeep.tick()
    assert harness.checks == 0  # no lock yet: the first poll takes it
    harness.holding = True
    harness.upkeep.tick()
    assert harness.checks == 1 and harness.users == ["58000001"]
    harness.now += 21599
    harness.upkeep.tick()
    assert harness.checks == 1
    harness.now += 1
    harness.upkeep.tick()
    assert harness.checks == 2


def test_a_failed_check_is_tried_again_within_minutes() -> None:
    harness = UpkeepHarness()
    harness.holding = True
    harness.failing = TransientError("monday", "Failed to communicate with URL provided.")

    harness.upkeep.tick()
    harness.failing = None
    harness.now += 299
    harness.upkeep.tick()
    assert harness.checks == 1
    harness.now += 1
    harness.upkeep.tick()
    assert harness.checks == 2 and harness.users == ["58000001"]


# ---------------------------------------------------------------- the pace with webhooks on


def test_with_webhooks_the_schedule_slows_to_the_safety_net_and_never_speeds_up() -> None:
    service = ServiceSettings(
        interval_seconds=1800,
        business_hours_interval_seconds=120,
        business_hours="09:00-17:00",
        webhook_interval_seconds=900,
    )
    plain = PollPacing.from_settings(service)
    hinted = PollPacing.from_settings(service, hinted=True)
    monday_noon = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    monday_night = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)

    assert (plain.interval_at(monday_noon), plain.interval_at(monday_night)) == (120, 1800)
    assert (hinted.interval_at(monday_noon), hinted.interval_at(monday_night)) == (900, 1800)
    assert hinted.polls_on_busiest_day() < plain.polls_on_busiest_day()
