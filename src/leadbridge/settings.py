"""Configuration: one YAML file, ``LEADBRIDGE_`` environment variables and secret files.

Precedence, highest first: environment (``LEADBRIDGE_MONDAY__TOKEN``), secret files
(``<secrets_dir>/monday__token``), the YAML file. Every problem is reported as
``key: problem. Fix: …`` before anything touches the network, so a typo never half-runs.
"""

from __future__ import annotations

import os
import string
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from leadbridge.domain.model import EffectSpec, Pipeline, Rule, StatusColumn
from leadbridge.domain.planning import DependencyCycle, dependency_order

CONFIG_ENV = "LEADBRIDGE_CONFIG"
SECRETS_DIR_ENV = "LEADBRIDGE_SECRETS_DIR"
DEFAULT_SECRETS_DIR = "/run/secrets"

#: Placeholders every template may use besides the configured column names and link names.
BUILTIN_FIELDS = ("name", "item_id", "item_url", "date")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key, the problem and the fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- services


class StateSettings(Section):
    #: SQLAlchemy URL. A relative SQLite path is relative to the working directory.
    url: str = "sqlite:///leadbridge.db"


class MondaySettings(Section):
    api_url: str = "https://api.monday.com/v2"
    api_version: str = "2026-07"
    token: SecretStr | None = None
    board_id: str = ""
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0
    page_limit: int = Field(500, ge=1, le=500)
    full_reconcile_minutes: int = Field(60, ge=1)
    daily_call_limit: int = Field(1000, ge=1)
    #: An incremental read also returns items updated this long before the watermark.
    watermark_skew_seconds: int = Field(120, ge=0)
    #: Quick attempts of one request (rate limits, 5xx, timeouts) before the core backs off.
    request_attempts: int = Field(3, ge=1)
    #: A longer Retry-After / retry_in_seconds is left to the backoff across cycles.
    max_retry_after_seconds: float = Field(60.0, ge=0)

    @field_validator("api_version")
    @classmethod
    def _version_shape(cls, value: str) -> str:
        parts = value.split("-")
        if len(parts) != 2 or not all(p.isdigit() for p in parts) or len(parts[0]) != 4:
            raise ValueError(
                f"{value!r} is not a monday API version. Fix: use the YYYY-MM form, e.g. 2026-07"
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


class GitHubSettings(Section):
    token: SecretStr | None = None
    base_url: str = "https://api.github.com"
    repository: str = "2i2c-org/pilot-hubs"
    labels: tuple[str, ...] = ("Hub",)
    timeout_seconds: float = 30.0
    #: GitHub allows about 80 content-creating requests a minute; spacing writes keeps a burst
    #: of signed contracts clear of its secondary rate limit. 0 disables the spacing.
    seconds_between_writes: float = Field(1.0, ge=0)


class RetrySettings(Section):
    max_attempts: int = Field(8, ge=1)
    backoff_seconds: tuple[int, ...] = (60, 300, 900, 3600, 10800, 21600, 43200, 86400)

    @field_validator("backoff_seconds")
    @classmethod
    def _not_empty(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(v < 0 for v in value):
            raise ValueError("must be a non-empty list of seconds ≥ 0. Fix: e.g. [60, 300, 900]")
        return value


class NotesSettings(Section):
    #: ``all``: a note for what was done and what failed; ``failures``: only problems.
    post: Literal["all", "failures", "none"] = "all"


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class ServiceSettings(Section):
    """Pace and probes of ``leadbridge run``."""

    #: 180 s is 480 polls a day: under half of the ~1,000 daily calls of monday's Basic and
    #: Standard plans, leaving the rest for extra pages, write-backs and retries.
    interval_seconds: int = Field(180, ge=1, le=86400)
    #: A faster interval inside business hours (e.g. 60 on a Pro plan); None keeps one pace.
    business_hours_interval_seconds: int | None = Field(None, ge=1, le=86400)
    business_hours: str = "08:00-18:00"
    business_days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    timezone: str = "UTC"
    #: Upper bound of one cycle; no new effect starts after it (nor after 80% of the interval).
    cycle_timeout_seconds: int = Field(120, ge=1)
    #: How long SIGTERM waits for the effect in flight; keep it under the orchestrator's grace.
    shutdown_grace_seconds: float = Field(25.0, gt=0)
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


# ---------------------------------------------------------------- board model


class ColumnSettings(Section):
    id: str
    type: Literal["status", "text", "long_text", "email", "link", "phone", "date", "numbers"] = (
        "text"
    )
    #: Status columns only: labels in pipeline order.
    labels: tuple[str, ...] = ()
    #: Status columns only: labels that exist but imply no effect (e.g. "Out of Scope").
    off_path: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _labels_only_on_status(self) -> ColumnSettings:
        if self.type == "status" and not self.labels:
            raise ValueError(
                "a status column needs its labels in pipeline order. Fix: add labels: [...]"
            )
        if self.type != "status" and (self.labels or self.off_path):
            raise ValueError(
                f"labels are only for status columns, this one is {self.type}. "
                "Fix: remove labels/off_path or set type: status"
            )
        return self


class SetStatus(Section):
    column: str
    label: str


class EffectBase(Section):
    needs: tuple[str, ...] = ()


class DriveFolderEffect(EffectBase):
    kind: Literal["drive_folder"]
    name: str = "{name}"
    #: Placeholders in copies may use ``{<link>_url}`` for this folder.
    link: str = "folder"
    link_column: str | None = None


class TemplateCopy(Section):
    file_id: str
    name: str
    link_column: str | None = None


class DriveCopiesEffect(EffectBase):
    kind: Literal["drive_copies"]
    #: The effect that makes the folder the copies go into.
    folder_effect: str
    #: link name → template; each link name becomes ``{<link>_url}`` for later templates.
    templates: dict[str, TemplateCopy]
    #: Text in the copies → template rendered from the lead, e.g. ``{{lead_name}}: "{name}"``.
    placeholders: dict[str, str] = Field(default_factory=dict)


class EmailEffect(EffectBase):
    kind: Literal["email"]
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    subject: str
    body: str
    set_status: SetStatus | None = None


class HubIssueEffect(EffectBase):
    kind: Literal["hub_issue"]
    title: str = "New Hub: {name}"
    #: None uses the built-in new-hub template of the handbook's time.
    body: str | None = None
    link: str = "hub_issue"
    link_column: str | None = None
    #: Lead columns shown in the issue: section label → column name.
    fields: dict[str, str] = Field(default_factory=dict)


class FieldCheckEffect(EffectBase):
    kind: Literal["field_check"]
    fields: tuple[str, ...]
    message: str = "These fields are still empty: {missing}. Please fill them in."


EffectSettings = Annotated[
    DriveFolderEffect | DriveCopiesEffect | EmailEffect | HubIssueEffect | FieldCheckEffect,
    Field(discriminator="kind"),
]


class RuleSettings(Section):
    column: str
    label: str
    exactly: bool = False
    effects: tuple[str, ...]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEADBRIDGE_",
        env_nested_delimiter="__",
        secrets_nested_delimiter="__",
        secrets_prefix="",
        secrets_dir_missing="ok",
        extra="forbid",
        frozen=True,
    )

    state: StateSettings = StateSettings()
    monday: MondaySettings = MondaySettings()
    google: GoogleSettings = GoogleSettings()
    mail: MailSettings = MailSettings()
    github: GitHubSettings = GitHubSettings()
    retry: RetrySettings = RetrySettings()
    notes: NotesSettings = NotesSettings()
    service: ServiceSettings = ServiceSettings()
    columns: dict[str, ColumnSettings] = Field(default_factory=dict)
    effects: dict[str, EffectSettings] = Field(default_factory=dict)
    rules: tuple[RuleSettings, ...] = ()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML document arrives as init kwargs (see ``load_settings``) and must rank
        # lowest, so environment and secret files can override what the file says.
        secrets = NestedSecretsSettingsSource(file_secret_settings)
        return env_settings, secrets, init_settings

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        problems = list(_cross_check(self))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # ------------------------------------------------------------ derived views

    def pipeline(self) -> Pipeline:
        statuses = {
            name: StatusColumn(name, column.labels, column.off_path)
            for name, column in self.columns.items()
            if column.type == "status"
        }
        effects = {
            name: EffectSpec(name, effect.kind, _all_needs(effect), effect)
            for name, effect in self.effects.items()
        }
        rules = tuple(Rule(r.column, r.label, r.effects, r.exactly) for r in self.rules)
        return Pipeline(statuses, effects, rules)

    def link_names(self) -> set[str]:
        names: set[str] = set()
        for effect in self.effects.values():
            if isinstance(effect, DriveFolderEffect | HubIssueEffect):
                names.add(effect.link)
            elif isinstance(effect, DriveCopiesEffect):
                names.update(effect.templates)
        return names

    def template_fields(self) -> set[str]:
        return {*BUILTIN_FIELDS, *self.columns, *(f"{link}_url" for link in self.link_names())}

    def uses(self, kind: str) -> bool:
        return any(effect.kind == kind for effect in self.effects.values())


def _all_needs(effect: EffectBase) -> tuple[str, ...]:
    if isinstance(effect, DriveCopiesEffect) and effect.folder_effect not in effect.needs:
        return (effect.folder_effect, *effect.needs)
    return effect.needs


def _template_problems(key: str, template: str, allowed: set[str]) -> list[str]:
    try:
        names = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    except ValueError as error:
        return [
            f"{key}: template is malformed ({error}). Fix: double {{{{ and }}}} for literal braces"
        ]
    unknown = sorted(n for n in names if n not in allowed)
    if not unknown:
        return []
    return [
        f"{key}: unknown placeholder {{{unknown[0]}}}. "
        f"Fix: use one of {', '.join('{' + a + '}' for a in sorted(allowed))}"
    ]


def _suggest(name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint} Known: {', '.join(known) or 'none'}"


def _cross_check(s: Settings) -> list[str]:
    """References between sections: rules → columns/labels/effects, effects → columns/needs."""
    problems: list[str] = []
    statuses = {n: c for n, c in s.columns.items() if c.type == "status"}
    links = {n for n, c in s.columns.items() if c.type == "link"}

    def status_label(key: str, column: str, label: str) -> None:
        if column not in statuses:
            problems.append(
                f"{key}: {column!r} is not a status column.{_suggest(column, list(statuses))}. "
                "Fix: name a column of type status under columns"
            )
            return
        labels = [*statuses[column].labels, *statuses[column].off_path]
        if label not in labels:
            problems.append(
                f"{key}: column {column!r} has no label {label!r}.{_suggest(label, labels)}. "
                "Fix: use one of its labels or add it to the column's labels"
            )

    for i, rule in enumerate(s.rules):
        status_label(f"rules[{i}]", rule.column, rule.label)
        for effect in rule.effects:
            if effect not in s.effects:
                problems.append(
                    f"rules[{i}].effects: no effect named {effect!r}.{_suggest(effect, list(s.effects))}. "
                    "Fix: define it under effects or correct the name"
                )
    fields = s.template_fields()
    for name, effect in s.effects.items():
        key = f"effects.{name}"
        for need in _all_needs(effect):
            if need not in s.effects:
                problems.append(
                    f"{key}.needs: no effect named {need!r}.{_suggest(need, list(s.effects))}. "
                    "Fix: define it or remove it from needs"
                )
        for column in _link_columns(effect):
            if column not in links:
                problems.append(
                    f"{key}: link_column {column!r} is not a column of type link."
                    f"{_suggest(column, sorted(links))}. Fix: add it under columns with type: link"
                )
        for template_key, template in _templates(effect):
            problems += _template_problems(f"{key}.{template_key}", template, fields)
        if isinstance(effect, EmailEffect) and effect.set_status:
            status_label(f"{key}.set_status", effect.set_status.column, effect.set_status.label)
        if isinstance(effect, FieldCheckEffect | HubIssueEffect):
            wanted = (
                effect.fields if isinstance(effect, FieldCheckEffect) else effect.fields.values()
            )
            for column in wanted:
                if column not in s.columns and column not in BUILTIN_FIELDS:
                    problems.append(
                        f"{key}.fields: no column named {column!r}.{_suggest(column, list(s.columns))}. "
                        "Fix: add it under columns or remove it"
                    )
    if not problems:
        try:
            dependency_order(
                {n: EffectSpec(n, e.kind, _all_needs(e)) for n, e in s.effects.items()}
            )
        except DependencyCycle as cycle:
            problems.append(
                f"effects: the needs form a cycle ({cycle}). Fix: remove one of these needs"
            )
    problems += _missing_secrets(s)
    return problems


def _link_columns(effect: EffectBase) -> list[str]:
    if isinstance(effect, DriveFolderEffect | HubIssueEffect):
        return [effect.link_column] if effect.link_column else []
    if isinstance(effect, DriveCopiesEffect):
        return [t.link_column for t in effect.templates.values() if t.link_column]
    return []


def _templates(effect: EffectBase) -> list[tuple[str, str]]:
    if isinstance(effect, DriveFolderEffect):
        return [("name", effect.name)]
    if isinstance(effect, DriveCopiesEffect):
        return [
            *((f"templates.{k}.name", t.name) for k, t in effect.templates.items()),
            *((f"placeholders.{k}", v) for k, v in effect.placeholders.items()),
        ]
    if isinstance(effect, EmailEffect):
        return [
            ("subject", effect.subject),
            ("body", effect.body),
            *((f"to[{i}]", t) for i, t in enumerate(effect.to)),
            *((f"cc[{i}]", t) for i, t in enumerate(effect.cc)),
        ]
    if isinstance(effect, HubIssueEffect):
        return [("title", effect.title), *([("body", effect.body)] if effect.body else [])]
    return []


def _missing_secrets(s: Settings) -> list[str]:
    problems = []

    def need(key: str, present: bool, what: str) -> None:
        if not present:
            env = "LEADBRIDGE_" + key.upper().replace(".", "__")
            problems.append(
                f"{key}: missing ({what}). Fix: set {env}, or put it in the file "
                f"{key.replace('.', '__')} in the secrets directory"
            )

    if s.effects or s.rules:
        need("monday.token", s.monday.token is not None, "the monday.com API token")
        if not s.monday.board_id:
            problems.append("monday.board_id: missing. Fix: set the id of the leads board")
    if (
        s.uses("drive_folder")
        or s.uses("drive_copies")
        or (s.uses("email") and s.mail.backend == "gmail")
    ):
        need(
            "google.service_account_file",
            s.google.service_account_file is not None,
            "the service-account JSON key file",
        )
    if s.uses("drive_folder") and not s.google.leads_folder_id:
        problems.append("google.leads_folder_id: missing. Fix: set the id of the leads folder")
    if s.uses("email") and s.mail.backend == "smtp" and s.mail.smtp.username:
        need("mail.smtp.password", s.mail.smtp.password is not None, "the SMTP password")
    if s.uses("email") and not s.mail.sender:
        problems.append("mail.sender: missing. Fix: set the address e-mails are sent from")
    if s.uses("hub_issue"):
        need("github.token", s.github.token is not None, "the GitHub token")
    return problems


# ---------------------------------------------------------------- loading


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [f"{path}: no such configuration file. Fix: pass --config PATH or set {CONFIG_ENV}"]
        ) from None
    except OSError as error:
        raise ConfigError([f"{path}: cannot be read ({error.strerror})."]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(
            [f"{path}{where}: malformed YAML ({problem}). Fix: check indentation and quoting there"]
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            [f"{path}: the top level must be a mapping of sections (monday:, columns:, …)."]
        )
    return data


def describe_validation_error(error: ValidationError) -> list[str]:
    """Turn pydantic's report into ``key: problem. Fix: …`` lines without echoing secrets."""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        key = ".".join(str(part) for part in item["loc"] if part not in _UNION_TAGS)
        kind = item["type"]
        message = item["msg"]
        if kind == "extra_forbidden":
            problems.append(f"{key}: unknown key. Fix: remove it or correct its spelling")
        elif kind == "missing":
            problems.append(f"{key}: required but not set. Fix: add it to the configuration")
        elif kind == "union_tag_invalid":
            problems.append(
                f"{key}.kind: unknown effect kind. Fix: use one of drive_folder, drive_copies, "
                "email, hub_issue, field_check"
            )
        elif kind == "value_error":
            text = message.removeprefix("Value error, ")
            problems.extend(text.splitlines() if not key else [f"{key}: {text}"])
        else:
            problems.append(f"{key}: {message}. Fix: correct the value")
    return problems


_UNION_TAGS = {"drive_folder", "drive_copies", "email", "hub_issue", "field_check"}


def load_settings(path: Path | None = None, *, secrets_dir: Path | None = None) -> Settings:
    """Read and validate everything; raise ``ConfigError`` listing every problem found."""
    if path is None and os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
    data = _read_yaml(path) if path is not None else {}
    secrets = secrets_dir or Path(os.environ.get(SECRETS_DIR_ENV, DEFAULT_SECRETS_DIR))
    try:
        return Settings(_secrets_dir=secrets if secrets.is_dir() else None, **data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None
