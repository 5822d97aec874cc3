"""A real SMTP server on loopback (aiosmtpd) whose answers a test scripts, transaction by
transaction: a refusal at MAIL FROM, RCPT TO or after the message text, or a connection
dropped instead of an answer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from tests.network import free_port

from leadbridge.adapters.mail.smtp import SmtpMailer
from leadbridge.settings import SmtpSettings

#: Instead of an answer: close the connection.
DROP = "drop"


@dataclass
class ScriptedServer:
    """Each transaction (MAIL FROM) takes the next turn of ``turns``: stage → answer, where a
    stage is ``mail``, ``rcpt`` (every recipient of the transaction), ``rcpt <address>`` (that
    recipient) or ``data`` (the final answer, after the message text). A stage not in the
    turn, and every transaction after the last turn, is accepted."""

    turns: list[Mapping[str, str]] = field(default_factory=list)
    #: Messages accepted (answered 250 after the text).
    accepted: list[Envelope] = field(default_factory=list)
    #: Message texts that reached the server, whatever it answered.
    received: list[Envelope] = field(default_factory=list)
    transactions: int = 0
    _turn: Mapping[str, str] = field(default_factory=dict)

    def _answer(self, server: Any, stage: str) -> str | None:
        answer = self._turn.get(stage)
        if answer == DROP:
            server.transport.close()
            return "421 4.4.2 connection dropped"  # never reaches the client
        return answer

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.transactions += 1
        self._turn = self.turns.pop(0) if self.turns else {}
        if answer := self._answer(server, "mail"):
            return answer
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if answer := self._answer(server, f"rcpt {address}") or self._answer(server, "rcpt"):
            return answer
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.received.append(envelope)
        if answer := self._answer(server, "data"):
            return answer
        self.accepted.append(envelope)
        return "250 Message accepted"


@contextmanager
def scripted_server(*turns: Mapping[str, str]) -> Iterator[tuple[ScriptedServer, int]]:
    handler = ScriptedServer(list(turns))
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def local_mailer(port: int) -> SmtpMailer:
    """Plain SMTP without login, as to a local relay."""
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none", timeout_seconds=5)
    return SmtpMailer(settings, sender="sales@example.org")
