"""A warning on the item when fields a stage needs are still empty (MANIAC-T at In Scope)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from leadbridge.domain.render import render
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
            warning = render(params.message, {"missing": ", ".join(missing)})
            # Posted by the effect itself, whatever notes.post says: it is its whole purpose.
            ctx.board.post_note(ctx.lead.item_id, f"leadbridge: {warning}")
        return EffectOutcome(summary="", ref={"missing": missing})

    def describe(self, params: FieldCheckParams, context: Mapping[str, str] | None = None) -> str:
        return "check that " + ", ".join(params.fields) + " are filled in"

    def columns(self, params: FieldCheckParams) -> Iterable[tuple[str, str]]:
        return [("fields", column) for column in params.fields]

    def made(self, ref: Mapping[str, Any]) -> str:
        missing = ref.get("missing") or []
        return "fields missing: " + ", ".join(missing) if missing else "every field filled in"
