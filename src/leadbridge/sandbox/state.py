"""The sandbox's in-memory world: one monday board, a Shared Drive, mailboxes and repositories.

Everything lives behind one re-entrant lock because the HTTP server answers requests on many
threads at once and a test inspects the same objects from its own thread. Hold
``state.lock`` while reading nested objects from a test, or use ``snapshot()``.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

#: The user whose token leadbridge uses; its writes carry this id (``me { id }``).
SERVICE_USER = {"id": "58000001", "name": "leadbridge", "email": "leadbridge@sandbox.example"}
#: The scripted sales team: changes made through the control endpoint come from this user.
SALES_USER = {"id": "58000002", "name": "Sales Team", "email": "sales@sandbox.example"}
ACCOUNT_ID = "8800001"


class Clock:
    """Wall-clock time that a test can move forward, e.g. to age cursors past 60 minutes.

    ``freeze`` stops it following the wall clock, so that a simulated day moves only when the
    test says: what happens at 09:00:00 is seen at 09:00:00, however long the machine took.
    """

    def __init__(self) -> None:
        self._offset = 0.0
        self._frozen: float | None = None

    def now(self) -> float:
        if self._frozen is not None:
            return self._frozen
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        if self._frozen is not None:
            self._frozen += seconds
        self._offset += seconds

    def freeze(self, at: float | None = None) -> None:
        """Stand still at ``at`` (epoch seconds; default: now) until advanced."""
        self._frozen = self.now() if at is None else at

    def day(self) -> str:
        """Today's date in UTC (ISO), the day monday's daily call limit counts."""
        return datetime.fromtimestamp(self.now(), UTC).date().isoformat()

    def iso(self, *, millis: bool = False) -> str:
        moment = datetime.fromtimestamp(self.now(), UTC)
        if millis:
            return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- monday


@dataclass
class MondayColumn:
    id: str
    title: str
    type: str
    #: Status columns: label id → label text (ids are monday's stable "index", not positions).
    labels: dict[int, str] = field(default_factory=dict)

    def label_id(self, label: str) -> int | None:
        for label_id, text in self.labels.items():
            if text == label:
                return label_id
        return None


@dataclass
class MondayItem:
    id: str
    name: str
    created_at: str
    updated_at: str
    group_id: str = "topics"
    state: str = "active"
    #: column id → stored value in monday's write form (``{"index": 3}``, ``{"url", "text"}``…).
    values: dict[str, Any] = field(default_factory=dict)
    #: column id → ISO time of its last change (status ``changed_at``, typed ``updated_at``).
    changed_at: dict[str, str] = field(default_factory=dict)


@dataclass
class MondayUpdate:
    id: str
    item_id: str
    body: str
    creator_id: str
    created_at: str


@dataclass
class ActivityLog:
    id: str
    event: str
    entity: str
    data: dict[str, Any]
    user_id: str
    #: monday's 17-digit string: epoch seconds × 10^7.
    created_at: str
    epoch: float


@dataclass
class MondayCursor:
    board_id: str
    item_ids: list[str]
    position: int
    created: float
    expired: bool = False


@dataclass
class MondayWebhook:
    id: str
    board_id: str
    url: str
    event: str
    #: The config as given (a JSON object), or None.
    config: dict[str, Any] | None = None


@dataclass
class WebhookDelivery:
    """One POST the sandbox made to a webhook's URL, and how it was answered."""

    webhook_id: str
    type: str
    trigger_uuid: str
    #: The HTTP status of the answer, or None when none came (refused, timed out).
    status: int | None
    error: str = ""


@dataclass
class MondayBoard:
    id: str
    name: str
    columns: dict[str, MondayColumn] = field(default_factory=dict)
    items: dict[str, MondayItem] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=lambda: {"topics": "Leads"})


@dataclass
class MondayState:
    boards: dict[str, MondayBoard] = field(default_factory=dict)
    updates: list[MondayUpdate] = field(default_factory=list)
    activity: list[ActivityLog] = field(default_factory=list)
    cursors: dict[str, MondayCursor] = field(default_factory=dict)
    #: Idempotency-Key → (clock time, status, headers, body) of the first answer, replayed
    #: for the same key during monday's 30-minute window.
    idempotent: dict[str, tuple[float, int, dict[str, str], bytes]] = field(default_factory=dict)
    complexity_budget: int = 10_000_000
    #: Clock time the current one-minute complexity window began (0: none begun yet).
    complexity_window_start: float = 0.0
    token: str = "sandbox-monday-token"
    webhooks: dict[str, MondayWebhook] = field(default_factory=dict)
    #: Set: deliveries carry ``Authorization: <JWT>`` signed with it (HS256), as those of
    #: webhooks an app created with its OAuth token do. None: unsigned, as a personal token's.
    webhook_signing_secret: str | None = None
    deliveries: list[WebhookDelivery] = field(default_factory=list)
    #: Told of every new activity-log entry (the webhooks' dispatcher), under ``state.lock``.
    on_activity: Callable[[ActivityLog], None] | None = None
    #: The account's daily call limit (``platform_api.daily_limit``). Generous by default, so
    #: that tests polling every second are never slowed down; tests of the budget set a
    #: plan's figure (Basic/Standard: 1,000).
    daily_limit: int = 1_000_000
    #: UTC day (ISO) → requests made with the account's token (leadbridge's, counted here).
    calls_by_day: Counter[str] = field(default_factory=Counter)
    #: UTC day (ISO) → calls the account's other tools made that day (set by a test).
    others_by_day: dict[str, int] = field(default_factory=dict)

    def used_on(self, day: str) -> int:
        """Calls the whole account made on ``day``, as ``daily_analytics`` reports them."""
        return self.calls_by_day[day] + self.others_by_day.get(day, 0)


# ---------------------------------------------------------------- Google


FOLDER = "application/vnd.google-apps.folder"
DOCUMENT = "application/vnd.google-apps.document"
SPREADSHEET = "application/vnd.google-apps.spreadsheet"


class Formula(str):
    """A spreadsheet cell holding a formula (its text, starting with ``=``), not text.

    A plain ``str`` cell is text even when it starts with ``=`` (written with RAW, or typed
    after an apostrophe). The sandbox does not compute formulas: a formula reads as its text.
    """

    __slots__ = ()


@dataclass
class DriveFile:
    id: str
    name: str
    mime_type: str
    parents: list[str]
    drive_id: str | None
    created_time: str
    app_properties: dict[str, str] = field(default_factory=dict)
    description: str = ""
    trashed: bool = False
    #: Google Docs: the document's plain text.
    text: str = ""
    #: Google Sheets: sheet title → rows of cell strings (``Formula`` for a formula cell).
    sheets: dict[str, list[list[str]]] = field(default_factory=dict)

    def web_view_link(self) -> str:
        if self.mime_type == FOLDER:
            return f"https://drive.google.com/drive/folders/{self.id}"
        if self.mime_type == DOCUMENT:
            return f"https://docs.google.com/document/d/{self.id}/edit?usp=drivesdk"
        if self.mime_type == SPREADSHEET:
            return f"https://docs.google.com/spreadsheets/d/{self.id}/edit?usp=drivesdk"
        return f"https://drive.google.com/file/d/{self.id}/view?usp=drivesdk"


@dataclass
class Replacement:
    """One find/replace applied through Docs or Sheets, with how many places it changed."""

    file_id: str
    find: str
    replace: str
    occurrences: int


@dataclass
class SentMail:
    id: str
    thread_id: str
    mailbox: str
    message: EmailMessage
    raw: bytes

    @property
    def message_id(self) -> str:
        return str(self.message.get("Message-ID", ""))

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def recipients(self) -> tuple[str, ...]:
        found: list[str] = []
        for header in ("To", "Cc", "Bcc"):
            for address in self.message.get_all(header, []):
                found.extend(part.strip() for part in str(address).split(",") if part.strip())
        return tuple(found)

    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""


#: What docs/go-live.md tells the Workspace admin to delegate.
DELEGATED_SCOPES = (
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/drive",
)


@dataclass
class GoogleState:
    shared_drives: dict[str, str] = field(default_factory=dict)
    files: dict[str, DriveFile] = field(default_factory=dict)
    replacements: list[Replacement] = field(default_factory=list)
    mail: list[SentMail] = field(default_factory=list)
    #: Issued access token → the subject (impersonated user) named in the JWT grant, if any.
    tokens: dict[str, str | None] = field(default_factory=dict)
    #: The scopes domain-wide delegation grants the service account's client id (the Admin
    #: console's list): a grant for a delegated user asking for any other is refused.
    delegated_scopes: set[str] = field(default_factory=lambda: set(DELEGATED_SCOPES))


# ---------------------------------------------------------------- GitHub


@dataclass
class GitHubLabel:
    id: int
    name: str
    color: str = "ededed"
    description: str = ""


@dataclass
class GitHubIssue:
    id: int
    number: int
    title: str
    body: str
    labels: list[str]
    user: str
    created_at: str
    updated_at: str
    state: str = "open"
    closed_at: str | None = None


@dataclass
class GitHubRepo:
    id: int
    owner: str
    name: str
    labels: dict[str, GitHubLabel] = field(default_factory=dict)
    issues: list[GitHubIssue] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def label(self, name: str) -> GitHubLabel | None:
        """GitHub matches label names case-insensitively."""
        for label in self.labels.values():
            if label.name.lower() == name.lower():
                return label
        return None


@dataclass
class GitHubState:
    repos: dict[str, GitHubRepo] = field(default_factory=dict)
    login: str = "leadbridge-bot"
    token: str = "sandbox-github-token"
    #: Old full name (lower case) → the repository's id, after a rename: GitHub redirects.
    renamed: dict[str, int] = field(default_factory=dict)
    #: The token's role on every repository, as ``permissions`` in the repository answer.
    permissions: dict[str, bool] = field(
        default_factory=lambda: {
            "admin": False,
            "maintain": False,
            "push": True,
            "triage": True,
            "pull": True,
        }
    )

    def repo(self, full_name: str) -> GitHubRepo | None:
        return self.repos.get(full_name.lower())

    def repo_by_id(self, repo_id: int) -> GitHubRepo | None:
        return next((repo for repo in self.repos.values() if repo.id == repo_id), None)

    def rename(self, old: str, new: str) -> GitHubRepo:
        """Rename a repository as GitHub does: the old name redirects to the new one."""
        repo = self.repos.pop(old.lower())
        repo.owner, _, repo.name = new.partition("/")
        self.repos[new.lower()] = repo
        self.renamed[old.lower()] = repo.id
        return repo


# ---------------------------------------------------------------- all of it


class SandboxState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.monday = MondayState()
        self.google = GoogleState()
        self.github = GitHubState()
        #: api → operation → number of requests received (faulted ones included).
        self.requests: dict[str, Counter[str]] = {}
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    def count(self, api: str, operation: str) -> None:
        with self.lock:
            self.requests.setdefault(api, Counter())[operation] += 1

    def request_count(self, api: str, operation: str | None = None) -> int:
        with self.lock:
            counter = self.requests.get(api, Counter())
            return counter[operation] if operation else sum(counter.values())

    def reset_counters(self) -> None:
        with self.lock:
            self.requests.clear()

    def board(self) -> MondayBoard:
        """The one board (the sandbox seeds exactly one)."""
        with self.lock:
            return next(iter(self.monday.boards.values()))

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able copy of everything, for ``GET /_sandbox/state`` and for assertions."""
        with self.lock:
            return {
                "monday": {
                    "boards": [
                        {
                            "id": board.id,
                            "name": board.name,
                            "columns": [
                                {
                                    "id": c.id,
                                    "title": c.title,
                                    "type": c.type,
                                    "labels": {str(k): v for k, v in c.labels.items()},
                                }
                                for c in board.columns.values()
                            ],
                            "items": [
                                {
                                    "id": item.id,
                                    "name": item.name,
                                    "updated_at": item.updated_at,
                                    "state": item.state,
                                    "values": dict(item.values),
                                }
                                for item in board.items.values()
                            ],
                        }
                        for board in self.monday.boards.values()
                    ],
                    "updates": [vars(update).copy() for update in self.monday.updates],
                    "activity_logs": len(self.monday.activity),
                },
                "drive": {
                    "files": [
                        {
                            "id": f.id,
                            "name": f.name,
                            "mimeType": f.mime_type,
                            "parents": list(f.parents),
                            "driveId": f.drive_id,
                            "appProperties": dict(f.app_properties),
                            "trashed": f.trashed,
                            "text": f.text,
                            "sheets": {
                                title: [list(r) for r in rows] for title, rows in f.sheets.items()
                            },
                        }
                        for f in self.google.files.values()
                    ],
                    "replacements": [vars(r).copy() for r in self.google.replacements],
                },
                "gmail": {
                    "messages": [
                        {
                            "id": m.id,
                            "mailbox": m.mailbox,
                            "message_id": m.message_id,
                            "subject": m.subject,
                            "from": str(m.message.get("From", "")),
                            "to": list(m.recipients),
                            "body": m.body(),
                        }
                        for m in self.google.mail
                    ]
                },
                "github": {
                    "repos": [
                        {
                            "full_name": repo.full_name,
                            "labels": [label.name for label in repo.labels.values()],
                            "issues": [vars(issue).copy() for issue in repo.issues],
                        }
                        for repo in self.github.repos.values()
                    ]
                },
                "requests": {api: dict(counter) for api, counter in self.requests.items()},
            }
