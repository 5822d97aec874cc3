"""Server time of the status page at 100, 1,000 and 10,000 leads.

For each size, a fresh SQLite state database is filled with that many leads spread over the
default pipeline's stages, their ledger (about four effects a lead, a few parked or failed,
hub issues open or closed) and their history (status changes and attempts), as a board of
that size would have after months of leadbridge. Then each page is asked of ``UiApp.respond``
(routing, credential, SQL, template: everything but the socket) several times, and the median
and slowest are printed in milliseconds.

    python benchmarks/ui.py [--sizes 100 1000 10000] [--repeat 9]

Not part of the test suite: figures depend on the machine (the target is under 200 ms for
each page at 10,000 leads).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from leadbridge.adapters.store import schema
from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.settings import Settings, load_settings
from leadbridge.ui.app import Headers, Request, UiApp

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = REPO / "config" / "leadbridge.example.yaml"
BOARD_ID = "1234567890"
TOKEN = "benchmark-operator-token"
SIZES = (100, 1_000, 10_000)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TRIAGE = ("Send Questionnaire", "Questionnaire Sent", "Questionnaire Received", "In Scope")
NEGOTIATION = ("", "", "Create Quote", "Quote Sent", "Quote Accepted", "Contract Signed")
WORDS = ("Data", "Earth", "Ocean", "Climate", "Genome", "Open", "Science", "Hub", "Lab",
         "Institute", "Commons", "Network", "Teaching", "Analytics", "Mapping")  # fmt: skip


def settings_for(directory: Path, url: str) -> Settings:
    secrets = directory / "secrets"
    secrets.mkdir(exist_ok=True)
    for name, value in (("monday__token", "m"), ("github__token", "g"), ("ui__token", TOKEN)):
        (secrets / name).write_text(value)
    settings = load_settings(EXAMPLE_CONFIG, secrets_dir=secrets)
    return settings.model_copy(update={"state": settings.state.model_copy(update={"url": url})})


def fill(store: SqlStateStore, size: int, seed: int = 1) -> list[str]:
    """``size`` leads with ledger and history, written in bulk; returns the item ids."""
    rng = random.Random(seed)
    items, ledger, changes, attempts = [], [], [], []
    ids = [str(1_800_000_000 + n) for n in range(size)]
    for n, item_id in enumerate(ids):
        triage = rng.choice(TRIAGE)
        negotiation = rng.choice(NEGOTIATION) if triage == "In Scope" else ""
        values = {
            "triage_status": triage,
            "negotiation_status": negotiation,
            "contact_name": f"Contact {n}",
            "contact_email": f"contact{n}@example.org",
            "organization": f"Organization {n}",
        }
        name = " ".join(rng.sample(WORDS, 3)) + f" {n}"
        items.append(
            {
                "item_id": item_id,
                "name": name,
                "url": f"https://example.monday.com/boards/{BOARD_ID}/pulses/{item_id}",
                "item_values": values,
                "present": True,
                "seen_at": NOW,
            }
        )
        effects = ["send_questionnaire"]
        if TRIAGE.index(triage) >= 2:
            effects += ["lead_folder", "check_maniac_t"]
        if negotiation:
            effects.append("quote_copies")
        if negotiation == "Contract Signed":
            effects += ["request_invoice", "hub_issue"]
        at = NOW - timedelta(days=rng.randint(1, 170))
        for step, effect in enumerate(effects):
            state, error, ref = "done", "", {"links": {}}
            roll = rng.random()
            if roll < 0.02:
                state, error = "parked", "Drive answered 404: the template is not shared"
            elif roll < 0.03:
                state, error = "failed", "GitHub answered 502"
            if effect == "hub_issue" and state == "done":
                number = n + 1
                url = f"https://github.com/2i2c-org/pilot-hubs/issues/{number}"
                ref = {"number": number, "url": url, "state": rng.choice(("open",) * 4 + ("closed",)),
                       "links": {"hub_issue": url}}  # fmt: skip
            elif effect == "lead_folder" and state == "done":
                ref = {"links": {"folder": f"https://drive.google.com/drive/folders/f{n}"}}
            moment = at + timedelta(minutes=step)
            ledger.append(
                {
                    "item_id": item_id,
                    "effect": effect,
                    "state": state,
                    "attempts": 1,
                    "next_attempt_at": moment + timedelta(hours=1) if state == "failed" else None,
                    "last_error": error,
                    "ref": ref,
                    "updated_at": moment,
                    "epoch": 1,
                    "owner": "bench:1",
                }
            )
            attempts.append(
                {
                    "item_id": item_id,
                    "effect": effect,
                    "attempt": 1,
                    "started_at": moment,
                    "finished_at": moment + timedelta(seconds=1),
                    "outcome": state,
                    "error": error,
                    "summary": f"did {effect}" if state == "done" else effect,
                }
            )
        for column, label in (("triage_status", triage), ("negotiation_status", negotiation)):
            if label:
                changes.append(
                    {
                        "item_id": item_id,
                        "column_name": column,
                        "old": "",
                        "new": label,
                        "seen_at": at - timedelta(minutes=1),
                    }
                )
    with store.engine.begin() as connection:
        connection.execute(schema.items.insert(), items)
        connection.execute(schema.ledger.insert(), ledger)
        connection.execute(schema.status_changes.insert(), changes)
        connection.execute(schema.effect_attempts.insert(), attempts)
        connection.execute(
            schema.board_state.insert().values(board_id=BOARD_ID, first_cycle_at=NOW)
        )
    run = store.start_run(NOW - timedelta(minutes=3))
    store.finish_run(run, NOW - timedelta(minutes=2), "ok", {"waiting": 3, "done": 2})
    store.add_usage(date(2026, 6, 1), "monday", 212, 48_000)
    return ids


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    call()  # warm: templates compiled, connections pooled
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def measure(size: int, repeat: int) -> list[tuple[str, float, float]]:
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        url = f"sqlite:///{directory / 'state.db'}"
        store = SqlStateStore.open(url, BOARD_ID)
        ids = fill(store, size)
        app = UiApp(settings_for(directory, url), lambda: store, now=lambda: NOW)
        headers = Headers({"Authorization": f"Bearer {TOKEN}"})
        customer = next(
            (e.item_id for e in store.ledger() if e.effect == "hub_issue"), ids[len(ids) // 2]
        )
        pages = [
            ("overview", "/"),
            ("leads table", "/leads"),
            ("leads: search + needs a person", "/leads?q=lab&needs=1"),
            (
                "leads: stage filter, sorted, page 3",
                "/leads?stage=negotiation_status%3AContract+Signed&sort=triage_status&dir=desc&page=3",
            ),
            ("leads: hub open, page 2", "/leads?hub=open&page=2"),
            ("lead page", f"/leads/{customer}"),
            ("hubs page", "/hubs"),
        ]
        results = []
        for label, target in pages:

            def ask(target: str = target) -> None:
                response = app.respond(Request("GET", target, headers))
                assert response.status == 200, (target, response.status)

            median, slowest = timed(ask, repeat)
            results.append((label, median, slowest))
        store.close()
        return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        for label, median, slowest in measure(size, args.repeat):
            rows.append((size, label, median, slowest))
            print(f"{size:>7,} leads  {label:<38} median {median:7.1f} ms   max {slowest:7.1f} ms")
    print("\n| leads | page | median ms | max ms |\n|---:|---|---:|---:|")
    for size, label, median, slowest in rows:
        print(f"| {size:,} | {label} | {median:.1f} | {slowest:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
