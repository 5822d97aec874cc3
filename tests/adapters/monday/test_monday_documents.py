"""Every document the adapter can send is valid against the reference schemas.

The April 2025 snapshot (``schema.graphql``) keeps the documents working on older versions;
monday's own SDL of the pinned version (2026-07) and the next one (2026-10) must accept every
document as it is, without any extension.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate
from monday_fake import BOARD_ID, FakeMonday

from leadbridge.adapters.monday import MondayBoard
from leadbridge.adapters.monday.documents import ALL_DOCUMENTS, Document
from leadbridge.domain.model import LinkValue, StatusValue, TextValue

# tests/adapters/monday/<this file> → the repository → its sibling ``shared/``.
REFERENCE = Path(__file__).resolve().parents[3].parent / "shared/reference/monday"
SCHEMA = REFERENCE / "schema.graphql"
#: The pinned API version and the next one.
VERSIONED_SCHEMAS = ("schema-2026-07.graphql", "schema-2026-10.graphql")


def _read(path: Path) -> str:
    if not path.is_file():
        pytest.skip(f"reference schema not found at {path} (shared/ is not beside the repo)")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def schema_text() -> str:
    return _read(SCHEMA)


@pytest.fixture(scope="module", params=VERSIONED_SCHEMAS)
def versioned_schema(request: pytest.FixtureRequest) -> GraphQLSchema:
    return build_schema(_read(REFERENCE / request.param))


def _schema(text: str, document: Document) -> GraphQLSchema:
    return build_schema(text + "\n" + document.newer_fields)


@pytest.mark.parametrize("document", ALL_DOCUMENTS, ids=lambda d: d.name)
def test_document_validates_against_reference_schema(schema_text: str, document: Document) -> None:
    errors = validate(_schema(schema_text, document), parse(document.text))
    assert [e.message for e in errors] == []


def test_every_document_validates_against_the_pinned_and_next_version(
    versioned_schema: GraphQLSchema,
) -> None:
    errors = {
        document.name: [e.message for e in validate(versioned_schema, parse(document.text))]
        for document in ALL_DOCUMENTS
    }
    assert {name: found for name, found in errors.items() if found} == {}


@pytest.mark.parametrize(
    "document", [d for d in ALL_DOCUMENTS if d.newer_fields], ids=lambda d: d.name
)
def test_schema_extension_only_adds_the_field_it_names(
    schema_text: str, document: Document
) -> None:
    """The extension for post-April-2025 fields must not hide any other mistake."""
    errors = validate(build_schema(schema_text), parse(document.text))
    assert errors
    assert all("'settings'" in e.message for e in errors)


def test_every_request_sent_is_one_of_the_documents(fake: FakeMonday, board: MondayBoard) -> None:
    fake.add_items(600)
    fake.labels = {}  # forces the typed-settings query as well
    board.read_items(None)
    board.read_items("2026-06-01T09:00:00Z")
    board.read_values("100000", ["triage_status", "lead_folder"])
    board.write_values(
        "100000",
        {
            "triage_status": StatusValue("In Scope"),
            "lead_folder": LinkValue("https://drive.test/f", "Folder"),
            "notes": TextValue("n"),
        },
    )
    board.post_note("100000", "done")
    board.check()
    known = {d.name: d.text for d in ALL_DOCUMENTS}
    sent = {(b["operationName"], b["query"].strip()) for b in fake.bodies}
    assert {name for name, _ in sent} == set(known)
    for name, query in sent:
        assert parse(query) is not None
        assert BOARD_ID not in query and "100000" not in query, f"value interpolated in {name}"
