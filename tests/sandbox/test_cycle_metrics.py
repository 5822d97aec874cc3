"""Prometheus series after a known cycle of the real service against the sandbox."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY

from leadbridge.bootstrap import build_sync_service
from leadbridge.sandbox.config import write_sandbox_config
from leadbridge.sandbox.server import Sandbox
from leadbridge.sandbox.world import seed_demo_leads
from leadbridge.settings import load_settings


def _complexity_total() -> float:
    return REGISTRY.get_sample_value("leadbridge_monday_complexity_total") or 0.0


def test_monday_complexity_is_counted_once_per_point_the_board_charged(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    seed_demo_leads(sandbox.state)
    written = write_sandbox_config(
        sandbox, tmp_path, state_url=f"sqlite:///{tmp_path / 'state.db'}"
    )
    settings = load_settings(written.path, secrets_dir=written.secrets_dir)
    service = build_sync_service(settings)
    budget_before = sandbox.state.monday.complexity_budget
    counted_before = _complexity_total()

    report = service.run_cycle()

    charged = budget_before - sandbox.state.monday.complexity_budget
    assert report.read_ok and charged > 0
    assert report.complexity == charged
    assert _complexity_total() - counted_before == charged
