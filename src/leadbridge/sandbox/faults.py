"""The fault plan: which request fails, how, and how often.

A rule names an API and an operation (``"*"`` for any) and a kind. It fires either for a
number of matching requests (``times``, after skipping ``after`` of them) or with a seeded
probability, so a failing run can be replayed exactly: the same seed and the same sequence of
requests give the same faults.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

APIS = ("monday", "drive", "docs", "sheets", "gmail", "github", "oauth")

FaultKind = Literal[
    "status",
    "rate_limit",
    "complexity",
    "commit_then_502",
    "commit_then_drop",
    "latency",
    "drop_connection",
    "malformed_body",
]
KINDS: tuple[str, ...] = FaultKind.__args__  # type: ignore[attr-defined]


@dataclass
class FaultRule:
    """One way to fail.

    ``status`` answers ``status`` (with ``headers`` and, if given, ``body``; otherwise the
    API's own error shape); ``rate_limit`` answers each API's rate-limit shape (monday 429,
    Drive/Docs/Sheets/Gmail 403 ``rateLimitExceeded``, GitHub 403 secondary limit) with
    ``retry_after``; ``complexity`` is monday's ``COMPLEXITY_BUDGET_EXHAUSTED``;
    ``commit_then_*`` performs the request and then loses the answer; ``latency`` waits
    ``seconds`` and then answers normally.
    """

    api: str
    operation: str = "*"
    kind: FaultKind = "status"
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    retry_after: int | None = None
    seconds: float = 0.0
    #: Requests to fail; default 1, or unlimited for a probabilistic rule (``probability=1.0``
    #: fails every matching request until the rule is removed).
    times: int | None = None
    after: int = 0
    probability: float | None = None
    #: How many requests matched, and how many of them were failed.
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.api not in APIS:
            raise ValueError(f"unknown api {self.api!r}; use one of {', '.join(APIS)}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {', '.join(KINDS)}")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must lie between 0 and 1")
        if self.times is None and self.probability is None:
            self.times = 1

    def matches(self, api: str, operations: Iterable[str]) -> bool:
        return self.api == api and (self.operation == "*" or self.operation in operations)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def describe(self) -> dict[str, Any]:
        return {
            "api": self.api,
            "operation": self.operation,
            "kind": self.kind,
            "status": self.status,
            "times": self.times,
            "after": self.after,
            "probability": self.probability,
            "seen": self.seen,
            "fired": self.fired,
        }


class FaultPlan:
    """Rules in the order they were added; the first rule that fires decides."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._rules: list[tuple[FaultRule, random.Random]] = []
        self._lock = threading.Lock()
        self._added = 0

    def add(
        self, api: str, operation: str = "*", kind: FaultKind = "status", **options: Any
    ) -> FaultRule:
        rule = FaultRule(api=api, operation=operation, kind=kind, **options)
        with self._lock:
            # Each rule draws from its own generator, so adding a rule never shifts the
            # decisions of another one.
            generator = random.Random(f"{self.seed}:{self._added}")
            self._added += 1
            self._rules.append((rule, generator))
        return rule

    def add_from_json(self, spec: Mapping[str, Any]) -> FaultRule:
        allowed = {
            "status",
            "headers",
            "body",
            "retry_after",
            "seconds",
            "times",
            "after",
            "probability",
        }
        unknown = set(spec) - allowed - {"api", "operation", "kind"}
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        options = {key: spec[key] for key in allowed if key in spec}
        return self.add(
            spec["api"], spec.get("operation", "*"), spec.get("kind", "status"), **options
        )

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return [rule for rule, _ in self._rules]

    def pick(self, api: str, operations: Iterable[str]) -> FaultRule | None:
        """The rule that fails this request, if any; counts the request against the rules."""
        operations = tuple(operations)
        with self._lock:
            for rule, generator in self._rules:
                if rule.exhausted or not rule.matches(api, operations):
                    continue
                rule.seen += 1
                if rule.seen <= rule.after:
                    continue
                if rule.probability is not None and generator.random() >= rule.probability:
                    continue
                rule.fired += 1
                return rule
        return None
