"""``leadbridge init``: the default pipeline fitted to the user's board, as a configuration file.

Nobody should copy twenty column ids by hand. ``init`` reads the board once, finds each column
the default pipeline needs by its title (case, spaces and punctuation do not matter) and each
label it reacts to by its text, and writes a file of the example configuration's sections with
the board's column ids and label spellings in place. What a board cannot tell (the Drive folder,
the templates, the addresses) keeps the example's placeholders, which every command that talks
to the services refuses until they are replaced; ``init`` lists exactly those as still to fill
in. The token is used for the read and never written: the file says where secrets go.
"""

from __future__ import annotations

import copy
import getpass
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import yaml
from pydantic import ValidationError

from leadbridge.adapters.monday.client import MondayClient
from leadbridge.adapters.monday.failures import ACCESS_FIX, BOARD_FIX, TOKEN_FIX
from leadbridge.adapters.monday.layout import BoardColumn, BoardLayout, read_layout
from leadbridge.defaults import default_pipeline
from leadbridge.domain.errors import ExternalError, PermanentError
from leadbridge.domain.render import in_words
from leadbridge.exits import EXIT_FAILED, EXIT_OK, ConfigError
from leadbridge.settings import (
    DEFAULT_SECRETS_DIR,
    SECRETS_DIR_ENV,
    GitHubSettings,
    MondaySettings,
    UiSettings,
    describe_validation_error,
)
from leadbridge.settings.environment import environment_name, secret_file_name
from leadbridge.settings.placeholders import EXAMPLE_IDS, EXAMPLE_MAILBOX, placeholder_problems

DEFAULT_OUTPUT = Path("leadbridge.yaml")
#: Where the example (and the container) keeps the state database and the Google key.
EXAMPLE_STATE_URL = "sqlite:////data/leadbridge.db"
EXAMPLE_KEY_FILE = "/config/google-service-account.json"
#: Which setting a refusal of the board read is about, by the fix monday's failure carries.
_KEY_OF_FIX = {TOKEN_FIX: "monday.token", ACCESS_FIX: "monday.token", BOARD_FIX: "monday.board_id"}
_BOARD_IN_URL = re.compile(r"/boards/(\d+)")
_SECTION_START = re.compile(r"\n(?=\w)")


@dataclass
class FittedConfig:
    """The configuration as a document, and what fitting it to the board found."""

    document: dict[str, Any]
    #: ``key → column id (title, type)`` for every column found on the board.
    matched: list[str] = field(default_factory=list)
    #: ``key: problem. Fix: …`` for every column or label the board does not have.
    unmatched: list[str] = field(default_factory=list)
    #: Labels of the board's status columns that the pipeline does not use (said, not wrong).
    unused_labels: list[str] = field(default_factory=list)


def fit_pipeline(layout: BoardLayout, *, api_url: str, api_version: str) -> FittedConfig:
    """The example's sections with the board's ids and labels; the rest its placeholders."""
    pipeline = copy.deepcopy(default_pipeline())
    github = GitHubSettings()
    document: dict[str, Any] = {
        "state": {"url": EXAMPLE_STATE_URL},
        "monday": {"api_url": api_url, "api_version": api_version, "board_id": layout.board_id},
        "google": {
            "service_account_file": EXAMPLE_KEY_FILE,
            "subject": EXAMPLE_MAILBOX,
            "leads_folder_id": EXAMPLE_IDS["google.leads_folder_id"],
            "shared_drive_id": EXAMPLE_IDS["google.shared_drive_id"],
        },
        "mail": {"backend": "gmail", "sender": EXAMPLE_MAILBOX},
        "github": {"repository": github.repository, "labels": list(github.labels)},
        **pipeline,
    }
    fitted = FittedConfig(document)
    for key, spec in pipeline["columns"].items():
        column = _column(key, spec, layout, fitted)
        if column is not None and spec.get("type") == "status":
            _fit_labels(key, spec, column, fitted)
    return fitted


def _normal(text: str) -> str:
    """Names as people type them are one: ``Contact e-mail``, ``contact_email``, ``CONTACT EMAIL``."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _column(
    key: str, spec: dict[str, Any], layout: BoardLayout, fitted: FittedConfig
) -> BoardColumn | None:
    """The board's column for ``key``, its id written into ``spec``; None (said) if none fits."""
    wanted = spec.get("type", "text")
    titled = [column for column in layout.columns if _normal(column.title) == _normal(key)]
    where = f"columns.{key}"
    if not titled:
        titles = ", ".join(f"“{c.title}”" for c in layout.columns)
        fitted.unmatched.append(
            f"{where}: no column titled “{in_words(key)}” (a {wanted} column) on the board. "
            f"Fix: give that title to the board's column for it, or set {where}.id by hand "
            f"(the board's columns: {titles})"
        )
        return None
    if len(titled) > 1:
        ids = ", ".join(c.id for c in titled)
        fitted.unmatched.append(
            f"{where}: {len(titled)} columns are titled “{in_words(key)}” ({ids}). Fix: set "
            f"{where}.id to the one leadbridge should use"
        )
        return None
    column = titled[0]
    if column.type != wanted:
        fitted.unmatched.append(
            f"{where}: the board's column “{column.title}” ({column.id}) is of type "
            f"{column.type}; leadbridge needs a {wanted} column. Fix: change its type on the "
            f"board, or set {where}.id to a {wanted} column"
        )
        return None
    spec["id"] = column.id
    fitted.matched.append(f"{key} → {column.id} (“{column.title}”, {column.type})")
    return column


def _fit_labels(key: str, spec: dict[str, Any], column: BoardColumn, fitted: FittedConfig) -> None:
    """The board's spelling of each label the pipeline uses, everywhere the file names it."""
    on_board = {_normal(label): label for label in column.labels}
    expected = [*spec.get("labels", []), *spec.get("off_path", [])]
    renamed = {}
    for label in expected:
        found = on_board.get(_normal(label))
        if found is None:
            fitted.unmatched.append(
                f"columns.{key}: the board's “{column.title}” has no label “{label}” (its "
                f"labels: {', '.join(column.labels) or 'none'}). Fix: add the label on the "
                f"board, or rename it under columns.{key} and in the rules"
            )
        elif found != label:
            renamed[label] = found
    known = {_normal(label) for label in expected}
    unused = [label for label in column.labels if _normal(label) not in known]
    if unused:
        fitted.unused_labels.append(f"“{column.title}”: {', '.join(unused)}")
    if renamed:
        _rename_labels(fitted.document, key, renamed)


def _rename_labels(document: dict[str, Any], column: str, renamed: Mapping[str, str]) -> None:
    spec = document["columns"][column]
    for part in ("labels", "off_path", "requests"):
        if part in spec:
            spec[part] = [renamed.get(label, label) for label in spec[part]]
    for rule in document["rules"]:
        if rule["column"] == column:
            rule["label"] = renamed.get(rule["label"], rule["label"])
    _rename_in_effects(document["effects"], column, renamed)
    ui = UiSettings()
    if column == ui.signed_column and ui.signed_label in renamed:
        document["ui"] = {"signed_column": column, "signed_label": renamed[ui.signed_label]}


def _rename_in_effects(value: Any, column: str, renamed: Mapping[str, str]) -> None:
    """A label an effect writes (``{column: …, label: …}``, as ``set_status``)."""
    if isinstance(value, dict):
        if value.get("column") == column and value.get("label") in renamed:
            value["label"] = renamed[value["label"]]
        for inner in value.values():
            _rename_in_effects(inner, column, renamed)
    elif isinstance(value, list):
        for inner in value:
            _rename_in_effects(inner, column, renamed)


# ---------------------------------------------------------------- the file


class _Dumper(yaml.SafeDumper):
    """Multi-line texts (e-mail bodies) as ``|`` blocks, as a person would write them."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def render_file(fitted: FittedConfig, layout: BoardLayout, today: date) -> str:
    """The file's text: a header saying where it came from, where secrets go and what is
    left to fill in, then the document."""
    to_fill = [problem.split(":", 1)[0] for problem in placeholder_problems(fitted.document)]
    secrets = [
        f"#   {environment_name(key)} or the file {secret_file_name(key)}"
        for key in ("monday.token", "github.token")
    ]
    header = [
        f"# leadbridge configuration, written by `leadbridge init` on {today.isoformat()} from the",
        f"# monday board {layout.board_id} (“{layout.name}”): column ids and labels are the board's.",
        "# config/leadbridge.example.yaml in leadbridge's repository documents every key.",
        "#",
        "# Secrets never go in this file. Set each one in the environment or as a file in",
        f"# ${SECRETS_DIR_ENV} (default {DEFAULT_SECRETS_DIR}):",
        *secrets,
        "#",
        *(
            ["# Still the example's placeholders (every command but status refuses them):"]
            + [f"#   {key}" for key in to_fill]
            if to_fill
            else []
        ),
        "# Run `leadbridge check` after every change.",
        "",
        "",
    ]
    body = yaml.dump(
        fitted.document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
    # A blank line before each section (only they start at the margin), as in the example.
    return "\n".join(header) + _SECTION_START.sub("\n\n", body)


def report(fitted: FittedConfig, layout: BoardLayout, output: Path, out: TextIO) -> None:
    """What was found, what was written, and what a person must still do."""
    document = fitted.document
    columns = len(document["columns"])
    print(
        f"Read board {layout.board_id} (“{layout.name}”) as {layout.user}: "
        f"{len(layout.columns)} columns.",
        file=out,
    )
    print(f"Found {len(fitted.matched)} of the {columns} columns leadbridge uses:", file=out)
    for line in fitted.matched:
        print(f"  {line}", file=out)
    if fitted.unmatched:
        print("Not found on the board (`leadbridge check` compares them again):", file=out)
        for line in fitted.unmatched:
            print(f"  - {line}", file=out)
    if fitted.unused_labels:
        print("Labels on the board that leadbridge does not react to:", file=out)
        for line in fitted.unused_labels:
            print(f"  {line}", file=out)
    print(f"Wrote {output} (no token in it).", file=out)
    print("Still to fill in by hand (the example's placeholders):", file=out)
    for problem in placeholder_problems(document):
        print(f"  - {problem}", file=out)
    print(
        "Kept from the example, to change if they do not fit: "
        f"state.url {document['state']['url']} and google.service_account_file "
        f"{document['google']['service_account_file']} (the container's volumes), "
        f"github.repository {document['github']['repository']}, github.labels "
        f"{', '.join(document['github']['labels'])}.",
        file=out,
    )
    print(
        f"Secrets: set {environment_name('monday.token')} and "
        f"{environment_name('github.token')} (or the files {secret_file_name('monday.token')} "
        f"and {secret_file_name('github.token')} in ${SECRETS_DIR_ENV}). "
        f"Then run: leadbridge check --config {output}",
        file=out,
    )


# ---------------------------------------------------------------- the command


@dataclass(frozen=True)
class InitRequest:
    """What the command line gave; the rest comes from the environment or is asked for."""

    board_id: str | None
    token_file: Path | None
    output: Path
    force: bool


def run_init(
    request: InitRequest,
    *,
    environ: Mapping[str, str],
    interactive: bool,
    ask: Callable[[str], str] = input,
    ask_secret: Callable[[str], str] = getpass.getpass,
    out: TextIO,
    today: date,
) -> int:
    """Read the board, write the file, say what is left: exit 0, or 1 when a column or label
    was not found (the file is written all the same) or the board could not be read now.
    What was given and cannot be used (the token, the board, the output) raises
    ``ConfigError``, exit 2, before anything is written."""
    if request.output.exists() and not request.force:
        raise ConfigError(
            [
                f"--output: {request.output} already exists. Fix: pass --force to replace it, "
                "or --output another path"
            ]
        )
    monday = _monday_settings(request, environ, interactive, ask)
    token = _token(request.token_file, environ, interactive, ask_secret)
    client = MondayClient(
        url=monday.api_url,
        token=token,
        api_version=monday.api_version,
        connect_timeout=monday.connect_timeout_seconds,
        read_timeout=monday.read_timeout_seconds,
    )
    try:
        layout = read_layout(client, monday.board_id)
    except PermanentError as error:
        key = _KEY_OF_FIX.get(error.fix, "monday")
        raise ConfigError([f"{key}: {error.message}. Fix: {error.fix}"]) from None
    except ExternalError as error:
        print(f"leadbridge init: the board could not be read: {error.describe()}", file=out)
        return EXIT_FAILED
    finally:
        client.close()
    fitted = fit_pipeline(layout, api_url=monday.api_url, api_version=monday.api_version)
    request.output.parent.mkdir(parents=True, exist_ok=True)
    request.output.write_text(render_file(fitted, layout, today), encoding="utf-8")
    report(fitted, layout, request.output, out)
    return EXIT_OK if not fitted.unmatched else EXIT_FAILED


def _monday_settings(
    request: InitRequest, environ: Mapping[str, str], interactive: bool, ask: Callable[[str], str]
) -> MondaySettings:
    """The board id (given, in the environment, or asked for) and the API's address and
    version (``LEADBRIDGE_MONDAY__API_URL`` / ``__API_VERSION``, e.g. for the sandbox)."""
    board = request.board_id or environ.get(environment_name("monday.board_id"), "")
    if not board and interactive:
        board = ask("monday board id (the number in the board's URL): ")
    board = board.strip()
    in_url = _BOARD_IN_URL.search(board)
    board = in_url.group(1) if in_url else board
    if not board.isdigit():
        shown = f"{board!r} is not a board id" if board else "not given"
        raise ConfigError(
            [
                f"monday.board_id: {shown}. Fix: pass --board-id with the number in the board's "
                f"URL (…monday.com/boards/NUMBER), or set {environment_name('monday.board_id')}"
            ]
        )
    values: dict[str, Any] = {"board_id": board}
    for key in ("api_url", "api_version"):
        given = environ.get(environment_name(f"monday.{key}"))
        if given:
            values[key] = given
    try:
        return MondaySettings.model_validate(values)
    except ValidationError as error:
        raise ConfigError([f"monday.{line}" for line in describe_validation_error(error)]) from None


def _token(
    token_file: Path | None,
    environ: Mapping[str, str],
    interactive: bool,
    ask_secret: Callable[[str], str],
) -> str:
    """From ``--token-file``, the environment, the secrets directory, or typed (not shown)."""
    variable = environment_name("monday.token")
    if token_file is not None:
        return _read_token(token_file, "--token-file")
    if environ.get(variable, "").strip():
        return environ[variable].strip()
    secret = Path(environ.get(SECRETS_DIR_ENV, DEFAULT_SECRETS_DIR)) / secret_file_name(
        "monday.token"
    )
    if secret.is_file():
        return _read_token(secret, "monday.token")
    if interactive:
        typed = ask_secret("monday API token (not shown): ").strip()
        if typed:
            return typed
    raise ConfigError(
        [
            f"monday.token: not given. Fix: set {variable}, pass --token-file PATH, put it in "
            f"${SECRETS_DIR_ENV}/{secret_file_name('monday.token')}, or run leadbridge init in "
            "a terminal to type it"
        ]
    )


def _read_token(path: Path, key: str) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise ConfigError(
            [f"{key}: {path} cannot be read ({reason}). Fix: make it a readable file"]
        ) from None
    if not token:
        raise ConfigError([f"{key}: {path} is empty. Fix: write the monday API token into it"])
    return token


def interactive_terminal() -> bool:
    """Whether init may ask (a person at a terminal), rather than fail saying what to pass."""
    return os.isatty(0)
