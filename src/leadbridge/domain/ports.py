"""The ports: what the core needs from the outside world, and nothing about how it is done.

Each port is split so that the *decision* to create something stays in the core: the core
first asks whether a tagged object already exists, and creates it only when it does not.
That lookup-before-create is what makes a retry after a crash harmless.

Adapters raise ``TransientError`` / ``PermanentError`` (``leadbridge.domain.errors``) and
nothing else for service failures.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from leadbridge.domain.errors import ExternalError
from leadbridge.domain.ledger import EffectState, LedgerEntry
from leadbridge.domain.model import ColumnValue, Lead
from leadbridge.domain.timeline import EffectAttempt


@dataclass(frozen=True)
class BoardRead:
    """Items read in one poll.

    ``complete`` is True when every item of the board was read (a full reconcile), so an
    item absent from ``items`` has been deleted or archived. ``watermark`` is opaque to the
    core and is handed back on the next read.
    """

    items: Sequence[Lead]
    watermark: str | None
    complete: bool


@dataclass(frozen=True)
class ApiUsage:
    """Cumulative counts since the adapter was built; the core stores per-day deltas."""

    requests: int = 0
    complexity: int = 0
    #: Requests the service refused because the account's daily call limit was used up.
    daily_limit_refusals: int = 0


@dataclass(frozen=True)
class AccountBudget:
    """The account's daily call allowance as the service reported it at ``read_at``.

    ``used_today`` counts every tool of the account since 00:00 UTC, not only leadbridge, so
    leadbridge can keep to its share of what is left instead of counting its own calls alone.
    """

    limit: int
    used_today: int
    read_at: datetime

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used_today)


@runtime_checkable
class CallBudget(Protocol):
    """Where the account's daily call allowance is read (the Board's service, monday.com).

    A port of its own, beside ``Board``: a board without it (a test's fake) leaves the call
    governor with ``monday.daily_call_limit`` and leadbridge's own count of its calls.
    """

    def account_budget(self) -> AccountBudget:
        """One cheap read of the account's limit and today's usage; raises ExternalError
        (``DailyLimitReached`` when the allowance is already used up)."""
        ...


@dataclass(frozen=True)
class ColumnWrite:
    """Columns (by logical name) one attempt of an effect sets on one item."""

    item_id: str
    values: Mapping[str, ColumnValue]
    #: Which attempt asks for it (``EffectEnded.attempt_id``). Part of the request's
    #: idempotency: a request resent within the attempt is the same request to the service,
    #: a new attempt (an operator's retry, say) is a new one, never answered from a cache.
    attempt: str


@dataclass(frozen=True)
class ItemNote:
    """An update on an item, visible to staff; ``attempt`` as in ``ColumnWrite``."""

    item_id: str
    text: str
    attempt: str


#: Per item, what it shows now (logical column → text), or why that could not be read.
CurrentValues = Mapping[str, Mapping[str, str] | ExternalError]


class Board(Protocol):
    """The board. Writes and notes go in batches because every request counts against a
    daily call limit; a batch answers per part, so one refused part fails only its effect."""

    def read_items(self, since: str | None) -> BoardRead:
        """All items when ``since`` is None, else at least every item changed after it."""
        ...

    def read_columns(self, wanted: Mapping[str, Sequence[str]]) -> CurrentValues:
        """The text these columns (logical names) of these items show right now, read fresh.

        A write-back is conditional on it: staff may have changed the item since the poll. An
        item that cannot be read (gone, or the request failed) maps to the error.
        """
        ...

    def write_columns(self, writes: Sequence[ColumnWrite]) -> list[ExternalError | None]:
        """Set the columns of each write; per write, None or why it failed. Repeatable."""
        ...

    def post_notes(self, notes: Sequence[ItemNote]) -> list[ExternalError | None]:
        """Add each note to its item; per note, None or why it was not posted."""
        ...

    def usage(self) -> ApiUsage: ...


@dataclass(frozen=True)
class DriveTag:
    """Stored in the file's ``appProperties``; finds our own file again after a crash."""

    item_id: str
    key: str


@dataclass(frozen=True)
class DriveFile:
    id: str
    name: str
    url: str
    mime_type: str = ""


class Drive(Protocol):
    def find_tagged(self, tag: DriveTag, parent_id: str) -> DriveFile | None: ...

    def get_file(self, file_id: str) -> DriveFile | None:
        """The file or folder with this id, if leadbridge can see it (None: missing, trashed,
        or not shared with it). Used to check a link staff pasted before relying on it."""
        ...

    def list_files(self, folder_id: str) -> list[DriveFile]:
        """The files and folders directly in ``folder_id``, not trashed (every page)."""
        ...

    def create_folder(self, name: str, parent_id: str, tag: DriveTag) -> DriveFile: ...

    def copy_file(self, source_id: str, name: str, parent_id: str, tag: DriveTag) -> DriveFile: ...

    def fill_placeholders(self, file: DriveFile, replacements: Mapping[str, str]) -> None:
        """Replace each key (e.g. ``{{lead_name}}``) with its value as plain text."""
        ...


@dataclass(frozen=True)
class OutgoingMail:
    message_id: str
    to: tuple[str, ...]
    subject: str
    body: str
    cc: tuple[str, ...] = ()


class Mailer(Protocol):
    def was_sent(self, message_id: str) -> bool | None:
        """True/False when the backend can tell; None when it cannot (plain SMTP)."""
        ...

    def send(self, mail: OutgoingMail) -> None: ...


@dataclass(frozen=True)
class IssueRef:
    number: int
    url: str
    state: str = "open"


class IssueTracker(Protocol):
    def find_issue(self, item_id: str) -> IssueRef | None:
        """The issue whose body carries this item's marker (see ``hub_marker``)."""
        ...

    def create_issue(self, title: str, body: str, labels: Sequence[str]) -> IssueRef: ...

    def issue_states(self, numbers: Sequence[int]) -> Mapping[int, str]: ...


@dataclass(frozen=True)
class CheckFinding:
    """One line of ``leadbridge check``: what was checked, whether it holds, and how to fix it."""

    service: str
    what: str
    ok: bool
    detail: str = ""
    #: How to fix it; on a finding that holds, a note: it holds, but not as configured.
    fix: str = ""


class LiveCheck(Protocol):
    def check(self) -> list[CheckFinding]: ...


@dataclass(frozen=True)
class Webhook:
    """A webhook registered on the board, as monday lists it (monday does not list its URL)."""

    id: str
    event: str
    #: The config it was created with (``{}`` when none), e.g. ``{"columnId": "status", …}``.
    config: Mapping[str, Any]


@dataclass(frozen=True)
class WebhookListing:
    """The board's webhooks, and the user the token acts as: deliveries of that user's own
    changes are echoes of leadbridge's writes, not news."""

    webhooks: Sequence[Webhook]
    user_id: str


class WebhookRegistry(Protocol):
    """monday's webhooks of the configured board: deliveries are hints that a poll is due."""

    def list_webhooks(self) -> WebhookListing:
        """Every webhook of the board, in one call."""
        ...

    def create_webhook(self, url: str, event: str, config: Mapping[str, Any] | None) -> Webhook:
        """Register ``url`` for ``event``; monday first checks that the URL answers its
        challenge, and refuses the webhook when it does not."""
        ...

    def delete_webhook(self, webhook_id: str) -> None: ...


def hub_marker(item_id: str) -> str:
    """The hidden line that ends every hub issue body and identifies its lead."""
    return f"<!-- leadbridge:item={item_id} -->"


@dataclass(frozen=True)
class Lease:
    """The runner lock as one cycle holds it: which epoch, which process, is it still ours.

    ``epoch`` grows every time any process takes the lock, so a ledger row started under an
    older epoch was started by a holder that has lost the lock since, though its call may
    still be in flight.
    """

    epoch: int
    owner: str
    held: Callable[[], bool]


@dataclass(frozen=True)
class BoardState:
    """What the store remembers about the board between cycles."""

    board_id: str
    first_cycle_at: datetime
    watermark: str | None = None
    last_full_read_at: datetime | None = None


@dataclass(frozen=True)
class RunRecord:
    id: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    summary: Mapping[str, object]


class StateStore(Protocol):
    """Durable state: board bookkeeping, item snapshots, the effect ledger, run history."""

    def board_state(self) -> BoardState | None: ...

    def save_board_state(self, state: BoardState) -> None: ...

    def fact(self, name: str) -> Any:
        """A named JSON document of the board's bookkeeping (None when never saved)."""
        ...

    def save_fact(self, name: str, value: Any) -> None: ...

    def snapshots(self, item_ids: Collection[str] | None = None) -> dict[str, Lead]:
        """Items present on the board as last read, by item id (only ``item_ids`` if given)."""
        ...

    def save_snapshots(self, leads: Sequence[Lead], *, complete: bool) -> None:
        """Upsert ``leads``; when ``complete``, items not among them are marked gone."""
        ...

    def apply_own_write(self, item_id: str, values: Mapping[str, str]) -> None:
        """Record what leadbridge itself wrote so the next read is not taken for a staff edit."""
        ...

    def ledger(self, item_id: str | None = None) -> list[LedgerEntry]: ...

    def ledger_of(self, item_ids: Collection[str]) -> list[LedgerEntry]:
        """The ledger rows of these items only."""
        ...

    def due_items(self, now: datetime) -> set[str]:
        """Items with an effect that may act without a board change: running, pending, or
        failed or waiting for input and due by ``now``."""
        ...

    def count_in_state(self, state: EffectState) -> int:
        """How many effects are in ``state`` (e.g. parked), board-wide."""
        ...

    def unsettled_items(self) -> set[str]:
        """Items read from the board whose decisions are not yet all applied."""
        ...

    def mark_unsettled(self, item_ids: Collection[str], since: datetime) -> None: ...

    def settle(self, item_ids: Collection[str]) -> None: ...

    def save_entry(self, entry: LedgerEntry, expected: LedgerEntry | None) -> bool:
        """Write ``entry`` only if the stored row still equals ``expected`` (None: no row yet).

        Returns False when another process changed or created it first, so two runners can
        never both start the same effect.
        """
        ...

    def start_run(self, started_at: datetime) -> int: ...

    def finish_run(
        self, run_id: int, finished_at: datetime, outcome: str, summary: Mapping[str, object]
    ) -> None: ...

    def runs(self, limit: int = 10) -> list[RunRecord]: ...

    def add_usage(self, day: date, service: str, requests: int, complexity: int) -> None: ...

    def usage(self, day: date, service: str) -> tuple[int, int]: ...

    def record_status_change(
        self, item_id: str, column: str, old: str, new: str, seen_at: datetime
    ) -> None:
        """Keep a status change for the lead's timeline (pruned after ``ui.history_days``)."""
        ...

    def record_attempt(self, attempt: EffectAttempt) -> None:
        """Keep how one attempt of an effect ended, for the lead's timeline."""
        ...
