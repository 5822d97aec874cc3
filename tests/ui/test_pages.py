"""The status page's handlers, called directly: credentials, CSRF, escaping, filters, paging."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from structlog.testing import capture_logs

from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.domain.ledger import EffectState, LedgerEntry
from leadbridge.runtime.coordinator import Verdict
from leadbridge.runtime.http import HealthServer
from leadbridge.settings import Settings, load_settings
from leadbridge.ui.app import UiApp
from leadbridge.ui.auth import NotConfigured
from leadbridge.ui.server import UiHandler, build_app, ui_handler
from tests.ui.support import (
    BEARER,
    EXAMPLE_CONFIG,
    HOSTILE_URL,
    IMG,
    NOW,
    SCRIPT,
    TOKEN,
    Board,
    Client,
    seed,
    ui_settings,
)

PAGES = ("/", "/leads", "/leads/103", "/hubs", "/leads?q=earth&needs=1")


@pytest.fixture
def settings(secrets_dir: Path) -> Settings:
    return ui_settings(secrets_dir)


@pytest.fixture
def board(store: SqlStateStore) -> Board:
    return seed(store)


def make_app(settings: Settings, store: SqlStateStore, now=lambda: NOW) -> UiApp:
    return UiApp(settings, lambda: store, now=now)


@pytest.fixture
def app(settings: Settings, store: SqlStateStore, board: Board) -> UiApp:
    return make_app(settings, store)


@pytest.fixture
def operator(app: UiApp) -> Client:
    return Client(app, BEARER)


def listed(html: str) -> list[str]:
    """Item ids of the leads a leads page lists, in order."""
    return re.findall(r'class="lead-name" href="/leads/([^"]+)"', html)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def ledger_rows(store: SqlStateStore) -> list[LedgerEntry]:
    return store.ledger()


# ---------------------------------------------------------------- credentials


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_refused_without_a_credential(app: UiApp, path: str) -> None:
    response = Client(app).get(path)
    assert response.status == 401
    body = response.body.decode()
    assert "Earth Data Lab" not in body and "Open Science Hub" not in body
    assert 'name="token"' in body  # the login form, and nothing of the board


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not-the-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
    ids=["wrong-token", "wrong-scheme", "token-prefix"],
)
def test_a_wrong_credential_is_refused_with_403(app: UiApp, headers: dict[str, str]) -> None:
    for path in PAGES:
        response = Client(app, headers).get(path)
        assert response.status == 403, path
        assert "Earth Data Lab" not in response.body.decode()


def test_a_forged_or_expired_session_cookie_opens_nothing(
    settings: Settings, store: SqlStateStore, board: Board
) -> None:
    app = make_app(settings, store)
    cookie = app.auth.new_session("Ada", NOW)
    name, issued, nonce, signature = cookie.split(".")
    forged = ".".join([name, issued, nonce, signature[:-2] + "AA"])
    assert Client(app, {"Cookie": f"leadbridge_session={forged}"}).get("/").status == 401
    later = make_app(settings, store, now=lambda: NOW + timedelta(hours=13))
    assert Client(later, {"Cookie": f"leadbridge_session={cookie}"}).get("/").status == 401
    assert Client(app, {"Cookie": f"leadbridge_session={cookie}"}).get("/").status == 200


def test_the_identity_header_is_believed_only_from_a_trusted_proxy(
    secrets_dir: Path, store: SqlStateStore, board: Board
) -> None:
    settings = ui_settings(secrets_dir, identity_header="X-Forwarded-User", token=None)
    app = make_app(settings, store)
    proxy = Client(app, {"X-Forwarded-User": "ada@2i2c.example"})
    page = proxy.get("/leads")
    assert page.status == 200
    assert "ada@2i2c.example" in page.body.decode()
    outsider = Client(app, {"X-Forwarded-User": "ada@2i2c.example"})
    outsider.client = "10.20.30.40"
    assert outsider.get("/leads").status == 403
    assert Client(app).get("/leads").status == 401


def test_login_with_the_token_gives_a_session(app: UiApp) -> None:
    browser = Client(app)
    refused = browser.post("/login", {"token": "guess", "name": "Mallory", "next": "/hubs"})
    assert refused.status == 403 and refused.header("Set-Cookie") is None
    signed = browser.post("/login", {"token": TOKEN, "name": "Ada", "next": "/hubs"})
    assert signed.status == 303 and signed.header("Location") == "/hubs"
    cookie = signed.header("Set-Cookie") or ""
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    browser.headers["Cookie"] = cookie.split(";", 1)[0]
    page = browser.get("/hubs")
    assert page.status == 200 and "Ada (token login)" in page.body.decode()


def test_login_never_redirects_to_another_site(app: UiApp) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        signed = Client(app).post("/login", {"token": TOKEN, "next": target})
        assert signed.header("Location") == "/"


def test_without_token_or_identity_header_the_page_is_not_served(
    secrets_dir: Path, store: SqlStateStore
) -> None:
    settings = load_settings(EXAMPLE_CONFIG, secrets_dir=secrets_dir)
    assert settings.ui.token is None and settings.ui.identity_header is None
    with pytest.raises(NotConfigured, match=r"ui\.token.*ui\.identity_header"):
        build_app(settings, store=lambda: store)
    with capture_logs() as logs:
        handler = ui_handler(settings, prune=False)
    assert handler.app is None
    (event,) = [e for e in logs if e["event"] == "ui_not_served"]
    assert "LEADBRIDGE_UI__TOKEN" in event["reason"]


def test_healthz_and_metrics_stay_open_beside_the_page(app: UiApp) -> None:
    class Coordinator:
        def verdict(self) -> Verdict:
            return Verdict(200, {"status": "ok", "role": "active"})

    server = HealthServer(Coordinator(), "127.0.0.1", 0, ui=UiHandler(app))  # type: ignore[arg-type]
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
            health = http.get("/healthz")
            assert health.status_code == 200 and health.json()["role"] == "active"
            metrics = http.get("/metrics")
            assert metrics.status_code == 200
            for response in (health, metrics):
                assert "Earth Data Lab" not in response.text
            assert http.get("/").status_code == 401
            assert http.get("/leads", headers=BEARER).status_code == 200
            posted = http.post("/leads/103/retry", data={"effect": "quote_copies"})
            assert posted.status_code == 401
    finally:
        server.stop()


def test_security_headers_are_on_every_answer(app: UiApp, operator: Client) -> None:
    for response in (Client(app).get("/"), operator.get("/"), operator.get("/nowhere")):
        policy = response.header("Content-Security-Policy") or ""
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert response.header("X-Content-Type-Options") == "nosniff"
    assert operator.get("/nowhere").status == 404


# ---------------------------------------------------------------- untrusted values


def test_hostile_names_render_as_text_everywhere(operator: Client, board: Board) -> None:
    pages = [
        "/",
        "/leads",
        f"/leads?q={quote(IMG)}",
        f"/leads?q={quote(SCRIPT)}",
        f"/leads/{board.img}",
        f"/leads/{board.script}",
        "/hubs",
        "/leads?stage=" + quote(f"negotiation_status:{IMG}"),
    ]
    for page in pages:
        html = operator.text(page)
        assert IMG not in html, page
        assert SCRIPT not in html, page
        assert "<script>alert" not in html, page
        assert len(re.findall(r"<script\b", html)) == 1, page  # only /static/app.js
        assert not re.search(r"href=[\"']?\s*javascript:", html, re.IGNORECASE), page
        assert "onerror=" not in html.replace("onerror=alert(1)&gt;", ""), page
    listing = operator.text("/leads")
    assert "&lt;img src=x onerror=alert(1)&gt;" in listing
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in listing
    # An unknown label (typed on the board) is a chart label too: as text.
    overview = operator.text("/")
    assert "&lt;img src=x onerror=alert(1)&gt;" in overview


def test_only_http_links_become_hrefs(operator: Client, board: Board) -> None:
    html = operator.text(f"/leads/{board.img}")
    assert HOSTILE_URL in html  # shown, as text
    assert f'href="{HOSTILE_URL}' not in html
    parked = operator.text(f"/leads/{board.parked}")
    assert 'href="https://drive.example/folders/103"' in parked
    assert 'href="https://example.monday.com/items/103"' in parked


# ---------------------------------------------------------------- the leads table


def test_search_by_name(operator: Client, board: Board) -> None:
    assert listed(operator.text("/leads?q=earth")) == [board.parked]
    assert listed(operator.text("/leads?q=EARTH+data")) == [board.parked]
    assert listed(operator.text("/leads?q=%25")) == []  # a LIKE wildcard is a plain character
    assert listed(operator.text(f"/leads?q={board.open_hub}")) == [board.open_hub]


def test_filters_by_stage_needs_a_person_and_hub(operator: Client, board: Board) -> None:
    signed = quote("negotiation_status:Contract Signed")
    assert sorted(listed(operator.text(f"/leads?stage={signed}"))) == [
        board.open_hub,
        board.closed_hub,
    ]
    assert sorted(listed(operator.text("/leads?needs=1"))) == [board.script, board.parked]
    assert listed(operator.text("/leads?hub=open")) == [board.open_hub]
    assert listed(operator.text("/leads?hub=closed")) == [board.closed_hub]
    none = listed(operator.text("/leads?hub=none&sort=item"))
    assert board.open_hub not in none and board.closed_hub not in none and len(none) == 13
    empty_negotiation = listed(operator.text("/leads?stage=negotiation_status%3A&sort=item"))
    assert empty_negotiation == [board.script, *board.plain]
    assert listed(operator.text("/leads?needs=1&q=earth&hub=none")) == [board.parked]


def test_held_leads_need_a_person(operator: Client, store: SqlStateStore, board: Board) -> None:
    store.save_fact(
        "held_mass_actions",
        {"email": {"count": 30, "limit": 20, "since": NOW.isoformat(), "items": [board.plain[3]]}},
    )
    found = listed(operator.text("/leads?needs=1"))
    assert board.plain[3] in found
    assert "Held: 30 new email effect(s)" in operator.text("/")


def test_paging_covers_every_lead_once(
    secrets_dir: Path, store: SqlStateStore, board: Board
) -> None:
    app = make_app(ui_settings(secrets_dir, page_size=5), store)
    operator = Client(app, BEARER)
    seen = []
    for page in (1, 2, 3):
        html = operator.text(f"/leads?page={page}")
        seen += listed(html)
        assert f"page {page} of 3" in html
    assert len(seen) == 15 and len(set(seen)) == 15
    assert listed(operator.text("/leads?page=99")) == seen[10:]  # past the end: the last page
    assert listed(operator.text("/leads?page=abc")) == seen[:5]
    first = operator.text("/leads?page=1")
    assert 'rel="next"' in first and "page=2" in first


def test_sorting(operator: Client, board: Board) -> None:
    by_name = listed(operator.text("/leads"))
    # Where punctuation sorts depends on the database's collation; letters do not.
    letters = [board.closed_hub, board.parked, board.open_hub, *board.plain]
    assert [item for item in by_name if item in letters] == letters
    assert listed(operator.text("/leads?sort=name&dir=desc")) == by_name[::-1]
    by_item = listed(operator.text("/leads?sort=item"))
    assert by_item == sorted(by_item, key=lambda i: (len(i), i))
    problems = listed(operator.text("/leads?sort=problems&dir=desc"))
    assert set(problems[:2]) == {board.script, board.parked}
    stage = listed(operator.text("/leads?sort=negotiation_status&dir=desc"))
    assert set(stage[:2]) == {board.open_hub, board.closed_hub}
    # Unknown sort keys and directions fall back to the default, never into SQL.
    assert listed(operator.text("/leads?sort=name;drop%20table%20items&dir=sideways")) == by_name


# ---------------------------------------------------------------- lead, hubs, overview


def test_lead_page_shows_timeline_effects_and_links(operator: Client, board: Board) -> None:
    html = operator.text(f"/leads/{board.parked}")
    assert "Earth Data Lab" in html
    assert "Create Quote" in html and "(empty) → Create Quote" in html
    assert "the template 1PricingSheetTemplateId is not shared" in html
    assert 'data-state="parked"' in html and 'class="retry"' in html
    assert "2026-03-02 10:00:00 UTC" in html  # the status change's time
    hub = operator.text(f"/leads/{board.open_hub}")
    assert 'href="https://github.example/issues/7"' in hub and "#7" in hub
    assert 'class="badge open"' in hub
    assert operator.get("/leads/999999").status == 404


def test_hubs_page_lists_customers_with_issue_state_and_days(
    operator: Client, board: Board
) -> None:
    html = operator.text("/hubs")
    rows = re.findall(r"<tr>\s*<td><a href=\"/leads/(\d+)\">(.*?)</a></td>(.*?)</tr>", html, re.S)
    by_id = {item: rest for item, _, rest in rows}
    assert set(by_id) == {board.open_hub, board.closed_hub}
    assert '<td class="num">10</td>' in by_id[board.open_hub]
    assert "open" in by_id[board.open_hub] and "closed" in by_id[board.closed_hub]
    assert "before the history began" in by_id[board.closed_hub]


def test_overview_counts_and_charts(operator: Client, store: SqlStateStore) -> None:
    store.add_usage(NOW.date(), "monday", 123, 4567)
    run = store.start_run(NOW - timedelta(minutes=2))
    store.finish_run(run, NOW - timedelta(minutes=1), "ok", {"waiting": 4})
    html = operator.text("/")
    assert '123 <span class="muted">of 1000</span>' in html
    counts = dict(re.findall(r'<span class="badge (\w+)">\w+</span> <strong>(\d+)</strong>', html))
    assert counts["done"] == "4" and counts["parked"] == "1" and counts["failed"] == "1"
    assert counts["adopted"] == "10" and counts["waiting"] == "4"
    assert html.count('<figure class="chart">') == 3
    assert (
        "Contract Signed" in html
        and 'href="/leads?stage=negotiation_status%3AContract+Signed"' in html
    )
    assert "Retry all parked drive_copies" in html
    assert "not polling here" in html  # no coordinator: serve-ui judges from the last run


# ---------------------------------------------------------------- actions


def test_post_without_a_credential_changes_nothing(
    app: UiApp, store: SqlStateStore, board: Board
) -> None:
    before = ledger_rows(store)
    anonymous = Client(app)
    assert anonymous.post(f"/leads/{board.parked}/retry", {"effect": "quote_copies"}).status == 401
    assert anonymous.post("/retry-kind", {"kind": "drive_copies"}).status == 401
    wrong = Client(app, {"Authorization": "Bearer nope"})
    assert wrong.post(f"/leads/{board.parked}/retry", {"effect": "quote_copies"}).status == 403
    assert ledger_rows(store) == before


@pytest.mark.parametrize("csrf", [None, "", "forged-value", "from-another-session"])
def test_post_without_or_with_a_wrong_csrf_token_changes_nothing(
    app: UiApp, store: SqlStateStore, board: Board, csrf: str | None
) -> None:
    before = ledger_rows(store)
    browser = Client(app)
    cookie = app.auth.new_session("Ada", NOW)
    browser.headers["Cookie"] = f"leadbridge_session={cookie}"
    if csrf == "from-another-session":
        other = Client(app, {"Cookie": f"leadbridge_session={app.auth.new_session('Bob', NOW)}"})
        csrf = csrf_of(other.text(f"/leads/{board.parked}"))
    form = {"effect": "quote_copies"} if csrf is None else {"effect": "quote_copies", "csrf": csrf}
    with capture_logs() as logs:
        retried = browser.post(f"/leads/{board.parked}/retry", form)
        bulk = browser.post(
            "/retry-kind", {"kind": "drive_copies", **({"csrf": csrf} if csrf else {})}
        )
    assert retried.status == 403 and bulk.status == 403
    assert "nothing was changed" in retried.body.decode()
    assert ledger_rows(store) == before
    assert [e["event"] for e in logs].count("ui_action_refused") == 2


def test_retry_with_csrf_rearms_the_effect_and_logs_who(
    app: UiApp, store: SqlStateStore, board: Board
) -> None:
    browser = Client(app, {"Cookie": f"leadbridge_session={app.auth.new_session('Ada', NOW)}"})
    csrf = csrf_of(browser.text(f"/leads/{board.parked}"))
    with capture_logs() as logs:
        response = browser.post(
            f"/leads/{board.parked}/retry", {"effect": "quote_copies", "csrf": csrf}
        )
    assert response.status == 303
    assert response.header("Location") == f"/leads/{board.parked}?retried=1"
    entry = {e.effect: e for e in store.ledger(board.parked)}["quote_copies"]
    assert (entry.state, entry.attempts) == (EffectState.PENDING, 0)
    (action,) = [e for e in logs if e["event"] == "ui_action"]
    assert action["who"] == "Ada (token login)" and action["action"] == "retry"
    assert action["item_id"] == board.parked and action["rearmed"] == ["quote_copies"]
    page = browser.text(f"/leads/{board.parked}?retried=1")
    assert "Re-armed 1 effect(s)" in page
    assert "re-armed" in page and "by Ada (token login); was parked after 1 attempt(s)" in page
    # Done effects are not re-armed by a retry.
    again = browser.post(f"/leads/{board.parked}/retry", {"effect": "lead_folder", "csrf": csrf})
    assert again.header("Location") == f"/leads/{board.parked}?retried=0"
    assert {e.effect: e for e in store.ledger(board.parked)}[
        "lead_folder"
    ].state is EffectState.DONE


def test_retry_all_parked_of_one_kind(operator: Client, store: SqlStateStore, board: Board) -> None:
    for item_id in board.plain[:3]:
        parked = LedgerEntry(item_id, "quote_copies", EffectState.PARKED, attempts=8,
                             last_error="GitHub token revoked", updated_at=NOW)  # fmt: skip
        assert store.save_entry(parked, None)
    csrf = csrf_of(operator.text("/"))
    with capture_logs() as logs:
        response = operator.post("/retry-kind", {"kind": "drive_copies", "csrf": csrf})
    assert response.status == 303
    assert response.header("Location") == "/?retried=4&kind=drive_copies"
    states = {(e.item_id, e.effect): e.state for e in store.ledger()}
    for item_id in (board.parked, *board.plain[:3]):
        assert states[(item_id, "quote_copies")] is EffectState.PENDING
    # A failed effect of another kind is left to its own backoff.
    assert states[(board.script, "send_questionnaire")] is EffectState.FAILED
    (action,) = [e for e in logs if e["event"] == "ui_action"]
    assert action["who"] == "token" and len(action["rearmed"]) == 4
    assert "Re-armed 4 drive_copies effect(s)" in operator.text(response.header("Location") or "")
    unknown = operator.post("/retry-kind", {"kind": "<script>", "csrf": csrf})
    assert unknown.status == 400 and b"<script>" not in unknown.body


def test_retrying_an_effect_that_may_have_acted_says_so(
    operator: Client, store: SqlStateStore, board: Board
) -> None:
    sent = LedgerEntry(board.plain[0], "notify_icsi_contract", EffectState.PARKED, attempts=1,
                       last_error="the SMTP server closed the connection after DATA",
                       ref={"attempted": True}, updated_at=NOW)  # fmt: skip
    assert store.save_entry(sent, None)
    csrf = csrf_of(operator.text(f"/leads/{board.plain[0]}"))
    response = operator.post(
        f"/leads/{board.plain[0]}/retry", {"effect": "notify_icsi_contract", "csrf": csrf}
    )
    location = response.header("Location") or ""
    assert location == f"/leads/{board.plain[0]}?retried=1&attempted=1"
    assert "leadbridge retry --resend" in operator.text(location)
