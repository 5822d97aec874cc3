"""From the current state of a lead to the effects it requires (level-triggered).

Nothing here looks at history: the same lead always yields the same plan, which is what lets
a lead that skipped statuses, or changed while leadbridge was down, get every effect it implies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from leadbridge.domain.ledger import SATISFIES_DEPENDENCY, SETTLED, LedgerEntry
from leadbridge.domain.model import EffectSpec, Lead, Pipeline


class DependencyCycle(ValueError):
    """The configured ``needs`` form a loop; no order can satisfy it."""


def required_effects(lead: Lead, pipeline: Pipeline) -> set[str]:
    """Every effect implied by the lead's current statuses, plus what those effects need."""
    wanted: set[str] = set()
    for rule in pipeline.rules:
        if rule.matches(lead, pipeline.statuses):
            wanted.update(rule.effects)
    return close_over_needs(wanted, pipeline.effects)


def close_over_needs(names: Iterable[str], effects: Mapping[str, EffectSpec]) -> set[str]:
    """Copying templates into a folder needs the folder even if no rule asked for it yet."""
    result: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in result:
            continue
        result.add(name)
        stack.extend(effects[name].needs)
    return result


def dependency_order(effects: Mapping[str, EffectSpec]) -> list[str]:
    """All effect names, each after everything it needs; stable by configuration order."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = placed

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            loop = [*path[path.index(name) :], name]
            raise DependencyCycle(" → ".join(loop))
        state[name] = 1
        for need in effects[name].needs:
            visit(need, [*path, name])
        state[name] = 2
        order.append(name)

    for name in effects:
        visit(name, [])
    return order


@dataclass(frozen=True)
class PlannedEffect:
    item_id: str
    effect: str
    waiting_for: tuple[str, ...] = ()


def plan_lead(
    lead: Lead,
    pipeline: Pipeline,
    ledger: Mapping[str, LedgerEntry],
    order: list[str],
) -> list[PlannedEffect]:
    """The lead's required effects that are not settled yet, in dependency order.

    ``waiting_for`` lists needs that are not yet done; the cycle re-checks them as it goes,
    because a need done earlier in the same cycle unblocks its dependants at once.
    """
    required = required_effects(lead, pipeline)
    planned = []
    for name in order:
        if name not in required:
            continue
        entry = ledger.get(name)
        if entry is not None and entry.state in SETTLED:
            continue
        waiting = tuple(
            need
            for need in pipeline.effects[name].needs
            if ledger.get(need) is None or ledger[need].state not in SATISFIES_DEPENDENCY
        )
        planned.append(PlannedEffect(lead.item_id, name, waiting))
    return planned
