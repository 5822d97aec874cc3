"""``leadbridge run``: poll on a schedule for months, stop cleanly, let one replica act.

The moving parts and why each is there:

- APScheduler 3 is only the clock, with one job, ``max_instances=1`` (polls never overlap),
  ``coalesce=True`` (after a pause, one catch-up poll, not a burst) and a misfire grace of one
  interval (the 1 s default silently skips polls after any hiccup). What a tick does, and what
  it makes of the service's health, is the coordinator's business.
- SIGTERM/SIGINT set a stop flag the cycle checks between effects; the effect in flight
  finishes and is recorded, then the process exits 0. If it does not finish within the
  shutdown grace, the process exits anyway with ``EXIT_ABANDONED``: the ledger recorded the
  effect as running before its call, and the next start resolves it by lookup-before-create.
- With monday webhooks on (``runtime.webhooks``), a delivery adds a one-shot job that runs
  the same ``coordinator.poll`` on the same single worker thread, so a hinted poll never runs
  beside a scheduled one, and a second job keeps the webhooks registered.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from leadbridge.adapters.store.lock import RunnerLock
from leadbridge.logs import Redactor, configure_logging, secret_values
from leadbridge.runtime.coordinator import PollCoordinator
from leadbridge.runtime.governor import CallGovernor, busiest_day_plan
from leadbridge.runtime.http import HealthServer
from leadbridge.runtime.pacing import PacedIntervalTrigger, PollPacing
from leadbridge.settings import Settings

if TYPE_CHECKING:
    from leadbridge.service.alerts import Alerts
    from leadbridge.service.sync import SyncService

log = structlog.get_logger(__name__)

#: Exit status when the effect in flight outlived the shutdown grace and was abandoned.
EXIT_ABANDONED = 3
JOB_ID = "leadbridge-poll"


def _default_build(settings: Settings, alerts: Alerts) -> Callable[[], SyncService]:
    def build() -> SyncService:
        from leadbridge.bootstrap import build_sync_service

        return build_sync_service(settings, alerts=alerts)

    return build


def run_service(
    settings: Settings,
    build: Callable[[], SyncService] | None = None,
    *,
    stop: threading.Event | None = None,
) -> int:
    """Run until SIGTERM/SIGINT (or ``stop`` is set); return the process exit status.

    ``stop`` lets a caller that is not the main thread, where signals cannot be handled,
    end the service.
    """
    secrets = secret_values(settings)
    configure_logging(secrets=secrets)
    # "Running job …" twice per poll would drown the decision lines; warnings still show.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    service = settings.service
    webhook = settings.monday.webhook
    pacing = PollPacing.from_settings(service, hinted=webhook.enabled)
    _warn_about_budget(settings, pacing)
    stop = stop or threading.Event()
    start = datetime.now(UTC)
    # The real service's monday calls are kept within its share of the account's daily
    # budget; a service a caller built (the runtime tests' fakes) calls nothing to govern.
    governor = CallGovernor.from_settings(settings, pacing, start) if build is None else None
    from leadbridge.bootstrap import build_alerts

    # One memory of what was sent for parked effects (the cycles) and failing polls.
    alerts = build_alerts(settings)
    coordinator = PollCoordinator(
        pacing=pacing,
        lock=RunnerLock.for_url(settings.state.url),
        build=build or _default_build(settings, alerts),
        cycle_timeout_seconds=service.cycle_timeout_seconds,
        stop=stop,
        redact=Redactor(secrets).text,
        alerts=alerts,
        governor=governor,
    )
    from leadbridge.ui.server import ui_handler  # the status page, beside /healthz

    ui = ui_handler(settings, coordinator.verdict)
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(1)},
        timezone=UTC,
    )
    webhooks = None
    if webhook.enabled:
        from leadbridge.runtime.webhooks import start_webhooks

        # Before the server starts: a delivery may arrive as soon as it listens.
        webhooks = start_webhooks(settings, scheduler, coordinator, start)
    server = HealthServer(
        coordinator,
        service.http_host,
        service.http_port,
        ui=ui,
        webhook=webhooks.receiver if webhooks is not None else None,
    )
    _install_signal_handlers(stop)
    server.start()
    scheduler.add_job(
        coordinator.poll,
        trigger=PacedIntervalTrigger(pacing, start, governor),
        id=JOB_ID,
        name="poll the board",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=pacing.longest_seconds,
        next_run_time=start,
        replace_existing=True,
    )
    scheduler.start()
    log.info(
        "service_started",
        database=coordinator.lock.target,
        interval_seconds=pacing.base_seconds,
        business_hours_interval_seconds=pacing.business_seconds,
        http_port=server.port,
        webhooks=webhook.enabled,
    )
    while not stop.wait(1.0):
        pass
    log.info("service_stopping", grace_seconds=service.shutdown_grace_seconds)
    scheduler.shutdown(wait=False)
    finished = coordinator.wait_idle(service.shutdown_grace_seconds)
    server.stop()
    if not finished:
        log.error(
            "service_abandoned_cycle",
            reason="the effect in flight outlived the shutdown grace; the next start resolves it",
            grace_seconds=service.shutdown_grace_seconds,
        )
        _flush()
        # The worker thread cannot be interrupted and would keep the interpreter alive.
        os._exit(EXIT_ABANDONED)
    coordinator.release()
    if webhooks is not None:
        webhooks.close()
    log.info("service_stopped")
    _flush()
    return 0


def _install_signal_handlers(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def on_signal(number: int, frame: FrameType | None) -> None:
        name = signal.Signals(number).name
        if stop.is_set():
            log.warning("signal_repeated", signal=name, detail="already stopping")
            return
        log.info("signal_received", signal=name, detail="finishing the effect in flight")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def _warn_about_budget(settings: Settings, pacing: PollPacing) -> None:
    """Say at start when the configured pace alone would not fit in leadbridge's share of a
    day's calls: the call governor would then slow polls down every day."""
    monday = settings.monday
    planned, allowed = busiest_day_plan(pacing, monday.call_share, monday.daily_call_limit)
    if planned > allowed:
        log.warning(
            "poll_budget_tight",
            calls_planned_per_day=planned,
            calls_allowed_for_polls=allowed,
            daily_call_limit=monday.daily_call_limit,
            call_share=monday.call_share,
            detail="the configured pace would use more than leadbridge's share of the daily "
            "calls (less a tenth kept for write-backs); polls will be slowed to fit once the "
            "account's budget is read. Raise service.interval_seconds, or monday.call_share "
            "if the account's other tools need few calls",
        )


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
