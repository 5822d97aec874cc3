"""Work done by hand counts (issue 15).

A board met for the first time holds leads staff worked by hand: folders made in Drive,
quotes copied, issues opened, links pasted on the items. leadbridge records what the links
show (checked with Drive and GitHub first), later effects use it as if leadbridge had made it,
an effect missing a link waits and says which one, and leads standing on an action label are
requests, not history.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import yaml

from leadbridge.cli import print_report
from leadbridge.domain.decide import Act, Decision, Situation, decide
from leadbridge.domain.errors import TransientError
from leadbridge.domain.ledger import EffectState
from leadbridge.domain.model import EffectSpec, Lead, Pipeline, Rule, StatusColumn
from leadbridge.domain.planning import dependency_order
from leadbridge.domain.ports import IssueRef
from leadbridge.service.status import build_status, render_status
from leadbridge.settings import ConfigError, load_settings
from tests.conftest import EXAMPLE_CONFIG

from .harness import Harness, lead

DOC = "application/vnd.google-apps.document"
SHEET = "application/vnd.google-apps.spreadsheet"
HUB_REPO = "https://github.com/2i2c-org/infrastructure/issues"
#: An unrendered placeholder, as a template shows it before it is filled with a lead's values.
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def paste(h: Harness, item_id: str, **values: str) -> None:
    """Staff edit the item: the next read sees it."""
    current = h.board.items[item_id]
    h.board.put(replace(current, values={**current.values, **values}))


def notes(h: Harness, item_id: str) -> list[str]:
    return h.board.notes.get(item_id, [])


def mail_to(h: Harness, fragment: str) -> list[str]:
    return [m.body for m in h.mailer.sent if fragment in m.subject]


@pytest.fixture
def h(example_settings, store) -> Harness:
    """A board leadbridge has never met (no first cycle yet)."""
    return Harness(example_settings, store)


def test_a_board_worked_by_hand_keeps_its_work_and_later_effects_use_it(h: Harness) -> None:
    # Lead 1: folder and both copies made by hand, every link pasted, already at Quote Sent.
    h.drive.add_folder("HANDF1", "Lead 1 (by hand)")
    h.drive.add_file("HANDP1", "Lead 1 pricing", "HANDF1", SHEET)
    h.drive.add_file("HANDQ1", "Lead 1 quote", "HANDF1", DOC)
    h.board.put(
        lead(
            "1",
            triage_status="In Scope",
            negotiation_status="Quote Sent",
            lead_folder="https://drive.google.com/drive/folders/HANDF1?usp=sharing",
            pricing_sheet="https://docs.google.com/spreadsheets/d/HANDP1/edit#gid=0",
            price_quote="https://docs.google.com/document/d/HANDQ1/edit",
        )
    )
    # Lead 2: only its folder so far, linked in the old open?id= form.
    h.drive.add_folder("HANDF2", "Lead 2 (by hand)")
    h.board.put(
        lead(
            "2",
            triage_status="Questionnaire Received",
            lead_folder="https://drive.google.com/open?id=HANDF2",
        )
    )
    # Lead 3: signed, its hub issue opened by hand (no leadbridge marker) and linked.
    h.drive.add_folder("HANDF3", "Lead 3 (by hand)")
    h.issues.issues.append((IssueRef(1, f"{HUB_REPO}/1"), "New Hub: Org 3", "by hand", ("Hub",)))
    h.board.put(
        lead(
            "3",
            triage_status="In Scope",
            negotiation_status="Contract Signed",
            hub_status="Hub Running",
            lead_folder="https://drive.google.com/file/d/HANDF3/view",
            hub_issue=f"{HUB_REPO}/1",
        )
    )

    first = h.cycle()

    assert first.adopted >= 10 and h.mailer.sent == [] and h.drive.created() == []
    assert h.entry("1", "lead_folder").ref["file_id"] == "HANDF1"
    copies = h.entry("1", "quote_copies")
    assert copies.state is EffectState.ADOPTED
    assert copies.ref["pricing_sheet"]["file_id"] == "HANDP1"
    assert copies.ref["price_quote"]["file_id"] == "HANDQ1"
    assert h.entry("2", "lead_folder").ref["file_id"] == "HANDF2"
    hub = h.entry("3", "hub_issue")
    assert (hub.ref["number"], hub.ref["state"]) == (1, "open")
    assert ("issue_states", ((1,),)) in h.issues.calls  # the link was checked with the tracker

    # Later status changes, as staff work on: nothing made twice, the staff's links used.
    h.board.set_status("1", "negotiation_status", "Quote Accepted")
    h.board.set_status("2", "negotiation_status", "Create Quote")
    h.board.set_status("3", "hub_status", "Create Hub Issue")
    h.cycle()
    h.board.set_status("1", "negotiation_status", "Contract Signed")
    h.board.set_status("2", "negotiation_status", "Quote Sent")
    h.cycle()
    h.cycle()

    assert h.drive.count("create_folder") == 0
    [contract] = mail_to(h, "please send a contract to Org 1")
    assert "Price quote: https://drive.test/HANDQ1" in contract
    assert "Lead folder (please file the signed contract here): https://drive.test/HANDF1" in (
        contract
    )
    [invoice] = mail_to(h, "please invoice Org 1")
    assert "Lead folder: https://drive.test/HANDF1" in invoice
    # Lead 2's copies went into the folder staff made, and its ICSI e-mail links both.
    made = h.drive.created("quote_copies:price_quote") + h.drive.created(
        "quote_copies:pricing_sheet"
    )
    assert len(made) == 2 and {h.drive.parent_of(f.id) for f in made} == {"HANDF2"}
    [quote_sent] = mail_to(h, "Org 2 has been sent a price quote")
    quote = h.drive.created("quote_copies:price_quote")[0]
    assert f"Price quote: {quote.url}" in quote_sent
    assert "Lead folder: https://drive.test/HANDF2" in quote_sent
    # One issue opened, for lead 1 (it had none); lead 3 keeps the one opened by hand.
    assert h.issues.count("create_issue") == 1
    assert [body for _, _, body, _ in h.issues.issues if "item=3" in body] == []


def test_copies_without_a_folder_link_wait_with_one_note_and_run_once_it_is_pasted(
    h: Harness,
) -> None:
    h.board.put(lead("5", triage_status="Questionnaire Received"))
    h.cycle()  # adopted: the folder was made by hand, but its link is not on the item
    assert h.entry("5", "lead_folder").state is EffectState.ADOPTED
    said = len(notes(h, "5"))
    h.board.set_status("5", "negotiation_status", "Create Quote")
    h.ports_asked.clear()

    for _ in range(h.settings.retry.max_attempts + 2):  # more cycles than attempts allowed
        h.cycle()
        h.advance(180)

    entry = h.entry("5", "quote_copies")
    assert entry.state is EffectState.WAITING  # not parked, and no attempt counted
    assert entry.attempts == 0
    # Waiting for a link asks for no Drive client: with the real wiring the first ask builds
    # the adapter and imports Google's SDK, 0.26 s of CPU in every one-shot poll.
    assert "drive" not in h.ports_asked
    assert "the column “lead folder”" in entry.last_error
    [note] = notes(h, "5")[said:]
    assert "paste the lead folder's Drive link into the column “lead folder”" in note
    assert_in_plain_words(h, note)
    assert "leadbridge retry" not in note
    shown = render_status(build_status(h.settings, h.store, h.now), state_url="sqlite://")
    assert re.search(r"quote_copies: waiting.*paste the lead folder's Drive link", shown)

    # A link that names nothing leadbridge can see: still waiting, said once more.
    paste(h, "5", lead_folder="https://drive.google.com/drive/folders/NOTSHARED")
    h.cycle()
    h.cycle()
    assert h.entry("5", "quote_copies").state is EffectState.WAITING
    assert len(notes(h, "5")[said:]) == 2
    assert "does not open a Drive folder" in notes(h, "5")[-1]

    # Staff paste the folder's link: the next cycle makes the copies there.
    h.drive.add_folder("HANDF5", "Lead 5 (by hand)")
    paste(h, "5", lead_folder="https://drive.google.com/drive/u/0/folders/HANDF5?usp=sharing")
    report = h.cycle()

    assert h.entry("5", "quote_copies").state is EffectState.DONE
    assert report.done == 1
    made = h.drive.created("quote_copies:price_quote") + h.drive.created(
        "quote_copies:pricing_sheet"
    )
    assert len(made) == 2 and {h.drive.parent_of(f.id) for f in made} == {"HANDF5"}
    assert (
        h.board.items["5"].value("price_quote")
        == h.drive.created("quote_copies:price_quote")[0].url
    )
    # The quote e-mail later links the folder the copies went into.
    h.board.set_status("5", "negotiation_status", "Quote Sent")
    h.cycle()
    [quote_sent] = mail_to(h, "Org 5 has been sent a price quote")
    assert "Lead folder: https://drive.test/HANDF5" in quote_sent


def test_a_first_dry_run_renders_every_template_with_the_leads_values(h: Harness) -> None:
    h.board.put(lead("1", triage_status="Send Questionnaire"))
    h.board.put(lead("2", triage_status="In Scope", negotiation_status="Contract Signed"))
    h.board.put(lead("3", triage_status="Questionnaire Sent", hub_status="Hub Running"))

    report = h.preview()
    out = io.StringIO()
    print_report(report, dry_run=True, out=out)
    text = out.getvalue()

    assert report.adopted > 5
    assert "adopted (not acted on): e-mail contracting@icsi.example.org" in text
    assert "2i2c: please invoice Org 2" in text
    assert "would e-mail ada1@uni.example.edu: 2i2c questionnaire for Org 1" in text
    assert PLACEHOLDER.findall(text) == []


def test_a_board_met_first_acts_on_pending_requests_and_adopts_the_rest(h: Harness) -> None:
    h.board.put(lead("1", triage_status="Send Questionnaire"))
    h.board.put(lead("2", triage_status="Questionnaire Sent"))
    h.board.put(lead("3", triage_status="In Scope"))
    plan = h.preview()
    assert [(a.item_id, a.effect) for a in plan.actions if a.outcome == "would run"] == [
        ("1", "send_questionnaire")
    ]

    h.cycle()
    h.cycle()

    assert [m.to for m in h.mailer.sent] == [("ada1@uni.example.edu",)]
    assert h.board.items["1"].value("triage_status") == "Questionnaire Sent"
    assert h.states("1") == {"send_questionnaire": EffectState.DONE}
    assert h.states("2") == {}
    assert set(h.states("3").values()) == {EffectState.ADOPTED}


def test_create_quote_and_create_hub_issue_at_the_first_meeting_are_requests(h: Harness) -> None:
    h.drive.add_folder("HANDF4", "Lead 4 (by hand)")
    h.board.put(
        lead(
            "4",
            triage_status="In Scope",
            negotiation_status="Create Quote",
            lead_folder="https://drive.google.com/drive/folders/HANDF4",
        )
    )
    h.board.put(lead("5", triage_status="In Scope", hub_status="Create Hub Issue"))
    h.board.put(lead("6", triage_status="In Scope", negotiation_status="Quote Sent"))

    h.cycle()

    assert h.entry("4", "lead_folder").state is EffectState.ADOPTED
    assert h.entry("4", "quote_copies").state is EffectState.DONE
    assert {h.drive.parent_of(f.id) for f in h.drive.created()} == {"HANDF4"}
    assert h.entry("5", "hub_issue").state is EffectState.DONE
    assert len(h.issues.issues) == 1
    assert set(h.states("6").values()) == {EffectState.ADOPTED}  # past Create Quote: history


def test_pending_requests_at_the_first_meeting_are_held_by_the_mass_action_guard(
    h: Harness,
) -> None:
    limit = h.settings.guard.max_new_per_kind
    for number in range(1, limit + 2):
        h.board.put(lead(str(number), triage_status="Send Questionnaire"))

    report = h.cycle()

    assert report.held == {"email": limit + 1}
    assert h.mailer.sent == []


def test_one_note_at_adoption_on_leads_with_work_ahead(h: Harness) -> None:
    h.drive.add_folder("HANDF7", "Lead 7 (by hand)")
    h.board.put(
        lead(
            "7",
            triage_status="In Scope",
            negotiation_status="Quote Sent",
            lead_folder="https://drive.google.com/drive/folders/HANDF7",
        )
    )
    everything = {"negotiation_status": "Contract Signed", "hub_status": "Hub Running"}
    h.board.put(lead("8", triage_status="In Scope", **everything))

    h.cycle()
    h.cycle()

    [note] = notes(h, "7")
    assert "first met this lead already under way" in note
    assert "create the lead folder (folder: https://drive.test/HANDF7)" in note
    assert "from here leadbridge will" in note
    assert "(when negotiation status reaches Quote Accepted)" in note
    assert "2i2c: please send a contract to Org 7" in note  # rendered for the lead
    assert PLACEHOLDER.findall(note) == []
    assert_in_plain_words(h, note)
    assert notes(h, "8") == []  # nothing ahead: nothing to say


def assert_in_plain_words(h: Harness, note: str) -> None:
    """Staff read notes: no key of the configuration, no Python dict or list shown as such."""
    keys = [key for key in [*h.settings.effects, *h.settings.columns] if "_" in key]
    assert [key for key in keys if key in note] == [], note
    assert re.search(r"[{\[]'|'[}\]]|': ", note) is None, note


def test_a_link_that_cannot_be_checked_now_adopts_without_it(h: Harness) -> None:
    h.drive.fail_next("get_file", TransientError("drive", "HTTP 503"))
    h.board.put(
        lead(
            "9",
            triage_status="Questionnaire Received",
            lead_folder="https://drive.google.com/drive/folders/HANDF9",
        )
    )

    report = h.cycle()

    assert report.error is None
    entry = h.entry("9", "lead_folder")
    assert entry.state is EffectState.ADOPTED and "file_id" not in entry.ref


def test_an_issue_link_to_another_repository_is_not_taken_for_the_hub_issue(h: Harness) -> None:
    h.issues.issues.append((IssueRef(1, f"{HUB_REPO}/1"), "Someone else's", "", ("Hub",)))
    h.board.put(
        lead(
            "10",
            triage_status="In Scope",
            negotiation_status="Contract Signed",
            hub_issue="https://github.com/other-org/other-repo/issues/1",
        )
    )

    h.cycle()

    assert "number" not in h.entry("10", "hub_issue").ref
    assert h.issues.count("issue_states") == 0


def test_a_folder_made_by_hand_is_the_leads_folder_when_the_effect_runs(
    example_settings, store
) -> None:
    h = Harness(example_settings, store)
    h.start_empty()
    h.drive.add_folder("HANDF11", "Lead 11 (by hand)")
    h.board.put(
        lead(
            "11",
            triage_status="Questionnaire Received",
            lead_folder="https://drive.google.com/drive/folders/HANDF11?usp=sharing",
        )
    )

    h.cycle()

    entry = h.entry("11", "lead_folder")
    assert entry.state is EffectState.DONE and entry.ref["file_id"] == "HANDF11"
    assert h.drive.count("create_folder") == 0
    # The staff's link stays as they pasted it.
    assert h.board.items["11"].value("lead_folder").endswith("HANDF11?usp=sharing")


# ---------------------------------------------------------------------- the pure decision

STAGE = StatusColumn("stage", ("Ask", "Asked", "Quote", "Quoted"), requests=("Ask", "Quote"))
PIPELINE = Pipeline(
    statuses={"stage": STAGE},
    effects={
        "ask": EffectSpec("ask", "email"),
        "folder": EffectSpec("folder", "drive_folder"),
        "copies": EffectSpec("copies", "drive_copies", needs=("folder",)),
    },
    rules=(
        Rule("stage", "Ask", ("ask",), exactly=True),
        Rule("stage", "Asked", ("folder",)),
        Rule("stage", "Quote", ("copies",)),
    ),
)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Ask", [Decision("ask", Act.RUN)]),
        ("Asked", [Decision("folder", Act.ADOPT)]),
        ("Quote", [Decision("folder", Act.ADOPT), Decision("copies", Act.RUN)]),
        ("Quoted", [Decision("folder", Act.ADOPT), Decision("copies", Act.ADOPT)]),
    ],
)
def test_a_lead_met_exactly_on_an_action_label_is_a_request(
    label: str, expected: list[Decision]
) -> None:
    first_meeting = Situation(datetime(2026, 1, 5, tzinfo=UTC), adopting=True)
    order = dependency_order(PIPELINE.effects)
    lead_on = Lead("1", "Lead", {"stage": label})
    assert decide(lead_on, {}, PIPELINE, order, first_meeting) == expected


# ---------------------------------------------------------------------- configuration


def test_action_labels_come_from_set_status_and_the_requests_key(example_settings) -> None:
    statuses = example_settings.pipeline().statuses
    assert statuses["triage_status"].requests == ("Send Questionnaire",)  # from set_status
    assert statuses["negotiation_status"].requests == ("Create Quote",)
    assert statuses["hub_status"].requests == ("Create Hub Issue",)


def test_requests_must_name_labels_of_their_column(tmp_path, secrets_dir) -> None:
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["columns"]["negotiation_status"]["requests"] = ["Create Qoute"]
    path = tmp_path / "leadbridge.yaml"
    path.write_text(yaml.safe_dump(data))

    with pytest.raises(ConfigError) as raised:
        load_settings(path, secrets_dir=secrets_dir)

    assert "requests: 'Create Qoute' is not one of this column's labels" in str(raised.value)


def test_a_link_staff_pasted_that_names_nothing_visible_is_never_overwritten(
    example_settings, store
) -> None:
    """An unshared folder or an issue elsewhere: the effect waits instead of making another."""
    h = Harness(example_settings, store)
    h.start_empty()
    h.board.put(
        lead(
            "12",
            triage_status="Questionnaire Received",
            lead_folder="https://drive.google.com/drive/folders/NOTSHAREDWITHUS",
        )
    )
    h.cycle()
    h.cycle()

    assert h.entry("12", "lead_folder").state is EffectState.WAITING
    assert h.drive.count("create_folder") == 0
    assert len(notes(h, "12")) == 1 and "does not open a Drive folder" in notes(h, "12")[0]
    assert h.board.items["12"].value("lead_folder").endswith("NOTSHAREDWITHUS")

    paste(h, "12", lead_folder="")  # staff clear it: leadbridge makes the folder
    h.cycle()
    assert h.entry("12", "lead_folder").state is EffectState.DONE
    assert h.drive.count("create_folder") == 1

    h.board.put(
        lead(
            "13",
            triage_status="In Scope",
            hub_status="Create Hub Issue",
            hub_issue="https://github.com/other-org/other-repo/issues/4",
        )
    )
    h.cycle()
    assert h.entry("13", "hub_issue").state is EffectState.WAITING
    assert h.issues.count("create_issue") == 0
