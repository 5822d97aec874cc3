"""monday webhooks as hints for ``leadbridge run``: receive, verify, debounce, keep registered.

A delivery is never taken as data. Whatever its body says, a valid one means only "look
now": it brings the next poll forward, and that poll reads the board like any other. So a
forged, replayed or garbled delivery can at worst cost one poll, and a lost one costs the
wait for the safety-net poll (``service.webhook_interval_seconds``).

- ``WebhookReceiver`` answers on the HTTP server's request thread and does nothing slow
  there: it checks the path token, answers monday's challenge, verifies the JWT when a
  signing secret is set, drops deliveries of another board, of leadbridge's own writes and
  replays (same ``triggerUuid``), and passes a hint on.
- ``PollSoon`` turns a burst of hints into one poll, ``debounce_seconds`` after the first,
  run by the scheduler's one worker thread like every poll.
- ``WebhookUpkeep`` makes sure leadbridge's webhooks exist, at start and every
  ``recheck_seconds`` (one monday call), only on the replica holding the runner lock.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jwt
import structlog
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from leadbridge import telemetry
from leadbridge.service.webhooks import REACH_FIX, Upkeep, ensure_webhooks, wanted_webhooks
from leadbridge.settings import Settings, WebhookSettings
from leadbridge.settings.infra import WEBHOOK_PATH

if TYPE_CHECKING:
    from leadbridge.adapters.monday.webhooks import MondayWebhooks
    from leadbridge.adapters.store.sql import SqlStateStore
    from leadbridge.runtime.coordinator import PollCoordinator

log = structlog.get_logger(__name__)

# The signing secret's length is monday's choice, not the operator's: a warning at every
# delivery would drown the log without anything to do about it.
warnings.filterwarnings("ignore", category=jwt.warnings.InsecureKeyLengthWarning, module=__name__)

#: A delivery is a few hundred bytes; anything far larger is not monday's.
MAX_BODY_BYTES = 64 * 1024
#: monday retries an unacknowledged delivery for 30 minutes; a triggerUuid is remembered
#: twice that long, and at most this many of them.
REPLAY_SECONDS = 3600.0
MAX_REMEMBERED = 10_000
#: Clock skew allowed on the JWT's exp.
LEEWAY_SECONDS = 5
#: A dropped delivery is logged at most this often per reason (a flood must not flood the
#: log); /metrics counts every one.
LOG_EVERY_SECONDS = 60.0
HINT_JOB_ID = "leadbridge-hinted-poll"
UPKEEP_JOB_ID = "leadbridge-webhooks"
#: The upkeep job wakes this often at most; it calls monday only when a check is due.
UPKEEP_TICK_SECONDS = 60
#: After a failed check, the next try comes this soon (or at the regular re-check if sooner).
UPKEEP_RETRY_SECONDS = 300


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to one POST on the receiver's path."""

    status: int
    body: dict[str, Any]


class PollSoon:
    """Hints → at most one poll per burst, started ``debounce_seconds`` after its first hint.

    Once that poll has started, the next hint asks for another: the poll may have read the
    board before the change the hint is about. That one may have to wait behind the poll in
    progress; the scheduler's single worker runs them one after the other, never together.
    """

    def __init__(
        self,
        *,
        debounce_seconds: float,
        poll: Callable[[], None],
        schedule: Callable[[datetime, Callable[[], None]], None],
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._debounce = timedelta(seconds=debounce_seconds)
        self._poll = poll
        self._schedule = schedule
        self._now = now
        self._guard = threading.Lock()
        self._pending = False

    def hint(self) -> bool:
        """True when this hint asked for a poll; False when one is already coming."""
        with self._guard:
            if self._pending:
                return False
            self._pending = True
            when = self._now() + self._debounce
        try:
            self._schedule(when, self._fire)
        except BaseException:
            # Not scheduled: the next hint must be able to ask again.
            with self._guard:
                self._pending = False
            raise
        return True

    def _fire(self) -> None:
        with self._guard:
            self._pending = False
        self._poll()


class WebhookReceiver:
    """Tells monday's deliveries from anything else, and turns the valid ones into hints."""

    def __init__(
        self,
        *,
        url: str,
        paths: Collection[str],
        board_id: str,
        signing_secret: str | None,
        hint: Callable[[], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._paths = [path.encode() for path in paths]
        self._prefixes = {path.rsplit(WEBHOOK_PATH, 1)[0] + WEBHOOK_PATH for path in paths}
        self._board_id = board_id
        self._secret = signing_secret
        self._hint = hint
        self._clock = clock
        self._guard = threading.Lock()
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._logged: dict[str, float] = {}
        self._own_user: str | None = None

    @classmethod
    def from_settings(
        cls, webhook: WebhookSettings, board_id: str, hint: Callable[[], bool]
    ) -> WebhookReceiver:
        url = webhook.url()
        local = webhook.receiver_path()
        # Behind a proxy that keeps public_url's path prefix, the prefixed path arrives.
        public = urlsplit(url).path
        secret = webhook.signing_secret
        return cls(
            url=url,
            paths={local, public},
            board_id=board_id,
            signing_secret=secret.get_secret_value() if secret is not None else None,
            hint=hint,
        )

    def serves(self, path: str) -> bool:
        """Whether a POST on ``path`` is for the receiver (its token right or not)."""
        path = path.split("?", 1)[0]
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self._prefixes)

    def own_user(self, user_id: str) -> None:
        """The user leadbridge's token acts as: deliveries of its changes are echoes."""
        self._own_user = user_id

    def receive(self, path: str, authorization: str | None, body: bytes) -> Answer:
        path_bytes = path.split("?", 1)[0].encode()
        # Compared in constant time: the path token is the secret of unsigned webhooks.
        if not any(hmac.compare_digest(path_bytes, known) for known in self._paths):
            return self._drop("not_found", 404, "no receiver at this path (wrong token)")
        if len(body) > MAX_BODY_BYTES:
            return self._drop("malformed", 413, "body too large for a delivery")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return self._drop("malformed", 400, "the body is not JSON")
        if not isinstance(payload, dict):
            return self._drop("malformed", 400, "the body is not a JSON object")
        challenge = payload.get("challenge")
        if "event" not in payload and isinstance(challenge, str) and len(challenge) <= 1024:
            # monday's check of a new webhook's URL: echoing it reveals and triggers nothing.
            telemetry.WEBHOOK_DELIVERIES.labels("challenge").inc()
            log.info("webhook_challenge_answered")
            return Answer(200, {"challenge": challenge})
        if self._secret is not None:
            refused = self._unverified(authorization)
            if refused is not None:
                return self._drop("unverified", 401, refused)
        event = payload.get("event")
        if not isinstance(event, dict):
            return self._drop("malformed", 400, "no event object in the body")
        board = event.get("boardId")
        trigger = event.get("triggerUuid")
        if board is None or not isinstance(trigger, str) or not trigger:
            return self._drop("malformed", 400, "the event has no boardId or triggerUuid")
        if str(board) != self._board_id:
            return self._drop("other_board", 200, "a delivery for another board")
        if self._replayed(trigger):
            return self._drop("replay", 200, "a triggerUuid seen before")
        user = event.get("userId")
        if user is not None and self._own_user is not None and str(user) == self._own_user:
            telemetry.WEBHOOK_DELIVERIES.labels("own_change").inc()
            return Answer(200, {"ignored": "leadbridge's own change"})
        if self._hint():
            telemetry.WEBHOOK_DELIVERIES.labels("poll").inc()
            log.info("webhook_hint", type=str(event.get("type", "")), item_id=event.get("pulseId"))
            return Answer(200, {"ok": True, "poll": "scheduled"})
        telemetry.WEBHOOK_DELIVERIES.labels("debounced").inc()
        return Answer(200, {"ok": True, "poll": "already scheduled"})

    def _unverified(self, authorization: str | None) -> str | None:
        """Why the delivery's JWT is refused, or None when it is monday's, for this URL."""
        assert self._secret is not None
        token = (authorization or "").strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token:
            return "no Authorization header (a signing secret is configured)"
        try:
            jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=self._url,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            return "the JWT has expired"
        except jwt.InvalidAudienceError:
            return "the JWT was issued for another URL"
        except jwt.InvalidSignatureError:
            return "the JWT's signature does not match monday.webhook.signing_secret"
        except jwt.PyJWTError as error:
            return f"not a valid JWT ({type(error).__name__})"
        return None

    def _replayed(self, trigger: str) -> bool:
        now = self._clock()
        with self._guard:
            while self._seen and (
                len(self._seen) >= MAX_REMEMBERED
                or next(iter(self._seen.values())) < now - REPLAY_SECONDS
            ):
                self._seen.popitem(last=False)
            if trigger in self._seen:
                return True
            self._seen[trigger] = now
            return False

    def _drop(self, outcome: str, status: int, reason: str) -> Answer:
        telemetry.WEBHOOK_DELIVERIES.labels(outcome).inc()
        now = self._clock()
        with self._guard:
            last = self._logged.get(outcome)
            quiet = last is not None and now - last < LOG_EVERY_SECONDS
            if not quiet:
                self._logged[outcome] = now
        if not quiet:
            log.warning("webhook_dropped", outcome=outcome, reason=reason, status=status)
        return Answer(status, {"ignored": reason} if status == 200 else {"error": reason})


class WebhookUpkeep:
    """Runs the webhook check when it is due and this replica holds the runner lock."""

    def __init__(
        self,
        *,
        check: Callable[[], Upkeep],
        may_act: Callable[[], bool],
        on_user: Callable[[str], None],
        every_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self._may_act = may_act
        self._on_user = on_user
        self._every = every_seconds
        self._clock = clock
        self._due = clock()

    def tick(self) -> None:
        now = self._clock()
        if now < self._due:
            return
        if not self._may_act():
            # A standby replica, or the first poll has not taken the lock yet: the holder
            # keeps the webhooks; this one looks again at its next tick.
            return
        try:
            found = self._check()
        except Exception as error:
            retry = min(UPKEEP_RETRY_SECONDS, self._every)
            self._due = now + retry
            log.warning(
                "webhooks_check_failed",
                error=str(error),
                fix=getattr(error, "fix", "") or REACH_FIX,
                retry_seconds=retry,
            )
            return
        self._due = now + self._every
        self._on_user(found.user_id)
        log.info(
            "webhooks_checked",
            kept=len(found.kept),
            created=len(found.created),
            recreated=len(found.recreated),
            retired=len(found.retired),
            next_check_seconds=self._every,
        )


@dataclass
class Webhooks:
    """The pieces ``run`` wires when webhooks are on."""

    receiver: WebhookReceiver
    #: Lets go of the upkeep's monday client and state database.
    close: Callable[[], None]


def start_webhooks(
    settings: Settings, scheduler: BaseScheduler, coordinator: PollCoordinator, start: datetime
) -> Webhooks:
    """Wire receiver, debounce and upkeep to ``run``'s scheduler and coordinator."""
    webhook = settings.monday.webhook

    def schedule(when: datetime, fire: Callable[[], None]) -> None:
        # Its own one-shot job, so the poll job keeps its pace and max_instances=1; two
        # instances: one hinted poll may wait behind another that started before its hint.
        scheduler.add_job(
            fire,
            trigger=DateTrigger(run_date=when, timezone=UTC),
            id=HINT_JOB_ID,
            name="poll after a webhook delivery",
            max_instances=2,
            misfire_grace_time=None,
            replace_existing=True,
        )

    soon = PollSoon(
        debounce_seconds=webhook.debounce_seconds, poll=coordinator.poll, schedule=schedule
    )
    receiver = WebhookReceiver.from_settings(webhook, settings.monday.board_id, soon.hint)
    checker = UpkeepCheck(settings)
    upkeep = WebhookUpkeep(
        check=checker,
        may_act=coordinator.lock.is_held,
        on_user=receiver.own_user,
        every_seconds=webhook.recheck_seconds,
    )
    tick = min(webhook.recheck_seconds, UPKEEP_TICK_SECONDS)
    scheduler.add_job(
        upkeep.tick,
        trigger=IntervalTrigger(seconds=tick, start_date=start, timezone=UTC),
        id=UPKEEP_JOB_ID,
        name="keep the board's webhooks",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=tick,
        # Queued behind the first poll, which takes the runner lock.
        next_run_time=start + timedelta(seconds=1),
        replace_existing=True,
    )
    return Webhooks(receiver=receiver, close=checker.close)


class UpkeepCheck:
    """``ensure_webhooks`` with its adapter and store built on first use, counting its calls
    in the day's monday usage like a cycle's."""

    def __init__(self, settings: Settings, *, now: Callable[[], datetime] = _utcnow) -> None:
        self._settings = settings
        # The day the calls count against: the UTC date of ``now`` (a simulated clock in tests).
        self._now = now
        self._wanted = wanted_webhooks(settings.columns)
        self._registry: MondayWebhooks | None = None
        self._store: SqlStateStore | None = None
        # A check and the close at shutdown never overlap on the client or the store.
        self._busy = threading.Lock()

    def __call__(self) -> Upkeep:
        from leadbridge.bootstrap import build_webhook_registry, open_store

        with self._busy:
            if self._registry is None:
                self._registry = build_webhook_registry(self._settings)
            if self._store is None:
                self._store = open_store(self._settings)
            registry, store = self._registry, self._store
            before = registry.usage()
            try:
                url = self._settings.monday.webhook.url()
                return ensure_webhooks(registry, store, url=url, wanted=self._wanted)
            finally:
                after = registry.usage()
                if after.requests > before.requests:
                    store.add_usage(
                        self._now().date(),
                        "monday",
                        after.requests - before.requests,
                        after.complexity - before.complexity,
                    )

    def close(self) -> None:
        # A check still in its call at shutdown keeps them; the process ends meanwhile.
        if not self._busy.acquire(blocking=False):
            return
        try:
            if self._registry is not None:
                self._registry.close()
            if self._store is not None:
                self._store.close()
        finally:
            self._busy.release()
