"""Choosing the mail backend named in the configuration."""

from __future__ import annotations

from typing import Protocol

from leadbridge.domain.ports import LiveCheck, Mailer
from leadbridge.settings import Settings


class CheckableMailer(Mailer, LiveCheck, Protocol):
    """What every backend offers: sending, and a live check for ``leadbridge check``."""


def build_mailer(settings: Settings) -> CheckableMailer:
    if settings.mail.backend == "gmail":
        from leadbridge.adapters.google.gmail import GmailMailer

        return GmailMailer.from_settings(settings)
    from .smtp import SmtpMailer

    return SmtpMailer.from_settings(settings)
