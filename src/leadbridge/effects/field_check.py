"""The columns a stage needs are filled in (MANIAC-T at In Scope), configured per rule.

Empty fields are an input only people can give: the check waits (one note on the item, shown
in ``status`` as needing a person) and is done in the first cycle after they are filled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from leadbridge.domain.errors import MissingInput
from leadbridge.domain.render import in_words, render
from leadbridge.effects.base import EffectContext, EffectKind, EffectOutcome, EffectParams


class FieldCheckParams(EffectParams):
    kind: Literal["field_check"]
    fields: tuple[str, ...]
    message: str = "These fields are still empty: {missing}. Please fill them in."


class FieldCheck(EffectKind[FieldCheckParams]):
    name = "field_check"
    params = FieldCheckParams

    def run(self, ctx: EffectContext[FieldCheckParams]) -> EffectOutcome:
        params = ctx.params
        missing = [name for name in params.fields if not ctx.lead.value(name).strip()]
        if missing:
            raise MissingInput(
                "leadbridge",
                render(params.message, {"missing": ", ".join(map(in_words, missing))}),
                fix="fill them in on the item; leadbridge looks again in its next cycle",
            )
        return EffectOutcome(summary="every field filled in", ref={"missing": []})

    def describe(self, params: FieldCheckParams, context: Mapping[str, str] | None = None) -> str:
        return "check that " + ", ".join(map(in_words, params.fields)) + " are filled in"

    def columns(self, params: FieldCheckParams) -> Iterable[tuple[str, str]]:
        return [("fields", column) for column in params.fields]

    def made(self, ref: Mapping[str, Any]) -> str:
        missing = ref.get("missing") or []
        return "fields missing: " + ", ".join(missing) if missing else "every field filled in"
