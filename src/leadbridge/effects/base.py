"""What an effect kind declares, once, so that nothing else has to know about it.

An effect kind is one class: its configuration model, the port it talks through, what it does
(``run``), how it is said in plain words (``describe``), and the references its configuration
makes (templates, links, columns, labels) so that configuration checks, dry runs, wiring and
the status page are all derived from the declaration instead of being repeated per kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from leadbridge.domain.errors import PermanentError
from leadbridge.domain.ledger import LedgerEntry
from leadbridge.domain.model import ColumnValue, EffectSpec, Lead, Pipeline
from leadbridge.domain.ports import Board
from leadbridge.domain.render import template_context

if TYPE_CHECKING:
    from leadbridge.settings import Settings


class EffectParams(BaseModel):
    """The configuration of one effect; each kind subclasses it with ``kind: Literal[...]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    needs: tuple[str, ...] = ()
    #: The effect's identity on the far side (Drive tags, Message-IDs) and in the ledger.
    #: Defaults to its key, and is kept when the key is renamed, so a rename repeats nothing.
    id: str | None = Field(None, min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$")
    #: When this effect is added or widened on a running deployment, act on the leads
    #: already past its trigger instead of adopting them (see ``domain.history``).
    backfill: bool = False


P = TypeVar("P", bound=EffectParams)


@dataclass(frozen=True)
class PortSpec:
    """A service an effect kind talks through, and how the one wiring place builds it.

    ``build`` names ``module:callable`` (called with the settings) so that an SDK is imported
    only when a configured effect needs it, and never by the core.
    """

    name: str
    service: str
    build: str
    #: Problems with the settings this port needs (missing secrets, ids), as config lines.
    requirements: Callable[[Settings], list[str]] = lambda settings: []


@dataclass(frozen=True)
class EffectOutcome:
    """What an effect produced: ledger reference, new links, board write-back and a summary."""

    summary: str
    ref: Mapping[str, Any] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)
    writes: Mapping[str, ColumnValue] = field(default_factory=dict)


@dataclass(frozen=True)
class EffectContext(Generic[P]):
    lead: Lead
    spec: EffectSpec
    params: P
    entry: LedgerEntry
    #: The lead's other ledger entries, by effect name (for refs of what it needs).
    ledger: Mapping[str, LedgerEntry]
    #: ``<link name> → url`` of everything done for this lead so far.
    links: Mapping[str, str]
    today: date
    pipeline: Pipeline
    board: Board
    #: Gives the adapter of the kind's port (None when the kind needs none), built when
    #: first asked for: an effect that only finds it must wait loads no SDK.
    port_factory: Callable[[], Any]
    #: What the kind derived from the deployment's settings (see ``EffectKind.environment``).
    env: Mapping[str, Any]
    #: True when the previous attempt was interrupted mid-call (entry found RUNNING).
    interrupted: bool = False
    #: An earlier attempt may have acted: it was interrupted, or it failed without the
    #: service saying for certain that nothing happened. Survives re-arming.
    previously_attempted: bool = False
    #: The cycle's clock (None only in contexts built outside a cycle).
    now: datetime | None = None

    @property
    def port(self) -> Any:
        return self.port_factory()

    def context(self) -> dict[str, str]:
        return template_context(self.lead, self.links, self.today)

    def require_port(self) -> Any:
        port = self.port
        if port is None:
            raise PermanentError(
                "leadbridge",
                f"no adapter is configured for {self.spec.kind} effects",
                fix="configure the service this effect uses (see leadbridge check)",
            )
        return port


class EffectKind(Generic[P]):
    """One kind of effect. Subclasses set the class attributes and implement ``run``.

    Every hook but ``run`` and ``describe`` has a default that declares nothing, so a kind
    states only what it has.
    """

    name: ClassVar[str]
    params: ClassVar[type[EffectParams]]
    port: ClassVar[PortSpec | None] = None

    def run(self, ctx: EffectContext[P]) -> EffectOutcome:
        raise NotImplementedError

    def resolve(self, ctx: EffectContext[P]) -> EffectOutcome | None:
        """An attempt was interrupted and the lead no longer needs the effect: make sure
        nothing stays half made. By default: finish it (every ``run`` finds what an earlier
        attempt made). None: it had not acted, and is left undone."""
        return self.run(ctx)

    def describe(self, params: P, context: Mapping[str, str] | None = None) -> str:
        """Plain words for dry runs, notes and the status page, filled in for a lead if given."""
        raise NotImplementedError

    def implied_needs(self, params: P) -> tuple[str, ...]:
        """Effects (by configuration key) this one needs by its nature (the copies' folder)."""
        return ()

    def with_ids(self, params: P, ids: Mapping[str, str]) -> P:
        """``params`` with every effect key it names turned into that effect's id."""
        return params

    def templates(self, params: P) -> Iterable[tuple[str, str]]:
        """``(key, template)`` pairs whose placeholders are checked against known fields."""
        return ()

    def links(self, params: P) -> Iterable[str]:
        """Link names this effect produces; each becomes ``{<link>_url}`` for templates."""
        return ()

    def link_columns(self, params: P) -> Iterable[str]:
        """Board columns of type link this effect writes."""
        return ()

    def columns(self, params: P) -> Iterable[tuple[str, str]]:
        """``(key, column)``: board columns this effect reads by name."""
        return ()

    def statuses(self, params: P) -> Iterable[tuple[str, str, str]]:
        """``(key, column, label)``: status labels this effect writes."""
        return ()

    def problems(self, params: P, column_types: Mapping[str, str]) -> Iterable[str]:
        """Configuration problems only the kind can judge, as ``key: problem. Fix: …`` lines
        (``key`` within the effect); ``column_types`` is column name → its configured type."""
        return ()

    def environment(self, settings: Settings) -> Mapping[str, Any]:
        """Deployment facts the kind needs besides its own settings (a parent folder)."""
        return {}

    def made(self, ref: Mapping[str, Any]) -> str:
        """One line on what a done effect made, from its ledger reference."""
        return str(ref.get("url", "")) or "done"

    def existing(self, ctx: EffectContext[P]) -> str | None:
        """What an earlier leadbridge already made for this lead on the far side (a link), by
        the same lookup ``run`` does first; None when nothing is found or it cannot tell.

        Asked when a board is met with an empty state database: finding something means this
        board was worked before from another database, and its leads are not new."""
        return None

    def adopt(self, ctx: EffectContext[P]) -> Mapping[str, Any] | None:
        """What staff made by hand for an effect being adopted, read from the item's link
        columns and checked on the far side (never guessed from a name), as the reference a
        done effect would have (``links`` included): later effects of the lead use it as if
        leadbridge had made it. None when the board shows nothing this kind can use.

        A failure here is logged by the caller and the effect is adopted without it."""
        return None

    def refresh(
        self, port: Any, entries: list[LedgerEntry]
    ) -> list[tuple[LedgerEntry, Mapping[str, Any]]]:
        """On a full reconcile: ``(entry, new ref)`` for done entries whose far side changed."""
        return []

    def refreshes(self) -> bool:
        return type(self).refresh is not EffectKind.refresh
