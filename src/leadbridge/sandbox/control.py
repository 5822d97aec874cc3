"""``{root}/_sandbox/…``: how a test in another process drives and inspects the sandbox.

- ``GET state`` — everything, as JSON (board items, notes, Drive files, mail, issues, counters)
- ``GET faults`` / ``POST faults`` (one rule or ``{"rules": [...]}``) / ``DELETE faults``
- ``POST board/items`` — ``{"items": [{"id"?, "name"?, "values": {column_id: value}}]}``:
  the sales team adds items (no ``id``) or changes them
- ``POST monday/expire_cursors`` — every open pagination cursor is now expired
- ``GET monday/account`` / ``POST monday/account`` — ``{"daily_limit"?, "others_today"?}``:
  the account's daily call limit and the calls its other tools made today (leadbridge's own
  are counted by the sandbox); answers today's figures
- ``GET monday/webhooks`` — the registered webhooks (with their URLs) and every delivery made
- ``DELETE monday/webhooks/{id}`` — a person removes a webhook in monday's UI, behind
  leadbridge's back
- ``POST monday/webhooks/signing_secret`` — ``{"secret": "…"}`` signs deliveries with a JWT, as
  for an app's webhooks; ``{"secret": null}`` sends them unsigned, as for a personal token's
- ``POST clock`` — ``{"advance_seconds": n}`` moves the sandbox's time forward
- ``POST google/delegation`` — ``{"scopes": [...]}``: the scopes domain-wide delegation grants
  (a grant for a delegated user asking for another is refused, as Google does)
- ``POST requests/reset`` — zero the request counters

Control requests are neither counted nor subject to faults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leadbridge.sandbox.http import Request, Response
from leadbridge.sandbox.monday_board import MondayError
from leadbridge.sandbox.world import add_item, set_values

if TYPE_CHECKING:
    from leadbridge.sandbox.server import Sandbox


class ControlApi:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def handle(self, request: Request) -> Response:
        key = (request.method, request.path.rstrip("/"))
        try:
            if key == ("GET", "/state"):
                return Response.json(200, self.sandbox.state.snapshot())
            if key == ("GET", "/faults"):
                return self._faults()
            if key == ("POST", "/faults"):
                body = request.json()
                for spec in body.get("rules", [body]) if isinstance(body, dict) else body:
                    self.sandbox.faults.add_from_json(spec)
                return self._faults()
            if key == ("DELETE", "/faults"):
                self.sandbox.faults.clear()
                return self._faults()
            if key == ("POST", "/board/items"):
                return self._items(request.json().get("items", []))
            if key == ("GET", "/monday/account"):
                return Response.json(200, self.sandbox.monday.account())
            if key == ("POST", "/monday/account"):
                body = request.json()
                return Response.json(
                    200,
                    self.sandbox.monday.set_account(
                        daily_limit=body.get("daily_limit"), others_today=body.get("others_today")
                    ),
                )
            if key == ("GET", "/monday/webhooks"):
                return Response.json(200, self.sandbox.monday.webhooks.describe())
            if key == ("POST", "/monday/webhooks/signing_secret"):
                secret = request.json().get("secret")
                with self.sandbox.state.lock:
                    self.sandbox.state.monday.webhook_signing_secret = (
                        str(secret) if secret is not None else None
                    )
                return Response.json(200, self.sandbox.monday.webhooks.describe())
            if key[0] == "DELETE" and key[1].startswith("/monday/webhooks/"):
                webhook_id = key[1].removeprefix("/monday/webhooks/")
                removed = self.sandbox.monday.webhooks.delete(webhook_id)
                if removed is None:
                    return Response.json(404, {"error": f"no webhook {webhook_id}"})
                return Response.json(200, {"deleted": removed.id})
            if key == ("POST", "/monday/expire_cursors"):
                return Response.json(200, {"expired": self.sandbox.monday.expire_cursors()})
            if key == ("POST", "/clock"):
                self.sandbox.state.clock.advance(float(request.json().get("advance_seconds", 0)))
                return Response.json(200, {"now": self.sandbox.state.clock.iso()})
            if key == ("POST", "/google/delegation"):
                scopes = request.json()["scopes"]
                with self.sandbox.state.lock:
                    self.sandbox.state.google.delegated_scopes = {str(s) for s in scopes}
                    return Response.json(
                        200, {"scopes": sorted(self.sandbox.state.google.delegated_scopes)}
                    )
            if key == ("POST", "/github/rename"):
                body = request.json()
                with self.sandbox.state.lock:
                    repo = self.sandbox.state.github.rename(body["from"], body["to"])
                return Response.json(200, {"full_name": repo.full_name, "id": repo.id})
            if key == ("POST", "/github/permissions"):
                with self.sandbox.state.lock:
                    self.sandbox.state.github.permissions.update(
                        {str(k): bool(v) for k, v in request.json().items()}
                    )
                    return Response.json(200, dict(self.sandbox.state.github.permissions))
            if key == ("POST", "/requests/reset"):
                self.sandbox.state.reset_counters()
                return Response.json(200, {})
        except (ValueError, KeyError, TypeError) as error:
            return Response.json(400, {"error": f"{type(error).__name__}: {error}"})
        except MondayError as error:
            return Response.json(400, {"error": str(error), **error.extensions})
        return Response.json(404, {"error": f"no control endpoint {request.method} {request.path}"})

    def _faults(self) -> Response:
        return Response.json(
            200, {"rules": [rule.describe() for rule in self.sandbox.faults.rules()]}
        )

    def _items(self, specs: list[dict[str, Any]]) -> Response:
        state = self.sandbox.state
        done = []
        with state.lock:
            for spec in specs:
                values = spec.get("values") or {}
                if spec.get("id"):
                    item_id = str(spec["id"])
                    if "name" in spec:
                        state.board().items[item_id].name = spec["name"]
                    set_values(state, item_id, values)
                else:
                    item_id = add_item(state, spec["name"], values)
                item = state.board().items[item_id]
                done.append({"id": item.id, "name": item.name, "updated_at": item.updated_at})
        return Response.json(200, {"items": done})
