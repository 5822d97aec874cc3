"""An e-mail to the lead or to the fiscal sponsor's staff, sent at most once.

Each e-mail carries a Message-ID derived from (item, effect), so that after an attempt whose
answer was lost the mail backend can be asked whether it went out; a backend that cannot tell
(plain SMTP) parks the effect for a person rather than risk a second e-mail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from leadbridge.domain.errors import PermanentError, UncertainOutcome
from leadbridge.domain.model import StatusValue
from leadbridge.domain.ports import Mailer, OutgoingMail
from leadbridge.domain.render import render, single_line
from leadbridge.effects.base import EffectContext, EffectKind, EffectOutcome, EffectParams
from leadbridge.effects.services import MAILER


class SetStatus(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    label: str


class EmailParams(EffectParams):
    kind: Literal["email"]
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    subject: str
    body: str
    #: After sending, move the lead on (e.g. to "Questionnaire Sent") so staff see it went out.
    set_status: SetStatus | None = None


_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def _addresses(
    templates: tuple[str, ...], ctx: EffectContext[EmailParams], role: str
) -> tuple[str, ...]:
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
                not_acted=True,
            )
        result.append(address)
    return tuple(result)


def message_token(item_id: str, effect: str) -> str:
    """Deterministic per (item, effect): the same e-mail always carries the same Message-ID."""
    return f"leadbridge.{item_id}.{effect}"


def _already_sent(ctx: EffectContext[EmailParams], mailer: Mailer, mail: OutgoingMail) -> bool:
    """Whether an earlier attempt sent it; raises when that cannot be known.

    An attempt that recorded its ref did send (only its write-back failed). After an
    attempt that may have acted, the backend is asked; one that cannot tell (plain SMTP)
    parks the effect rather than risk a second e-mail.
    """
    if ctx.entry.ref.get("sent"):
        return True
    if not ctx.previously_attempted:
        return False
    sent = mailer.was_sent(mail.message_id)
    if sent is None:
        raise UncertainOutcome(
            "leadbridge",
            f"an earlier attempt to send {mail.subject!r} may have sent it and the mail "
            "backend cannot tell whether it went out",
            fix="ask the recipients whether it arrived; if not, run: "
            f"leadbridge retry --resend {ctx.lead.item_id} {ctx.spec.name}",
        )
    return sent


class Email(EffectKind[EmailParams]):
    name = "email"
    params = EmailParams
    port = MAILER

    def run(self, ctx: EffectContext[EmailParams]) -> EffectOutcome:
        params = ctx.params
        context = ctx.context()
        mail = OutgoingMail(
            message_id=message_token(ctx.lead.item_id, ctx.spec.name),
            to=_addresses(params.to, ctx, "recipient"),
            cc=_addresses(params.cc, ctx, "cc"),
            subject=single_line(render(params.subject, context)),
            body=render(params.body, context),
        )
        mailer: Mailer = ctx.require_port()
        already = _already_sent(ctx, mailer, mail)
        if not already:
            mailer.send(mail)
        verb = "had already e-mailed" if already else "e-mailed"
        writes = (
            {params.set_status.column: StatusValue(params.set_status.label)}
            if params.set_status
            else {}
        )
        return EffectOutcome(
            summary=f"{verb} {', '.join(mail.to + mail.cc)}: {mail.subject}",
            ref={"message_id": mail.message_id, "to": list(mail.to + mail.cc), "sent": True},
            writes=writes,
        )

    def resolve(self, ctx: EffectContext[EmailParams]) -> EffectOutcome | None:
        """Never send an e-mail the lead no longer needs; only record one that went out."""
        mailer: Mailer = ctx.require_port()
        token = message_token(ctx.lead.item_id, ctx.spec.name)
        probe = OutgoingMail(token, (), single_line(render(ctx.params.subject, ctx.context())), "")
        if not _already_sent(ctx, mailer, probe):
            return None
        return EffectOutcome(
            summary=f"the interrupted e-mail {probe.subject!r} had gone out",
            ref={"message_id": token, "sent": True},
        )

    def describe(self, params: EmailParams, context: Mapping[str, str] | None = None) -> str:
        def fill(template: str) -> str:
            return render(template, context) if context is not None else template

        recipients = ", ".join(fill(t) for t in params.to + params.cc)
        return f"e-mail {recipients}: {single_line(fill(params.subject))}"

    def templates(self, params: EmailParams) -> Iterable[tuple[str, str]]:
        return [
            ("subject", params.subject),
            ("body", params.body),
            *((f"to[{i}]", t) for i, t in enumerate(params.to)),
            *((f"cc[{i}]", t) for i, t in enumerate(params.cc)),
        ]

    def statuses(self, params: EmailParams) -> Iterable[tuple[str, str, str]]:
        if params.set_status is None:
            return []
        return [("set_status", params.set_status.column, params.set_status.label)]

    def problems(self, params: EmailParams, column_types: Mapping[str, str]) -> Iterable[str]:
        """A recipient written out in the configuration (no placeholder) is checked now,
        not when the first lead reaches this e-mail."""
        for role, templates in (("to", params.to), ("cc", params.cc)):
            for i, template in enumerate(templates):
                if "{" not in template and not _ADDRESS.match(template.strip()):
                    yield (
                        f"{role}[{i}]: {template!r} is not an e-mail address. "
                        "Fix: write it as name@domain, e.g. finance@example.org"
                    )

    def made(self, ref: Mapping[str, Any]) -> str:
        return f"e-mail to {', '.join(ref.get('to', []))}, Message-ID {ref.get('message_id')}"
