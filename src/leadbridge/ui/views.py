"""What each page shows, as plain data for its template (no HTML here, no escaping needed).

Every value that came from the board (names, labels, links) is passed through as it is; the
templates autoescape it, and links become hrefs only through ``safe_url``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from leadbridge.adapters.store.queries import PROBLEM_STATES, LeadQuery, LeadRow, StatusQueries
from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.domain.ledger import QUIET, EffectState, LedgerEntry
from leadbridge.domain.model import Lead, Pipeline
from leadbridge.domain.planning import dependency_order
from leadbridge.domain.render import template_context
from leadbridge.domain.timeline import EffectAttempt, StatusChange
from leadbridge.effects.registry import kind_of
from leadbridge.runtime.coordinator import STALE_AFTER_INTERVALS
from leadbridge.runtime.pacing import PollPacing
from leadbridge.service.apply import done_links
from leadbridge.service.guard import HELD
from leadbridge.service.status import PACE_FACT, pace_today
from leadbridge.settings import Settings

#: Ledger states in the order the overview counts them.
COUNTED = ("done", "failed", "parked", "waiting", "adopted", "pending", "running", "skipped")
EMPTY_LABEL = "(empty)"


def safe_url(url: Any) -> str:
    """``url`` when it is an absolute http(s) URL, else "": only those become links."""
    if not isinstance(url, str):
        return ""
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    if any(c in text for c in "\r\n\t\x00 "):
        return ""
    return text


@dataclass(frozen=True)
class PageContext:
    """What the views need: the store, its queries, the configuration, and the clock."""

    store: SqlStateStore
    queries: StatusQueries
    settings: Settings
    pipeline: Pipeline
    now: datetime
    verdict: Callable[[], Any] | None = None

    @property
    def status_columns(self) -> list[str]:
        return list(self.pipeline.statuses)

    def effect_order(self) -> list[str]:
        return list(dependency_order(self.pipeline.effects))

    def kind(self, effect: str) -> str:
        spec = self.pipeline.effects.get(effect)
        return spec.kind if spec is not None else "?"

    def is_hub(self, effect: str) -> bool:
        """An effect whose far side has a state leadbridge follows: the hub issue, open or
        closed (its kind re-reads it on every full reconcile)."""
        spec = self.pipeline.effects.get(effect)
        return spec is not None and kind_of(spec.kind).refreshes()

    def hub_effects(self) -> tuple[str, ...]:
        return tuple(n for n in self.pipeline.effects if self.is_hub(n))

    def describe(self, effect: str, context: Mapping[str, str] | None = None) -> str:
        spec = self.pipeline.effects.get(effect)
        if spec is None:
            return "an effect no longer configured"
        return kind_of(spec.kind).describe(spec.params, context)

    def held(self) -> dict[str, Any]:
        return dict(self.store.fact(HELD) or {})

    def held_items(self) -> frozenset[str]:
        return frozenset(
            str(item) for hold in self.held().values() for item in hold.get("items", [])
        )


# ---------------------------------------------------------------- overview


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    #: "path", "off" (off-path label), "unknown" (not configured) or "empty".
    kind: str
    y: int
    width: int
    #: Query string selecting these leads in the table.
    stage: str


@dataclass(frozen=True)
class Chart:
    column: str
    title: str
    bars: list[Bar]
    height: int
    total: int


CHART_WIDTH = 420
BAR_HEIGHT = 24


def stage_chart(
    column: str, labels: Sequence[str], off_path: Sequence[str], counts: Mapping[str, int]
) -> Chart:
    ordered: list[tuple[str, str, int]] = [
        (label, "path", counts.get(label, 0)) for label in labels
    ]
    ordered += [(label, "off", counts.get(label, 0)) for label in off_path]
    known = {*labels, *off_path, ""}
    ordered += [
        (label, "unknown", count) for label, count in sorted(counts.items()) if label not in known
    ]
    ordered.append((EMPTY_LABEL, "empty", counts.get("", 0)))
    top = max((count for _, _, count in ordered), default=0) or 1
    bars = [
        Bar(
            label=label,
            count=count,
            kind=kind,
            y=index * BAR_HEIGHT,
            width=round(CHART_WIDTH * count / top),
            stage=f"{column}:{'' if kind == 'empty' else label}",
        )
        for index, (label, kind, count) in enumerate(ordered)
    ]
    return Chart(
        column=column,
        title=column.replace("_", " ").capitalize(),
        bars=bars,
        height=len(bars) * BAR_HEIGHT,
        total=sum(counts.values()),
    )


def overview(ctx: PageContext) -> dict[str, Any]:
    counts = ctx.queries.stage_counts(ctx.status_columns)
    charts = [
        stage_chart(name, status.labels, status.off_path, counts.get(name, {}))
        for name, status in ctx.pipeline.statuses.items()
    ]
    states = ctx.queries.state_counts()
    runs = ctx.store.runs(10)
    last = runs[0] if runs else None
    last_ok = next((run for run in runs if run.outcome == "ok"), None)
    waiting = int(last.summary.get("waiting", 0)) if last is not None else 0
    effect_counts = {state: states.get(state, 0) for state in COUNTED if state != "waiting"}
    effect_counts["waiting"] = waiting
    calls, complexity = ctx.store.usage(ctx.now.date(), "monday")
    # The account's limit as `run` last read it today, else the configured fallback.
    pace = pace_today(ctx.store.fact(PACE_FACT), ctx.now)
    limit = pace["daily_limit"] if pace else ctx.settings.monday.daily_call_limit
    parked = ctx.queries.entries([EffectState.PARKED.value])
    by_kind: Counter[str] = Counter(ctx.kind(entry.effect) for entry in parked)
    return {
        "charts": charts,
        "chart_width": CHART_WIDTH,
        "bar_height": BAR_HEIGHT,
        "leads": ctx.queries.lead_count(),
        "effects": [(state, effect_counts[state]) for state in COUNTED],
        "calls": calls,
        "complexity": complexity,
        "limit": limit,
        "calls_share": min(100, round(100 * calls / limit)) if limit else 0,
        "last_run": last,
        "last_ok": last_ok,
        "health": health(ctx, last_ok, pace),
        "held": sorted(ctx.held().items()),
        "parked_kinds": sorted(by_kind.items()),
    }


def health(ctx: PageContext, last_ok: Any, pace: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The coordinator's verdict when this process polls; else judged from the last run
    against the pace ``run`` keeps (``pace``: the governor's decision of today, if any)."""
    if ctx.verdict is not None:
        verdict = ctx.verdict()
        body = dict(verdict.body)
        return {
            "status": str(body.get("status", "?")),
            "role": str(body.get("role", "?")),
            "ok": verdict.status == 200,
            "reason": str(body.get("reason", "")),
            "here": True,
        }
    if last_ok is None or last_ok.finished_at is None:
        return {
            "status": "no successful poll recorded",
            "role": "not polling here (serve-ui)",
            "ok": False,
            "reason": "",
            "here": False,
        }
    age = ctx.now - last_ok.finished_at
    if _held(pace, ctx.now):
        # Waiting on purpose for the daily budget: the reason says until when.
        status, reason, fresh = "paused", str(pace.get("reason", "")) if pace else "", True
    else:
        gap = _expected_gap(ctx, last_ok.finished_at, pace)
        fresh = age <= STALE_AFTER_INTERVALS * gap
        status, reason = ("ok", "") if fresh else ("stale", f"no successful poll for {_span(age)}")
    return {
        "status": status,
        "role": "not polling here (serve-ui)",
        "ok": fresh,
        "reason": reason,
        "here": False,
    }


def _expected_gap(ctx: PageContext, last: datetime, pace: Mapping[str, Any] | None) -> timedelta:
    """The longest gap between polls ``run`` may leave after one at ``last``: the configured
    pace then and now (a poll at 16:59 may be followed by the night's slower one), or the
    governor's stretched pace of today."""
    pacing = PollPacing.from_settings(
        ctx.settings.service, hinted=ctx.settings.monday.webhook.enabled
    )
    seconds = max(pacing.interval_at(last), pacing.interval_at(ctx.now))
    if pace is not None and isinstance(pace.get("interval_seconds"), int):
        seconds = max(seconds, pace["interval_seconds"])
    return timedelta(seconds=seconds)


def _held(pace: Mapping[str, Any] | None, now: datetime) -> bool:
    """Whether the governor holds polls for the daily budget (until ``resumes_at``)."""
    if pace is None or pace.get("state") not in ("paused", "limit_reached"):
        return False
    resumes = pace.get("resumes_at")
    return bool(resumes) and datetime.fromisoformat(str(resumes)) > now


# ---------------------------------------------------------------- leads table


SORTS = ("name", "item", "problems")


@dataclass
class LeadFilters:
    text: str = ""
    stage: str = ""
    needs: bool = False
    hub: str = ""
    sort: str = "name"
    direction: str = "asc"
    page: int = 1

    def query(self, **changes: Any) -> dict[str, str]:
        """The query string of this view, with ``changes`` applied (for links)."""
        values = {
            "q": self.text,
            "stage": self.stage,
            "needs": "1" if self.needs else "",
            "hub": self.hub,
            "sort": self.sort if self.sort != "name" else "",
            "dir": self.direction if self.direction != "asc" else "",
            "page": str(self.page) if self.page > 1 else "",
        }
        values.update({key: str(value) for key, value in changes.items()})
        return {key: value for key, value in values.items() if value}


def parse_filters(params: Mapping[str, str], ctx: PageContext) -> LeadFilters:
    filters = LeadFilters()
    filters.text = params.get("q", "")[:200]
    stage = params.get("stage", "")
    column, _, _ = stage.partition(":")
    if column in ctx.pipeline.statuses:
        filters.stage = stage[:300]
    filters.needs = params.get("needs", "") in ("1", "on", "true")
    hub = params.get("hub", "")
    filters.hub = hub if hub in ("open", "closed", "none") else ""
    sort = params.get("sort", "name")
    filters.sort = sort if sort in SORTS or sort in ctx.pipeline.statuses else "name"
    filters.direction = "desc" if params.get("dir") == "desc" else "asc"
    page = params.get("page", "1")
    filters.page = max(1, min(int(page), 10**6)) if page.isdigit() else 1
    return filters


@dataclass(frozen=True)
class EffectView:
    effect: str
    kind: str
    what: str
    state: str
    attempts: int
    last_error: str
    next_attempt_at: datetime | None
    updated_at: datetime | None
    links: list[tuple[str, str]]
    issue: dict[str, Any] | None
    missing: list[str]
    retryable: bool


def effect_view(
    ctx: PageContext, entry: LedgerEntry, context: Mapping[str, str] | None = None
) -> EffectView:
    ref = entry.ref
    raw_links = ref.get("links") if isinstance(ref.get("links"), Mapping) else {}
    links = [(str(name), str(url)) for name, url in sorted(raw_links.items())]
    if not links and isinstance(ref.get("url"), str):
        links = [("link", ref["url"])]
    issue = None
    if ctx.is_hub(entry.effect) and ("number" in ref or "url" in ref):
        issue = {
            "number": ref.get("number"),
            "url": str(ref.get("url", "")),
            "state": str(ref.get("state", "open")),
        }
    missing = ref.get("missing") if isinstance(ref.get("missing"), list) else []
    return EffectView(
        effect=entry.effect,
        kind=ctx.kind(entry.effect),
        what=ctx.describe(entry.effect, context),
        state=entry.state.value,
        attempts=entry.attempts,
        last_error=entry.last_error,
        next_attempt_at=entry.next_attempt_at,
        updated_at=entry.updated_at,
        links=links,
        issue=issue,
        missing=[str(m) for m in missing],
        # A waiting effect is looked at again every cycle: there is nothing to re-arm.
        retryable=entry.state in (EffectState.PARKED, EffectState.FAILED),
    )


@dataclass(frozen=True)
class LeadLine:
    lead: LeadRow
    statuses: list[tuple[str, str]]
    done: int
    total: int
    problems: list[str]
    held: bool
    hub: dict[str, Any] | None


def _hub_of(ctx: PageContext, entries: Sequence[LedgerEntry]) -> dict[str, Any] | None:
    for entry in entries:
        if ctx.is_hub(entry.effect):
            view = effect_view(ctx, entry)
            if view.issue is not None:
                return {**view.issue, "effect_state": view.state}
            return {"number": None, "url": "", "state": "", "effect_state": view.state}
    return None


def _line(
    ctx: PageContext, lead: LeadRow, entries: Sequence[LedgerEntry], held: frozenset[str]
) -> LeadLine:
    problems = [
        e.effect
        for e in entries
        if e.state.value in PROBLEM_STATES
        # a quiet wait (a file not due yet) is no one's work yet
        and not (e.state is EffectState.WAITING and e.ref.get(QUIET))
    ]
    for e in entries:  # fields a check found empty and that are still empty now
        missing = e.ref.get("missing")
        if isinstance(missing, list) and any(not lead.value(str(f)).strip() for f in missing):
            problems.append(f"{e.effect}: fields missing")
    return LeadLine(
        lead=lead,
        statuses=[(c, lead.value(c)) for c in ctx.status_columns],
        done=sum(e.state is EffectState.DONE for e in entries),
        total=len(entries),
        problems=problems,
        held=lead.item_id in held,
        hub=_hub_of(ctx, entries),
    )


def leads(ctx: PageContext, params: Mapping[str, str]) -> dict[str, Any]:
    filters = parse_filters(params, ctx)
    size = ctx.settings.ui.page_size
    held = ctx.held_items()
    stage = None
    if filters.stage:
        column, _, label = filters.stage.partition(":")
        stage = (column, label)
    query = LeadQuery(
        text=filters.text,
        stage=stage,
        needs_person=filters.needs,
        held_items=held,
        hub=filters.hub,
        hub_effects=ctx.hub_effects(),
        sort=filters.sort,
        descending=filters.direction == "desc",
        offset=(filters.page - 1) * size,
        limit=size,
        status_labels={n: s.labels for n, s in ctx.pipeline.statuses.items()},
    )
    rows, total = ctx.queries.leads(query)
    pages = max(1, -(-total // size))
    if filters.page > pages and total:
        filters.page = pages
        rows, total = ctx.queries.leads(
            LeadQuery(**{**query.__dict__, "offset": (pages - 1) * size})
        )
    entries = ctx.queries.ledger_of([row.item_id for row in rows])
    stage_options = [
        (name, [*status.labels, *status.off_path]) for name, status in ctx.pipeline.statuses.items()
    ]
    return {
        "filters": filters,
        "lines": [_line(ctx, row, entries.get(row.item_id, []), held) for row in rows],
        "total": total,
        "pages": pages,
        "first": (filters.page - 1) * size + 1 if total else 0,
        "last": min(filters.page * size, total),
        "stage_options": stage_options,
        "sorts": [*SORTS, *ctx.status_columns],
    }


# ---------------------------------------------------------------- one lead


@dataclass(frozen=True)
class Event:
    at: datetime
    #: "status", "attempt" or "rearm".
    kind: str
    title: str
    outcome: str = ""
    detail: str = ""
    error: str = ""
    note: str = ""
    duration: str = ""


def _note(ctx: PageContext, attempt: EffectAttempt) -> str:
    """The note leadbridge posted on the item for this attempt, as ``notes.post`` decides."""
    post = ctx.settings.notes.post
    if attempt.outcome in ("done", "skipped") and post == "all" and attempt.summary:
        return attempt.summary
    if attempt.outcome == "parked" and post != "none":
        return f"could not {attempt.summary or attempt.effect}: {attempt.error}"
    return ""


def timeline(
    ctx: PageContext, changes: Sequence[StatusChange], attempts: Sequence[EffectAttempt]
) -> list[Event]:
    events = [
        Event(
            at=change.seen_at,
            kind="status",
            title=change.column.replace("_", " ").capitalize(),
            outcome="changed",
            detail=f"{change.old or EMPTY_LABEL} → {change.new or EMPTY_LABEL}",
        )
        for change in changes
    ]
    for attempt in attempts:
        if attempt.outcome == "rearmed":
            events.append(
                Event(attempt.finished_at, "rearm", attempt.effect, "re-armed", attempt.summary)
            )
            continue
        seconds = (attempt.finished_at - attempt.started_at).total_seconds()
        took = f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.0f} s"
        events.append(
            Event(
                at=attempt.finished_at,
                kind="attempt",
                title=f"{attempt.effect}, attempt {attempt.attempt}",
                outcome=attempt.outcome,
                detail=attempt.summary if attempt.outcome == "done" else "",
                error=attempt.error,
                note=_note(ctx, attempt),
                duration=took,
            )
        )
    events.sort(key=lambda event: event.at, reverse=True)
    return events


def lead(ctx: PageContext, item_id: str) -> dict[str, Any] | None:
    row = ctx.queries.lead(item_id)
    if row is None:
        return None
    entries = {entry.effect: entry for entry in ctx.store.ledger(item_id)}
    order = ctx.effect_order()
    ordered = [entries[name] for name in order if name in entries]
    ordered += [entry for name, entry in sorted(entries.items()) if name not in order]
    # The effects in the lead's own words, as a dry run would describe them.
    as_lead = Lead(row.item_id, row.name, {k: row.value(k) for k in row.values}, row.url)
    context = template_context(as_lead, done_links(entries), ctx.now.date())
    effects = [effect_view(ctx, entry, context) for entry in ordered]
    links = [  # hub issues are listed apart, with their open/closed state
        (view.effect, name, url)
        for view in effects
        if view.state == EffectState.DONE.value and view.issue is None
        for name, url in view.links
    ]
    return {
        "lead": row,
        "statuses": [(c, row.value(c)) for c in ctx.status_columns],
        "effects": effects,
        "links": links,
        "issues": [view.issue for view in effects if view.issue is not None],
        "held": item_id in ctx.held_items(),
        "events": timeline(ctx, ctx.store.status_changes(item_id), ctx.store.attempts(item_id)),
        "retryable": [view.effect for view in effects if view.retryable],
        "history_days": ctx.settings.ui.history_days,
    }


# ---------------------------------------------------------------- hubs


@dataclass(frozen=True)
class HubLine:
    lead: LeadRow
    signed_at: datetime | None
    days: int | None
    signed: bool
    hub: dict[str, Any] | None
    statuses: list[tuple[str, str]]


def hubs(ctx: PageContext) -> dict[str, Any]:
    column = ctx.settings.ui.signed_column
    label = ctx.settings.ui.signed_label
    status = ctx.pipeline.statuses.get(column)
    problem = ""
    labels: tuple[str, ...] = ()
    if status is None:
        problem = f"ui.signed_column: {column!r} is not a configured status column"
    elif status.position(label) is None:
        problem = f"ui.signed_label: {label!r} is not a label of {column}"
    else:
        labels = status.labels[status.labels.index(label) :]
    hub_effects = ctx.hub_effects()
    rows = ctx.queries.customers(column, labels, hub_effects)
    entries = ctx.queries.ledger_of([row.item_id for row in rows])
    signed_at = ctx.store.first_reached(column, labels)
    lines = []
    for row in rows:
        at = signed_at.get(row.item_id)
        lines.append(
            HubLine(
                lead=row,
                signed_at=at,
                days=(ctx.now - at).days if at else None,
                signed=row.value(column) in labels,
                hub=_hub_of(ctx, entries.get(row.item_id, [])),
                statuses=[(c, row.value(c)) for c in ctx.status_columns],
            )
        )
    states = Counter((line.hub or {}).get("state") or "none" for line in lines)
    return {
        "lines": lines,
        "problem": problem,
        "column": column,
        "label": label,
        "counts": sorted(states.items()),
    }


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{seconds // 60} min"
    if seconds < 36 * 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
