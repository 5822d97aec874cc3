"""A state database with a known board for the status page tests, and a client for the page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.domain.ledger import EffectState, LedgerEntry
from leadbridge.domain.model import Lead
from leadbridge.domain.timeline import EffectAttempt
from leadbridge.settings import Settings, load_settings
from leadbridge.ui.app import Headers, Request, Response, UiApp

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = REPO / "config" / "leadbridge.example.yaml"
TOKEN = "operator-token-for-tests-0123456789"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = '"><script>alert(1)</script>'
HOSTILE_URL = "javascript:alert(document.cookie)"


def ui_settings(secrets_dir: Path, **ui: Any) -> Settings:
    """The shipped example configuration with an operator token (and ``ui`` overrides)."""
    (secrets_dir / "ui__token").write_text(TOKEN)
    settings = load_settings(EXAMPLE_CONFIG, secrets_dir=secrets_dir)
    if ui:
        settings = settings.model_copy(update={"ui": settings.ui.model_copy(update=ui)})
    return settings


def _entry(
    item_id: str, effect: str, state: EffectState, ref: Mapping[str, Any] | None = None, **kw: Any
) -> LedgerEntry:
    return LedgerEntry(item_id, effect, state, ref=dict(ref or {}), updated_at=NOW, **kw)


@dataclass(frozen=True)
class Board:
    """Item ids of the seeded leads by role."""

    img: str = "101"
    script: str = "102"
    parked: str = "103"
    open_hub: str = "104"
    closed_hub: str = "105"
    plain: tuple[str, ...] = tuple(str(200 + n) for n in range(10))


def seed(store: SqlStateStore) -> Board:
    """Fifteen leads: two hostile names, one parked, two customers, ten plain ones."""
    board = Board()
    leads = [
        Lead(
            board.img,
            IMG,
            {"triage_status": "In Scope", "negotiation_status": IMG},
            HOSTILE_URL,
        ),
        Lead(
            board.script,
            SCRIPT,
            {"triage_status": SCRIPT, "contact_email": SCRIPT},
            "https://example.monday.com/items/102",
        ),
        Lead(
            board.parked,
            "Earth Data Lab",
            {"triage_status": "Questionnaire Received", "negotiation_status": "Create Quote"},
            "https://example.monday.com/items/103",
        ),
        Lead(
            board.open_hub,
            "Open Science Hub",
            {"triage_status": "In Scope", "negotiation_status": "Contract Signed"},
            "https://example.monday.com/items/104",
        ),
        Lead(
            board.closed_hub,
            "Closed Hub University",
            {"triage_status": "In Scope", "negotiation_status": "Contract Signed"},
            "https://example.monday.com/items/105",
        ),
    ]
    leads += [
        Lead(item_id, f"Plain lead {n:02d}", {"triage_status": "Send Questionnaire"}, "")
        for n, item_id in enumerate(board.plain)
    ]
    store.save_snapshots(leads, complete=True)
    entries = [
        _entry(
            board.img,
            "lead_folder",
            EffectState.DONE,
            {"links": {"folder": HOSTILE_URL}, "url": HOSTILE_URL},
        ),
        _entry(
            board.parked,
            "lead_folder",
            EffectState.DONE,
            {"links": {"folder": "https://drive.example/folders/103"}},
        ),
        _entry(
            board.parked,
            "quote_copies",
            EffectState.PARKED,
            attempts=1,
            last_error="Drive answered 404: the template 1PricingSheetTemplateId is not shared",
        ),
        _entry(
            board.script,
            "send_questionnaire",
            EffectState.FAILED,
            attempts=2,
            last_error=SCRIPT,
            next_attempt_at=NOW + timedelta(minutes=5),
        ),
        _entry(
            board.open_hub,
            "hub_issue",
            EffectState.DONE,
            {
                "number": 7,
                "url": "https://github.example/issues/7",
                "state": "open",
                "links": {"hub_issue": "https://github.example/issues/7"},
            },
        ),
        _entry(
            board.closed_hub,
            "hub_issue",
            EffectState.DONE,
            {
                "number": 3,
                "url": "https://github.example/issues/3",
                "state": "closed",
                "links": {"hub_issue": "https://github.example/issues/3"},
            },
        ),
        *[_entry(i, "send_questionnaire", EffectState.ADOPTED) for i in board.plain],
    ]
    for entry in entries:
        assert store.save_entry(entry, None)
    store.record_status_change(
        board.parked, "negotiation_status", "", "Create Quote", NOW - timedelta(hours=2)
    )
    store.record_attempt(
        EffectAttempt(
            board.parked,
            "quote_copies",
            1,
            NOW - timedelta(hours=2),
            NOW - timedelta(hours=2) + timedelta(seconds=1),
            "parked",
            "Drive answered 404: the template 1PricingSheetTemplateId is not shared",
            "copy pricing_sheet and price_quote into the lead folder",
        )
    )
    store.record_status_change(
        board.open_hub,
        "negotiation_status",
        "Quote Accepted",
        "Contract Signed",
        NOW - timedelta(days=10),
    )
    store.record_status_change(board.img, "triage_status", "", IMG, NOW - timedelta(hours=1))
    return board


class Client:
    """Calls ``UiApp.respond`` as a browser or a script would."""

    def __init__(self, app: UiApp, headers: Mapping[str, str] | None = None) -> None:
        self.app = app
        self.headers = dict(headers or {})
        self.client = "127.0.0.1"

    def request(
        self,
        method: str,
        target: str,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        body = urlencode(form or {}).encode()
        merged = {**self.headers, **(headers or {})}
        if form is not None:
            merged.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return self.app.respond(Request(method, target, Headers(merged), self.client, body))

    def get(self, target: str, **headers: str) -> Response:
        return self.request("GET", target, headers=headers)

    def post(self, target: str, form: Mapping[str, str], **headers: str) -> Response:
        return self.request("POST", target, form, headers)

    def text(self, target: str) -> str:
        response = self.get(target)
        assert response.status == 200, (target, response.status, response.body[:500])
        return response.body.decode()


BEARER = {"Authorization": f"Bearer {TOKEN}"}
