"""The whole configuration, and how it is read: one YAML file, environment, secret files.

Precedence, highest first: environment (``LEADBRIDGE_MONDAY__TOKEN``), secret files
(``<secrets_dir>/monday__token``), the YAML file. Every problem is reported as
``key: problem. Fix: …`` before anything touches the network, so a typo never half-runs.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, SerializeAsAny, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from leadbridge.domain.model import Pipeline
from leadbridge.effects.base import EffectParams
from leadbridge.exits import ConfigError
from leadbridge.settings.environment import (
    environment_problems,
    secret_file_problems,
    secrets_in_file,
)
from leadbridge.settings.infra import (
    AlertsSettings,
    GitHubSettings,
    GoogleSettings,
    GuardSettings,
    MailSettings,
    MondaySettings,
    NotesSettings,
    RetrySettings,
    ServiceSettings,
    StateSettings,
    UiSettings,
)
from leadbridge.settings.pipeline import (
    BUILTIN_FIELDS,
    ColumnSettings,
    RuleSettings,
    build_pipeline,
    cross_check,
    link_names,
    validate_effects,
)

CONFIG_ENV = "LEADBRIDGE_CONFIG"
SECRETS_DIR_ENV = "LEADBRIDGE_SECRETS_DIR"
DEFAULT_SECRETS_DIR = "/run/secrets"

#: Whether validation requires what talking to the services needs (tokens, keys, sender…);
#: ``load_settings(require_secrets=False)`` turns it off for commands that read only the
#: state database (``leadbridge status``).
_REQUIRE_SECRETS: ContextVar[bool] = ContextVar("leadbridge_require_secrets", default=True)


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
    guard: GuardSettings = GuardSettings()
    ui: UiSettings = UiSettings()
    alerts: AlertsSettings = AlertsSettings()
    columns: dict[str, ColumnSettings] = Field(default_factory=dict)
    #: Each value is an instance of its kind's own model (see ``settings.pipeline``).
    effects: dict[str, SerializeAsAny[EffectParams]] = Field(default_factory=dict)
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

    @field_validator("effects", mode="before")
    @classmethod
    def _effects_by_kind(cls, value: Any) -> dict[str, EffectParams]:
        return validate_effects(value)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        problems = list(dict.fromkeys(cross_check(self, secrets=_REQUIRE_SECRETS.get())))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # ------------------------------------------------------------ derived views

    def pipeline(self) -> Pipeline:
        return build_pipeline(self)

    def link_names(self) -> set[str]:
        return link_names(self.effects)

    def template_fields(self) -> set[str]:
        return {*BUILTIN_FIELDS, *self.columns, *(f"{link}_url" for link in self.link_names())}

    def uses(self, kind: str) -> bool:
        return any(effect.kind == kind for effect in self.effects.values())


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
        # libyaml's safe loader where PyYAML was built with it: the same documents, 10x faster.
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
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
        # ``rules[1].label``: list positions as the cross-checks write them.
        key = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"]
        ).lstrip(".")
        kind = item["type"]
        message = item["msg"]
        if kind == "extra_forbidden":
            problems.append(f"{key}: unknown key. Fix: remove it or correct its spelling")
        elif kind == "missing":
            problems.append(f"{key}: required but not set. Fix: add it to the configuration")
        elif kind == "value_error":
            text = message.removeprefix("Value error, ")
            # Sections that check their own parts (effects, cross-checks) already name keys.
            keyed = not key or key == "effects"
            problems.extend(text.splitlines() if keyed else [f"{key}: {text}"])
        else:
            problems.append(f"{key}: {_in_words(kind, message, item.get('ctx') or {})}")
    return problems


#: pydantic's error types, in words: what the value should be, and how to write it in YAML.
_WORDS = {
    **dict.fromkeys(
        ("tuple_type", "list_type", "set_type", "frozen_set_type", "iterable_type"),
        "should be a list. Fix: write it as [a, b], or one '- a' line per entry",
    ),
    **dict.fromkeys(
        ("dict_type", "mapping_type", "model_type", "model_attributes_type"),
        "should be a section of keys and values. Fix: write each as 'key: value', indented "
        "under it",
    ),
    "string_type": 'should be text. Fix: put the value in quotes, e.g. "1234"',
    **dict.fromkeys(
        ("int_type", "int_parsing", "int_from_float"),
        "should be a whole number. Fix: e.g. 30",
    ),
    **dict.fromkeys(("float_type", "float_parsing"), "should be a number. Fix: e.g. 2.5"),
    **dict.fromkeys(("bool_type", "bool_parsing"), "should be true or false"),
    "path_type": "should be a file path. Fix: e.g. /config/file.json",
    "greater_than_equal": "should be at least {ge}",
    "greater_than": "should be more than {gt}",
    "less_than_equal": "should be at most {le}",
    "less_than": "should be less than {lt}",
    "literal_error": "should be {expected}",
    "enum": "should be {expected}",
    "string_too_short": "should not be empty",
    "too_short": "should have at least {min_length} entries",
}


def _in_words(kind: str, message: str, context: dict[str, Any]) -> str:
    words = _WORDS.get(kind)
    if words is None:
        # Anything else: pydantic's own sentence, without its "Input" and class names.
        text = message.removeprefix("Input ")
        return f"{text}. Fix: correct the value"
    try:
        text = words.format(**context)
    except (KeyError, IndexError):
        text = words.split("{")[0].rstrip()
    return text if "Fix:" in text else f"{text}. Fix: correct the value"


def load_settings(
    path: Path | None = None, *, secrets_dir: Path | None = None, require_secrets: bool = True
) -> Settings:
    """Read and validate everything; raise ``ConfigError`` listing every problem found.

    ``require_secrets=False``: tokens, keys and the other settings only talking to a service
    needs may be missing (a command that reads only the state database).
    """
    if path is None and os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
    data = _read_yaml(path) if path is not None else {}
    secrets = secrets_dir or Path(os.environ.get(SECRETS_DIR_ENV, DEFAULT_SECRETS_DIR))
    secrets_found = secrets if secrets.is_dir() else None
    # What the sources themselves get wrong, reported with what validation finds.
    early = secrets_in_file(Settings, data, path) if path is not None else []
    early += environment_problems(Settings, os.environ, secrets=require_secrets)
    if require_secrets:
        early += secret_file_problems(Settings, secrets_found)
    token = _REQUIRE_SECRETS.set(require_secrets)
    try:
        settings = Settings(_secrets_dir=secrets_found, **data)
    except ValidationError as error:
        problems = [*early, *describe_validation_error(error)]
        raise ConfigError(list(dict.fromkeys(problems))) from None
    except SettingsError as error:
        # A value of the environment or a secret file pydantic-settings cannot decode; the
        # checks above explain the known causes, this names any other.
        raise ConfigError(
            early
            or [
                f"the environment or the secrets directory: {error}. Fix: correct the "
                "LEADBRIDGE_ variable or secret file named there (lists and sections as JSON)"
            ]
        ) from None
    except OSError as error:  # a secret file the secrets source could not open
        raise ConfigError(
            early
            or [
                f"LEADBRIDGE_SECRETS_DIR: {error.filename} cannot be read ({error.strerror}). "
                "Fix: make the secrets readable by the user leadbridge runs as"
            ]
        ) from None
    finally:
        _REQUIRE_SECRETS.reset(token)
    if early:
        raise ConfigError(early)
    return settings
