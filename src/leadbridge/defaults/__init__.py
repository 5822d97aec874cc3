"""What the package ships: the default pipeline (``pipeline.yaml``).

Its ``columns``, ``effects`` and ``rules`` are those of config/leadbridge.example.yaml (a test
compares them); the sandbox builds its board from it and ``leadbridge init`` fits it to a board.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


@cache
def default_pipeline() -> dict[str, Any]:
    """``columns``, ``effects`` and ``rules`` of the packaged default pipeline (shared: copy
    before changing it)."""
    text = resources.files("leadbridge").joinpath("defaults/pipeline.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data
