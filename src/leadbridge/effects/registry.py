"""Every effect kind leadbridge knows, by the name used as ``kind:`` in the configuration.

Adding a kind is one module under ``effects/`` and one line below; the configuration schema,
the kind list in error messages, the adapter wiring and the dry-run text all come from here.
"""

from __future__ import annotations

from typing import Any

from leadbridge.effects.base import EffectKind, EffectParams, PortSpec
from leadbridge.effects.drive_copies import DriveCopies
from leadbridge.effects.drive_folder import DriveFolder
from leadbridge.effects.email import Email
from leadbridge.effects.field_check import FieldCheck
from leadbridge.effects.folder_file_check import FolderFileCheck
from leadbridge.effects.hub import HubIssue

KINDS: dict[str, EffectKind[Any]] = {}


def register(kind: EffectKind[Any]) -> EffectKind[Any]:
    """Make ``kind`` known to configuration, wiring and planning (also used by tests)."""
    KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    KINDS.pop(name, None)


def kind_of(name: str) -> EffectKind[Any]:
    return KINDS[name]


def kind_names() -> list[str]:
    return list(KINDS)


def ports_in_use(params: list[EffectParams]) -> dict[str, PortSpec]:
    """The ports the configured effects need, by name, each once."""
    ports: dict[str, PortSpec] = {}
    for p in params:
        port = KINDS[p.kind].port
        if port is not None:
            ports.setdefault(port.name, port)
    return ports


for _kind in (Email(), DriveFolder(), DriveCopies(), HubIssue(), FieldCheck(), FolderFileCheck()):
    register(_kind)
