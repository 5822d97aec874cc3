"""Through the sync cycle with a real SmtpMailer and a real SMTP server on loopback.

SMTP cannot be asked whether a message went out, so the e-mail effect parks an e-mail whose
earlier attempt may have acted. A refusal must therefore be known as one (``not_acted``), or a
harmless "451 try again later" would park the e-mail for good; and only a connection lost
after the message text was handed over may park it.
"""

from __future__ import annotations

import pytest
from scripted_smtp import DROP, local_mailer, scripted_server
from tests.unit.harness import Harness, lead

from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.domain.ledger import ATTEMPTED, EffectState
from leadbridge.settings import Settings

EFFECT = "send_questionnaire"
BACKOFF = 60 * 60  # past the first durable backoff (1 min) with room to spare


def harness(settings: Settings, store: SqlStateStore, port: int) -> Harness:
    h = Harness(settings, store, extra_ports={"mailer": local_mailer(port)})
    h.start_empty()
    h.board.put(lead("7", triage_status="Send Questionnaire"))
    return h


@pytest.mark.parametrize(
    "refusal",
    [
        {"mail": "451 4.3.0 try again later"},
        {"rcpt": "452 4.2.2 mailbox full"},
        {"data": "451 4.3.0 try again later"},
        {"mail": "421 4.3.2 closing, busy"},
    ],
    ids=["mail", "rcpt", "data", "421-mail"],
)
def test_a_refused_e_mail_is_sent_once_on_the_next_attempt(
    example_settings: Settings, store: SqlStateStore, refusal: dict[str, str]
) -> None:
    with scripted_server(refusal) as (server, port):
        h = harness(example_settings, store, port)

        h.cycle()
        failed = h.entry("7", EFFECT)
        assert failed.state is EffectState.FAILED
        assert failed.ref.get(ATTEMPTED) is False  # the server said: nothing was delivered
        assert server.accepted == []

        h.advance(BACKOFF)
        h.cycle()
        h.advance(BACKOFF)
        h.cycle()

    assert h.entry("7", EFFECT).state is EffectState.DONE
    (envelope,) = server.accepted
    assert envelope.rcpt_tos == ["ada7@uni.example.edu"]
    assert server.transactions == 2
    assert h.board.items["7"].value("triage_status") == "Questionnaire Sent"


def test_a_connection_lost_after_the_message_text_parks_and_never_resends(
    example_settings: Settings, store: SqlStateStore
) -> None:
    with scripted_server({"data": DROP}) as (server, port):
        h = harness(example_settings, store, port)

        h.cycle()
        for _ in range(3):
            h.advance(BACKOFF)
            h.cycle()

    entry = h.entry("7", EFFECT)
    assert entry.state is EffectState.PARKED
    assert "may or may not have been delivered" in entry.last_error
    assert len(server.received) == 1  # the server had it once, and was never sent it again
    assert server.transactions == 1
