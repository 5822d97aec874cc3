"""The monday.com Board adapter: GraphQL over httpx, pinned API version, one call per quiet poll."""

from leadbridge.adapters.monday.board import MondayBoard

__all__ = ["MondayBoard"]
