"""Every GraphQL document leadbridge sends to monday.com, in one place.

Documents are constant text: every value travels in ``variables``, never in the query, so a
lead name with quotes or braces can never change what a query means. Keeping them together
lets one test validate all of them against the reference schema.

``complexity { query }`` rides along on every read and write so that the cost of each cycle
is known without an extra call.
"""

from __future__ import annotations

from dataclasses import dataclass

from gql import gql
from gql.graphql_request import GraphQLRequest


@dataclass(frozen=True)
class Document:
    """A named operation, valid against monday's schema of the pinned version and the last."""

    name: str
    text: str

    def request(self, variables: dict[str, object]) -> GraphQLRequest:
        return GraphQLRequest(gql(self.text), variable_values=variables, operation_name=self.name)


#: What a column value is read as, wherever leadbridge reads one: ``values.texts_by_name``
#: turns exactly these fields into the text the core compares.
_LEAD_VALUE = """
fragment LeadValue on ColumnValue {
  id
  type
  text
  ... on StatusValue { label index }
  ... on LinkValue { url url_text }
  ... on EmailValue { email }
}
"""

_LEAD_ITEM = (
    """
fragment LeadItem on Item {
  id
  name
  url
  updated_at
  column_values(ids: $columns) { ...LeadValue }
}
"""
    + _LEAD_VALUE
)

#: First page of a scan; an unknown or unshared board answers with no board at all.
FIRST_ITEMS_PAGE = Document(
    "FirstItemsPage",
    """
query FirstItemsPage($board: [ID!], $limit: Int!, $columns: [String!], $query: ItemsQuery) {
  complexity { query }
  boards(ids: $board) {
    id
    items_page(limit: $limit, query_params: $query) {
      cursor
      items { ...LeadItem }
    }
  }
}
"""
    + _LEAD_ITEM,
)

#: Later pages; the cursor already carries the board, the filter and the order.
NEXT_ITEMS_PAGE = Document(
    "NextItemsPage",
    """
query NextItemsPage($cursor: String!, $limit: Int!, $columns: [String!]) {
  complexity { query }
  next_items_page(cursor: $cursor, limit: $limit) {
    cursor
    items { ...LeadItem }
  }
}
"""
    + _LEAD_ITEM,
)

#: One item's current values of some columns, read just before a write-back. ``items(ids:)``
#: also answers for archived and deleted items (their ``state`` says so) and answers an empty
#: list for an id it does not know.
ITEM_VALUES = Document(
    "ItemValues",
    """
query ItemValues($item: ID!, $columns: [String!]) {
  complexity { query }
  items(ids: [$item]) {
    id
    state
    column_values(ids: $columns) { ...LeadValue }
  }
}
"""
    + _LEAD_VALUE,
)

CHANGE_COLUMN_VALUES = Document(
    "ChangeColumnValues",
    """
mutation ChangeColumnValues($board: ID!, $item: ID!, $values: JSON!) {
  complexity { query }
  change_multiple_column_values(board_id: $board, item_id: $item, column_values: $values) {
    id
  }
}
""",
)

CREATE_UPDATE = Document(
    "CreateUpdate",
    """
mutation CreateUpdate($item: ID!, $body: String!) {
  complexity { query }
  create_update(item_id: $item, body: $body) { id }
}
""",
)

#: Everything ``leadbridge check`` needs in one call: who the token is, the served version,
#: the board and all its columns (all of them, so a wrong id can get a "did you mean").
CHECK_BOARD = Document(
    "CheckBoard",
    """
query CheckBoard($board: [ID!]) {
  complexity { query }
  me { id name }
  version { value kind }
  boards(ids: $board) {
    id
    name
    columns { id title type settings_str }
  }
}
""",
)

#: Status labels from the typed ``settings`` that replaces ``settings_str`` from 2025-10 on;
#: asked only when ``settings_str`` gave no labels.
STATUS_SETTINGS = Document(
    "StatusSettings",
    """
query StatusSettings($board: [ID!], $columns: [String!]) {
  complexity { query }
  boards(ids: $board) {
    id
    columns(ids: $columns) { id settings }
  }
}
""",
)

ALL_DOCUMENTS = (
    FIRST_ITEMS_PAGE,
    NEXT_ITEMS_PAGE,
    ITEM_VALUES,
    CHANGE_COLUMN_VALUES,
    CREATE_UPDATE,
    CHECK_BOARD,
    STATUS_SETTINGS,
)
