"""The infrastructure sections of the configuration: state, services, retries and pace.

Nothing here knows about effect kinds; the pipeline (columns, effects, rules) is in
``settings.pipeline``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_ADDRESS = re.compile(r"^[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+\.[^@\s<>\"(),;:]+$")


def http_url(value: str, example: str) -> str:
    """``value`` if it is a whole http(s) URL: a scheme and a host, as every client needs."""
    from urllib.parse import urlsplit

    value = value.strip()
    try:
        parts = urlsplit(value)
        scheme, host = parts.scheme, parts.hostname
    except ValueError:  # e.g. an unclosed [IPv6 address
        scheme, host = "", None
    if scheme not in ("http", "https") or not host:
        raise ValueError(
            f"{value!r} is not an http(s) URL with a host. Fix: write it in full, e.g. {example}"
        )
    return value


def email_address(value: str, example: str = "sales@example.org") -> str:
    """``value`` if it is a plain e-mail address (``name@domain.tld``)."""
    if not _ADDRESS.match(value.strip()):
        raise ValueError(f"{value!r} is not an e-mail address. Fix: write it as, e.g., {example}")
    return value.strip()


# ---------------------------------------------------------------- services


class StateSettings(Section):
    #: SQLAlchemy URL. A relative SQLite path is relative to the working directory.
    url: str = "sqlite:///leadbridge.db"

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        fix = (
            "Fix: use sqlite:///PATH (one process) or postgresql+psycopg://USER@HOST/DATABASE "
            "(several replicas)"
        )
        try:
            parsed = make_url(value)
        except ArgumentError:
            raise ValueError(f"not a database URL. {fix}") from None
        backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
        if (backend, driver) in (("sqlite", "pysqlite"), ("postgresql", "psycopg")):
            return value
        shown = parsed.render_as_string(hide_password=True)
        raise ValueError(
            f"{shown!r} is a {backend} database through {driver}, which leadbridge does not "
            f"support: only SQLite and PostgreSQL through psycopg. {fix}"
        )


#: Where ``leadbridge run`` receives monday's webhook deliveries, under its HTTP port.
WEBHOOK_PATH = "/monday/webhook"
#: monday refuses webhook URLs longer than this.
WEBHOOK_URL_LIMIT = 255
#: The shortest path token accepted: 32 URL-safe characters are ~190 bits, beyond guessing.
PATH_TOKEN_MIN_LENGTH = 32
PATH_TOKEN_MAX_LENGTH = 64
_PATH_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")
_TOKEN_FIX = "Fix: generate one with python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


class WebhookSettings(Section):
    """monday webhooks as hints (optional, off by default): a delivery makes ``run`` poll soon.

    A delivery is never read as data: it only says "look now", and the poll that follows reads
    the board like any other. The regular polls go on at ``service.webhook_interval_seconds``
    as the safety net, since monday gives up on a delivery after 30 minutes of failures.
    """

    #: The address at which monday reaches leadbridge's HTTP port (service.http_port), e.g.
    #: https://leadbridge.example.org. monday POSTs to it + /monday/webhook/<path_token>.
    #: Unset: webhooks are off.
    public_url: str | None = None
    #: Unguessable token in the receiver's path. Webhooks made with a personal API token carry
    #: no signature, so knowing the URL is the only proof a delivery is monday's. Required
    #: without ``signing_secret``; set it by LEADBRIDGE_MONDAY__WEBHOOK__PATH_TOKEN or the
    #: secret file monday__webhook__path_token, never in the file.
    path_token: SecretStr | None = None
    #: The app's Signing Secret, when monday.token is an app's OAuth token: deliveries then
    #: carry an HS256 JWT in Authorization, and any without a valid one is refused.
    signing_secret: SecretStr | None = None
    #: Deliveries within this many seconds of the first make one poll, started after them.
    debounce_seconds: float = Field(3.0, ge=0, le=300)
    #: How often ``run`` makes sure its webhooks still exist (one monday call each time).
    recheck_seconds: int = Field(21600, ge=1)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from urllib.parse import urlsplit

        value = http_url(value, "https://leadbridge.example.org").rstrip("/")
        parts = urlsplit(value)
        if parts.query or parts.fragment:
            raise ValueError(
                f"{value!r} has a query or fragment; leadbridge appends {WEBHOOK_PATH}/<token> "
                "to it. Fix: give only the scheme, host and an optional path prefix"
            )
        room = WEBHOOK_URL_LIMIT - len(WEBHOOK_PATH) - 1 - PATH_TOKEN_MAX_LENGTH
        if len(value) > room:
            raise ValueError(
                f"is {len(value)} characters long; monday accepts webhook URLs of at most "
                f"{WEBHOOK_URL_LIMIT}, path and token included. Fix: use a URL of at most "
                f"{room} characters"
            )
        return value

    @field_validator("path_token")
    @classmethod
    def _unguessable(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        token = value.get_secret_value().strip()
        length_ok = PATH_TOKEN_MIN_LENGTH <= len(token) <= PATH_TOKEN_MAX_LENGTH
        if not length_ok or not _PATH_TOKEN.match(token):
            # The value is a secret: the message never shows it.
            raise ValueError(
                f"must be {PATH_TOKEN_MIN_LENGTH} to {PATH_TOKEN_MAX_LENGTH} letters, digits, "
                f"- or _ (it is the only proof a delivery comes from monday). {_TOKEN_FIX}"
            )
        return SecretStr(token)

    @property
    def enabled(self) -> bool:
        return self.public_url is not None

    def receiver_path(self) -> str:
        """The path the receiver answers on leadbridge's own port."""
        token = self.path_token.get_secret_value() if self.path_token is not None else ""
        return f"{WEBHOOK_PATH}/{token}" if token else WEBHOOK_PATH

    def url(self) -> str:
        """The URL monday is given: ``public_url`` + the receiver's path (a secret in it)."""
        if self.public_url is None:
            raise ValueError("monday.webhook.public_url is not set")
        return self.public_url + self.receiver_path()

    def problems(self, *, secrets: bool) -> list[str]:
        """What only the whole section can tell (``secrets``: tokens are required)."""
        if not self.enabled or not secrets:
            return []
        if self.path_token is None and self.signing_secret is None:
            return [
                "monday.webhook.path_token: missing, and no signing_secret is set either, so "
                "nothing would tell monday's deliveries from anyone's. Fix: set "
                "LEADBRIDGE_MONDAY__WEBHOOK__PATH_TOKEN (or the secret file "
                "monday__webhook__path_token) to a random token; "
                + _TOKEN_FIX.removeprefix("Fix: ")
            ]
        return []


class MondaySettings(Section):
    api_url: str = "https://api.monday.com/v2"
    api_version: str = "2026-10"
    token: SecretStr | None = None
    board_id: str = ""
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0
    page_limit: int = Field(500, ge=1, le=500)
    #: A full read of the board, the safety net behind incremental polls. It takes the place
    #: of the poll that is due, never an extra one: on a board of one page (500 items) it
    #: costs the same single call.
    full_reconcile_minutes: int = Field(60, ge=1)
    #: The account's daily call limit as assumed while monday cannot tell it (the call
    #: governor reads the real limit and today's usage from ``platform_api`` a few times a
    #: day): Free/Basic/Standard about 1,000, Pro 10,000, Enterprise 25,000.
    daily_call_limit: int = Field(1000, ge=1)
    #: Largest share of the account's daily calls leadbridge may use, and of what is left of
    #: them, so that the account's other tools keep the rest. Near it polls slow down.
    call_share: float = Field(0.33, gt=0, le=1)
    #: An incremental read also returns items updated this long before the watermark.
    watermark_skew_seconds: int = Field(120, ge=0)
    #: A write-back writes a column only if it still shows what the poll saw (a staff edit
    #: wins). When the cycle's own poll read the item less than this many seconds before the
    #: write, the poll's values stand for that read and no extra request is made; otherwise
    #: the cycle's write-backs are preceded by one read of their items. The trade-off: a
    #: staff edit landing in that window (at most this many seconds after the poll) can be
    #: overwritten by leadbridge's write. 0: always read again before writing.
    write_back_recheck_seconds: float = Field(20, ge=0)
    #: Webhooks as hints that a poll is due (off unless ``public_url`` is set).
    webhook: WebhookSettings = WebhookSettings()

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return http_url(value, "https://api.monday.com/v2")

    @field_validator("board_id", mode="before")
    @classmethod
    def _board_id_as_text(cls, value: Any) -> Any:
        # An unquoted id in YAML is a number; it is the same id.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("api_version")
    @classmethod
    def _version_shape(cls, value: str) -> str:
        parts = value.split("-")
        if len(parts) != 2 or not all(p.isdigit() for p in parts) or len(parts[0]) != 4:
            raise ValueError(
                f"{value!r} is not a monday API version. Fix: use the YYYY-MM form, e.g. 2026-10"
            )
        return value


class GoogleSettings(Section):
    service_account_file: Path | None = None
    #: Workspace user to impersonate through domain-wide delegation (required for Gmail).
    subject: str | None = None
    #: Override of the Google API root (the sandbox); None means Google itself.
    api_base_url: str | None = None
    token_uri: str | None = None
    leads_folder_id: str = ""
    shared_drive_id: str | None = None
    timeout_seconds: float = 30.0
    #: Workspace user Drive acts as (domain-wide delegation). Unset: the service account
    #: itself, which owns no storage, so the leads folder must be in a Shared Drive.
    drive_subject: str | None = None

    @field_validator("api_base_url", "token_uri")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return http_url(value, "http://127.0.0.1:8765/google/") if value else None

    @field_validator("subject", "drive_subject")
    @classmethod
    def _users(cls, value: str | None) -> str | None:
        return email_address(value) if value else None


class SmtpSettings(Section):
    host: str = "localhost"
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    timeout_seconds: float = 30.0
    #: CA bundle that signed the server's certificate (a relay with a private CA); unset uses
    #: the system's trust store. Certificates are always verified.
    ca_file: Path | None = None


class MailSettings(Section):
    backend: Literal["gmail", "smtp"] = "gmail"
    sender: str = ""
    #: Folder where a copy of each sent message is written as ``.eml`` (optional).
    archive_dir: Path | None = None
    smtp: SmtpSettings = SmtpSettings()

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return email_address(value) if value.strip() else ""


class GitHubSettings(Section):
    token: SecretStr | None = None
    base_url: str = "https://api.github.com"
    repository: str = "2i2c-org/infrastructure"
    labels: tuple[str, ...] = ("Hub",)
    timeout_seconds: float = 30.0
    #: GitHub allows about 80 content-creating requests a minute; spacing writes keeps a burst
    #: of signed contracts clear of its secondary rate limit. 0 disables the spacing.
    seconds_between_writes: float = Field(1.0, ge=0)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_url(value, "https://api.github.com")


class InCallRetrySettings(Section):
    """Quick retries inside one call (a 502, a dropped connection, a short 429), every API."""

    attempts: int = Field(3, ge=1)
    base_seconds: float = Field(1.0, ge=0)
    cap_seconds: float = Field(20.0, ge=0)
    #: A server asking to wait longer than this is answered by the durable backoff instead.
    max_retry_after_seconds: float = Field(60.0, ge=0)


class RetrySettings(Section):
    """Durable backoff across cycles, then parking; and the in-call retries before it."""

    max_attempts: int = Field(8, ge=1)
    backoff_seconds: tuple[int, ...] = (60, 300, 900, 3600, 10800, 21600, 43200, 86400)
    in_call: InCallRetrySettings = InCallRetrySettings()

    @field_validator("backoff_seconds")
    @classmethod
    def _not_empty(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(v < 0 for v in value):
            raise ValueError("must be a non-empty list of seconds ≥ 0. Fix: e.g. [60, 300, 900]")
        return value


class NotesSettings(Section):
    #: ``failures`` (the default): a note when something could not be done, and why (or was
    #: deliberately not done: a lead met past its stage, a column staff had just changed);
    #: what was done shows as links on the item. ``all`` also notes what was done, which costs
    #: about one more monday call per status change (see README, "Call budget").
    post: Literal["all", "failures", "none"] = "failures"


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class ServiceSettings(Section):
    """Pace and probes of ``leadbridge run``."""

    #: Outside business hours: 1800 s is 32 polls in the 16 hours, a change seen within 30
    #: minutes.
    interval_seconds: int = Field(1800, ge=1, le=86400)
    #: Inside business hours: 120 s is 240 polls in 8 hours, a change seen within 2 minutes.
    #: With the 32 above and a read of the account's budget every 3 hours, a day of polls
    #: costs 280 calls, within a third (``monday.call_share``) of the 1,000 daily calls of
    #: monday's Basic and Standard plans with room for a day's write-backs. None keeps
    #: ``interval_seconds`` all day.
    business_hours_interval_seconds: int | None = Field(120, ge=1, le=86400)
    business_hours: str = "09:00-17:00"
    business_days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    timezone: str = "UTC"
    #: Upper bound of one cycle; no new effect starts after it (nor after 80% of the interval).
    cycle_timeout_seconds: int = Field(120, ge=1)
    #: How long SIGTERM waits for the effect in flight; keep it under the orchestrator's grace.
    shutdown_grace_seconds: float = Field(25.0, gt=0)
    #: How long a ``running`` effect started by another holder of the runner lock is left
    #: alone before this replica resumes it (with a lookup first). A holder whose lock
    #: session died (failover, ``pg_terminate_backend``) may still be inside that call; the
    #: call is bounded by the API timeouts and in-call retries, so once this is longer than
    #: those, the call has ended and resuming cannot do the effect twice. A holder known to
    #: be dead (a process of this host that is gone) is resumed at once.
    takeover_after_seconds: int = Field(300, ge=1)
    #: While monday webhooks are on (monday.webhook.public_url), deliveries start polls
    #: within seconds, so the schedule is only the safety net for a delivery lost: no two
    #: scheduled polls are closer than this (a slower pace configured above is kept).
    webhook_interval_seconds: int = Field(900, ge=1, le=86400)
    http_host: str = "0.0.0.0"
    #: Port of /healthz and /metrics; 0 picks a free port (tests).
    http_port: int = Field(8080, ge=0, le=65535)

    @field_validator("business_hours")
    @classmethod
    def _hours_shape(cls, value: str) -> str:
        from datetime import time

        fix = "Fix: use HH:MM-HH:MM with the start before the end, e.g. 08:00-18:00"
        try:
            start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
        except ValueError:
            raise ValueError(f"{value!r} is not a span of hours. {fix}") from None
        if start >= end:
            raise ValueError(f"{value!r} ends before it starts. {fix}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a known time zone. Fix: use an IANA name, e.g. Europe/Paris"
            ) from None
        return value


class GuardSettings(Section):
    """The mass-action guard: a person confirms before many new effects start at once."""

    #: More new effects of one kind than this in one cycle are held until an operator runs
    #: ``leadbridge plan --confirm``; everything else goes on meanwhile.
    max_new_per_kind: int = Field(20, ge=1)


class UiSettings(Section):
    """The status page, served by ``leadbridge run`` beside /healthz and by ``serve-ui``.

    It shows personal data (contact names and addresses), so it is served only when a
    credential is configured: an operator ``token``, an ``identity_header`` set by a trusted
    authenticating proxy (oauth2-proxy), or both.
    """

    #: Operator secret: sent as ``Authorization: Bearer …`` or typed once on the login page.
    #: Set it by LEADBRIDGE_UI__TOKEN or the secret file ``ui__token``, never in the file.
    token: SecretStr | None = None
    #: Header naming the signed-in person, set by an authenticating proxy in front of the
    #: page (oauth2-proxy: X-Forwarded-User or X-Forwarded-Email). Trusted only from
    #: ``trusted_proxies``.
    identity_header: str | None = None
    #: Addresses (CIDR) whose ``identity_header`` is believed: the proxy's. Requests from
    #: elsewhere carrying the header are refused.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    #: Days of status changes and effect attempts kept for the lead timelines.
    history_days: int = Field(180, ge=1)
    #: Rows per page of the leads table.
    page_size: int = Field(50, ge=5, le=500)
    #: The status column and label at which a lead becomes a customer (the hubs page).
    signed_column: str = "negotiation_status"
    signed_label: str = "Contract Signed"
    #: Hours a login on the page lasts.
    session_hours: int = Field(12, ge=1, le=24 * 30)

    @field_validator("identity_header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not all(c.isalnum() or c == "-" for c in value):
            raise ValueError(f"{value!r} is not an HTTP header name. Fix: e.g. X-Forwarded-User")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from ipaddress import ip_network

        for network in value:
            try:
                ip_network(network, strict=False)
            except ValueError:
                raise ValueError(
                    f"{network!r} is not an address or network. Fix: e.g. 10.0.0.0/8 or 127.0.0.1"
                ) from None
        return value


class AlertsSettings(Section):
    """E-mails to operators when something needs a person: an effect parked, or polls failing.

    Sent through the configured mail backend (``mail:``), at most once per problem.
    """

    #: Operators' addresses; empty: no alerts.
    to: tuple[str, ...] = ()
    #: Polls failing (the board unread) for this long send one alert per outage.
    poll_failure_minutes: int = Field(30, ge=1)
    #: Base URL of the status page as operators reach it (e.g. https://leadbridge.example.org),
    #: for a link to the lead page in each alert; unset: the alert names the CLI command.
    page_url: str | None = None

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            local, at, domain = address.strip().rpartition("@")
            if not at or not local or "." not in domain or any(c.isspace() for c in address):
                raise ValueError(
                    f"{address!r} is not an e-mail address. Fix: e.g. [ops@example.org]"
                )
        return tuple(address.strip() for address in value)

    @field_validator("page_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")) or len(value.split("//", 1)[1]) == 0:
            raise ValueError(
                f"{value!r} is not an http(s) URL. Fix: e.g. https://leadbridge.example.org"
            )
        return value
