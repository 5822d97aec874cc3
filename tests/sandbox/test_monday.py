"""The monday emulation answers GraphQL the way monday does: shapes, errors, cursors, writes."""

from __future__ import annotations

import json

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
)

from leadbridge.adapters.monday.documents import ITEMS_VALUES
from leadbridge.sandbox.monday_schema import reference_schema, sandbox_schema
from leadbridge.sandbox.server import Sandbox
from leadbridge.sandbox.state import SALES_USER, SERVICE_USER
from leadbridge.sandbox.world import SeedLead, add_item, seed_board, set_values
from tests.sandbox.conftest import Monday

ITEMS = """
query ($board: [ID!], $limit: Int!, $columns: [String!], $query: ItemsQuery) {
  complexity { query before after reset_in_x_seconds }
  boards(ids: $board) {
    items_page(limit: $limit, query_params: $query) {
      cursor
      items {
        id name updated_at url
        column_values(ids: $columns) {
          id type text value
          ... on StatusValue { label index }
          ... on LinkValue { url url_text }
          ... on EmailValue { email }
        }
      }
    }
  }
}
"""
NEXT = """
query ($cursor: String!, $limit: Int!) {
  next_items_page(cursor: $cursor, limit: $limit) { cursor items { id name } }
}
"""
WRITE = """
mutation ($board: ID!, $item: ID!, $values: JSON!) {
  change_multiple_column_values(board_id: $board, item_id: $item, column_values: $values) { id }
}
"""
NEWEST_FIRST = {"order_by": [{"column_id": "__last_updated__", "direction": "desc"}]}


def _leads(sandbox: Sandbox, count: int) -> list[str]:
    return seed_board(
        sandbox.state,
        None,
        [SeedLead(f"Lead {n}", {"organization": f"Org {n}"}) for n in range(count)],
    )


def _item(monday: Monday, board_id: str, item_id: str) -> dict[str, object]:
    query = {"ids": [item_id]}
    page = monday.data(ITEMS, {"board": [board_id], "limit": 1, "query": query})
    return page["boards"][0]["items_page"]["items"][0]


def _values(item: dict[str, object]) -> dict[str, dict[str, object]]:
    return {value["id"]: value for value in item["column_values"]}  # type: ignore[index, union-attr]


def test_me_board_columns_and_status_labels(monday: Monday, board_id: str) -> None:
    data = monday.data(
        "query ($b: [ID!]) { me { id name } boards(ids: $b) { columns { id type settings_str } } }",
        {"b": [board_id]},
    )
    assert data["me"]["id"] == SERVICE_USER["id"]
    columns = {c["id"]: c for c in data["boards"][0]["columns"]}
    labels = json.loads(columns["status_triage"]["settings_str"])["labels"]
    assert "In Scope" in labels.values()
    # Label ids are monday's stable ids, not positions: the first label is not "0".
    assert labels["0"] != "Send Questionnaire"
    assert columns["link_folder"]["type"] == "link"


def test_newest_first_pages_through_every_item_with_cursors(
    sandbox: Sandbox, monday: Monday, board_id: str
) -> None:
    ids = _leads(sandbox, 7)
    sandbox.state.clock.advance(5)
    set_values(sandbox.state, ids[2], {"text_org": "Changed"})
    first = monday.data(ITEMS, {"board": [board_id], "limit": 3, "query": NEWEST_FIRST})
    page = first["boards"][0]["items_page"]
    assert page["items"][0]["id"] == ids[2]
    seen = [item["id"] for item in page["items"]]
    cursor = page["cursor"]
    while cursor:
        following = monday.data(NEXT, {"cursor": cursor, "limit": 3})["next_items_page"]
        seen += [item["id"] for item in following["items"]]
        cursor = following["cursor"]
    assert sorted(seen) == sorted(ids)
    assert sandbox.state.request_count("monday", "items_page") == 1
    assert sandbox.state.request_count("monday", "next_items_page") == 2


def test_complexity_is_reported_and_spent(monday: Monday, board_id: str) -> None:
    first = monday.data(ITEMS, {"board": [board_id], "limit": 1})["complexity"]
    second = monday.data(ITEMS, {"board": [board_id], "limit": 1})["complexity"]
    assert first["query"] > 0
    assert first["after"] == first["before"] - first["query"]
    assert second["before"] == first["after"]
    assert 0 <= first["reset_in_x_seconds"] <= 60


def test_the_complexity_budget_refills_after_a_minute(
    sandbox: Sandbox, monday: Monday, board_id: str
) -> None:
    first = monday.data(ITEMS, {"board": [board_id], "limit": 1})["complexity"]
    sandbox.state.clock.advance(61)
    later = monday.data(ITEMS, {"board": [board_id], "limit": 1})["complexity"]
    assert later["before"] == first["before"]


@pytest.mark.parametrize("expire", ["control", "clock"])
def test_expired_cursor_answers_cursor_exception(
    sandbox: Sandbox, monday: Monday, board_id: str, expire: str
) -> None:
    _leads(sandbox, 3)
    page = monday.data(ITEMS, {"board": [board_id], "limit": 1})["boards"][0]["items_page"]
    if expire == "control":
        sandbox.monday.expire_cursors()
    else:
        sandbox.state.clock.advance(3601)
    errors = monday.errors(NEXT, {"cursor": page["cursor"], "limit": 1})
    assert errors[0]["extensions"]["code"] == "CursorException"
    assert "CursorExpiredError" in errors[0]["message"]


def test_typed_column_values_read_back_what_was_written(
    sandbox: Sandbox, monday: Monday, board_id: str
) -> None:
    [item_id] = _leads(sandbox, 1)
    values = {
        "status_triage": {"label": "In Scope"},
        "link_folder": {"url": "https://drive.example/f/1", "text": "Lead folder"},
        "email_contact": {"email": "ada@uni.example", "text": "Ada"},
        "long_text_need": {"text": "GPUs\nand storage"},
    }
    monday.data(WRITE, {"board": board_id, "item": item_id, "values": json.dumps(values)})
    read = _values(_item(monday, board_id, item_id))
    status = read["status_triage"]
    assert status["label"] == "In Scope" and status["text"] == "In Scope"
    assert json.loads(status["value"])["index"] == status["index"]
    assert read["link_folder"]["url"] == "https://drive.example/f/1"
    assert read["link_folder"]["url_text"] == "Lead folder"
    assert read["email_contact"]["email"] == "ada@uni.example"
    assert read["long_text_need"]["text"] == "GPUs\nand storage"


def test_every_write_bumps_updated_at_and_is_logged_as_ours(
    sandbox: Sandbox, monday: Monday, board_id: str
) -> None:
    [item_id] = _leads(sandbox, 1)
    before = _item(monday, board_id, item_id)["updated_at"]
    sandbox.state.clock.advance(2)
    values = json.dumps({"status_triage": {"label": "In Scope"}})
    monday.data(WRITE, {"board": board_id, "item": item_id, "values": values})
    assert _item(monday, board_id, item_id)["updated_at"] > before  # type: ignore[operator]
    logs = monday.data(
        'query ($b: [ID!]) { boards(ids: $b) { activity_logs(column_ids: ["status_triage"]) '
        "{ id event user_id data created_at } } }",
        {"b": [board_id]},
    )["boards"][0]["activity_logs"]
    assert [log["user_id"] for log in logs] == [SERVICE_USER["id"]]
    data = json.loads(logs[0]["data"])
    assert data["column_type"] == "color"
    assert data["value"]["label"]["text"] == "In Scope"
    assert len(logs[0]["created_at"]) == 17


def test_sales_changes_are_logged_with_the_sales_user(
    sandbox: Sandbox, monday: Monday, board_id: str
) -> None:
    item_id = add_item(sandbox.state, "Walk-in lead", {"status_triage": "Send Questionnaire"})
    logs = monday.data(
        "query ($b: [ID!], $u: [ID!]) { boards(ids: $b) { activity_logs(user_ids: $u) { event data } } }",
        {"b": [board_id], "u": [SALES_USER["id"]]},
    )["boards"][0]["activity_logs"]
    assert {log["event"] for log in logs} == {"create_pulse", "update_column_value"}
    assert all(json.loads(log["data"])["pulse_id"] == int(item_id) for log in logs)


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"status_triage": {"label": "No Such Label"}}, "ColumnValueException"),
        ({"status_triage": {"index": 999}}, "ColumnValueException"),
        ({"email_contact": {"email": "not-an-address"}}, "ColumnValueException"),
        ({"no_such_column": "x"}, "InvalidColumnIdException"),
    ],
)
def test_bad_writes_answer_monday_errors_and_change_nothing(
    sandbox: Sandbox, monday: Monday, board_id: str, values: dict[str, object], code: str
) -> None:
    [item_id] = _leads(sandbox, 1)
    stored = dict(sandbox.state.board().items[item_id].values)
    errors = monday.errors(
        WRITE,
        {"board": board_id, "item": item_id, "values": json.dumps({"text_org": "X", **values})},
    )
    assert errors[0]["extensions"]["code"] == code
    assert sandbox.state.board().items[item_id].values == stored


def test_create_update_is_kept_as_a_note(sandbox: Sandbox, monday: Monday) -> None:
    [item_id] = _leads(sandbox, 1)
    query = "mutation ($i: ID!, $b: String!) { create_update(item_id: $i, body: $b) { id body } }"
    created = monday.data(query, {"i": item_id, "b": "<p>Folder created</p>"})["create_update"]
    [note] = sandbox.state.monday.updates
    assert (note.id, note.item_id, note.body) == (created["id"], item_id, "<p>Folder created</p>")


def test_idempotency_key_replays_a_mutation_instead_of_repeating_it(
    sandbox: Sandbox, monday: Monday
) -> None:
    [item_id] = _leads(sandbox, 1)
    query = 'mutation ($i: ID!) { create_update(item_id: $i, body: "once") { id } }'
    first = monday.post(query, {"i": item_id}, **{"Idempotency-Key": "k-1"})
    again = monday.post(query, {"i": item_id}, **{"Idempotency-Key": "k-1"})
    assert again.json() == first.json()
    assert again.headers["Idempotency-Replayed"] == "true"
    assert len(sandbox.state.monday.updates) == 1


def test_missing_token_is_401(sandbox: Sandbox, monday: Monday) -> None:
    response = monday.post("query { me { id } }", Authorization="wrong")
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "Unauthorized"


def test_malformed_api_version_is_rejected(monday: Monday) -> None:
    response = monday.post("query { me { id } }", **{"API-Version": "2023"})
    assert response.json()["errors"][0]["extensions"]["code"] == "InvalidVersionException"
    assert monday.post("query { me { id } }").headers["API-Version"] == "2026-10"


@pytest.mark.skipif(reference_schema() is None, reason="the reference schema is not checked out")
def test_a_query_the_real_schema_rejects_is_rejected(monday: Monday) -> None:
    errors = monday.errors('query { boards(ids: ["1"]) { id items { id } } }')
    assert errors[0]["extensions"]["code"] == "GraphQLValidationError"
    assert "items" in errors[0]["message"]
    assert errors[0]["locations"]


@pytest.mark.skipif(reference_schema() is None, reason="the reference schema is not checked out")
def test_a_real_field_the_sandbox_does_not_emulate_is_named(monday: Monday) -> None:
    errors = monday.errors('query { boards(ids: ["1"]) { id workspace_id } }')
    assert errors[0]["extensions"]["code"] == "SandboxUnsupported"
    assert "workspace_id" in errors[0]["message"]


def test_parse_errors_are_monday_shaped(monday: Monday) -> None:
    errors = monday.errors("query { boards { id ")
    assert errors[0]["message"].startswith("Parse error on")


@pytest.mark.skipif(reference_schema() is None, reason="the reference schema is not checked out")
def test_the_sandbox_schema_is_a_subset_of_the_real_one() -> None:
    real = reference_schema()
    assert real is not None
    problems = []
    for name, mine in sandbox_schema().type_map.items():
        if name.startswith("__"):
            continue
        theirs = real.type_map.get(name)
        if theirs is None or type(theirs) is not type(mine):
            problems.append(f"type {name}")
            continue
        if isinstance(mine, GraphQLObjectType | GraphQLInterfaceType):
            assert isinstance(theirs, GraphQLObjectType | GraphQLInterfaceType)
            for field_name, field in mine.fields.items():
                other = theirs.fields.get(field_name)
                if other is None or str(other.type) != str(field.type):
                    problems.append(f"{name}.{field_name}")
                    continue
                for arg_name, arg in field.args.items():
                    counterpart = other.args.get(arg_name)
                    if (
                        counterpart is None
                        or str(counterpart.type) != str(arg.type)
                        or counterpart.default_value != arg.default_value
                    ):
                        problems.append(f"{name}.{field_name}({arg_name})")
        if isinstance(mine, GraphQLInputObjectType):
            assert isinstance(theirs, GraphQLInputObjectType)
            for field_name, field in mine.fields.items():
                other = theirs.fields.get(field_name)
                if other is None or str(other.type) != str(field.type):
                    problems.append(f"input {name}.{field_name}")
        if isinstance(mine, GraphQLEnumType):
            assert isinstance(theirs, GraphQLEnumType)
            problems += [f"{name}.{v}" for v in mine.values if v not in theirs.values]
    assert problems == []


def test_requests_are_counted_by_the_field_that_does_the_work(
    sandbox: Sandbox, monday: Monday, board_id: str
) -> None:
    [item_id] = _leads(sandbox, 1)
    poll = ITEMS.replace("complexity {", "me { id } complexity {")
    monday.data(poll, {"board": [board_id], "limit": 5})
    values = json.dumps({"text_org": "Y"})
    monday.data(WRITE, {"board": board_id, "item": item_id, "values": values})
    assert dict(sandbox.state.requests["monday"]) == {
        "items_page": 1,
        "change_multiple_column_values": 1,
    }


def test_single_column_mutations_items_and_updates(
    sandbox: Sandbox, monday: Monday, board_id: str
) -> None:
    [item_id] = _leads(sandbox, 1)
    simple = (
        "mutation ($b: ID!, $i: ID!) { change_simple_column_value("
        'board_id: $b, item_id: $i, column_id: "status_triage", value: "In Scope") { id } }'
    )
    monday.data(simple, {"b": board_id, "i": item_id})
    typed = (
        "mutation ($b: ID!, $i: ID!, $v: JSON!) { change_column_value("
        'board_id: $b, item_id: $i, column_id: "link_folder", value: $v) { id } }'
    )
    monday.data(typed, {"b": board_id, "i": item_id, "v": json.dumps({"url": "https://f.example"})})
    monday.data(
        'mutation ($i: ID!) { create_update(item_id: $i, body: "n") { id } }', {"i": item_id}
    )
    data = monday.data(
        "query ($i: [ID!]) { version { value } items(ids: $i) { name board { id } "
        "updates { body creator_id } column_values(types: [status, link]) { id text } } }",
        {"i": [item_id]},
    )
    [item] = data["items"]
    assert item["board"]["id"] == board_id
    assert item["updates"] == [{"body": "n", "creator_id": SERVICE_USER["id"]}]
    texts = {value["id"]: value["text"] for value in item["column_values"]}
    assert texts["status_triage"] == "In Scope"
    assert texts["link_folder"] == "https://f.example - https://f.example"
    assert data["version"]["value"] == "2026-10"


def test_one_items_values_are_read_fresh_with_its_state(
    sandbox: Sandbox, monday: Monday, board_id: str
) -> None:
    """The adapter's ``ItemsValues``: only the asked columns, typed; gone items as monday has them."""
    live, archived, deleted = _leads(sandbox, 3)
    set_values(
        sandbox.state,
        live,
        {"status_triage": "Out of Scope", "link_folder": {"url": "https://f.example", "text": "F"}},
    )
    with sandbox.state.lock:
        items = sandbox.state.board().items
        items[archived].state, items[deleted].state = "archived", "deleted"
    asked = ["status_triage", "link_folder", "email_contact"]

    def read(item_id: str) -> list[dict[str, object]]:
        variables = {"items": [item_id], "limit": 1, "columns": asked}
        body = monday.post(ITEMS_VALUES.text, variables).json()
        assert "errors" not in body, body
        assert body["data"]["complexity"]["query"] > 0
        return body["data"]["items"]

    [item] = read(live)
    assert item["id"] == live and item["state"] == "active"
    values = _values(item)
    assert sorted(values) == sorted(asked)
    assert values["status_triage"]["label"] == "Out of Scope"
    assert values["link_folder"]["url"] == "https://f.example"
    assert values["link_folder"]["text"] == "https://f.example - F"
    assert values["email_contact"]["email"] is None and values["email_contact"]["text"] == ""
    assert [(i["id"], i["state"]) for i in read(archived) + read(deleted)] == [
        (archived, "archived"),
        (deleted, "deleted"),
    ]
    assert read("999") == []
    assert sandbox.state.request_count("monday", "items") == 4
