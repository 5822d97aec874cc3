"""The services effect kinds talk through, shared by the kinds that use the same one.

Each names the adapter the wiring builds for it and what the settings must provide; a kind
that brings a new service declares its own ``PortSpec`` in its module instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadbridge.effects.base import PortSpec

if TYPE_CHECKING:
    from leadbridge.settings import Settings


def missing_secret(key: str, present: bool, what: str) -> list[str]:
    """The standard line for a secret that is not set, naming both ways to set it."""
    if present:
        return []
    env = "LEADBRIDGE_" + key.upper().replace(".", "__")
    return [
        f"{key}: missing ({what}). Fix: set {env}, or put it in the file "
        f"{key.replace('.', '__')} in the secrets directory"
    ]


def _google_key(settings: Settings) -> list[str]:
    return missing_secret(
        "google.service_account_file",
        settings.google.service_account_file is not None,
        "the service-account JSON key file",
    )


def _drive_needs(settings: Settings) -> list[str]:
    problems = _google_key(settings)
    if not settings.google.leads_folder_id:
        problems.append("google.leads_folder_id: missing. Fix: set the id of the leads folder")
    return problems


def _mail_needs(settings: Settings) -> list[str]:
    mail = settings.mail
    problems = _google_key(settings) if mail.backend == "gmail" else []
    if mail.backend == "smtp" and mail.smtp.username:
        problems += missing_secret(
            "mail.smtp.password", mail.smtp.password is not None, "the SMTP password"
        )
    if not mail.sender:
        problems.append("mail.sender: missing. Fix: set the address e-mails are sent from")
    return problems


def _github_needs(settings: Settings) -> list[str]:
    return missing_secret("github.token", settings.github.token is not None, "the GitHub token")


DRIVE = PortSpec(
    "drive", "google", "leadbridge.adapters.google.drive:GoogleDrive.from_settings", _drive_needs
)
MAILER = PortSpec("mailer", "mail", "leadbridge.adapters.mail.factory:build_mailer", _mail_needs)
ISSUES = PortSpec(
    "issues",
    "github",
    "leadbridge.adapters.github.issues:GitHubIssues.from_settings",
    _github_needs,
)
