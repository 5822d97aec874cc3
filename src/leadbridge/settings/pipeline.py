"""The board model of the configuration: columns, effects and the rules that require them.

Effects are validated against the kind registry (``leadbridge.effects.registry``): each
kind's own model checks its settings, and its declared references (templates, link columns,
columns, labels, implied needs) are cross-checked here without naming any kind.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError, model_validator

from leadbridge.domain.model import EffectSpec, Pipeline, Rule, StatusColumn
from leadbridge.domain.planning import DependencyCycle, dependency_order
from leadbridge.settings.infra import Section

if TYPE_CHECKING:
    from leadbridge.effects.base import EffectParams
    from leadbridge.settings.loading import Settings

#: Placeholders every template may use besides the configured column names and link names.
BUILTIN_FIELDS = ("name", "item_id", "item_url", "date")


class ColumnSettings(Section):
    id: str
    type: Literal["status", "text", "long_text", "email", "link", "phone", "date", "numbers"] = (
        "text"
    )
    #: Status columns only: labels in pipeline order.
    labels: tuple[str, ...] = ()
    #: Status columns only: labels that exist but imply no effect (e.g. "Out of Scope").
    off_path: tuple[str, ...] = ()
    #: Status columns only: action labels, which ask for work rather than record it ("Create
    #: Quote"): a lead leadbridge first meets on one is a request, acted on, never adopted.
    #: A label whose rule's effect moves this column on (``set_status``) is one already.
    requests: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _labels_only_on_status(self) -> ColumnSettings:
        if self.type == "status" and not self.labels:
            raise ValueError(
                "a status column needs its labels in pipeline order. Fix: add labels: [...]"
            )
        if self.type != "status" and (self.labels or self.off_path or self.requests):
            raise ValueError(
                f"labels are only for status columns, this one is {self.type}. "
                "Fix: remove labels/off_path/requests or set type: status"
            )
        unknown = [label for label in self.requests if label not in self.labels]
        if unknown:
            raise ValueError(
                f"requests: {unknown[0]!r} is not one of this column's labels. "
                f"Fix: list only labels of labels: [...] ({', '.join(self.labels)})"
            )
        return self


class RuleSettings(Section):
    column: str
    label: str
    exactly: bool = False
    effects: tuple[str, ...]


def validate_effects(raw: Any) -> dict[str, EffectParams]:
    """Each effect by its kind's own model; every problem as a ``key: problem. Fix:`` line."""
    from leadbridge.effects.registry import KINDS
    from leadbridge.settings.loading import describe_validation_error

    if not isinstance(raw, Mapping):
        raise ValueError("effects: must be a mapping of effect names to settings")
    known = ", ".join(KINDS)
    problems: list[str] = []
    result: dict[str, EffectParams] = {}
    for name, value in raw.items():
        key = f"effects.{name}"
        if not isinstance(value, Mapping):
            problems.append(f"{key}: must be a mapping with a kind. Fix: add kind: one of {known}")
            continue
        kind = KINDS.get(str(value.get("kind", "")))
        if kind is None:
            problems.append(f"{key}.kind: unknown effect kind. Fix: use one of {known}")
            continue
        try:
            result[str(name)] = kind.params.model_validate(dict(value))
        except ValidationError as error:
            problems += [f"{key}.{line}" for line in describe_validation_error(error)]
    if problems:
        raise ValueError("\n".join(problems))
    return result


def all_needs(params: EffectParams) -> tuple[str, ...]:
    """Configured needs plus what the kind needs by its nature, each once."""
    from leadbridge.effects.registry import kind_of

    implied = kind_of(params.kind).implied_needs(params)
    return tuple(dict.fromkeys((*implied, *params.needs)))


def effect_ids(effects: Mapping[str, EffectParams]) -> dict[str, str]:
    """Configuration key → stable effect id."""
    return {key: params.id or key for key, params in effects.items()}


def build_pipeline(settings: Settings) -> Pipeline:
    """The core's view: every effect known by its stable id, never by its YAML key."""
    from leadbridge.effects.registry import kind_of

    ids = effect_ids(settings.effects)
    derived = action_labels(settings)
    statuses = {
        name: StatusColumn(
            name,
            column.labels,
            column.off_path,
            tuple(dict.fromkeys((*column.requests, *derived.get(name, ())))),
        )
        for name, column in settings.columns.items()
        if column.type == "status"
    }
    effects = {}
    for key, params in settings.effects.items():
        needs = tuple(ids[need] for need in all_needs(params))
        spec_params = kind_of(params.kind).with_ids(params, ids)
        effects[ids[key]] = EffectSpec(ids[key], params.kind, needs, spec_params)
    rules = tuple(
        Rule(r.column, r.label, tuple(ids[e] for e in r.effects), r.exactly) for r in settings.rules
    )
    return Pipeline(statuses, effects, rules)


def action_labels(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Per status column, the labels whose rule has an effect that moves that same column on
    (the questionnaire e-mail sets "Questionnaire Sent"): asking for it is the label's point."""
    from leadbridge.effects.registry import kind_of

    found: dict[str, list[str]] = {}
    for rule in settings.rules:
        for effect in rule.effects:
            params = settings.effects.get(effect)
            if params is None:
                continue
            written = {column for _, column, _ in kind_of(params.kind).statuses(params)}
            if rule.column in written and rule.label not in found.get(rule.column, []):
                found.setdefault(rule.column, []).append(rule.label)
    return {column: tuple(labels) for column, labels in found.items()}


def link_names(effects: Mapping[str, EffectParams]) -> set[str]:
    from leadbridge.effects.registry import kind_of

    return {link for p in effects.values() for link in kind_of(p.kind).links(p)}


def template_problems(key: str, template: str, allowed: set[str]) -> list[str]:
    try:
        names = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    except ValueError as error:
        return [
            f"{key}: template is malformed ({error}). Fix: double {{{{ and }}}} for literal braces"
        ]
    unknown = sorted(n for n in names if n not in allowed)
    if not unknown:
        return []
    return [
        f"{key}: unknown placeholder {{{unknown[0]}}}. "
        f"Fix: use one of {', '.join('{' + a + '}' for a in sorted(allowed))}"
    ]


def suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint} Known: {', '.join(known) or 'none'}"


def cross_check(s: Settings, *, secrets: bool = True) -> list[str]:
    """References between sections: rules → columns/labels/effects, effects → the rest.

    ``secrets=False`` leaves out what only talking to the services needs (the monday token,
    each port's requirements): for commands that read the state database alone.
    """
    from leadbridge.effects.registry import kind_of, ports_in_use

    problems: list[str] = []
    statuses = {n: c for n, c in s.columns.items() if c.type == "status"}
    links = {n for n, c in s.columns.items() if c.type == "link"}

    def status_label(key: str, column: str, label: str) -> None:
        if column not in statuses:
            problems.append(
                f"{key}: {column!r} is not a status column.{suggest(column, list(statuses))}. "
                "Fix: name a column of type status under columns"
            )
            return
        labels = [*statuses[column].labels, *statuses[column].off_path]
        if label not in labels:
            problems.append(
                f"{key}: column {column!r} has no label {label!r}.{suggest(label, labels)}. "
                "Fix: use one of its labels or add it to the column's labels"
            )

    for i, rule in enumerate(s.rules):
        status_label(f"rules[{i}]", rule.column, rule.label)
        for effect in rule.effects:
            if effect not in s.effects:
                problems.append(
                    f"rules[{i}].effects: no effect named {effect!r}."
                    f"{suggest(effect, list(s.effects))}. "
                    "Fix: define it under effects or correct the name"
                )
    fields = s.template_fields()
    column_types = {name: column.type for name, column in s.columns.items()}
    for name, params in s.effects.items():
        key = f"effects.{name}"
        kind = kind_of(params.kind)
        for need in all_needs(params):
            if need not in s.effects:
                problems.append(
                    f"{key}.needs: no effect named {need!r}.{suggest(need, list(s.effects))}. "
                    "Fix: define it or remove it from needs"
                )
        for column in kind.link_columns(params):
            if column not in links:
                problems.append(
                    f"{key}: link_column {column!r} is not a column of type link."
                    f"{suggest(column, sorted(links))}. Fix: add it under columns with type: link"
                )
        for template_key, template in kind.templates(params):
            problems += template_problems(f"{key}.{template_key}", template, fields)
        for status_key, column, label in kind.statuses(params):
            status_label(f"{key}.{status_key}", column, label)
        for column_key, column in kind.columns(params):
            if column not in s.columns and column not in BUILTIN_FIELDS:
                problems.append(
                    f"{key}.{column_key}: no column named {column!r}."
                    f"{suggest(column, list(s.columns))}. Fix: add it under columns or remove it"
                )
        problems += [f"{key}.{line}" for line in kind.problems(params, column_types)]
    seen: dict[str, str] = {}
    for key, effect_id in effect_ids(s.effects).items():
        if effect_id in seen:
            problems.append(
                f"effects.{key}.id: {effect_id!r} is already the id of effects.{seen[effect_id]}. "
                "Fix: give each effect its own id (an id names the effect's Drive files and "
                "e-mails, so keep an old id only on the effect that inherits its work)"
            )
        seen.setdefault(effect_id, key)
    if not problems:
        try:
            dependency_order({n: EffectSpec(n, p.kind, all_needs(p)) for n, p in s.effects.items()})
        except DependencyCycle as cycle:
            problems.append(
                f"effects: the needs form a cycle ({cycle}). Fix: remove one of these needs"
            )
    if s.effects or s.rules:
        from leadbridge.effects.services import missing_secret

        if secrets:
            problems += missing_secret(
                "monday.token", s.monday.token is not None, "the monday.com API token"
            )
        if not s.monday.board_id:
            problems.append("monday.board_id: missing. Fix: set the id of the leads board")
    ports = ports_in_use(list(s.effects.values()))
    for port in ports.values() if secrets else ():
        problems += port.requirements(s)
    problems += _alerts_problems(s, set(ports))
    problems += s.monday.webhook.problems(secrets=secrets)
    return problems


def _alerts_problems(s: Settings, ports: set[str]) -> list[str]:
    """Alerts go out through the mail backend, which exists only for an e-mail effect."""
    from leadbridge.effects.services import MAILER

    if not s.alerts.to or MAILER.name in ports:
        return []
    return [
        "alerts.to: alerts are e-mailed through the mail backend, but no effect sends e-mail, "
        "so none is set up. Fix: configure an e-mail effect and the mail section, or set "
        "alerts.to: [] to turn alerts off"
    ]
