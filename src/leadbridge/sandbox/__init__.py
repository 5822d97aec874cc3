"""A local stand-in for monday.com, Google and GitHub, for the demo and end-to-end tests.

``Sandbox`` serves all three on one loopback port with inspectable state and a fault plan;
``write_sandbox_config`` points a leadbridge configuration at it; ``serve`` runs it alone.
"""

from leadbridge.sandbox.config import SandboxConfig, write_sandbox_config
from leadbridge.sandbox.faults import FaultPlan, FaultRule
from leadbridge.sandbox.serve import serve
from leadbridge.sandbox.server import Sandbox
from leadbridge.sandbox.world import (
    DEMO_LEADS,
    SeedLead,
    add_item,
    seed_board,
    seed_demo_leads,
    set_values,
)

__all__ = [
    "DEMO_LEADS",
    "FaultPlan",
    "FaultRule",
    "Sandbox",
    "SandboxConfig",
    "SeedLead",
    "add_item",
    "seed_board",
    "seed_demo_leads",
    "serve",
    "set_values",
    "write_sandbox_config",
]
