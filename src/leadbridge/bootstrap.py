"""The one place that turns settings into wired adapters and a ready SyncService.

Which adapters exist follows from the configured effects: each effect kind declares the port
it talks through, and a port's adapter is built (and its SDK imported) only when an effect
uses it, so a deployment without GitHub needs no GitHub token.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from leadbridge.adapters.store.check import StoreCheck, check_store
from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.domain.errors import ExternalError
from leadbridge.domain.ledger import RetryPolicy
from leadbridge.domain.ports import (
    Board,
    CallBudget,
    CheckFinding,
    LiveCheck,
    Mailer,
    StateStore,
)
from leadbridge.effects.base import PortSpec
from leadbridge.effects.registry import kind_of, ports_in_use
from leadbridge.effects.services import MAILER
from leadbridge.service.alerts import Alerts
from leadbridge.service.apply import Ports
from leadbridge.service.sync import SyncOptions, SyncService
from leadbridge.settings import ConfigError, Settings

if TYPE_CHECKING:  # built by ``build_webhook_registry``, on first use
    from leadbridge.adapters.monday.webhooks import MondayWebhooks


@dataclass(frozen=True)
class Adapters:
    board: Board
    #: The adapter of each port the configured effects use, by port name.
    ports: Mapping[str, Any] = field(default_factory=dict)


def _board(settings: Settings) -> Board:
    from leadbridge.adapters.monday.board import MondayBoard

    return MondayBoard.from_settings(settings)


def _build_port(port: PortSpec, settings: Settings) -> Any:
    module, _, attribute = port.build.partition(":")
    target: Any = importlib.import_module(module)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target(settings)


def _ports(settings: Settings) -> dict[str, PortSpec]:
    return ports_in_use(list(settings.effects.values()))


class _BuiltOnFirstUse(Mapping[str, Any]):
    """Port adapters by name, each built (and its SDK imported) when an effect first needs it.

    A quiet cycle, which runs no effect, then loads no Google or GitHub client at all; an
    adapter that cannot be built fails the effect that needed it, which backs off as any
    failed call does.
    """

    def __init__(self, settings: Settings, ports: Mapping[str, PortSpec]) -> None:
        self._settings = settings
        self._ports = ports
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            self._built[name] = _build_port(self._ports[name], self._settings)
        return self._built[name]

    def __contains__(self, name: object) -> bool:
        # Mapping's own asks for the item, which would build the adapter.
        return name in self._ports

    def __iter__(self) -> Iterator[str]:
        return iter(self._ports)

    def __len__(self) -> int:
        return len(self._ports)


def build_adapters(settings: Settings) -> Adapters:
    return Adapters(_board(settings), _BuiltOnFirstUse(settings, _ports(settings)))


def live_checks(settings: Settings) -> list[CheckFinding]:
    """The machine's (state database, runner lock, HTTP port), then every adapter's own
    check; an adapter that cannot even be built is one failed finding. The one that reads the
    account's daily call budget (monday's) reads it too, in one call, and the runtime judges it
    against the configured schedule as the call governor will."""
    from leadbridge.runtime.budget_check import check_call_budget

    store = check_store(settings.state.url)
    findings: list[CheckFinding] = [*store.findings, _port_finding(settings, store)]
    builders: list[tuple[str, Callable[[], LiveCheck]]] = [("monday", lambda: _board(settings))]
    builders += [
        (port.service, lambda port=port: _build_port(port, settings))
        for port in _ports(settings).values()
    ]
    for service, build in builders:
        try:
            adapter = build()
        except ExternalError as error:
            findings.append(
                CheckFinding(service, "set up the client", False, error.message, error.fix)
            )
            continue
        findings.extend(adapter.check())
        if isinstance(adapter, CallBudget):
            findings.append(check_call_budget(settings, adapter))
    if settings.monday.webhook.enabled:
        findings.extend(webhook_checks(settings))
    return findings


def build_webhook_registry(settings: Settings) -> MondayWebhooks:
    from leadbridge.adapters.monday.webhooks import MondayWebhooks

    return MondayWebhooks.from_settings(settings)


def webhook_checks(settings: Settings) -> list[CheckFinding]:
    """The board's webhooks, and any of leadbridge's missing (``monday.webhook`` is on).

    Which are leadbridge's is in the state database: monday does not list their URLs.
    """
    from leadbridge.service.webhooks import wanted_webhooks, webhook_findings

    webhook = settings.monday.webhook
    try:
        registry = build_webhook_registry(settings)
    except ExternalError as error:
        return [CheckFinding("monday", "webhooks", False, error.message, error.fix)]
    try:
        store = open_store(settings)
    except Exception as error:
        registry.close()
        return [
            CheckFinding(
                "monday",
                "webhooks",
                False,
                f"the state database, which records leadbridge's webhooks, cannot be opened "
                f"({type(error).__name__})",
                "check state.url",
            )
        ]
    try:
        return webhook_findings(
            registry,
            store,
            url=webhook.url(),
            wanted=wanted_webhooks(settings.columns),
            recheck_seconds=webhook.recheck_seconds,
        )
    except ExternalError as error:
        return [CheckFinding("monday", "webhooks", False, error.message, error.fix)]
    finally:
        registry.close()
        store.close()


def _port_finding(settings: Settings, store: StoreCheck) -> CheckFinding:
    """Whether ``run`` can listen on its port. Taken while another leadbridge holds the
    runner lock is what a check beside the running service (in its container) finds."""
    from leadbridge.settings.environment import port_problem

    host, port = settings.service.http_host, settings.service.http_port
    what = f"HTTP port {host}:{port}"
    problem = port_problem(host, port)
    if problem is None:
        return CheckFinding("service", what, True, "free" if port else "0: run picks a free one")
    if store.lock_held_elsewhere:
        return CheckFinding(
            "service",
            what,
            True,
            "in use while another leadbridge holds the runner lock: that one serves here",
        )
    detail, _, fix = problem.partition(" Fix: ")
    return CheckFinding("service", what, False, detail, fix)


def environment(settings: Settings) -> dict[str, Mapping[str, Any]]:
    """What each configured kind derived from the deployment's settings, by kind name."""
    kinds = {params.kind for params in settings.effects.values()}
    return {name: kind_of(name).environment(settings) for name in kinds}


def open_store(settings: Settings) -> SqlStateStore:
    return SqlStateStore.open(settings.state.url, settings.monday.board_id)


def build_alerts(
    settings: Settings,
    *,
    mailer: Callable[[], Mailer] | None = None,
    store: StateStore | None = None,
    now: Callable[[], datetime] | None = None,
) -> Alerts:
    """The operators' alerts, sent through the mail backend the e-mail effects use.

    ``mailer`` gives the effects' own mail adapter. Without it or ``store``, each is built
    on first use (``leadbridge run``: a mail
    backend or database that cannot be reached then delays an alert, not the service).
    """
    if not settings.alerts.to:
        return Alerts.off()
    port = _ports(settings).get(MAILER.name)
    if mailer is None and port is None:
        # Settings validation refuses this already; kept for settings built another way.
        raise ConfigError(
            ["alerts.to: no mail backend is set up (no effect sends e-mail). Fix: configure "
             "an e-mail effect and the mail section, or set alerts.to: []"]
        )  # fmt: skip

    def make_mailer() -> Mailer:
        if mailer is not None:
            return mailer()
        assert port is not None
        built: Mailer = _build_port(port, settings)
        return built

    def make_store() -> StateStore:
        return store if store is not None else open_store(settings)

    return Alerts(
        settings.alerts,
        board_id=settings.monday.board_id,
        mailer=make_mailer,
        store=make_store,
        now=now,
    )


def build_sync_service(
    settings: Settings,
    *,
    backfill: bool = False,
    backfill_effects: frozenset[str] = frozenset(),
    adopt_existing: bool = False,
    adapters: Adapters | None = None,
    store: SqlStateStore | None = None,
    now: Callable[[], datetime] | None = None,
    alerts: Alerts | None = None,
) -> SyncService:
    adapters = adapters or build_adapters(settings)
    store = store or open_store(settings)
    if alerts is None:
        ports = adapters.ports
        # Looked up when an alert goes out, so a quiet cycle builds no mail client.
        mailer = (lambda: ports[MAILER.name]) if MAILER.name in ports else None
        alerts = build_alerts(settings, mailer=mailer, store=store, now=now)
    options = SyncOptions(
        policy=RetryPolicy(settings.retry.max_attempts, settings.retry.backoff_seconds),
        full_reconcile_every=timedelta(minutes=settings.monday.full_reconcile_minutes),
        notes=settings.notes.post,
        backfill=backfill,
        backfill_effects=backfill_effects,
        adopt_existing=adopt_existing,
        takeover_after=timedelta(seconds=settings.service.takeover_after_seconds),
        max_new_per_kind=settings.guard.max_new_per_kind,
        write_back_recheck=timedelta(seconds=settings.monday.write_back_recheck_seconds),
    )
    return SyncService(
        board_id=settings.monday.board_id,
        pipeline=settings.pipeline(),
        store=store,
        ports=Ports(adapters.board, adapters.ports),
        env=environment(settings),
        options=options,
        now=now,
        alerts=alerts,
    )
