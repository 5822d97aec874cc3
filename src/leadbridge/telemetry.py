"""Prometheus series shared by the adapters and the service.

Defined once here so every adapter reports requests the same way and ``/metrics`` shows one
consistent set of names, whichever adapters a deployment wires.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

API_REQUESTS = Counter(
    "leadbridge_api_requests",
    "Requests sent to an outside API, by service and outcome (ok, retry, error).",
    ["service", "outcome"],
)
MONDAY_CALLS_TODAY = Gauge(
    "leadbridge_monday_calls_today", "monday.com API calls made since 00:00 UTC."
)
MONDAY_COMPLEXITY = Counter(
    "leadbridge_monday_complexity", "monday.com complexity points consumed."
)
LAST_SUCCESSFUL_POLL = Gauge(
    "leadbridge_last_successful_poll_timestamp_seconds",
    "Unix time of the end of the last poll that read the board.",
)
POLL_DURATION = Histogram(
    "leadbridge_poll_duration_seconds",
    "Duration of one sync cycle.",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
TRANSITIONS = Counter(
    "leadbridge_transitions", "Status changes made by staff, by column.", ["column"]
)
EFFECTS = Counter(
    "leadbridge_effects", "Effect attempts, by kind and outcome.", ["kind", "outcome"]
)
PARKED = Gauge("leadbridge_parked_effects", "Effects parked and waiting for a person.")
WEBHOOK_DELIVERIES = Counter(
    "leadbridge_webhook_deliveries",
    "Webhook deliveries received, by outcome (poll, debounced, challenge, replay, own_change, "
    "other_board, unverified, malformed, not_found).",
    ["outcome"],
)


def count_request(service: str, outcome: str) -> None:
    API_REQUESTS.labels(service=service, outcome=outcome).inc()
