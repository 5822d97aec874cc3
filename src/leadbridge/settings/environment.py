"""What the configuration's sources and the machine must get right before anything runs.

``load_settings`` asks the first three: secrets written into the YAML file, ``LEADBRIDGE_``
environment variables that name no setting or cannot be read as one, and secret files that
are empty or unreadable. The CLI asks the last two before a command starts: whether the state
database's directory is there and writable, and whether ``run`` can listen on its port. Each
problem is one ``key: problem. Fix: …`` line.
"""

from __future__ import annotations

import difflib
import json
import os
import socket
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr

PREFIX = "LEADBRIDGE_"
#: ``LEADBRIDGE_`` variables that are not settings: the loader's own, and the test suite's.
NOT_SETTINGS = frozenset({"LEADBRIDGE_CONFIG", "LEADBRIDGE_SECRETS_DIR", "LEADBRIDGE_SCREENSHOTS"})
_TEST_VARIABLES = "LEADBRIDGE_TEST_"


# ---------------------------------------------------------------- the model's shape


def _unwrapped(annotation: Any) -> Any:
    """``X | None`` and ``Annotated[X, …]`` → ``X`` (a union of several types stays)."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            kept = [a for a in get_args(annotation) if a is not type(None)]
            if len(kept) != 1:
                return annotation
            annotation = kept[0]
        else:
            return annotation


def _model(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrapped(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _shape(annotation: Any) -> str:
    """``section``, ``mapping``, ``list`` or ``value``: how an environment variable gives it."""
    annotation = _unwrapped(annotation)
    if _model(annotation) is not None:
        return "section"
    origin = get_origin(annotation) or annotation
    if origin in (dict, Mapping):
        return "mapping"
    if origin in (list, tuple, set, frozenset):
        return "list"
    return "value"


def secret_keys(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Dotted keys of every secret (``SecretStr``) setting: ``monday.token``, …"""
    for name, field in model.model_fields.items():
        annotation = _unwrapped(field.annotation)
        if annotation is SecretStr:
            yield prefix + name
        elif (section := _model(annotation)) is not None:
            yield from secret_keys(section, f"{prefix}{name}.")


def environment_name(key: str) -> str:
    return PREFIX + key.upper().replace(".", "__")


def secret_file_name(key: str) -> str:
    return key.replace(".", "__")


# ---------------------------------------------------------------- the sources


def secrets_in_file(model: type[BaseModel], data: Mapping[str, Any], path: Path) -> list[str]:
    """A token or password written into the YAML file is refused: files get copied,
    committed and shown; secrets belong in the environment or in secret files."""
    problems = []
    for key in secret_keys(model):
        node: Any = data
        for part in key.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is not None:
            problems.append(
                f"{key}: a secret written in {path}. Fix: remove it from the file (and change "
                f"it, if the file was shared) and set {environment_name(key)} or the file "
                f"{secret_file_name(key)} in the secrets directory instead"
            )
    return problems


def environment_problems(
    model: type[BaseModel], environ: Mapping[str, str], *, secrets: bool = True
) -> list[str]:
    """``LEADBRIDGE_`` variables that name no setting (with a "did you mean"), a list or a
    section given as something other than JSON, and (``secrets``) a secret set to nothing."""
    problems = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(PREFIX) or upper in NOT_SETTINGS:
            continue
        if upper.startswith(_TEST_VARIABLES):
            continue
        problem = _variable_problem(model, name, environ[name], secrets)
        if problem:
            problems.append(problem)
    return problems


def _variable_problem(model: type[BaseModel], name: str, value: str, secrets: bool) -> str | None:
    parts = name[len(PREFIX) :].lower().split("__")
    annotation: Any = model
    walked: list[str] = []
    for index, part in enumerate(parts):
        shape = _shape(annotation)
        if shape == "mapping":  # the rest are keys of a mapping (an effect's name, …)
            return None
        section = _model(annotation)
        if section is None or part not in section.model_fields:
            known = sorted(section.model_fields) if section is not None else []
            close = difflib.get_close_matches(part, known, n=1, cutoff=0.6)
            where = ".".join(walked) or "the configuration"
            if close:
                guess = environment_name(".".join([*walked, close[0], *parts[index + 1 :]]))
                hint = f"no setting of that name (did you mean {guess}?)"
            elif section is None:
                hint = f"{where} is a single value, with no keys under it"
            else:
                hint = f"{where} has no key {part!r} (its keys: {', '.join(known)})"
            return f"{name}: {hint}. Fix: correct the variable's name, or unset it"
        walked.append(part)
        annotation = section.model_fields[part].annotation
    key, shape = ".".join(walked), _shape(annotation)
    if secrets and _unwrapped(annotation) is SecretStr and not value.strip():
        return f"{name}: set, but empty. Fix: give it the {key} value, or unset it"
    if shape == "value":
        return None
    try:
        json.loads(value)
    except ValueError:
        shown = value if len(value) <= 40 else value[:39] + "…"
        if shape == "list":
            items = [item.strip() for item in value.split(",") if item.strip()]
            return (
                f"{name}: {shown!r} is not a JSON list, and {key} is a list. "
                f"Fix: {name}='{json.dumps(items, ensure_ascii=False)}'"
            )
        return (
            f"{name}: {shown!r} is not a JSON object, and {key} is a section. Fix: give "
            f'its keys as JSON ({name}=\'{{"key": "value"}}\'), or set each key by its '
            f"own variable ({name}__KEY)"
        )
    return None


def secret_file_problems(model: type[BaseModel], directory: Path | None) -> list[str]:
    """An empty or unreadable secret file, or a secrets directory that cannot be read,
    named with its path and the reason (instead of "token missing" later)."""
    if directory is None:
        return []
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    user = f" (uid {uid})" if uid is not None else ""
    try:
        present = set(os.listdir(directory))
    except FileNotFoundError:
        return []
    except OSError as error:
        return [
            f"LEADBRIDGE_SECRETS_DIR: the secrets directory {directory} cannot be read "
            f"({error.strerror}). Fix: let the user leadbridge runs as{user} read it, or point "
            "LEADBRIDGE_SECRETS_DIR elsewhere"
        ]
    problems = []
    for key in secret_keys(model):
        name = secret_file_name(key)
        if name not in present:
            continue
        path = directory / name
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "not UTF-8 text"
            problems.append(
                f"{key}: the secret file {path} cannot be read ({reason}). Fix: make it a "
                f"file the user leadbridge runs as{user} can read"
            )
            continue
        if not text.strip():
            problems.append(
                f"{key}: the secret file {path} is empty. Fix: write the secret into it, or "
                f"remove the file and set {environment_name(key)}"
            )
    return problems


# ---------------------------------------------------------------- the machine


def state_directory_problems(url: str) -> list[str]:
    """A SQLite database whose directory is missing or not writable (SQLite also writes its
    journal beside the database), or a database file that cannot be written."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return []  # the URL's own validation reports it
    if parsed.get_backend_name() != "sqlite":
        return []
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return []
    path = Path(database).expanduser().absolute()
    directory = path.parent
    if not directory.exists():
        return [
            f"state.url: the directory {directory} of the state database does not exist. "
            f"Fix: create it (mkdir -p {directory}), or point state.url at an existing "
            "directory (a mounted volume in a container)"
        ]
    if not directory.is_dir():
        return [
            f"state.url: {directory} is not a directory. Fix: point state.url at a file in a "
            "directory"
        ]
    if not os.access(directory, os.W_OK | os.X_OK):
        return [
            f"state.url: the directory {directory} is not writable by the user leadbridge "
            f"runs as (uid {os.geteuid()}); SQLite writes its journal there. Fix: make it "
            "writable for that user, or point state.url at a directory that is"
        ]
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return [
            f"state.url: the state database {path} cannot be read and written by the user "
            f"leadbridge runs as (uid {os.geteuid()}). Fix: give that user read and write "
            "access to it"
        ]
    return []


def port_problem(host: str, port: int, key: str = "service.http_port") -> str | None:
    """Whether ``host:port`` can be listened on (as the HTTP server will, address reused)."""
    if port == 0:
        return None
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)
    except OSError as error:
        return (
            f"service.http_host: {host!r} is not an address of this machine ({error}). "
            "Fix: use 0.0.0.0 (every address) or one of this machine's addresses"
        )
    family, kind, protocol, _, address = infos[0]
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            reason = error.strerror or str(error)
            return (
                f"{key}: cannot listen on {host}:{port} ({reason}). Fix: stop what uses the "
                f"port (another leadbridge?) or set {key} to a free port"
            )
    return None
