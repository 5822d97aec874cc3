"""From the current state of a lead to the effects it requires (level-triggered).

Nothing here looks at history: the same lead always yields the same plan, which is what lets
a lead that skipped statuses, or changed while leadbridge was down, get every effect it implies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from leadbridge.domain.ledger import SETTLED, LedgerEntry
from leadbridge.domain.model import EffectSpec, Lead, Pipeline, Rule


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


def waiting_for(spec: EffectSpec, ledger: Mapping[str, LedgerEntry]) -> list[str]:
    """The needs of ``spec`` not yet satisfied; re-asked as the cycle goes, because a need
    done earlier in the same cycle unblocks its dependants at once."""
    return [n for n in spec.needs if n not in ledger or ledger[n].state not in SETTLED]


def plan_lead(
    lead: Lead,
    pipeline: Pipeline,
    ledger: Mapping[str, LedgerEntry],
    order: list[str],
) -> list[str]:
    """The lead's required effects that are not settled yet, in dependency order."""
    required = required_effects(lead, pipeline)
    return [
        name
        for name in order
        if name in required and (name not in ledger or ledger[name].state not in SETTLED)
    ]


def effects_ahead(lead: Lead, pipeline: Pipeline) -> dict[str, Rule]:
    """Effects a later label would require, each with the first rule ahead that requires it.

    "Ahead" is further along a status column the lead is on, or anywhere on a column it has no
    label in yet; an off-path label ("Lost") has nothing ahead. What the lead requires now is
    left out: it is settled or being acted on, not ahead.
    """
    required = required_effects(lead, pipeline)
    ahead: dict[str, Rule] = {}
    for rule in pipeline.rules:
        status = pipeline.statuses[rule.column]
        current = lead.value(rule.column)
        if current and status.position(current) is None:
            continue
        here = status.position(current) if current else -1
        there = status.position(rule.label)
        if here is None or there is None or there <= here:
            continue
        for effect in close_over_needs(rule.effects, pipeline.effects):
            if effect not in required:
                ahead.setdefault(effect, rule)
    return ahead
