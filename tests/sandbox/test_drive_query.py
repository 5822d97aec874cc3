"""Drive's q language as leadbridge writes it, including the escapes user-typed names need."""

from __future__ import annotations

import pytest

from leadbridge.sandbox.drive_query import QueryError, compile_query
from leadbridge.sandbox.state import DOCUMENT, FOLDER, DriveFile


def _file(name: str = "Lab", **changes: object) -> DriveFile:
    file = DriveFile("F1", name, FOLDER, ["P1"], "D1", "2026-01-01T00:00:00.000Z")
    file.app_properties = {"lid": "42", "effect": "lead_folder"}
    for key, value in changes.items():
        setattr(file, key, value)
    return file


def literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def test_parent_trashed_and_app_properties_all_hold() -> None:
    query = (
        "'P1' in parents and trashed = false and "
        "appProperties has { key='lid' and value='42' } and "
        "appProperties has { key='effect' and value='lead_folder' }"
    )
    assert compile_query(query)(_file())
    assert not compile_query(query)(_file(trashed=True))
    assert not compile_query(query)(_file(parents=["P2"]))
    assert not compile_query(query.replace("'42'", "'43'"))(_file())


@pytest.mark.parametrize("name", ["Quinn's paper\\essay", 'Université "Côte d\'Azur"', "a\\'b"])
def test_escaped_names_match_exactly(name: str) -> None:
    assert compile_query(f"name = {literal(name)}")(_file(name))
    assert not compile_query(f"name = {literal(name + 'x')}")(_file(name))


def test_an_unescaped_quote_is_invalid_as_on_drive() -> None:
    with pytest.raises(QueryError):
        compile_query("name = 'Quinn's paper'")


def test_mime_type_not_or_and_parentheses() -> None:
    query = f"not mimeType = '{DOCUMENT}' and (name contains 'lab' or name = 'Other')"
    assert compile_query(query)(_file("Big Lab"))
    assert not compile_query(query)(_file("Big Lab", mime_type=DOCUMENT))
    assert not compile_query(query)(_file("Nothing"))


def test_key_only_app_properties_is_invalid_as_on_drive() -> None:
    with pytest.raises(QueryError):
        compile_query("appProperties has { key='lid' }")
