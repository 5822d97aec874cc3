"""E-mails to operators when something needs a person: an effect parked, or polls failing.

Each problem (one parking of one effect, one outage of the polls) is e-mailed at most once,
to ``alerts.to``, through the configured mail backend. What was sent is remembered in the
state store (the board fact ``alerts``), and each alert carries a Message-ID derived from its
problem, so an alert whose sending was interrupted is looked up in the backend's sent mail
before it is sent again; a backend that cannot tell (plain SMTP) never sends it a second
time. An alert that cannot be sent is logged and tried again at the next occasion; it never
breaks a cycle or a poll.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import structlog

from leadbridge.domain.errors import ExternalError
from leadbridge.domain.ledger import EffectState
from leadbridge.domain.ports import Mailer, OutgoingMail, StateStore
from leadbridge.domain.render import single_line
from leadbridge.service.report import EffectEnded
from leadbridge.settings import AlertsSettings

log = structlog.get_logger(__name__)

#: Board fact: every alert of the last ``KEEP``, by problem, with how far its sending got.
ALERTS = "alerts"
#: How long a problem is remembered after it was opened.
KEEP = timedelta(days=30)

#: States of an alert: sending may be under way or may have acted (ask before sending
#: again); uncertain: it may have gone out and the backend cannot tell, so it is not resent.
PENDING, SENDING, SENT, UNCERTAIN = "pending", "sending", "sent", "uncertain"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _opened(record: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(record["opened_at"]).replace("Z", "+00:00"))


def _wellformed(record: Any) -> bool:
    """A record this module wrote (anything else in the fact is dropped, not fatal)."""
    if not isinstance(record, dict):
        return False
    try:
        _opened(record)
    except (KeyError, ValueError):
        return False
    return all(key in record for key in ("state", "message_id", "subject", "body"))


@dataclass(frozen=True)
class Problem:
    """One thing a person must look at; ``key`` names it for as long as it lasts."""

    key: str
    subject: str
    body: str

    @property
    def message_id(self) -> str:
        """The same for every attempt to send this problem's alert (a Message-ID token)."""
        return "leadbridge.alert." + hashlib.sha256(self.key.encode()).hexdigest()[:32]


class Alerts:
    """Tells operators about parked effects and failing polls; ``Alerts.off()`` does nothing.

    The mailer and the store are built on first use, so that a mail backend or a state
    database that cannot be reached delays an alert instead of stopping the service.
    """

    def __init__(
        self,
        settings: AlertsSettings,
        *,
        board_id: str,
        mailer: Callable[[], Mailer],
        store: Callable[[], StateStore],
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.board_id = board_id
        self._make_mailer = mailer
        self._make_store = store
        self._now = now or _utcnow
        self._mailer: Mailer | None = None
        self._store: StateStore | None = None
        #: This process's knowledge, which wins over the store's (a save may have failed).
        self._memory: dict[str, dict[str, Any]] = {}
        self._loaded = False

    @classmethod
    def off(cls) -> Alerts:
        def nothing() -> Any:
            raise AssertionError("alerts are off")

        return cls(AlertsSettings(), board_id="", mailer=nothing, store=nothing)

    @property
    def enabled(self) -> bool:
        return bool(self.settings.to)

    # ------------------------------------------------------------ the hooks

    def effect_ended(self, ended: EffectEnded) -> None:
        """Called for every effect's end; e-mails operators once when it parked."""
        if not self.enabled or ended.outcome != "parked":
            return
        try:
            self._open(self._parked(ended))
        except Exception:  # an alert must never break a cycle
            log.exception("alert_failed", item_id=ended.item_id, effect=ended.effect)

    def polls(self, failing_since: datetime | None, error: str | None) -> None:
        """Called after every poll: ``failing_since`` is when the board was last read (or the
        service started) while polls fail, None when the last poll read the board."""
        if not self.enabled:
            return
        try:
            now = self._now()
            limit = timedelta(minutes=self.settings.poll_failure_minutes)
            if failing_since is not None and now - failing_since >= limit:
                self._open(self._polls_failing(failing_since, error or "none recorded", now))
            elif not self._loaded or self._unsent():
                # Alerts left unsent (a mail backend down) are tried again at each poll.
                self._flush(self._load())
        except Exception:  # an alert must never break a poll
            log.exception("alert_failed", problem="polls")

    # ------------------------------------------------------------ problems

    def _parked(self, ended: EffectEnded) -> Problem:
        # One parking of one effect is one problem: the parked row's time tells a second
        # parking (after an operator's retry) from a repeated call about the same one.
        parked_at = self._now()
        for entry in self._ledger(ended.item_id):
            if entry.effect == ended.effect and entry.state is EffectState.PARKED:
                parked_at = entry.updated_at or parked_at
        lead = single_line(ended.lead, limit=80) or f"item {ended.item_id}"
        what = ended.what or ended.effect
        lines = [
            f"leadbridge could not {what} for {lead} (item {ended.item_id}) and stopped trying "
            f"after {ended.attempt} attempt(s):",
            "",
            f"    {ended.detail}",
            "",
            "It waits for a person. Once the cause is fixed, press Retry on the lead page, or run:",
            f"    leadbridge retry {ended.item_id} {ended.effect}",
            "",
            self._lead_link(ended.item_id),
        ]
        return Problem(
            key=f"parked/{ended.item_id}/{ended.effect}/{_iso(parked_at)}",
            subject=single_line(f"leadbridge: {ended.effect} parked for {lead}", limit=150),
            body=self._body(lines),
        )

    def _polls_failing(self, since: datetime, error: str, now: datetime) -> Problem:
        minutes = int((now - since).total_seconds() // 60)
        lines = [
            f"leadbridge has not read monday.com board {self.board_id} since {_iso(since)} "
            f"({minutes} minutes; alerts.poll_failure_minutes is "
            f"{self.settings.poll_failure_minutes}), so no lead is being acted on.",
            "",
            f"Last error: {error}",
            "",
            "/healthz gives the reason, and `leadbridge check` tests each service it uses. "
            "This alert is sent once per outage.",
        ]
        if self.settings.page_url:
            lines += ["", f"Status page: {self.settings.page_url}/"]
        return Problem(
            key=f"polls/{_iso(since)}",
            subject=single_line(
                f"leadbridge: board {self.board_id} unread for {minutes} minutes", limit=150
            ),
            body=self._body(lines),
        )

    def _lead_link(self, item_id: str) -> str:
        if self.settings.page_url:
            return f"Lead page: {self.settings.page_url}/leads/{quote(item_id, safe='')}"
        return f"The lead: leadbridge status --item {item_id}"

    @staticmethod
    def _body(lines: list[str]) -> str:
        return "\n".join(
            [*lines, "", "-- ", "leadbridge (configured under alerts: in its settings)"]
        )

    # ------------------------------------------------------------ remembering

    def _ledger(self, item_id: str) -> list[Any]:
        try:
            return self._state().ledger(item_id)
        except Exception as error:
            log.warning("alert_store_unavailable", error=str(error))
            return []

    def _state(self) -> StateStore:
        if self._store is None:
            self._store = self._make_store()
        return self._store

    def _load(self) -> dict[str, dict[str, Any]]:
        """The store's memory of alerts, overlaid with this process's own."""
        stored: Mapping[str, Any] = {}
        try:
            stored = self._state().fact(ALERTS) or {}
            self._loaded = True
        except Exception as error:
            log.warning("alert_store_unavailable", error=str(error))
        memory = {key: dict(value) for key, value in stored.items() if _wellformed(value)}
        memory.update(self._memory)
        cutoff = self._now() - KEEP
        self._memory = {key: value for key, value in memory.items() if _opened(value) >= cutoff}
        return self._memory

    def _save(self) -> None:
        try:
            self._state().save_fact(ALERTS, self._memory)
        except Exception as error:  # memory keeps it for this process meanwhile
            log.warning("alert_store_unavailable", error=str(error))

    def _unsent(self) -> bool:
        return any(value["state"] in (PENDING, SENDING) for value in self._memory.values())

    # ------------------------------------------------------------ sending

    def _open(self, problem: Problem) -> None:
        memory = self._load()
        if problem.key not in memory:
            memory[problem.key] = {
                "state": PENDING,
                "message_id": problem.message_id,
                "subject": problem.subject,
                "body": problem.body,
                "opened_at": _iso(self._now()),
            }
            self._save()
            log.warning("alert_opened", problem=problem.key)
        self._flush(memory)

    def _flush(self, memory: dict[str, dict[str, Any]]) -> None:
        for key, record in memory.items():
            if record["state"] in (PENDING, SENDING):
                self._deliver(key, record)

    def _deliver(self, key: str, record: dict[str, Any]) -> None:
        mail = OutgoingMail(
            message_id=record["message_id"],
            to=tuple(self.settings.to),
            subject=record["subject"],
            body=record["body"],
        )
        try:
            if self._mailer is None:
                self._mailer = self._make_mailer()
            mailer = self._mailer
            if record["state"] == SENDING:
                # An earlier attempt may have sent it: ask before sending again.
                sent = mailer.was_sent(mail.message_id)
                if sent is None:
                    self._settle(key, record, UNCERTAIN)
                    log.error(
                        "alert_uncertain",
                        problem=key,
                        detail="an earlier attempt may have sent it and the mail backend "
                        "cannot tell; not sent again",
                    )
                    return
                if sent:
                    self._settle(key, record, SENT)
                    return
            record["state"] = SENDING
            self._save()
            mailer.send(mail)
        except ExternalError as error:
            if error.not_acted:
                record["state"] = PENDING
            record["error"] = error.describe()
            self._save()
            log.error("alert_not_sent", problem=key, error=error.describe())
            return
        self._settle(key, record, SENT)
        log.info("alert_sent", problem=key, to=list(mail.to), message_id=mail.message_id)

    def _settle(self, key: str, record: dict[str, Any], state: str) -> None:
        record["state"] = state
        record["settled_at"] = _iso(self._now())
        record.pop("error", None)
        self._save()
