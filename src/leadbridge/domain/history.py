"""Which pipeline was in force, so that a configuration change is a first meeting too.

An effect is required when a status column shows one of its trigger labels (its own rules',
or those of an effect that needs it). Comparing the triggers in force now with the ones last
recorded tells which effects were added or widened: for those, a lead that already stood at a
new trigger when the change was first seen is history, and is adopted, not acted on (no
e-mail to every customer past the stage on the day a rule is added).
"""

from __future__ import annotations

from collections.abc import Mapping

from leadbridge.domain.model import Lead, Pipeline

#: (status column, label)
Trigger = tuple[str, str]
Triggers = Mapping[str, frozenset[Trigger]]


def triggers(pipeline: Pipeline) -> dict[str, frozenset[Trigger]]:
    """Effect id → every (column, label) at which the lead requires it."""
    found: dict[str, set[Trigger]] = {name: set() for name in pipeline.effects}
    for rule in pipeline.rules:
        column = pipeline.statuses[rule.column]
        if rule.exactly:
            labels: tuple[str, ...] = (rule.label,)
        else:
            start = column.position(rule.label)
            labels = column.labels[start:] if start is not None else ()
        for effect in rule.effects:
            found[effect].update((rule.column, label) for label in labels)
    # What an effect needs is required wherever the effect is.
    changed = True
    while changed:
        changed = False
        for name, spec in pipeline.effects.items():
            for need in spec.needs:
                if not found[name] <= found[need]:
                    found[need] |= found[name]
                    changed = True
    return {name: frozenset(pairs) for name, pairs in found.items()}


def widened(before: Triggers, now: Triggers) -> dict[str, frozenset[Trigger]]:
    """Effects added or widened since ``before``, each with the triggers it had then."""
    return {
        name: before.get(name, frozenset())
        for name, pairs in now.items()
        if pairs - before.get(name, frozenset())
    }


def required_under(lead: Lead, pairs: frozenset[Trigger]) -> bool:
    return any(lead.value(column) == label for column, label in pairs)


def to_document(found: Triggers) -> dict[str, list[list[str]]]:
    return {
        name: sorted([column, label] for column, label in pairs) for name, pairs in found.items()
    }


def from_document(document: Mapping[str, list[list[str]]]) -> dict[str, frozenset[Trigger]]:
    return {
        name: frozenset((column, label) for column, label in pairs)
        for name, pairs in document.items()
    }
