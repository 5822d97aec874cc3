"""Every GraphQL document leadbridge sends to monday.com, in one place.

Documents are constant text, or built from nothing but a count (several write-backs or notes
as aliases of one mutation, so that they cost one request): every value travels in
``variables``, never in the query, so a lead name with quotes or braces can never change what
a query means. Keeping them together lets one test validate all of them against the reference
schema.

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

#: Current values of some columns of several items, read just before their write-backs.
#: ``items(ids:)`` answers at most 100 ids (``limit`` defaults to 25, so it is always sent),
#: also answers for archived and deleted items (their ``state`` says so), and leaves out an
#: id it does not know.
ITEMS_VALUES = Document(
    "ItemsValues",
    """
query ItemsValues($items: [ID!], $limit: Int, $columns: [String!]) {
  complexity { query }
  items(ids: $items, limit: $limit) {
    id
    state
    column_values(ids: $columns) { ...LeadValue }
  }
}
"""
    + _LEAD_VALUE,
)


def _aliased(name: str, variables: str, fields: str) -> Document:
    """One mutation document of ``fields`` side by side: one request for all of them."""
    return Document(
        name, f"mutation {name}({variables}) {{\n  complexity {{ query }}\n{fields}}}\n"
    )


def change_column_values(count: int) -> Document:
    """``count`` write-backs in one request: alias ``w<n>`` sets item ``$i<n>`` to ``$v<n>``.

    Only the number of aliases varies; every item id and value still travels in variables.
    """
    variables = ", ".join(["$board: ID!", *(f"$i{n}: ID!, $v{n}: JSON!" for n in range(count))])
    fields = "".join(
        f"  w{n}: change_multiple_column_values("
        f"board_id: $board, item_id: $i{n}, column_values: $v{n}) {{ id }}\n"
        for n in range(count)
    )
    return _aliased("ChangeColumnValues", variables, fields)


def create_updates(count: int) -> Document:
    """``count`` notes in one request: alias ``n<n>`` posts ``$b<n>`` on item ``$i<n>``."""
    variables = ", ".join(f"$i{n}: ID!, $b{n}: String!" for n in range(count))
    fields = "".join(
        f"  n{n}: create_update(item_id: $i{n}, body: $b{n}) {{ id }}\n" for n in range(count)
    )
    return _aliased("CreateUpdates", variables, fields)


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

#: What ``leadbridge init`` reads to write a configuration, in one call: who the token is, the
#: board's name, and every column's id, title, type and typed settings (status labels).
BOARD_LAYOUT = Document(
    "BoardLayout",
    """
query BoardLayout($board: [ID!]) {
  complexity { query }
  me { id name }
  boards(ids: $board) {
    id
    name
    columns { id title type archived settings }
  }
}
""",
)

#: The board's webhooks and, in the same call, the token's user (deliveries of its own writes
#: are echoes). ``Webhook`` has no url field: leadbridge remembers the ids it created.
WEBHOOKS = Document(
    "Webhooks",
    """
query Webhooks($board: ID!) {
  complexity { query }
  me { id }
  webhooks(board_id: $board) { id event board_id config }
}
""",
)

#: monday POSTs a challenge to ``$url`` first and creates the webhook only if it is echoed.
CREATE_WEBHOOK = Document(
    "CreateWebhook",
    """
mutation CreateWebhook($board: ID!, $url: String!, $event: WebhookEventType!, $config: JSON) {
  complexity { query }
  create_webhook(board_id: $board, url: $url, event: $event, config: $config) {
    id
    board_id
    event
    config
  }
}
""",
)

DELETE_WEBHOOK = Document(
    "DeleteWebhook",
    """
mutation DeleteWebhook($id: ID!) {
  complexity { query }
  delete_webhook(id: $id) { id board_id }
}
""",
)

#: The account's daily call limit and its use by day (every tool of the account, not only
#: leadbridge), read a few times a day by the call governor; ``total`` includes add-ons.
ACCOUNT_BUDGET = Document(
    "AccountBudget",
    """
query AccountBudget {
  complexity { query }
  platform_api {
    daily_limit { base total }
    daily_analytics { last_updated by_day { day usage } }
  }
}
""",
)

#: The constant documents; ``change_column_values`` and ``create_updates`` are built per count.
ALL_DOCUMENTS = (
    FIRST_ITEMS_PAGE,
    NEXT_ITEMS_PAGE,
    ITEMS_VALUES,
    CHECK_BOARD,
    STATUS_SETTINGS,
    BOARD_LAYOUT,
    ACCOUNT_BUDGET,
    WEBHOOKS,
    CREATE_WEBHOOK,
    DELETE_WEBHOOK,
)
