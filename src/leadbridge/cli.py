"""The ``leadbridge`` command.

Every command loads and validates the whole configuration first, so a mistake is reported
(exit 2) before anything reads a board, writes a database or sends a message.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from leadbridge.domain.errors import ExternalError
from leadbridge.exits import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, CannotStart, ConfigError

if TYPE_CHECKING:  # the modules behind a command load when it runs, so --help stays fast
    from leadbridge.service.report import CycleReport
    from leadbridge.settings import Settings


def _settings(args: argparse.Namespace, *, require_secrets: bool = True) -> Settings:
    """The configuration; ``require_secrets=False`` for commands that read only the state
    database (tokens, keys and what else only talking to a service needs may be missing)."""
    from leadbridge.settings import CONFIG_ENV, load_settings
    from leadbridge.settings.environment import state_directory_problems
    from leadbridge.settings.placeholders import placeholder_problems

    path = args.config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    if path is None:
        raise ConfigError(
            [
                f"no configuration file. Fix: pass --config PATH or set {CONFIG_ENV}; "
                "config/leadbridge.example.yaml documents every key (or try: leadbridge demo)"
            ]
        )
    settings = load_settings(path, require_secrets=require_secrets)
    # The machine, before anything runs: a missing or read-only state directory.
    problems = state_directory_problems(settings.state.url)
    if require_secrets:
        # A command that talks to the services must not mail or copy to the example's
        # made-up addresses and ids; one that reads only the state database may.
        problems += placeholder_problems(settings.model_dump(mode="json"))
    if problems:
        raise ConfigError(problems)
    if not settings.rules:
        raise ConfigError(
            [
                f"{path}: rules: none configured, so there is nothing to do. Fix: add rules and "
                "effects (see config/leadbridge.example.yaml)"
            ]
        )
    return settings


def _quiet_logs(settings: Settings, level: int = logging.WARNING) -> None:
    """One-shot commands print their own summary; logs keep only what went wrong."""
    from leadbridge.logs import configure_logging, secret_values

    configure_logging(secrets=secret_values(settings), stream=sys.stderr)
    logging.getLogger().setLevel(level)


def _shown_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# ---------------------------------------------------------------- sync


def cmd_sync(args: argparse.Namespace) -> int:
    if not args.once:
        print(
            "leadbridge sync runs one cycle: pass --once (use `leadbridge run` for the service)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    settings = _settings(args)
    from leadbridge.adapters.store.lock import RunnerLock
    from leadbridge.bootstrap import build_sync_service
    from leadbridge.logs import configure_logging, secret_values

    configure_logging(secrets=secret_values(settings), stream=sys.stderr)

    backfill = {**_backfill(settings, args.backfill), "adopt_existing": args.adopt_existing}
    if args.dry_run:
        report = build_sync_service(settings, **backfill).preview()
    else:
        lock = RunnerLock.for_url(settings.state.url)
        if not lock.acquire(args.wait):
            raise lock.held_error()
        try:
            service = build_sync_service(settings, **backfill)
            # Rows this cycle starts carry the lock's epoch; it stops if the lock is lost.
            report = service.run_cycle(lease=lock.lease())
        finally:
            lock.release()
    print_report(report, dry_run=args.dry_run)
    return EXIT_OK if report.read_ok else EXIT_FAILED


def _backfill(settings: Settings, named: list[str] | None) -> dict[str, Any]:
    """``--backfill`` alone: every effect; ``--backfill A B``: those (by key or id)."""
    if named is None:
        return {}
    if not named:
        return {"backfill": True}
    ids = {key: params.id or key for key, params in settings.effects.items()}
    unknown = [name for name in named if name not in ids and name not in ids.values()]
    if unknown:
        raise ConfigError(
            [
                f"--backfill: no effect named {unknown[0]!r}. Fix: use one of "
                + ", ".join(settings.effects)
            ]
        )
    return {"backfill_effects": frozenset(ids.get(name, name) for name in named)}


def print_report(report: CycleReport, *, dry_run: bool = False, out: TextIO = sys.stdout) -> None:
    """Per lead, in plain words, what the cycle did (or, in a dry run, would do)."""
    title = "Dry run: nothing was changed anywhere." if dry_run else "Sync cycle finished."
    print(title, file=out)
    if not report.read_ok:
        print(f"The board could not be read: {report.error}", file=out)
        return
    by_lead: dict[tuple[str, str], list[Any]] = {}
    for action in report.actions:
        by_lead.setdefault((action.item_id, action.lead), []).append(action)
    if not by_lead:
        print("Nothing to do: every lead is up to date.", file=out)
    verbs = {"would run": "would", "done": "done:", "failed": "failed, will retry:",
             "parked": "PARKED:", "waiting": "waiting:", "adopted": "adopted (not acted on):",
             "would skip": "would stop:", "superseded": "taken over by another process:"}  # fmt: skip
    for (item_id, name), actions in by_lead.items():
        print(f"\n{name} (item {item_id})", file=out)
        for action in actions:
            print(
                f"  - {action.effect}: {verbs.get(action.outcome, action.outcome)} {action.detail}",
                file=out,
            )
    print(
        f"\n{report.items_read} item(s) read ({'full read' if report.full_reconcile else 'changes only'}), "
        f"{report.transitions} status change(s); effects: {report.done} done, {report.failed} failed, "
        f"{report.parked} parked, {report.waiting} waiting, {report.adopted} adopted; "
        f"{report.requests} monday request(s).",
        file=out,
    )


# ---------------------------------------------------------------- plan


def cmd_plan(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _quiet_logs(settings)
    from collections import Counter

    from leadbridge.bootstrap import build_sync_service
    from leadbridge.service.guard import confirm

    service = build_sync_service(settings)
    report = service.preview()
    if not report.read_ok:
        print(f"The board could not be read: {report.error}")
        return EXIT_FAILED
    kinds = {name: spec.kind for name, spec in service.pipeline.effects.items()}
    counts: dict[str, Counter[str]] = {}
    for action in report.actions:
        counts.setdefault(kinds[action.effect], Counter())[action.outcome] += 1
    print("What the configuration would do now (nothing was changed):")
    for kind in sorted(set(kinds.values())):
        seen = counts.get(kind, Counter())
        print(
            f"  {kind}: would run {seen['would run']}, adopt {seen['adopted']}, "
            f"wait {seen['waiting']}, stop {seen['would skip']}"
        )
    limit = settings.guard.max_new_per_kind
    if not report.held:
        print(f"No kind would start more than {limit} new effects: nothing is held.")
        return EXIT_OK
    held = ", ".join(f"{count} {kind}" for kind, count in sorted(report.held.items()))
    if args.confirm:
        confirm(service.store, report.held, datetime.now(UTC))
        print(f"Confirmed: the next cycle starts {held} (more than {limit} of a kind).")
        return EXIT_OK
    print(
        f"Held: {held} new effect(s), more than guard.max_new_per_kind ({limit}) of a kind. "
        "Check the leads above with `leadbridge sync --once --dry-run`; to let them start, "
        "run: leadbridge plan --confirm"
    )
    return EXIT_FAILED


# ---------------------------------------------------------------- status


def cmd_status(args: argparse.Namespace) -> int:
    """Exit 0, or 1 when something needs a person (a parked effect among the leads listed, or
    a held mass action), so that a cron wrapper can tell; 2 for an unknown item or stage."""
    # Reads the state database alone: no monday, Google or GitHub credential is needed.
    settings = _settings(args, require_secrets=False)
    _quiet_logs(settings)
    from leadbridge.bootstrap import open_store
    from leadbridge.service.status import StatusFilter, build_status, json_default, render_status

    try:
        stage = _stage(settings, args.stage) if args.stage is not None else None
    except ValueError as error:
        print(f"leadbridge status: {error}", file=sys.stderr)
        return EXIT_CONFIG
    filters = StatusFilter(item=args.item, problems=args.problems, stage=stage)
    store = open_store(settings)
    try:
        status = build_status(settings, store, datetime.now(UTC), filters)
    finally:
        store.close()
    if args.item is not None and not status["leads"] and not args.problems and stage is None:
        print(
            f"leadbridge status: no lead with item id {args.item!r} in the state database "
            "(not read from the board yet, or no longer on it)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    if args.json:
        print(json.dumps(status, indent=2, default=json_default))
    else:
        print(render_status(status, state_url=_shown_url(settings.state.url)))
    return EXIT_FAILED if status["needs_person"] else EXIT_OK


def _stage(settings: Settings, text: str) -> tuple[str | None, str]:
    """``COLUMN=LABEL`` (``COLUMN=`` for no status), or ``LABEL`` of any status column."""
    from leadbridge.settings.pipeline import suggest

    columns = {n: c for n, c in settings.columns.items() if c.type == "status"}
    labels = {n: [*c.labels, *c.off_path] for n, c in columns.items()}
    every = list(dict.fromkeys(label for known in labels.values() for label in known))
    column, equals, label = (part.strip() for part in text.partition("="))
    if equals and (column in columns or text.strip() not in every):
        if column not in columns:
            raise ValueError(
                f"--stage: {column!r} is not a status column.{suggest(column, list(columns))}"
            )
        if label and label not in labels[column]:
            raise ValueError(
                f"--stage: column {column!r} has no label {label!r}."
                + suggest(label, labels[column])
            )
        return column, label
    if text.strip() not in every:
        raise ValueError(
            f"--stage: no status column has the label {text.strip()!r}.{suggest(text, every)}"
        )
    return None, text.strip()


# ---------------------------------------------------------------- retry


def cmd_retry(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _quiet_logs(settings)
    ids = {key: params.id or key for key, params in settings.effects.items()}
    if args.effect and args.effect not in {*ids, *ids.values()}:
        print(
            f"no effect named {args.effect!r}. Known: {', '.join(settings.effects)}",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    effect = ids.get(args.effect, args.effect) if args.effect else None
    from leadbridge.bootstrap import open_store
    from leadbridge.domain.ledger import ATTEMPTED, EffectState
    from leadbridge.service.sync import rearm_effects

    store = open_store(settings)
    try:
        rearmed = rearm_effects(store, args.item, effect, datetime.now(UTC), resend=args.resend)
        if not rearmed:
            states = ", ".join(f"{e.effect} {e.state.value}" for e in store.ledger(args.item))
            what = f" {args.effect}" if args.effect else ""
            print(
                f"Nothing to retry for item {args.item}{what}: only parked or backing-off effects "
                f"can be re-armed. Now: {states or 'no effects recorded for this item'}."
            )
            return EXIT_FAILED
    finally:
        store.close()
    for before, _ in rearmed:
        if before.state is EffectState.PARKED:
            was = f"parked after {before.attempts} attempt(s)"
        else:
            when = (
                before.next_attempt_at.isoformat(timespec="seconds")
                if before.next_attempt_at
                else "?"
            )
            was = f"backing off after {before.attempts} attempt(s), next try was {when}"
        error = f": {before.last_error}" if before.last_error else ""
        print(f"Re-armed {before.effect} of item {before.item_id} (was {was}{error}).")
    print("They run in the next cycle.")
    if not args.resend and any(before.ref.get(ATTEMPTED) for before, _ in rearmed):
        print(
            "An earlier attempt may have acted: e-mail backends that can tell are asked before "
            "sending again, plain SMTP parks again. If you checked that an e-mail did not "
            "arrive, re-run with --resend."
        )
    return EXIT_OK


# ---------------------------------------------------------------- init


def cmd_init(args: argparse.Namespace) -> int:
    """Write a configuration fitted to the board; needs no configuration file itself."""
    from leadbridge.initial_config import InitRequest, interactive_terminal, run_init
    from leadbridge.logs import configure_logging

    # The read's own log lines (a refused token…) would repeat what init says in words.
    configure_logging(stream=sys.stderr)
    logging.getLogger().setLevel(logging.CRITICAL)
    try:
        return run_init(
            InitRequest(args.board_id, args.token_file, args.output, args.force),
            environ=os.environ,
            interactive=interactive_terminal(),
            out=sys.stdout,
            today=datetime.now(UTC).date(),
        )
    except ConfigError as error:  # what was given cannot be used: nothing was written
        for problem in error.problems:
            print(f"leadbridge init: {problem}", file=sys.stderr)
        return EXIT_CONFIG


# ---------------------------------------------------------------- check


def cmd_check(args: argparse.Namespace) -> int:
    """Exits 1 on any ✗. A ✓ may carry a note: it holds, though not as configured (the call
    governor will slow polls down to fit the account's budget), which need not stop going live.
    """
    settings = _settings(args)
    _quiet_logs(settings, logging.ERROR)
    print(f"✓ configuration: valid ({len(settings.effects)} effects, {len(settings.rules)} rules)")
    if args.offline:
        return EXIT_OK
    from leadbridge.bootstrap import live_checks

    findings = live_checks(settings)
    for finding in findings:
        mark = "✓" if finding.ok else "✗"
        detail = f": {finding.detail}" if finding.detail else ""
        print(f"{mark} {finding.service}: {finding.what}{detail}")
        if finding.fix:
            print(f"    {'Note' if finding.ok else 'Fix'}: {finding.fix}")
    failed = sum(not f.ok for f in findings)
    noted = sum(f.ok and bool(f.fix) for f in findings)
    note = f" {noted} of them with a note." if noted else ""
    print(f"{len(findings) - failed} of {len(findings)} live checks passed.{note}")
    return EXIT_OK if not failed else EXIT_FAILED


# ---------------------------------------------------------------- webhooks


def cmd_webhooks(args: argparse.Namespace) -> int:
    """``list``: the board's webhooks, leadbridge's marked; ``remove``: delete leadbridge's
    (those made for the configured public_url; with webhooks off, all it made), and say which.

    monday does not list a webhook's URL, so leadbridge's are those it recorded in the state
    database when it created them.
    """
    settings = _settings(args)
    _quiet_logs(settings)
    from leadbridge.bootstrap import build_webhook_registry, open_store
    from leadbridge.service.webhooks import describe, list_webhooks, remove_webhooks

    webhook = settings.monday.webhook
    url = webhook.url() if webhook.enabled else None
    board = settings.monday.board_id
    registry = build_webhook_registry(settings)
    store = open_store(settings)
    try:
        if args.action == "list":
            listed = list_webhooks(registry, store, url=url)
            if not listed:
                print(f"Board {board} has no webhooks.")
            for entry in listed:
                owner = "leadbridge's" if entry.ours else "not leadbridge's"
                print(f"{entry.webhook.id}  {describe(entry.webhook)}  ({owner})")
            if not webhook.enabled:
                print("Webhooks are off: monday.webhook.public_url is not set.")
            return EXIT_OK
        removed = remove_webhooks(registry, store, url=url)
    finally:
        registry.close()
        store.close()
    for gone in removed:
        print(f"Removed webhook {gone.id} ({describe(gone)}).")
    if not removed:
        print(f"Board {board} has no webhook of leadbridge's to remove.")
    if webhook.enabled:
        print(
            "`leadbridge run` creates them again at its next check while "
            "monday.webhook.public_url is set: unset it to turn webhooks off."
        )
    return EXIT_OK


# ---------------------------------------------------------------- run, demo, sandbox


def _listenable(host: str, port: int, key: str) -> None:
    """A port already in use is a configuration problem, told before the service starts."""
    from leadbridge.settings.environment import port_problem

    problem = port_problem(host, port, key)
    if problem:
        raise ConfigError([problem])


def _serving(serve: Callable[[], int], host: str, port: int, key: str) -> int:
    """``serve()``; a port taken after ``_listenable`` looked is still told in words."""
    try:
        return serve()
    except OSError as error:  # from the bind: polls run on other threads
        if error.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
            raise
        raise ConfigError(
            [
                f"{key}: cannot listen on {host}:{port} ({error.strerror}). Fix: stop what "
                f"uses the port (another leadbridge?) or set {key} to a free port"
            ]
        ) from None


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    host, port = settings.service.http_host, settings.service.http_port
    _listenable(host, port, "service.http_port")
    from leadbridge.runtime.service import run_service

    return _serving(lambda: run_service(settings), host, port, "service.http_port")


def cmd_serve_ui(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from leadbridge.ui.server import serve_ui

    host = args.host if args.host is not None else settings.service.http_host
    port = args.port if args.port is not None else settings.service.http_port
    key = "--port" if args.port is not None else "service.http_port"
    _listenable(host, port, key)
    return _serving(lambda: serve_ui(settings, host, port), host, port, key)


def cmd_demo(args: argparse.Namespace) -> int:
    from leadbridge.demo import run_demo

    return run_demo(output=args.output, leads=args.leads, seed=args.seed)


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    from leadbridge.sandbox.serve import serve

    return serve(host=args.host, port=args.port, seed=args.seed, config_dir=args.write_config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leadbridge",
        description="Turns status changes on a monday.com board into Drive folders, quote "
        "copies, e-mails and GitHub hub issues, each exactly once.",
    )
    config_help = "YAML configuration file (default: $LEADBRIDGE_CONFIG)"
    parser.add_argument("--config", type=Path, help=config_help)
    parser.add_argument("--version", action=_PrintVersion)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Callable[[argparse.Namespace], int], help_: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_)
        sub.set_defaults(handler=handler)
        # Also after the command (``leadbridge status --config x.yaml``); unset here, the one
        # before the command (or $LEADBRIDGE_CONFIG) stands.
        sub.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=config_help)
        return sub

    sync = add("sync", cmd_sync, "Run one sync cycle against the board and exit.")
    sync.add_argument("--once", action="store_true", help="run exactly one cycle (required)")
    sync.add_argument(
        "--dry-run", action="store_true", help="print what would be done; change nothing"
    )
    sync.add_argument(
        "--backfill",
        nargs="*",
        metavar="EFFECT",
        help="act on leads already past a stage instead of adopting them: every effect, or "
        "only the effects named (e.g. one a configuration change added)",
    )
    sync.add_argument(
        "--adopt-existing",
        action="store_true",
        help="meet a board worked before from another state database: adopt what exists",
    )
    sync.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="wait this long for another running leadbridge to finish (default 0)",
    )

    plan = add(
        "plan",
        cmd_plan,
        "Show what the configuration would do now, per effect kind; confirm a held mass action.",
    )
    plan.add_argument(
        "--confirm",
        action="store_true",
        help="let the next cycle start the new effects the mass-action guard holds",
    )

    status = add(
        "status",
        cmd_status,
        "Show leads, effects done/failed/parked, and the last runs, from the state database "
        "alone. Exit status 1 when something needs a person (a parked effect, a held mass "
        "action).",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--item", metavar="ID", help="only this lead (monday item id)")
    status.add_argument(
        "--problems",
        action="store_true",
        help="only leads that need a person: parked, failed or waiting effects, or held",
    )
    status.add_argument(
        "--stage",
        metavar="COLUMN=LABEL",
        help="only leads at this stage: COLUMN=LABEL (COLUMN= for no status), or LABEL of "
        "any status column",
    )

    retry = add("retry", cmd_retry, "Re-arm a parked effect so the next cycle tries it again.")
    retry.add_argument("item", help="monday item id")
    retry.add_argument(
        "effect", nargs="?", help="effect name (default: every parked effect of the item)"
    )
    retry.add_argument(
        "--resend",
        action="store_true",
        help="you checked that an earlier e-mail did not arrive: send it without asking",
    )

    init_help = (
        "Write a configuration for a monday board: its column ids and labels read from the "
        "board, the rest the example's placeholders to fill in. Exit 1 when a column or label "
        "was not found (the file is written all the same)."
    )
    init = commands.add_parser("init", help=init_help, description=init_help)
    init.set_defaults(handler=cmd_init)
    init.add_argument(
        "--board-id",
        metavar="ID",
        help="the board's id, the number in its URL (default: $LEADBRIDGE_MONDAY__BOARD_ID, or "
        "asked for)",
    )
    init.add_argument(
        "--token-file",
        type=Path,
        metavar="PATH",
        help="a file holding the monday API token (default: $LEADBRIDGE_MONDAY__TOKEN, then "
        "$LEADBRIDGE_SECRETS_DIR/monday__token, then asked for without echo)",
    )
    init.add_argument(
        "--output",
        type=Path,
        default=Path("leadbridge.yaml"),
        metavar="PATH",
        help="where to write the configuration (default: ./leadbridge.yaml)",
    )
    init.add_argument("--force", action="store_true", help="replace --output if it exists")

    check = add("check", cmd_check, "Validate the configuration, then the services it uses.")
    check.add_argument("--offline", action="store_true", help="only validate the configuration")

    add("run", cmd_run, "Run as a service: poll on a schedule, serve /healthz and /metrics.")

    webhooks = add(
        "webhooks",
        cmd_webhooks,
        "List the board's monday webhooks, or remove leadbridge's own (monday.webhook).",
    )
    webhooks.add_argument(
        "action",
        choices=("list", "remove"),
        help="list: every webhook of the board, leadbridge's marked; remove: delete "
        "leadbridge's, printing each",
    )

    serve_ui = add(
        "serve-ui",
        cmd_serve_ui,
        "Serve the status page from the state database alone (no polling).",
    )
    serve_ui.add_argument("--host", help="address to listen on (default: service.http_host)")
    serve_ui.add_argument("--port", type=int, help="port to listen on (default: service.http_port)")

    demo = add(
        "demo", cmd_demo, "Run the whole pipeline against a local sandbox (no accounts needed)."
    )
    demo.add_argument(
        "--output",
        type=Path,
        default=Path("demo-output"),
        help="where the state database and e-mail copies go",
    )
    demo.add_argument("--leads", type=int, default=12, help="number of leads on the demo board")
    demo.add_argument("--seed", type=int, default=7, help="seed of the scripted sales team")

    sandbox = commands.add_parser(
        "sandbox", help="The local emulator of monday, Google and GitHub."
    )
    sandbox_commands = sandbox.add_subparsers(
        dest="sandbox_command", required=True, metavar="COMMAND"
    )
    serve = sandbox_commands.add_parser("serve", help="Serve the emulator until interrupted.")
    serve.set_defaults(handler=cmd_sandbox_serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--seed", type=int, default=0)
    serve.add_argument(
        "--write-config",
        type=Path,
        metavar="DIR",
        help="also write a leadbridge config for it into DIR",
    )
    return parser


class _PrintVersion(argparse.Action):
    """``--version``, with the installed version looked up only when asked: reading the
    package metadata costs ten times what building the whole parser does."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0,
            help="show the version and exit",
        )  # fmt: skip

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(f"leadbridge {_version()}")
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("leadbridge")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as error:
        print("leadbridge: the configuration cannot be used:", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except CannotStart as error:  # a lock held elsewhere, a database of another board…
        print(f"leadbridge: {error}", file=sys.stderr)
        return error.exit_code
    except ExternalError as error:
        # A client that cannot even be set up (a key file gone, a token revoked at start).
        print(f"leadbridge: {error.describe()}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) has gone; silence the final flush of stdout too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
