"""The placeholders ``config/leadbridge.example.yaml`` ships, and the check that none is left.

A copy of the example that still says ``contracting@icsi.example.org`` or a made-up folder id
passes every other check: the mistake surfaces only when a lead reaches the e-mail or the
copy, weeks later. So the commands that talk to the services refuse, before anything runs,
any address or link on a domain of the example (``example.org``, ``example.com``) where the
example has one, and the example's own ids. The sandbox and the demo use the reserved
``.example`` top-level domain instead, so their configurations are never mistaken for one.

``leadbridge init`` writes these same values for what it cannot read from the board, so what
it lists as still to fill in is exactly what this check refuses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

#: A word with a host on the example's domains, e.g. ``finance@icsi.example.org`` or
#: ``https://forms.example.org/2i2c-questionnaire``.
_ON_EXAMPLE_DOMAIN = re.compile(
    r"[^\s<>\"'(),;]*(?<![\w-])(?:[a-z0-9-]+\.)*example\.(?:org|com)(?![\w-])[^\s<>\"'(),;]*",
    re.IGNORECASE,
)

#: The mailbox the example sends as (``google.subject`` and ``mail.sender``).
EXAMPLE_MAILBOX = "sales@example.org"
#: Ids the example ships, by key; none of them names anything real.
EXAMPLE_IDS: dict[str, str] = {
    "monday.board_id": "1234567890",
    "google.leads_folder_id": "0AbCdEfLeadsFolder",
    "google.shared_drive_id": "0AbCdEfSharedDrive",
}
#: The template file ids of the example's quote copies.
EXAMPLE_TEMPLATE_IDS = frozenset({"1PricingSheetTemplateId", "1PriceQuoteTemplateId"})

#: What to put in place of each placeholder, by key.
_WANTED = {
    "monday.board_id": "your leads board's id (the number in its URL; `leadbridge init` "
    "fills it in)",
    "google.leads_folder_id": "the id of the leads folder (the last part of its Drive URL)",
    "google.shared_drive_id": "the id of the Shared Drive that holds the leads folder",
    "google.subject": "the Workspace mailbox leadbridge sends as",
    "google.drive_subject": "the Workspace user Drive acts as, or remove the key",
    "mail.sender": "the address leadbridge sends from (the same mailbox as google.subject)",
    "mail.smtp.host": "your mail server's host name",
    "mail.smtp.username": "the login on your mail server",
}
_ADDRESS_KEYS = ("google.subject", "google.drive_subject", "mail.sender")
_SMTP_KEYS = ("mail.smtp.host", "mail.smtp.username")


def placeholder_problems(config: Mapping[str, Any]) -> list[str]:
    """One ``key: problem. Fix: …`` line per placeholder of the example still in ``config``.

    ``config`` is the configuration as plain data (a YAML document, or the settings dumped
    with ``model_dump(mode="json")``, which includes what the environment and secret files
    set): a placeholder replaced by ``LEADBRIDGE_GOOGLE__LEADS_FOLDER_ID`` is no problem.
    """
    problems = []
    for key, example in EXAMPLE_IDS.items():
        value = _at(config, key)
        if value is not None and str(value).strip() == example:
            problems.append(_problem(key, example, _WANTED[key]))
    keys = [*_ADDRESS_KEYS, *(_SMTP_KEYS if _at(config, "mail.backend") == "smtp" else ())]
    for key in keys:
        value = _at(config, key)
        for found in example_domain_words(value) if isinstance(value, str) else ():
            problems.append(_problem(key, found, _WANTED[key]))
    for name, params in (config.get("effects") or {}).items():
        for key, text in _strings(params, f"effects.{name}"):
            if text.strip() in EXAMPLE_TEMPLATE_IDS:
                wanted = "the template's Drive file id (the part after /d/ in its URL)"
                problems.append(_problem(key, text.strip(), wanted))
            for found in example_domain_words(text):
                wanted = "the real address" if "@" in found else "the real link"
                problems.append(_problem(key, found, wanted))
    return problems


def example_domain_words(text: str) -> list[str]:
    """The addresses and links in ``text`` on one of the example's domains, each once."""
    return list(dict.fromkeys(match.group(0) for match in _ON_EXAMPLE_DOMAIN.finditer(text)))


def _problem(key: str, value: str, wanted: str) -> str:
    return (
        f"{key}: {value!r} is a placeholder of the example configuration. Fix: replace the "
        f"example's placeholder with {wanted}"
    )


def _at(config: Mapping[str, Any], key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _strings(value: Any, key: str) -> Iterator[tuple[str, str]]:
    """Every text inside an effect's settings, with its key as the errors write keys."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, Mapping):
        for name, inner in value.items():
            yield from _strings(inner, f"{key}.{name}")
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            yield from _strings(inner, f"{key}[{index}]")
