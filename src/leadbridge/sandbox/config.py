"""A complete leadbridge configuration that points every service at a running sandbox.

It is the packaged default pipeline plus the sandbox's addresses and ids, a throwaway
service-account key whose ``token_uri`` is the sandbox, and the tokens in a secrets directory
(``<section>__<key>`` files, as the settings loader reads them) so that no secret is ever
written into the YAML file.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from leadbridge.sandbox.credentials import write_service_account_file
from leadbridge.sandbox.world import (
    BOARD_ID,
    HUB_LABEL,
    HUB_REPOSITORY,
    LEADS_FOLDER_ID,
    PRICE_QUOTE_TEMPLATE_ID,
    PRICING_SHEET_TEMPLATE_ID,
    SALES_MAILBOX,
    SHARED_DRIVE_ID,
    default_pipeline,
)

if TYPE_CHECKING:
    from leadbridge.sandbox.server import Sandbox

API_VERSION = "2026-10"
#: The template each link of the default ``quote_copies`` effect copies, by sandbox id.
TEMPLATE_IDS = {"pricing_sheet": PRICING_SHEET_TEMPLATE_ID, "price_quote": PRICE_QUOTE_TEMPLATE_ID}
#: In-call retries as many as in production, but waiting milliseconds instead of seconds: the
#: sandbox's faults are injected, not a service that needs time to recover, so a run through
#: them (tests, the demo) retries just as often without sitting idle. A ``Retry-After`` a fault
#: names is still honoured as it is.
IN_CALL_RETRY = {"attempts": 3, "base_seconds": 0.01, "cap_seconds": 0.2}
#: A host under one of the example configuration's domains, as in ``finance@icsi.example.org``.
_EXAMPLE_SUBDOMAIN = re.compile(r"\.example\.(?:org|com)\b")


@dataclass(frozen=True)
class SandboxConfig:
    """Where the pieces were written; pass ``path`` as ``--config`` and ``secrets_dir`` as
    ``LEADBRIDGE_SECRETS_DIR`` (or ``load_settings(path, secrets_dir=...)``)."""

    path: Path
    secrets_dir: Path
    service_account_file: Path


def write_sandbox_config(
    sandbox: Sandbox, directory: Path, *, state_url: str | None = None, **overrides: Any
) -> SandboxConfig:
    """Write ``leadbridge.yaml``, ``secrets/`` and the key file into ``directory``.

    ``overrides`` are top-level sections merged into the result, key by key, e.g.
    ``retry={"backoff_seconds": [0]}`` or ``notes={"post": "failures"}``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    key_file = write_service_account_file(
        directory / "google-service-account.json", f"{sandbox.url}/google/token"
    )
    secrets_dir = directory / "secrets"
    secrets_dir.mkdir(exist_ok=True)
    _write_secret(secrets_dir / "monday__token", sandbox.monday_token)
    _write_secret(secrets_dir / "github__token", sandbox.github_token)
    document = merge_sections(sandbox_settings(sandbox, directory, key_file, state_url), overrides)
    path = directory / "leadbridge.yaml"
    path.write_text(
        yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8"
    )
    return SandboxConfig(path, secrets_dir, key_file)


def sandbox_settings(
    sandbox: Sandbox, directory: Path, key_file: Path, state_url: str | None
) -> dict[str, Any]:
    """The configuration as a plain document (everything but the secrets)."""
    pipeline = copy.deepcopy(default_pipeline())
    for effect in pipeline["effects"].values():
        for link, template in (effect.get("templates") or {}).items():
            if link in TEMPLATE_IDS:
                template["file_id"] = TEMPLATE_IDS[link]
    pipeline["effects"] = _on_sandbox_domains(pipeline["effects"])
    return {
        "state": {"url": state_url or f"sqlite:///{directory / 'leadbridge.db'}"},
        "monday": {
            "api_url": f"{sandbox.url}/monday/v2",
            "api_version": API_VERSION,
            "board_id": BOARD_ID,
            "connect_timeout_seconds": 2,
            "read_timeout_seconds": 10,
        },
        "google": {
            "service_account_file": str(key_file),
            "subject": SALES_MAILBOX,
            "api_base_url": f"{sandbox.url}/google/",
            "token_uri": f"{sandbox.url}/google/token",
            "leads_folder_id": LEADS_FOLDER_ID,
            "shared_drive_id": SHARED_DRIVE_ID,
            "timeout_seconds": 10,
        },
        "mail": {
            "backend": "gmail",
            "sender": SALES_MAILBOX,
            "archive_dir": str(directory / "sent-mail"),
        },
        "github": {
            "base_url": f"{sandbox.url}/github",
            "repository": HUB_REPOSITORY,
            "labels": [HUB_LABEL],
            "timeout_seconds": 10,
        },
        "retry": {"in_call": dict(IN_CALL_RETRY)},
        **pipeline,
    }


def _on_sandbox_domains(value: Any) -> Any:
    """``value`` with the default pipeline's hosts on the example's domains
    (``icsi.example.org``) moved to the reserved ``.example`` domain (``icsi.example``):
    ``check`` refuses the example's domains as placeholders left in place."""
    if isinstance(value, str):
        return _EXAMPLE_SUBDOMAIN.sub(".example", value)
    if isinstance(value, dict):
        return {key: _on_sandbox_domains(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_on_sandbox_domains(inner) for inner in value]
    return value


def merge_sections(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in section by section: an override of one key of a
    section keeps the section's other keys."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_sections(merged[key], value)
        else:
            merged[key] = value
    return merged


def _write_secret(path: Path, value: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value)
