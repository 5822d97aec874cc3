"""The status page in a real browser (Playwright driving Debian's Chromium) against the sandbox.

A scripted sales team moves the demo leads through the pipeline while a real SyncService runs
its cycles against the in-process sandbox; one quote copy is made to fail (a template "not
shared"), so its effect parks. An operator then signs in, reads the overview, searches for a
lead, opens its page (timeline, links), presses Retry on the parked effect, and sees the next
cycle complete it. Two leads are named like attacks: they must show as text, and the test
fails if any JavaScript dialog opens. The browser context bypasses the page's Content Security
Policy so that only the escaping stands between those names and a dialog.

The screenshots in docs/screenshots/ (shown in the README) are made here, with
LEADBRIDGE_SCREENSHOTS=docs/screenshots.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from leadbridge.bootstrap import build_sync_service
from leadbridge.demo import JOURNEYS
from leadbridge.domain.ledger import EffectState
from leadbridge.sandbox import (
    DEMO_LEADS,
    Sandbox,
    SeedLead,
    seed_board,
    set_values,
    write_sandbox_config,
)
from leadbridge.service.sync import SyncService
from leadbridge.settings import Settings, load_settings
from leadbridge.ui.server import UiServer, build_app
from tests.ui.support import IMG, SCRIPT, TOKEN

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is not installed: pip install -e '.[test]'",
)
CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        f"Debian's Chromium is not at {CHROMIUM}: apt-get install -y chromium (as .ci/run does)",
        allow_module_level=True,
    )
expect = sync_api.expect

REPO = Path(__file__).resolve().parents[2]
#: Where the screenshots go: a temporary folder, unless LEADBRIDGE_SCREENSHOTS names one
#: (``LEADBRIDGE_SCREENSHOTS=docs/screenshots pytest tests/ui`` remakes the README's), so that
#: a test run never rewrites tracked files.
SCREENSHOTS_ENV = "LEADBRIDGE_SCREENSHOTS"
STATUS_COLUMNS = ("triage_status", "negotiation_status", "hub_status")
CONTACT = {
    "organization": "Example Org",
    "contact_name": "Sam Example",
    "contact_email": "sam@example.org",
}


@dataclass
class World:
    sandbox: Sandbox
    settings: Settings
    service: SyncService
    server: UiServer
    names: dict[str, str]


def _demo_board() -> list[SeedLead]:
    """The demo's leads with their statuses cleared (the scripted team sets them), plus two
    leads named like attacks, already signed when leadbridge first meets the board."""
    leads = [
        SeedLead(lead.name, {k: v for k, v in lead.values.items() if k not in STATUS_COLUMNS})
        for lead in DEMO_LEADS
    ]
    signed = {"triage_status": "In Scope", "negotiation_status": "Contract Signed"}
    leads.append(SeedLead(IMG, {**CONTACT, **signed}))
    leads.append(SeedLead(SCRIPT, {**CONTACT, "triage_status": "Questionnaire Received"}))
    return leads


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("ui-browser")
    with Sandbox(seed=7) as sandbox:
        seeds = _demo_board()
        ids = seed_board(sandbox.state, None, seeds)
        written = write_sandbox_config(
            sandbox,
            directory,
            state_url=f"sqlite:///{directory / 'state.db'}",
            github={"seconds_between_writes": 0},
        )
        (written.secrets_dir / "ui__token").write_text(TOKEN)
        settings = load_settings(written.path, secrets_dir=written.secrets_dir)
        service = build_sync_service(settings)
        assert service.run_cycle().read_ok  # first meeting: adopts what is already past
        # The first template copy of the run fails as an unshared template does: it parks.
        sandbox.faults.add("drive", "files.copy", "status", status=404, times=1)
        demo = list(zip(ids[: len(DEMO_LEADS)], range(len(DEMO_LEADS)), strict=True))
        rounds = max(len(steps) for _, steps in JOURNEYS)
        for number in range(rounds):
            for item_id, index in demo:
                steps = JOURNEYS[index % len(JOURNEYS)][1]
                if number < len(steps):
                    values = {settings.columns[c].id: label for c, label in steps[number].items()}
                    set_values(sandbox.state, item_id, values)
            assert service.run_cycle().read_ok
        service.run_cycle()
        parked = [e for e in service.store.ledger() if e.state is EffectState.PARKED]
        assert [e.effect for e in parked] == ["quote_copies"], parked
        app = build_app(settings)
        server = UiServer(app, "127.0.0.1", 0).start()
        try:
            yield World(
                sandbox,
                settings,
                service,
                server,
                dict(zip(ids, (s.name for s in seeds), strict=True)),
            )
        finally:
            server.stop()
            app.store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


class Dialogs(list[str]):
    """Every JavaScript dialog any page opened; each is dismissed."""


@pytest.fixture
def dialogs() -> Dialogs:
    return Dialogs()


@pytest.fixture
def page(browser: Any, world: World, dialogs: Dialogs) -> Iterator[Any]:
    context = browser.new_context(
        base_url=world.server.url, viewport={"width": 1280, "height": 860}, bypass_csp=True
    )
    opened = context.new_page()

    def on_dialog(dialog: Any) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    opened.on("dialog", on_dialog)
    yield opened
    context.close()


def sign_in(page: Any) -> None:
    refused = page.goto("/")
    assert refused is not None and refused.status == 401
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Your name").fill("Ada Operator")
    page.get_by_label("Operator token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Pipeline overview")).to_be_visible()


def test_an_operator_finds_a_lead_and_retries_its_parked_effect(
    page: Any, world: World, dialogs: Dialogs, tmp_path: Path
) -> None:
    sign_in(page)
    expect(page.locator("figure.chart svg")).to_have_count(3)
    expect(page.locator("figure.chart").first).to_contain_text("Send Questionnaire")
    expect(page.locator(".card").first).to_contain_text("not polling here")
    expect(page.get_by_text("Retry all parked drive_copies")).to_be_visible()
    shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "overview.png"), full_page=True)

    # Search by name.
    page.get_by_role("link", name="Leads", exact=True).click()
    page.get_by_placeholder("search by name or item id").fill("Earth")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"q=Earth"))
    expect(page.locator("a.lead-name")).to_have_text(["Earth Data Lab"])
    # A filter applies as soon as it is chosen (the page's little script).
    page.locator("select[name=hub]").select_option("open")
    expect(page).to_have_url(re.compile(r"hub=open"))
    expect(page.locator("a.lead-name")).to_have_text(["Earth Data Lab"])

    # Its page: statuses, the timeline, the links it made.
    page.locator("a.lead-name").first.click()
    expect(page.locator("h1")).to_have_text("Earth Data Lab")
    timeline = page.locator("ol.timeline li.event")
    expect(timeline.filter(has_text="Negotiation status")).not_to_have_count(0)
    expect(timeline.filter(has_text="quote_copies, attempt 1")).to_have_count(1)
    links = page.locator("ul.links a")
    expect(links.filter(has_text="/drive")).not_to_have_count(0)
    expect(page.locator("li.hub-issue")).to_contain_text("open")
    page.screenshot(path=str(shots / "lead.png"), full_page=True)

    # Among the leads that need a person (MANIAC-T fields to fill, the parked copies), the
    # one whose quote copies are parked.
    (parked,) = [e for e in world.service.store.ledger() if e.state is EffectState.PARKED]
    page.goto("/leads?needs=1")
    needing = page.locator("a.lead-name")
    expect(needing.filter(has_text=world.names[parked.item_id])).to_have_count(1)
    needing.filter(has_text=world.names[parked.item_id]).click()
    row = page.locator("#effect-quote_copies")
    expect(row).to_have_attribute("data-state", "parked")
    expect(row).to_contain_text("missing, or not shared")
    row.get_by_role("button", name="Retry").click()
    expect(page.locator(".flash")).to_have_text("Re-armed 1 effect(s): the next cycle runs them.")
    expect(row).to_have_attribute("data-state", "pending")
    expect(page.locator("ol.timeline")).to_contain_text("by Ada Operator (token login)")

    # The next cycle completes it.
    assert world.service.run_cycle().done >= 1
    page.reload()
    expect(row).to_have_attribute("data-state", "done")
    expect(page.locator("ul.links")).to_contain_text("Pricing sheet")
    assert page.goto("/overview") is not None
    expect(page.get_by_text("Retry all parked drive_copies")).to_have_count(0)
    assert dialogs == []


def test_hostile_names_show_as_text_and_open_no_dialog(
    page: Any, world: World, dialogs: Dialogs
) -> None:
    # The detector itself works: the same name, unescaped, does open a dialog.
    page.set_content(f"<p>{IMG}</p>")
    page.wait_for_timeout(300)
    assert dialogs, "an unescaped onerror handler should have opened a dialog here"
    dialogs.clear()

    sign_in(page)
    for name in (IMG, SCRIPT):
        page.goto("/leads")
        page.get_by_placeholder("search by name or item id").fill(name)
        page.keyboard.press("Enter")
        expect(page.locator("a.lead-name")).to_have_text([name])
        page.locator("a.lead-name").first.click()
        expect(page.locator("h1")).to_have_text(name)
        assert page.locator("main img").count() == 0
        assert page.locator("script").count() == 1  # /static/app.js alone
    for path in ("/", "/leads", "/hubs", "/leads?sort=name&dir=desc"):
        page.goto(path)
        assert page.locator("main img").count() == 0
        assert page.locator("script").count() == 1
    expect(page.locator("main")).to_contain_text(IMG)
    page.goto("/hubs")
    expect(page.locator("table.hubs")).to_contain_text(IMG)
    page.wait_for_timeout(300)
    assert dialogs == [], f"a board value ran as code: {dialogs}"


def test_chromium_is_debians() -> None:
    assert shutil.which(str(CHROMIUM)) is not None
