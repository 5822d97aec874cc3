"""The slice of monday's GraphQL schema that the sandbox executes, and the real one to check
incoming queries against.

The slice is a strict subset of the public schema (a test compares every field, argument and
type with the reference copy), so a query that runs here also means the same on monday. The
reference copy lives outside the package, next to the repository, and is used when present.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from graphql import GraphQLInterfaceType, GraphQLSchema, build_schema

SANDBOX_SDL = """
scalar JSON
scalar Date
scalar ISO8601DateTime
scalar CompareValue

enum State { active all archived deleted }
enum ItemsOrderByDirection { asc desc }
enum ItemsQueryOperator { and or }
enum ItemsQueryRuleOperator {
  any_of not_any_of is_empty is_not_empty greater_than greater_than_or_equals lower_than
  lower_than_or_equal between contains_text not_contains_text contains_terms starts_with
  ends_with within_the_last within_the_next
}
enum VersionKind {
  current deprecated dev maintenance old__maintenance old_previous_maintenance
  previous_maintenance release_candidate
}
enum ColumnType {
  auto_number board_relation button checkbox color_picker country creation_log date dependency
  direct_doc doc dropdown email file formula group hour integration item_assignees item_id
  last_updated link location long_text mirror name numbers people person phone progress rating
  status subtasks tags team text time_tracking timeline unsupported vote week world_clock
}

type Query {
  boards(ids: [ID!], limit: Int = 25, page: Int = 1, state: State = active): [Board]
  items(ids: [ID!], limit: Int = 25, page: Int = 1): [Item]
  next_items_page(cursor: String!, limit: Int! = 25): ItemsResponse!
  me: User
  complexity: Complexity
  version: Version!
  webhooks(app_webhooks_only: Boolean, board_id: ID!): [Webhook]
  platform_api: PlatformApi
}

type Mutation {
  complexity: Complexity
  change_multiple_column_values(
    board_id: ID!, item_id: ID, column_values: JSON!, create_labels_if_missing: Boolean
  ): Item
  change_column_value(
    board_id: ID!, item_id: ID, column_id: String!, value: JSON!, create_labels_if_missing: Boolean
  ): Item
  change_simple_column_value(
    board_id: ID!, item_id: ID, column_id: String!, value: String, create_labels_if_missing: Boolean
  ): Item
  create_update(body: String!, item_id: ID, parent_id: ID): Update
  create_webhook(board_id: ID!, config: JSON, event: WebhookEventType!, url: String!): Webhook
  delete_webhook(id: ID!): Webhook
}

type Webhook { board_id: ID! config: String event: WebhookEventType! id: ID! }
enum WebhookEventType {
  change_column_value change_name change_specific_column_value change_status_column_value
  change_subitem_column_value change_subitem_name create_column create_item create_subitem
  create_subitem_update create_update delete_update edit_update item_archived item_deleted
  item_moved_to_any_group item_moved_to_specific_group item_restored move_subitem
  subitem_archived subitem_deleted
}
type Complexity { after: Int! before: Int! query: Int! reset_in_x_seconds: Int! }
type PlatformApi { daily_limit: DailyLimit daily_analytics: DailyAnalytics }
type DailyLimit { base: Int total: Int }
type DailyAnalytics {
  last_updated: ISO8601DateTime
  by_day: [PlatformApiDailyAnalyticsByDay!]
}
type PlatformApiDailyAnalyticsByDay { day: String! usage: Int! }
type Version { display_name: String! kind: VersionKind! value: String! }
type User { id: ID! name: String! email: String! }
type Group { id: ID! title: String! }

type Board {
  id: ID!
  name: String!
  url: String!
  state: State!
  updated_at: ISO8601DateTime
  columns(ids: [String], types: [ColumnType!]): [Column]
  items_page(cursor: String, limit: Int! = 25, query_params: ItemsQuery): ItemsResponse!
  activity_logs(
    column_ids: [String], from: ISO8601DateTime, group_ids: [String], item_ids: [ID!],
    limit: Int = 25, page: Int = 1, to: ISO8601DateTime, user_ids: [ID!]
  ): [ActivityLogType]
}

type Column {
  id: ID!
  title: String!
  type: ColumnType!
  settings: JSON
  settings_str: String!
  archived: Boolean!
  description: String
}

input ItemsQuery {
  groups: [ItemsQueryGroup!]
  ids: [ID!]
  operator: ItemsQueryOperator = and
  order_by: [ItemsQueryOrderBy!]
  rules: [ItemsQueryRule!]
}
input ItemsQueryGroup {
  groups: [ItemsQueryGroup!]
  operator: ItemsQueryOperator = and
  rules: [ItemsQueryRule!]
}
input ItemsQueryOrderBy { column_id: String! direction: ItemsOrderByDirection = asc }
input ItemsQueryRule {
  column_id: ID!
  compare_attribute: String
  compare_value: CompareValue!
  operator: ItemsQueryRuleOperator = any_of
}

type ItemsResponse { cursor: String items: [Item!]! }

type Item {
  id: ID!
  name: String!
  created_at: Date
  updated_at: Date
  state: State
  url: String!
  relative_link: String
  creator_id: String!
  group: Group
  board: Board
  column_values(ids: [String!], types: [ColumnType!]): [ColumnValue!]!
  updates(limit: Int = 25, page: Int = 1, ids: [ID!]): [Update!]
}

type Update {
  id: ID!
  body: String!
  text_body: String
  created_at: Date
  updated_at: Date
  item_id: String
  creator_id: String
}

type ActivityLogType {
  account_id: String!
  created_at: String!
  data: String!
  entity: String!
  event: String!
  id: String!
  user_id: String!
}

interface ColumnValue { column: Column! id: ID! text: String type: ColumnType! value: JSON }

type StatusValue implements ColumnValue {
  column: Column! id: ID! text: String type: ColumnType! value: JSON
  index: Int
  is_done: Boolean
  label: String
  update_id: ID
  updated_at: Date
}
type TextValue implements ColumnValue {
  column: Column! id: ID! text: String type: ColumnType! value: JSON
}
type LongTextValue implements ColumnValue {
  column: Column! id: ID! text: String type: ColumnType! value: JSON
  updated_at: Date
}
type EmailValue implements ColumnValue {
  column: Column! id: ID! text: String type: ColumnType! value: JSON
  email: String
  label: String
  updated_at: Date
}
type LinkValue implements ColumnValue {
  column: Column! id: ID! text: String type: ColumnType! value: JSON
  url: String
  url_text: String
  updated_at: Date
}
type PhoneValue implements ColumnValue {
  column: Column! id: ID! text: String type: ColumnType! value: JSON
  phone: String
  country_short_name: String
  updated_at: Date
}
type DateValue implements ColumnValue {
  column: Column! id: ID! text: String type: ColumnType! value: JSON
  date: String
  time: String
  updated_at: Date
}
type NumbersValue implements ColumnValue {
  column: Column! id: ID! text: String type: ColumnType! value: JSON
  number: Float
}
"""

#: Where monday's SDL of the pinned version (2026-10) sits relative to the repository root.
REFERENCE_RELATIVE = Path("..") / "shared" / "reference" / "monday" / "schema-2026-10.graphql"


@cache
def sandbox_schema() -> GraphQLSchema:
    schema = build_schema(SANDBOX_SDL)
    column_value = schema.type_map["ColumnValue"]
    assert isinstance(column_value, GraphQLInterfaceType)
    # Resolvers hand back plain dicts that carry the concrete type's name.
    column_value.resolve_type = _typename
    return schema


def _typename(value: dict[str, Any], *_: Any) -> str:
    return str(value["__typename"])


def reference_schema_path(start: Path | None = None) -> Path | None:
    """The reference schema next to the repository this file was loaded from, if any."""
    here = (start or Path(__file__)).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file():
            candidate = (parent / REFERENCE_RELATIVE).resolve()
            return candidate if candidate.is_file() else None
    return None


@cache
def reference_schema() -> GraphQLSchema | None:
    path = reference_schema_path()
    if path is None:
        return None
    return build_schema(path.read_text(encoding="utf-8"))
