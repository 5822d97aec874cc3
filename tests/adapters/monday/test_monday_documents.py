"""Every document the adapter can send is valid against monday's own SDL of the pinned version
(2026-10, Current since 2026-10-26) and of the one before it (2026-07, now Maintenance), as it
is, without any extension: a deployment that pins either keeps working.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate
from monday_fake import API_URL, BOARD_ID, FakeMonday, make_settings

from leadbridge.adapters.monday import MondayBoard
from leadbridge.adapters.monday.client import MondayClient
from leadbridge.adapters.monday.documents import (
    ALL_DOCUMENTS,
    change_column_values,
    create_updates,
)
from leadbridge.adapters.monday.layout import read_layout
from leadbridge.adapters.monday.webhooks import MondayWebhooks
from leadbridge.domain.model import LinkValue, StatusValue, TextValue
from leadbridge.domain.ports import ColumnWrite, ItemNote

# tests/adapters/monday/<this file> → the repository → its sibling ``shared/``.
REFERENCE = Path(__file__).resolve().parents[3].parent / "shared/reference/monday"
#: The version before the pinned one, and the pinned one.
VERSIONED_SCHEMAS = ("schema-2026-07.graphql", "schema-2026-10.graphql")


def _read(path: Path) -> str:
    if not path.is_file():
        pytest.skip(f"reference schema not found at {path} (shared/ is not beside the repo)")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module", params=VERSIONED_SCHEMAS)
def versioned_schema(request: pytest.FixtureRequest) -> GraphQLSchema:
    return build_schema(_read(REFERENCE / request.param))


def test_every_document_validates_against_the_pinned_and_the_last_version(
    versioned_schema: GraphQLSchema,
) -> None:
    errors = {
        document.name: [e.message for e in validate(versioned_schema, parse(document.text))]
        for document in ALL_DOCUMENTS
    }
    assert {name: found for name, found in errors.items() if found} == {}


@pytest.mark.parametrize("count", [1, 2, 7, 50])
def test_batched_write_backs_and_notes_validate_for_any_count(
    versioned_schema: GraphQLSchema, count: int
) -> None:
    for document in (change_column_values(count), create_updates(count)):
        parsed = parse(document.text)
        assert [e.message for e in validate(versioned_schema, parsed)] == []
        [operation] = parsed.definitions
        aliases = [f.alias.value for f in operation.selection_set.selections if f.alias]
        assert len(aliases) == len(set(aliases)) == count


def test_every_request_sent_is_one_of_the_documents(fake: FakeMonday, board: MondayBoard) -> None:
    fake.add_items(600)
    fake.labels = {}  # forces the typed-settings query as well
    board.read_items(None)
    board.read_items("2026-06-01T09:00:00Z")
    board.read_columns({"100000": ["triage_status", "lead_folder"], "100001": ["notes"]})
    writes = [
        ColumnWrite(
            "100000",
            {
                "triage_status": StatusValue("In Scope"),
                "lead_folder": LinkValue("https://drive.test/f", "Folder"),
                "notes": TextValue("n"),
            },
            "lead_folder#1",
        ),
        ColumnWrite("100001", {"notes": TextValue("m")}, "other#1"),
    ]
    assert board.write_columns(writes) == [None, None]
    assert board.post_notes([ItemNote("100000", "done", "lead_folder#1")]) == [None]
    board.check()
    board.account_budget()
    # What `leadbridge init` reads.
    client = MondayClient(
        url=API_URL, token="t", api_version="2026-10", connect_timeout=1, read_timeout=5
    )
    layout = read_layout(client, BOARD_ID)
    client.close()
    assert layout.columns[0].labels == tuple(label for label in fake.labels.values() if label)
    webhooks = MondayWebhooks.from_settings(make_settings())
    made = webhooks.create_webhook("https://leadbridge.test/monday/webhook/t", "create_item", None)
    webhooks.list_webhooks()
    webhooks.delete_webhook(made.id)
    webhooks.close()
    built = (change_column_values(len(writes)), create_updates(1))
    known = {d.name: d.text for d in (*ALL_DOCUMENTS, *built)}
    sent = {(b["operationName"], b["query"].strip()) for b in fake.bodies}
    assert {name for name, _ in sent} == set(known)
    for name, query in sent:
        assert parse(query) is not None
        assert BOARD_ID not in query and "100000" not in query, f"value interpolated in {name}"
