"""What each kind of effect does, through the ports only.

Every handler is safe to run again after a crash at any point: it first looks for what an
earlier attempt may already have made (a tagged Drive file, an issue carrying the item's
marker, a sent Message-ID) and only then creates. The handler returns what to record and what
to write back; the sync cycle owns the ledger transitions around it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from leadbridge.domain.errors import PermanentError, UncertainOutcome
from leadbridge.domain.hub_issue import render_hub_issue
from leadbridge.domain.ledger import EffectState, LedgerEntry
from leadbridge.domain.model import ColumnValue, EffectSpec, Lead, LinkValue, StatusValue
from leadbridge.domain.ports import Board, Drive, DriveTag, IssueTracker, Mailer, OutgoingMail
from leadbridge.domain.render import render, single_line, template_context

T = TypeVar("T")


@dataclass(frozen=True)
class Ports:
    board: Board
    drive: Drive | None = None
    mailer: Mailer | None = None
    issues: IssueTracker | None = None


@dataclass(frozen=True)
class Environment:
    """Deployment facts the handlers need besides the effect's own settings."""

    leads_folder_id: str = ""
    issue_labels: tuple[str, ...] = ()
    folder_link_columns: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EffectContext:
    lead: Lead
    spec: EffectSpec
    entry: LedgerEntry
    #: The lead's other ledger entries, by effect name (for refs of what it needs).
    ledger: Mapping[str, LedgerEntry]
    #: ``<link name> → url`` of everything done for this lead so far.
    links: Mapping[str, str]
    today: date
    ports: Ports
    env: Environment
    #: True when the previous attempt was interrupted mid-call (entry found RUNNING).
    interrupted: bool = False

    def context(self) -> dict[str, str]:
        return template_context(self.lead, self.links, self.today)


@dataclass
class EffectOutcome:
    """What an effect produced: ledger reference, new links, board write-back and a note."""

    summary: str
    ref: dict[str, Any] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    writes: dict[str, ColumnValue] = field(default_factory=dict)


def _require(port: T | None, kind: str) -> T:
    if port is None:
        raise PermanentError(
            "leadbridge",
            f"no adapter is configured for {kind} effects",
            fix="configure the service this effect uses (see leadbridge check)",
        )
    return port


def drive_folder(ctx: EffectContext) -> EffectOutcome:
    params = ctx.spec.params
    drive = _require(ctx.ports.drive, "drive_folder")
    name = single_line(render(params.name, ctx.context()), limit=200) or ctx.lead.item_id
    tag = DriveTag(ctx.lead.item_id, ctx.spec.name)
    parent = ctx.env.leads_folder_id
    folder = drive.find_tagged(tag, parent)
    created = folder is None
    if folder is None:
        folder = drive.create_folder(name, parent, tag)
    outcome = EffectOutcome(
        summary=f"{'created' if created else 'found'} the lead folder {folder.name}: {folder.url}",
        ref={"file_id": folder.id, "url": folder.url},
        links={params.link: folder.url},
    )
    if params.link_column:
        outcome.writes[params.link_column] = LinkValue(folder.url, folder.name)
    return outcome


_FOLDER_URL = re.compile(r"/folders/([A-Za-z0-9_-]+)")


def _folder_id(ctx: EffectContext, folder_effect: str) -> str:
    """The folder made by ``folder_effect``; for an adopted one, the link staff put on the board."""
    entry = ctx.ledger.get(folder_effect)
    if entry is not None and entry.ref.get("file_id"):
        return str(entry.ref["file_id"])
    column = ctx.env.folder_link_columns.get(folder_effect)
    match = _FOLDER_URL.search(ctx.lead.value(column)) if column else None
    if match:
        return match.group(1)
    where = f"in the column {column!r}" if column else "on the item"
    raise PermanentError(
        "leadbridge",
        f"the lead folder was made before leadbridge looked after this lead, and no Drive "
        f"folder link was found {where}",
        fix=f"put the folder's Drive link {where}, then run: leadbridge retry {ctx.lead.item_id}",
    )


def drive_copies(ctx: EffectContext) -> EffectOutcome:
    params = ctx.spec.params
    drive = _require(ctx.ports.drive, "drive_copies")
    folder_id = _folder_id(ctx, params.folder_effect)
    context = ctx.context()
    replacements = {key: render(value, context) for key, value in params.placeholders.items()}
    outcome = EffectOutcome(summary="")
    made = []
    for key, template in params.templates.items():
        tag = DriveTag(ctx.lead.item_id, f"{ctx.spec.name}:{key}")
        copy = drive.find_tagged(tag, folder_id)
        if copy is None:
            name = single_line(render(template.name, context), limit=200)
            copy = drive.copy_file(template.file_id, name, folder_id, tag)
        if replacements:
            drive.fill_placeholders(copy, replacements)
        outcome.ref[key] = {"file_id": copy.id, "url": copy.url}
        outcome.links[key] = copy.url
        made.append(f"{copy.name}: {copy.url}")
        if template.link_column:
            outcome.writes[template.link_column] = LinkValue(copy.url, copy.name)
    outcome.summary = "copied " + "; ".join(made)
    return outcome


_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def _addresses(templates: tuple[str, ...], ctx: EffectContext, role: str) -> tuple[str, ...]:
    result = []
    context = ctx.context()
    for template in templates:
        address = render(template, context).strip()
        if not _ADDRESS.match(address):
            shown = single_line(address, limit=80) or "nothing"
            raise PermanentError(
                "leadbridge",
                f"the {role} address of this e-mail is {shown!r}, not an e-mail address",
                fix="fill in a valid address on the item (or in the configuration), then run: "
                f"leadbridge retry {ctx.lead.item_id} {ctx.spec.name}",
            )
        result.append(address)
    return tuple(result)


def message_token(item_id: str, effect: str) -> str:
    """Deterministic per (item, effect): the same e-mail always carries the same Message-ID."""
    return f"leadbridge.{item_id}.{effect}"


def email(ctx: EffectContext) -> EffectOutcome:
    params = ctx.spec.params
    mailer = _require(ctx.ports.mailer, "email")
    context = ctx.context()
    mail = OutgoingMail(
        message_id=message_token(ctx.lead.item_id, ctx.spec.name),
        to=_addresses(params.to, ctx, "recipient"),
        cc=_addresses(params.cc, ctx, "cc"),
        subject=single_line(render(params.subject, context)),
        body=render(params.body, context),
    )
    # An earlier attempt that got as far as recording its ref did send; only the write-back
    # after it failed. Otherwise ask the backend, when it can tell, before sending again.
    already: bool | None = bool(ctx.entry.ref.get("sent"))
    if not already and ctx.entry.attempts > 1:
        already = mailer.was_sent(mail.message_id)
    if already is None and ctx.interrupted:
        raise UncertainOutcome(
            "leadbridge",
            f"an earlier attempt to send {mail.subject!r} was interrupted and the mail backend "
            "cannot tell whether it went out",
            fix="ask the recipients whether it arrived; if not, run: "
            f"leadbridge retry {ctx.lead.item_id} {ctx.spec.name}",
        )
    if not already:
        mailer.send(mail)
    outcome = EffectOutcome(
        summary=f"{'e-mailed' if not already else 'had already e-mailed'} "
        f"{', '.join(mail.to + mail.cc)}: {mail.subject}",
        ref={"message_id": mail.message_id, "to": list(mail.to + mail.cc), "sent": True},
    )
    if params.set_status:
        outcome.writes[params.set_status.column] = StatusValue(params.set_status.label)
    return outcome


def hub_issue(ctx: EffectContext) -> EffectOutcome:
    params = ctx.spec.params
    issues = _require(ctx.ports.issues, "hub_issue")
    found = issues.find_issue(ctx.lead.item_id)
    if found is None:
        title, body = render_hub_issue(
            ctx.lead,
            title_template=params.title,
            body_template=params.body,
            fields=params.fields,
            context=ctx.context(),
        )
        found = issues.create_issue(title, body, ctx.env.issue_labels)
        verb = "opened"
    else:
        verb = "found"
    outcome = EffectOutcome(
        summary=f"{verb} the hub issue #{found.number}: {found.url}",
        ref={"number": found.number, "url": found.url, "state": found.state},
        links={params.link: found.url},
    )
    if params.link_column:
        outcome.writes[params.link_column] = LinkValue(found.url, f"#{found.number}")
    return outcome


def field_check(ctx: EffectContext) -> EffectOutcome:
    params = ctx.spec.params
    missing = [name for name in params.fields if not ctx.lead.value(name).strip()]
    if not missing:
        return EffectOutcome(summary="", ref={"missing": []})
    warning = render(params.message, {"missing": ", ".join(missing)})
    # Posted by the effect itself, whatever notes.post says: the warning is its whole purpose.
    ctx.ports.board.post_note(ctx.lead.item_id, f"leadbridge: {warning}")
    return EffectOutcome(summary="", ref={"missing": missing})


HANDLERS: dict[str, Callable[[EffectContext], EffectOutcome]] = {
    "drive_folder": drive_folder,
    "drive_copies": drive_copies,
    "email": email,
    "hub_issue": hub_issue,
    "field_check": field_check,
}


def done_links(ledger: Mapping[str, LedgerEntry]) -> dict[str, str]:
    links: dict[str, str] = {}
    for entry in ledger.values():
        if entry.state is EffectState.DONE:
            links.update(entry.ref.get("links", {}))
    return links


def describe(spec: EffectSpec, context: Mapping[str, str] | None = None) -> str:
    """Plain words for dry runs, notes and the status page, filled in for a lead if given."""
    params = spec.params
    if spec.kind == "drive_folder":
        return "create the lead folder"
    if spec.kind == "drive_copies":
        return "copy " + " and ".join(params.templates) + " into the lead folder"
    if spec.kind == "email":
        fill = (lambda t: render(t, context)) if context is not None else (lambda t: t)
        recipients = ", ".join(fill(t) for t in params.to + params.cc)
        return f"e-mail {recipients}: {single_line(fill(params.subject))}"
    if spec.kind == "hub_issue":
        return "open the hub issue"
    if spec.kind == "field_check":
        return "check that " + ", ".join(params.fields) + " are filled in"
    return spec.kind
