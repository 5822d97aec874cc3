"""A kind declared in this test module alone goes through config, wiring, a cycle and a dry run.

This is the promise of ``effects/``: a new kind is one module, one adapter and one registry
line, and nothing else in the package has to learn its name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from leadbridge.bootstrap import build_adapters
from leadbridge.domain.ledger import EffectState
from leadbridge.domain.render import render
from leadbridge.effects.base import (
    EffectContext,
    EffectKind,
    EffectOutcome,
    EffectParams,
    PortSpec,
)
from leadbridge.effects.registry import register, unregister
from leadbridge.settings import ConfigError, Settings, load_settings

from .harness import Harness, lead


@dataclass
class FakeChat:
    """The adapter of the new port: remembers every message, keyed so a retry finds it."""

    posted: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> FakeChat:
        return cls()

    def post(self, key: str, channel: str, text: str) -> str:
        self.posted.setdefault(key, f"{channel}: {text}")
        return f"https://chat.test/{key}"


CHAT = PortSpec("chat", "chat", f"{__name__}:FakeChat.from_settings")


class ChatPostParams(EffectParams):
    kind: Literal["chat_post"]
    channel: str
    text: str


class ChatPost(EffectKind[ChatPostParams]):
    name = "chat_post"
    params = ChatPostParams
    port = CHAT

    def run(self, ctx: EffectContext[ChatPostParams]) -> EffectOutcome:
        chat: FakeChat = ctx.require_port()
        text = render(ctx.params.text, ctx.context())
        url = chat.post(f"{ctx.lead.item_id}.{ctx.spec.name}", ctx.params.channel, text)
        return EffectOutcome(f"posted to {ctx.params.channel}", ref={"url": url})

    def describe(self, params: ChatPostParams, context: Mapping[str, str] | None = None) -> str:
        text = render(params.text, context) if context is not None else params.text
        return f"post to {params.channel}: {text}"

    def templates(self, params: ChatPostParams) -> Iterable[tuple[str, str]]:
        return [("text", params.text)]


ANNOUNCE = {
    "kind": "chat_post",
    "needs": ["lead_folder"],
    "channel": "#sales",
    "text": "{name} signed! Folder: {folder_url}",
}


@pytest.fixture(autouse=True)
def chat_kind() -> Iterator[None]:
    register(ChatPost())
    yield
    unregister("chat_post")


def with_announce(example: Settings, **effect: Any) -> Settings:
    document = example.model_dump(mode="python")
    document["effects"]["announce"] = {**ANNOUNCE, **effect}
    document["rules"] = [
        *document["rules"],
        {"column": "negotiation_status", "label": "Contract Signed", "effects": ["announce"]},
    ]
    document["monday"]["token"] = "monday-test-token"
    document["github"]["token"] = "github-test-token"
    return Settings(**document)


def test_the_configuration_validates_the_new_kind_by_its_own_model(example_settings) -> None:
    settings = with_announce(example_settings)
    assert settings.effects["announce"].channel == "#sales"  # type: ignore[attr-defined]
    assert settings.pipeline().effects["announce"].needs == ("lead_folder",)

    with pytest.raises(ValueError) as unknown:
        with_announce(example_settings, text="{nobody}")
    assert "effects.announce.text: unknown placeholder {nobody}" in str(unknown.value)
    with pytest.raises(ValueError) as missing:
        with_announce(example_settings, channel=None)
    assert "effects.announce.channel" in str(missing.value)


def test_an_unknown_kind_lists_the_registered_ones_including_the_new_one(tmp_path) -> None:
    path = tmp_path / "leadbridge.yaml"
    path.write_text("effects:\n  x: {kind: chat_pots}\n")
    with pytest.raises(ConfigError) as error:
        load_settings(path, secrets_dir=tmp_path)
    (problem,) = error.value.problems
    assert problem.startswith("effects.x.kind: unknown effect kind. Fix: use one of ")
    assert "chat_post" in problem and "hub_issue" in problem


def test_the_wiring_builds_only_the_ports_the_configured_kinds_declare(example_settings) -> None:
    document = with_announce(example_settings).model_dump(mode="python")
    document["effects"] = {"announce": {**ANNOUNCE, "needs": [], "text": "{name}"}}
    document["rules"] = [
        {"column": "negotiation_status", "label": "Quote Sent", "effects": ["announce"]}
    ]
    adapters = build_adapters(Settings(**document))
    assert list(adapters.ports) == ["chat"]
    assert isinstance(adapters.ports["chat"], FakeChat)


def test_a_cycle_runs_it_once_after_what_it_needs_and_a_dry_run_describes_it(
    example_settings, store
) -> None:
    h = Harness(with_announce(example_settings), store)
    chat = FakeChat()
    h.extra_ports["chat"] = chat
    h.start_empty()
    h.board.put(lead("7", "Acme", triage_status="In Scope", negotiation_status="Contract Signed"))

    preview = h.preview()
    (line,) = [a for a in preview.actions if a.effect == "announce"]
    assert line.outcome == "would run"
    assert line.detail == "post to #sales: Acme signed! Folder: "
    assert chat.posted == {}

    h.cycle()
    h.cycle()
    assert h.states("7")["announce"] is EffectState.DONE
    folder_url = h.entry("7", "lead_folder").ref["url"]
    assert chat.posted == {"7.announce": f"#sales: Acme signed! Folder: {folder_url}"}
