"""Alerts: operators are e-mailed once per problem (an effect parked, polls failing longer than
``alerts.poll_failure_minutes``), through the mail backend, and an alert never breaks a cycle."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml
from structlog.testing import capture_logs

from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.domain.errors import PermanentError, TransientError
from leadbridge.domain.ledger import EffectState
from leadbridge.domain.ports import OutgoingMail
from leadbridge.runtime.coordinator import PollCoordinator
from leadbridge.service.alerts import ALERTS, Alerts
from leadbridge.service.report import EffectEnded
from leadbridge.service.sync import CycleReport, rearm_effects
from leadbridge.settings import AlertsSettings, ConfigError, Settings, load_settings
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes import FakeMailer
from tests.service_runtime.doubles import Clock, ScriptedLock, ScriptedService, pacing

from .harness import Harness, lead

OPS = ("ops@example.org", "oncall@example.org")
PAGE = "https://leadbridge.example.org"


def with_alerts(settings: Settings, **alerts: object) -> Settings:
    config = AlertsSettings(**{"to": OPS, "page_url": PAGE, **alerts})  # type: ignore[arg-type]
    return settings.model_copy(update={"alerts": config})


def alerts_sent(mailer: FakeMailer) -> list[OutgoingMail]:
    return [mail for mail in mailer.sent if mail.message_id.startswith("leadbridge.alert.")]


def park_quote_copies(h: Harness, item_id: str) -> None:
    """A lead whose quote copies park at once: the template is not shared."""
    h.drive.fail_next(
        "copy_file",
        PermanentError("drive", "template 1PriceQuoteTemplateId not shared with sa@x"),
    )
    h.board.put(
        lead(item_id, triage_status="Questionnaire Received", negotiation_status="Create Quote")
    )


@pytest.fixture
def h(example_settings: Settings, store: SqlStateStore) -> Harness:
    harness = Harness(with_alerts(example_settings), store)
    harness.start_empty()
    return harness


# ---------------------------------------------------------------- parked effects


def test_a_parked_effect_sends_one_alert_with_a_link_to_the_lead_page(h: Harness) -> None:
    park_quote_copies(h, "12")
    h.cycle()
    assert h.entry("12", "quote_copies").state is EffectState.PARKED

    [alert] = alerts_sent(h.mailer)
    assert alert.to == OPS
    assert "quote_copies parked for Lead 12" in alert.subject
    assert f"Lead page: {PAGE}/leads/12" in alert.body
    assert "not shared with sa@x" in alert.body
    assert "leadbridge retry 12 quote_copies" in alert.body
    # Told again about the same parking (another process, a repeated call): nothing more.
    again = EffectEnded("12", "Lead 12", "quote_copies", "drive_copies", "parked", 1, 0.1, "x")
    h.service().alerts.effect_ended(again)
    assert len(alerts_sent(h.mailer)) == 1

    h.advance(600)
    h.cycle()  # the effect is still parked: the same problem, no second e-mail
    h.advance(600)
    h.cycle()
    assert len(alerts_sent(h.mailer)) == 1

    park_quote_copies(h, "13")  # a new problem: one more
    h.cycle()
    sent = alerts_sent(h.mailer)
    assert len(sent) == 2 and "Lead 13" in sent[1].subject
    assert sent[0].message_id != sent[1].message_id


def test_parking_again_after_an_operators_retry_is_a_new_problem(h: Harness) -> None:
    park_quote_copies(h, "12")
    h.cycle()
    h.advance(60)
    rearm_effects(h.store, "12", "quote_copies", h.now)
    h.drive.fail_next("copy_file", PermanentError("drive", "still not shared with sa@x"))
    h.cycle()
    assert h.entry("12", "quote_copies").state is EffectState.PARKED
    sent = alerts_sent(h.mailer)
    assert len(sent) == 2 and "still not shared" in sent[1].body


def test_alerts_off_send_nothing(example_settings: Settings, store: SqlStateStore) -> None:
    h = Harness(example_settings, store)  # alerts.to is empty in the example
    h.start_empty()
    park_quote_copies(h, "12")
    h.cycle()
    assert h.entry("12", "quote_copies").state is EffectState.PARKED
    assert h.mailer.sent == []
    assert store.fact(ALERTS) is None


def test_without_a_page_url_the_alert_names_the_status_command(
    example_settings: Settings, store: SqlStateStore
) -> None:
    h = Harness(with_alerts(example_settings, page_url=None), store)
    h.start_empty()
    park_quote_copies(h, "12")
    h.cycle()
    [alert] = alerts_sent(h.mailer)
    assert "leadbridge status --item 12" in alert.body and "Lead page" not in alert.body


def test_a_failing_alert_never_breaks_the_cycle_and_is_sent_once_later(h: Harness) -> None:
    # The first e-mail of the cycle is the alert: the mail server refuses it for now.
    h.mailer.fail_next("send", TransientError("mail", "421 try again later", not_acted=True))
    park_quote_copies(h, "12")
    with capture_logs() as logs:
        report = h.cycle()
    assert report.read_ok and report.parked == 1 and report.error is None
    assert alerts_sent(h.mailer) == []
    assert any(line["event"] == "alert_not_sent" for line in logs)
    h.board.put(lead("14", triage_status="Questionnaire Received"))  # the cycle went on
    h.cycle()
    assert h.entry("14", "lead_folder").state is EffectState.DONE

    # The next occasion (a poll, here as the coordinator makes it) sends it, once.
    service = h.service()
    service.alerts.polls(None, None)
    service.alerts.polls(None, None)
    assert len(alerts_sent(h.mailer)) == 1
    assert h.service().alerts is not service.alerts  # a new process: from the store
    h.service().alerts.polls(None, None)
    assert len(alerts_sent(h.mailer)) == 1


def test_an_interrupted_alert_is_looked_up_before_it_is_sent_again(h: Harness) -> None:
    # Sent, but the answer was lost: the backend is asked, and nothing is sent twice.
    h.mailer.fail_next("send", TransientError("mail", "connection reset"), after_acting=True)
    park_quote_copies(h, "12")
    h.cycle()
    assert len(alerts_sent(h.mailer)) == 1
    h.service().alerts.polls(None, None)
    assert len(alerts_sent(h.mailer)) == 1
    assert h.mailer.count("was_sent") == 1
    [record] = h.store.fact(ALERTS).values()
    assert record["state"] == "sent"


def test_plain_smtp_never_sends_an_alert_it_cannot_know_about_twice(h: Harness) -> None:
    h.mailer.can_tell = False
    h.mailer.fail_next("send", TransientError("mail", "connection reset"), after_acting=True)
    park_quote_copies(h, "12")
    h.cycle()
    for _ in range(3):
        h.service().alerts.polls(None, None)
    assert len(alerts_sent(h.mailer)) == 1
    [record] = h.store.fact(ALERTS).values()
    assert record["state"] == "uncertain"


# ---------------------------------------------------------------- failing polls


def _ok(clock: Clock) -> CycleReport:
    return CycleReport(started_at=clock.now, finished_at=clock.now, read_ok=True)


def _unread(clock: Clock) -> CycleReport:
    return CycleReport(
        started_at=clock.now, finished_at=clock.now, read_ok=False, error="monday: HTTP 500"
    )


def _poller(
    clock: Clock, store: SqlStateStore, mailer: FakeMailer, **alerts: object
) -> tuple[PollCoordinator, ScriptedService]:
    service = ScriptedService()
    config = AlertsSettings(**{"to": OPS, "poll_failure_minutes": 30, **alerts})  # type: ignore[arg-type]
    poller = PollCoordinator(
        pacing=pacing(interval_seconds=60),
        lock=ScriptedLock(),
        build=lambda: service,  # type: ignore[arg-type,return-value]
        cycle_timeout_seconds=3600,
        stop=threading.Event(),
        now=clock,
        alerts=Alerts(
            config, board_id="1234567890", mailer=lambda: mailer, store=lambda: store, now=clock
        ),
    )
    return poller, service


def _ticks(
    poller: PollCoordinator, service: ScriptedService, clock: Clock, minutes: int, outcome
) -> None:
    for _ in range(minutes):
        clock.advance(60)
        service.outcomes.append(outcome(clock))
        poller.poll()


def test_polls_failing_longer_than_the_threshold_send_one_alert(store: SqlStateStore) -> None:
    clock, mailer = Clock(), FakeMailer()
    poller, service = _poller(clock, store, mailer, page_url=PAGE)
    _ticks(poller, service, clock, 1, _ok)
    last_read = clock.now

    _ticks(poller, service, clock, 29, _unread)
    assert mailer.sent == []
    _ticks(poller, service, clock, 1, _unread)  # 30 minutes without a read
    [alert] = mailer.sent
    assert alert.to == OPS
    assert "board 1234567890 unread for 30 minutes" in alert.subject
    assert "monday: HTTP 500" in alert.body and f"{PAGE}/" in alert.body
    assert last_read.strftime("%Y-%m-%dT%H:%M:%SZ") in alert.body

    _ticks(poller, service, clock, 60, _unread)  # the same outage: nothing more
    assert len(mailer.sent) == 1

    _ticks(poller, service, clock, 1, _ok)
    _ticks(poller, service, clock, 10, _unread)
    assert len(mailer.sent) == 1  # a short outage is no problem
    _ticks(poller, service, clock, 1, _ok)
    _ticks(poller, service, clock, 31, _unread)  # a new outage: one more
    assert len(mailer.sent) == 2


def test_cycles_that_raise_count_as_failed_polls(store: SqlStateStore) -> None:
    clock, mailer = Clock(), FakeMailer()
    poller, service = _poller(clock, store, mailer, poll_failure_minutes=5)
    _ticks(poller, service, clock, 6, lambda _: ConnectionError("state database unreachable"))
    [alert] = mailer.sent
    assert "state database unreachable" in alert.body


def test_an_unreachable_state_database_delays_nothing_and_repeats_nothing() -> None:
    """The outage may be the state database itself: the alert goes out, remembered in memory."""
    clock, mailer = Clock(), FakeMailer()

    def unreachable() -> SqlStateStore:
        raise ConnectionError("could not connect to server")

    alerts = Alerts(
        AlertsSettings(to=OPS, poll_failure_minutes=5),
        board_id="1234567890",
        mailer=lambda: mailer,
        store=unreachable,
        now=clock,
    )
    since = clock.now
    for _ in range(20):
        clock.advance(60)
        alerts.polls(since, "cannot reach the state database to take the runner lock")
    assert len(mailer.sent) == 1


def test_polls_failing_with_alerts_off_send_nothing(store: SqlStateStore) -> None:
    clock, mailer = Clock(), FakeMailer()
    poller, service = _poller(clock, store, mailer, to=())
    _ticks(poller, service, clock, 120, _unread)
    assert mailer.sent == [] and mailer.calls == []
    assert store.fact(ALERTS) is None


# ---------------------------------------------------------------- configuration


def _config(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data.update(changes)
    path = tmp_path / "leadbridge.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_alerts_without_a_mail_backend_are_a_configuration_error(
    tmp_path: Path, secrets_dir: Path
) -> None:
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    only_folder = {"lead_folder": data["effects"]["lead_folder"]}
    rules = [rule for rule in data["rules"] if rule["effects"] == ["lead_folder"]]
    path = _config(tmp_path, alerts={"to": ["ops@example.org"]}, effects=only_folder, rules=rules)
    with pytest.raises(ConfigError) as raised:
        load_settings(path, secrets_dir=secrets_dir)
    [problem] = raised.value.problems
    assert problem.startswith("alerts.to: ") and "Fix:" in problem


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [
        ({"to": ["ops"]}, "alerts.to: 'ops' is not an e-mail address. Fix:"),
        ({"to": ["ops@example.org"], "page_url": "leadbridge.example.org"}, "alerts.page_url"),
        ({"poll_failure_minutes": 0}, "alerts.poll_failure_minutes"),
    ],
)
def test_alert_settings_are_checked(
    tmp_path: Path, secrets_dir: Path, alerts: dict, expected: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(_config(tmp_path, alerts=alerts), secrets_dir=secrets_dir)
    assert any(expected in problem for problem in raised.value.problems), raised.value.problems


def test_alert_settings_load(tmp_path: Path, secrets_dir: Path) -> None:
    path = _config(
        tmp_path,
        alerts={"to": ["ops@example.org"], "poll_failure_minutes": 45, "page_url": PAGE + "/"},
    )
    settings = load_settings(path, secrets_dir=secrets_dir)
    assert settings.alerts == AlertsSettings(
        to=("ops@example.org",), poll_failure_minutes=45, page_url=PAGE
    )
    assert load_settings(EXAMPLE_CONFIG, secrets_dir=secrets_dir).alerts.to == ()
