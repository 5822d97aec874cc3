"""Configuration: infrastructure sections, the pipeline schema, and loading with its errors."""

from leadbridge.settings.infra import (
    GitHubSettings,
    GoogleSettings,
    GuardSettings,
    InCallRetrySettings,
    MailSettings,
    MondaySettings,
    NotesSettings,
    RetrySettings,
    Section,
    ServiceSettings,
    SmtpSettings,
    StateSettings,
    UiSettings,
)
from leadbridge.settings.loading import (
    CONFIG_ENV,
    DEFAULT_SECRETS_DIR,
    SECRETS_DIR_ENV,
    ConfigError,
    Settings,
    describe_validation_error,
    load_settings,
)
from leadbridge.settings.pipeline import BUILTIN_FIELDS, ColumnSettings, RuleSettings

__all__ = [
    "BUILTIN_FIELDS",
    "CONFIG_ENV",
    "DEFAULT_SECRETS_DIR",
    "SECRETS_DIR_ENV",
    "ColumnSettings",
    "ConfigError",
    "GitHubSettings",
    "GoogleSettings",
    "GuardSettings",
    "InCallRetrySettings",
    "MailSettings",
    "MondaySettings",
    "NotesSettings",
    "RetrySettings",
    "RuleSettings",
    "Section",
    "ServiceSettings",
    "Settings",
    "SmtpSettings",
    "StateSettings",
    "UiSettings",
    "describe_validation_error",
    "load_settings",
]
