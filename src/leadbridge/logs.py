"""Logging for an unattended service: JSON lines for machines, colour for people, no secrets.

Everything that can print goes through one chain: structlog's own loggers, the standard
``logging`` records of libraries (httpx, googleapiclient, PyGithub, APScheduler), warnings,
and uncaught exceptions in any thread. Redaction runs last, after exceptions have been turned
into text, so a token quoted in an HTTP error or shown in a traceback frame is removed too.
"""

from __future__ import annotations

import json as jsonlib
import logging
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

import structlog
from pydantic import BaseModel, SecretStr
from structlog.typing import EventDict, Processor, WrappedLogger

from leadbridge.settings import Settings

REDACTED = "[REDACTED]"
#: Shorter secrets would blank out ordinary words all over the logs; they are still removed
#: by the patterns when they appear as ``password=…`` or in a header.
MIN_SECRET_LENGTH = 6

#: Fields whose whole value is a secret, whatever it looks like.
_SECRET_KEYS = re.compile(
    r"(?i)(^|_)(token|password|passwd|secret|authorization|api_?key|private_key|credentials?)$"
)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM blocks, also when JSON-escaped ("\n" as two characters) or cut short.
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        REDACTED,
    ),
    # Authorization headers in any rendering: "Authorization: Bearer x", {'authorization': 'x'}
    (
        re.compile(
            r"(?i)(\bauthorization\b['\"]?\s*[:=]\s*['\"]?)"
            r"(?:(?:bearer|basic|token|bot)\s+)?[^\s'\",;}]+"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*"), rf"\1 {REDACTED}"),
    # key=value and "key": "value" for names that hold secrets, in URLs, text and reprs.
    (
        re.compile(
            r"(?i)\b((?:access_|refresh_|id_|api_|auth_|client_|private_)?"
            r"(?:token|password|passwd|pwd|secret|apikey|api_key|private_key)"
            r"['\"]?\s*[:=]\s*['\"]?)(?!\[REDACTED\])[^\s&'\",;}]+"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"([?&](?:key|sig|signature)=)[^\s&'\"]+"), rf"\1{REDACTED}"),
    # Credentials inside a URL: scheme://user:password@host
    (re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^\s/:@'\"]+:)[^\s/@'\"]+@"), rf"\1{REDACTED}@"),
    # Token shapes: GitHub, Google OAuth access tokens, JWTs (monday tokens are JWTs).
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), REDACTED),
    (re.compile(r"\bya29\.[A-Za-z0-9\-_]+"), REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+"), REDACTED),
)

#: Every text a pattern above matches holds one of these, once lowercased. Nine patterns cost
#: about 26 µs per string, these substring tests about 2 µs, and a first read of 10,000 leads
#: logs tens of thousands of strings, almost none secret-shaped. Non-ASCII text always takes
#: the patterns: case-insensitive matching pairs "ı" and "ſ" with "i" and "s", lower() not.
_SECRET_SHAPED_HINTS = (
    "-----begin",
    "authorization",
    "bearer",
    "token",
    "password",
    "passwd",
    "pwd",
    "secret",
    "apikey",
    "api_key",
    "private_key",
    "key=",
    "sig=",
    "signature=",
    "://",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "ya29.",
    "eyj",
)


def may_be_secret_shaped(value: str) -> bool:
    """False only when no pattern can match ``value``."""
    if not value.isascii():
        return True
    lowered = value.lower()
    return any(hint in lowered for hint in _SECRET_SHAPED_HINTS)


class Redactor:
    """Removes known secret values and secret-shaped text from every field of an event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        variants: set[str] = set()
        for secret in secrets:
            if len(secret) < MIN_SECRET_LENGTH:
                continue
            # The forms a value takes once it has been put in a URL, a JSON body or a repr.
            variants.update(
                {
                    secret,
                    quote(secret, safe=""),
                    quote_plus(secret, safe=""),
                    jsonlib.dumps(secret)[1:-1],
                    repr(secret)[1:-1],
                }
            )
        ordered = sorted(variants, key=len, reverse=True)
        self._known = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None

    def text(self, value: str) -> str:
        if self._known is not None:
            value = self._known.sub(REDACTED, value)
        if not may_be_secret_shaped(value):
            return value
        for pattern, replacement in _PATTERNS:
            value = pattern.sub(replacement, value)
        return value

    def value(self, key: str, value: Any) -> Any:
        if _SECRET_KEYS.search(key) and value not in (None, "", REDACTED):
            return REDACTED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bool | int | float) or value is None:
            return value
        if isinstance(value, Mapping):
            return {str(k): self.value(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(key, v) for v in value]
        # Anything else would be rendered with repr() or str() later, unredacted.
        return self.text(str(value))

    def __call__(self, logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
        return {key: self.value(key, value) for key, value in event.items()}


def secret_values(settings: Settings) -> list[str]:
    """Every secret the configuration holds, plus the service account's private key."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, SecretStr):
            found.append(node.get_secret_value())
        elif isinstance(node, BaseModel):
            for name in type(node).model_fields:
                walk(getattr(node, name))
        elif isinstance(node, Mapping):
            for item in node.values():
                walk(item)
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)

    walk(settings)
    found.extend(_service_account_secrets(settings.google.service_account_file))
    return [value for value in found if value]


def _service_account_secrets(path: Path | None) -> list[str]:
    if path is None:
        return []
    try:
        document = jsonlib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []  # `leadbridge check` reports an unreadable key file; here it holds no secret
    if not isinstance(document, dict):
        return []
    key = document.get("private_key")
    if not isinstance(key, str):
        return []
    # A traceback may quote one line of the key rather than the whole block.
    lines = [line for line in key.splitlines() if len(line) >= 32 and "-----" not in line]
    return [key, *lines]


def _drop_internal_fields(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    event.pop("positional_args", None)
    return event


def configure_logging(
    *, json: bool | None = None, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> None:
    """Route every log line through redaction to ``stream``; JSON unless it is a terminal.

    The service logs to stdout (the container's log); one-shot commands pass stderr so that
    their human summary on stdout stays readable and parseable.

    Call again with more secrets once the settings are known; the last call wins.
    """
    stream = stream or sys.stdout
    as_json = json if json is not None else not stream.isatty()
    redact = Redactor(secrets)
    renderer: Processor = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: modules bind loggers at import, before the secrets are known.
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _drop_internal_fields,
            # Exceptions become text here so that the redactor sees the traceback.
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    _log_uncaught_exceptions()


def _log_uncaught_exceptions() -> None:
    """Python prints uncaught exceptions to stderr raw; send them through the redactor."""
    log = structlog.get_logger("leadbridge.uncaught")

    def on_main(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        log.critical("uncaught exception", exc_info=(kind, error, tb))

    def on_thread(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        thread = args.thread.name if args.thread else "?"
        log.critical(
            "uncaught exception in a thread",
            thread=thread,
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )

    sys.excepthook = on_main
    threading.excepthook = on_thread
