"""monday's failures become Transient/PermanentError with waits honoured and no token leaked."""

from __future__ import annotations

import httpx
import pytest
from monday_fake import API_URL, TOKEN, FakeMonday, graphql_error, make_settings

from leadbridge.adapters.monday import MondayBoard
from leadbridge.domain.errors import PermanentError, TransientError


def _no_secret(error: Exception) -> None:
    assert TOKEN not in str(error)


def test_429_with_retry_after_is_waited_then_succeeds(
    fake: FakeMonday, board: MondayBoard, sleeps: list[float]
) -> None:
    fake.add_items(3)
    fake.faults.append(
        graphql_error(
            "Rate Limit Exceeded",
            "Minute limit rate exceeded",
            status=429,
            headers={"Retry-After": "7"},
        )
    )

    read = board.read_items(None)

    assert len(read.items) == 3
    assert sleeps == [7.0]
    assert len(fake.requests) == 2
    assert board.usage().requests == 2


def test_complexity_budget_exhausted_waits_retry_in_seconds(
    fake: FakeMonday, board: MondayBoard, sleeps: list[float]
) -> None:
    fake.add_items(1)
    fake.faults.append(
        graphql_error(
            "COMPLEXITY_BUDGET_EXHAUSTED",
            "Complexity budget exhausted",
            retry_in_seconds=13,
            status_code=429,
        )
    )

    assert len(board.read_items(None).items) == 1
    assert sleeps == [13.0]


def test_wait_longer_than_the_cap_is_left_to_the_core(
    fake: FakeMonday, board: MondayBoard, sleeps: list[float]
) -> None:
    fake.faults.append(graphql_error("COMPLEXITY_BUDGET_EXHAUSTED", "budget", retry_in_seconds=600))

    with pytest.raises(TransientError) as caught:
        board.read_items(None)

    assert caught.value.retry_after == 600
    assert sleeps == []
    assert len(fake.requests) == 1


def test_500_then_success_is_retried_with_backoff(
    fake: FakeMonday, board: MondayBoard, sleeps: list[float]
) -> None:
    fake.add_items(2)
    fake.faults.append(
        httpx.Response(500, json={"error_message": "Internal server error", "status_code": 500})
    )

    assert len(board.read_items(None).items) == 2
    assert len(sleeps) == 1
    assert 0 <= sleeps[0] <= 20


def test_read_timeouts_are_retried_then_reported_as_transient(
    fake: FakeMonday, board: MondayBoard, sleeps: list[float]
) -> None:
    fake.faults += [httpx.ReadTimeout("timed out")] * 3

    with pytest.raises(TransientError) as caught:
        board.read_items(None)

    assert "read timeout" in caught.value.message
    assert len(fake.requests) == 3
    assert len(sleeps) == 2
    _no_secret(caught.value)


def test_dropped_connection_then_success(
    fake: FakeMonday, board: MondayBoard, sleeps: list[float]
) -> None:
    fake.add_items(1)
    fake.faults.append(httpx.RemoteProtocolError("Server disconnected"))

    assert len(board.read_items(None).items) == 1
    assert len(fake.requests) == 2


def test_timeouts_are_configured_on_the_client(fake: FakeMonday) -> None:
    board = MondayBoard.from_settings(
        make_settings(connect_timeout_seconds=2, read_timeout_seconds=9), sleep=lambda _: None
    )
    board.read_items(None)
    timeout = fake.requests[0].extensions["timeout"]
    assert timeout["connect"] == 2
    assert timeout["read"] == 9


def test_permission_error_is_permanent_and_not_retried(
    fake: FakeMonday, board: MondayBoard, sleeps: list[float]
) -> None:
    fake.faults.append(
        graphql_error(
            "UserUnauthorizedException",
            "User unauthorized to perform action",
            status_code=403,
        )
    )

    with pytest.raises(PermanentError) as caught:
        board.read_items(None)

    assert len(fake.requests) == 1
    assert sleeps == []
    assert "not allowed" in caught.value.message
    assert "member user" in caught.value.fix
    _no_secret(caught.value)


def test_bad_token_is_permanent_with_a_fix(fake: FakeMonday, board: MondayBoard) -> None:
    fake.faults.append(httpx.Response(401, text="Unauthorized"))

    with pytest.raises(PermanentError) as caught:
        board.read_items(None)

    assert "token" in caught.value.message
    assert "LEADBRIDGE_MONDAY__TOKEN" in caught.value.fix
    assert len(fake.requests) == 1
    _no_secret(caught.value)
    assert fake.requests[0].headers["Authorization"] == TOKEN
    assert fake.requests[0].headers["API-Version"] == "2026-10"


def test_missing_board_is_permanent(fake: FakeMonday, sleeps: list[float]) -> None:
    board = MondayBoard.from_settings(make_settings(board_id="999"), sleep=sleeps.append)

    with pytest.raises(PermanentError) as caught:
        board.read_items(None)

    assert "999" in caught.value.message
    assert "board_id" in caught.value.fix


def test_invalid_column_is_permanent(fake: FakeMonday, board: MondayBoard) -> None:
    fake.faults.append(
        graphql_error("InvalidColumnIdException", "This column ID doesn't exist for the board")
    )

    with pytest.raises(PermanentError) as caught:
        board.read_items(None)

    assert "column" in caught.value.message
    assert "leadbridge check" in caught.value.fix


def test_malformed_json_is_transient(
    fake: FakeMonday, board: MondayBoard, sleeps: list[float]
) -> None:
    fake.faults += [httpx.Response(200, text="<html>upstream error</html>")] * 3

    with pytest.raises(TransientError) as caught:
        board.read_items(None)

    assert "not GraphQL" in caught.value.message
    assert len(fake.requests) == 3


def test_daily_limit_is_transient_until_midnight_without_quick_retries(
    fake: FakeMonday, board: MondayBoard, sleeps: list[float]
) -> None:
    fake.faults.append(graphql_error("DAILY_LIMIT_EXCEEDED", "Daily limit exceeded"))

    with pytest.raises(TransientError) as caught:
        board.read_items(None)

    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 86_400
    assert "00:00 UTC" in caught.value.message
    assert sleeps == []


def test_legacy_error_shape_is_understood(fake: FakeMonday, board: MondayBoard) -> None:
    fake.faults.append(
        httpx.Response(
            200,
            json={
                "error_code": "InvalidBoardIdException",
                "status_code": 200,
                "error_message": "Board not found",
                "error_data": {},
            },
        )
    )

    with pytest.raises(PermanentError) as caught:
        board.read_items(None)

    assert "not shared" in caught.value.message


def test_persistent_cursor_expiry_becomes_transient(fake: FakeMonday, board: MondayBoard) -> None:
    fake.add_items(600)

    fake.expiring_cursors = 3

    with pytest.raises(TransientError) as caught:
        board.read_items(None)

    assert "cursor" in caught.value.message
    assert [b["operationName"] for b in fake.bodies].count("FirstItemsPage") == 3


def test_requests_are_counted_in_metrics(fake: FakeMonday, board: MondayBoard) -> None:
    from leadbridge.telemetry import API_REQUESTS

    def value(outcome: str) -> float:
        return API_REQUESTS.labels(service="monday", outcome=outcome)._value.get()

    before = {o: value(o) for o in ("ok", "retry", "error")}
    fake.faults.append(httpx.Response(502, text="bad gateway"))
    board.read_items(None)
    fake.faults.append(httpx.Response(401, text="no"))
    with pytest.raises(PermanentError):
        board.read_items(None)

    assert value("ok") - before["ok"] == 1
    assert value("retry") - before["retry"] == 1
    assert value("error") - before["error"] == 1


def test_api_url_override_reaches_another_endpoint(sleeps: list[float]) -> None:
    import respx

    server = FakeMonday()
    server.add_items(1)
    local = "http://127.0.0.1:8999/monday/v2"
    with respx.mock(assert_all_called=True) as router:
        router.post(local).mock(side_effect=server.handle)
        board = MondayBoard.from_settings(make_settings(), sleep=sleeps.append, api_url=local)
        assert len(board.read_items(None).items) == 1
    assert API_URL not in str(server.requests[0].url)


def test_token_never_reaches_a_log_line(fake: FakeMonday, board: MondayBoard) -> None:
    from structlog.testing import capture_logs

    fake.faults += [httpx.Response(500, text="oops"), httpx.Response(401, text="no")]
    with capture_logs() as logs, pytest.raises(PermanentError):
        board.read_items(None)

    assert logs
    assert TOKEN not in repr(logs)
