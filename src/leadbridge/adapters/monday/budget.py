"""The account's daily call budget, read from monday's ``platform_api``.

monday counts calls per account and UTC day; ``daily_limit.total`` is the plan's limit with
any add-on (``base`` without), and ``daily_analytics.by_day`` the account's calls per day,
every tool included. Deciding what to make of them is the call governor's business
(``runtime/governor.py``); this only reads and checks the shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from leadbridge.adapters.monday.client import MondayClient
from leadbridge.adapters.monday.documents import ACCOUNT_BUDGET
from leadbridge.adapters.monday.failures import SERVICE
from leadbridge.domain.errors import PermanentError
from leadbridge.domain.ports import AccountBudget

UNREPORTED_FIX = (
    "nothing needs doing: leadbridge then assumes monday.daily_call_limit, so set that to the "
    "plan's limit (Basic/Standard 1000, Pro 10000, Enterprise 25000)"
)


def read_account_budget(client: MondayClient, now: datetime) -> AccountBudget:
    """One call; the usage of ``now``'s UTC day (0 when the account made none yet)."""
    data = client.execute(ACCOUNT_BUDGET, {})
    platform: Mapping[str, Any] = data.get("platform_api") or {}
    limits: Mapping[str, Any] = platform.get("daily_limit") or {}
    limit = limits.get("total") or limits.get("base")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        raise PermanentError(
            SERVICE,
            "monday did not report the account's daily call limit (platform_api.daily_limit "
            "is empty)",
            fix=UNREPORTED_FIX,
        )
    analytics: Mapping[str, Any] = platform.get("daily_analytics") or {}
    today = now.astimezone(UTC).date().isoformat()
    used = 0
    for entry in analytics.get("by_day") or []:
        # ``day`` is an ISO date ("2026-07-14"); a timestamp form is read by its date part.
        if isinstance(entry, Mapping) and str(entry.get("day", ""))[:10] == today:
            usage = entry.get("usage")
            used = usage if isinstance(usage, int) and not isinstance(usage, bool) else 0
    return AccountBudget(limit=limit, used_today=used, read_at=now)
