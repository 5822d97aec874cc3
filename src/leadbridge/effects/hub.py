"""The "new hub" issue in the engineers' repository, one per signed customer.

The issue body ends with a hidden marker naming the lead, and the tracker is searched for it
(through the issues list) before creating, so a create whose answer was lost is found, not
repeated. On every full reconcile the open/closed state of done issues is read back, so the
status page shows which hubs are set up.

An issue staff opened by hand and linked on the item counts: it is recorded when the effect
is adopted, and used instead of opening a second one when the effect runs, once the tracker
confirms that the issue exists in the configured repository.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from leadbridge.domain.errors import MissingInput
from leadbridge.domain.ledger import LedgerEntry
from leadbridge.domain.model import LinkValue
from leadbridge.domain.ports import IssueRef, IssueTracker
from leadbridge.domain.render import column_in_words
from leadbridge.effects.base import EffectContext, EffectKind, EffectOutcome, EffectParams
from leadbridge.effects.hub_body import render_hub_issue
from leadbridge.effects.links import issue_link
from leadbridge.effects.services import ISSUES

if TYPE_CHECKING:
    from leadbridge.settings import Settings


#: Column types that hold personal contact details, in words.
_CONTACT_TYPES = {"email": "e-mail addresses", "phone": "phone numbers"}


class HubIssueParams(EffectParams):
    kind: Literal["hub_issue"]
    title: str = "New Hub: {name}"
    #: None uses the built-in new-hub template of the handbook's time.
    body: str | None = None
    link: str = "hub_issue"
    link_column: str | None = None
    #: Lead columns shown in the issue: section label → column name.
    fields: dict[str, str] = Field(default_factory=dict)
    #: The issue is public: unless true, no e-mail or phone column may be shown, and e-mail
    #: addresses and phone numbers in the values shown are replaced by a placeholder.
    personal_data: bool = False


class HubIssue(EffectKind[HubIssueParams]):
    name = "hub_issue"
    params = HubIssueParams
    port = ISSUES

    def run(self, ctx: EffectContext[HubIssueParams]) -> EffectOutcome:
        params = ctx.params
        issues: IssueTracker = ctx.require_port()
        found = issues.find_issue(ctx.lead.item_id)
        verb, by_hand = "found", False
        column = params.link_column
        if found is None and column and ctx.lead.value(column).strip():
            found = _linked_issue(ctx)
            if found is None:
                raise MissingInput(
                    "leadbridge",
                    f"the link in {column_in_words(column)} does not name an issue of "
                    f"{ctx.env.get('repository') or 'the hub repository'}.",
                    fix=f"paste the hub issue's GitHub link into {column_in_words(column)} (or "
                    "clear it to let leadbridge open the issue); leadbridge looks again in its "
                    "next cycle",
                )
            verb, by_hand = "found on the item", True
        if found is None:
            title, body = render_hub_issue(
                ctx.lead,
                title_template=params.title,
                body_template=params.body,
                fields=params.fields,
                context=ctx.context(),
                personal_data=params.personal_data,
            )
            found = issues.create_issue(title, body, ctx.env["labels"])
            verb = "opened"
        writes = (
            {params.link_column: LinkValue(found.url, f"#{found.number}")}
            if params.link_column and not by_hand
            else {}
        )
        return EffectOutcome(
            summary=f"{verb} the hub issue #{found.number}: {found.url}",
            ref={"number": found.number, "url": found.url, "state": found.state},
            links={params.link: found.url},
            writes=writes,
        )

    def adopt(self, ctx: EffectContext[HubIssueParams]) -> Mapping[str, Any] | None:
        found = _linked_issue(ctx)
        if found is None:
            return None
        return {
            "number": found.number,
            "url": found.url,
            "state": found.state,
            "links": {ctx.params.link: found.url},
            "found": "on the item",
        }

    def existing(self, ctx: EffectContext[HubIssueParams]) -> str | None:
        issues: IssueTracker = ctx.require_port()
        found = issues.find_issue(ctx.lead.item_id)
        return found.url if found else None

    def describe(self, params: HubIssueParams, context: Mapping[str, str] | None = None) -> str:
        return "open the hub issue"

    def templates(self, params: HubIssueParams) -> Iterable[tuple[str, str]]:
        return [("title", params.title), *([("body", params.body)] if params.body else [])]

    def links(self, params: HubIssueParams) -> Iterable[str]:
        return [params.link]

    def link_columns(self, params: HubIssueParams) -> Iterable[str]:
        return [params.link_column] if params.link_column else []

    def columns(self, params: HubIssueParams) -> Iterable[tuple[str, str]]:
        return [("fields", column) for column in params.fields.values()]

    def problems(self, params: HubIssueParams, column_types: Mapping[str, str]) -> Iterable[str]:
        if params.personal_data:
            return []
        return [
            f"fields.{label}: column {column!r} holds {_CONTACT_TYPES[column_types[column]]}, "
            "personal data, and the hub issue is public. Fix: remove it from fields, or set "
            "personal_data: true if the repository is private or the person agreed to it"
            for label, column in params.fields.items()
            if column_types.get(column) in _CONTACT_TYPES
        ]

    def environment(self, settings: Settings) -> Mapping[str, Any]:
        return {"labels": settings.github.labels, "repository": settings.github.repository}

    def made(self, ref: Mapping[str, Any]) -> str:
        return f"issue #{ref.get('number')} ({ref.get('state', 'open')}): {ref.get('url')}"

    def refresh(
        self, port: Any, entries: list[LedgerEntry]
    ) -> list[tuple[LedgerEntry, Mapping[str, Any]]]:
        tracker: IssueTracker = port
        done = [e for e in entries if "number" in e.ref]
        if not done:
            return []
        states = tracker.issue_states([int(e.ref["number"]) for e in done])
        changed = []
        for entry in done:
            state = states.get(int(entry.ref["number"]))
            if state and state != entry.ref.get("state"):
                changed.append((entry, {**entry.ref, "state": state}))
        return changed


def _linked_issue(ctx: EffectContext[HubIssueParams]) -> IssueRef | None:
    """The issue staff linked on the item, if the tracker knows it in the configured repository."""
    column = ctx.params.link_column
    pasted = ctx.lead.value(column).strip() if column else ""
    named = issue_link(pasted)
    if named is None:
        return None
    repository, number = named
    configured = str(ctx.env.get("repository") or "")
    if repository and configured and repository.lower() != configured.lower():
        return None  # the same number in our repository is another issue
    tracker: IssueTracker = ctx.require_port()
    state = tracker.issue_states([number]).get(number)
    if state is None:
        return None
    url = pasted.split()[-1] if pasted.split()[-1].startswith("http") else ""
    if not url and configured:
        url = f"https://github.com/{configured}/issues/{number}"
    return IssueRef(number, url, state)
