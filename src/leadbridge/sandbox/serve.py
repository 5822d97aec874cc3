"""``leadbridge sandbox serve``: the sandbox alone, with the demo leads, until interrupted."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import TextIO

from leadbridge.sandbox.config import write_sandbox_config
from leadbridge.sandbox.server import Sandbox
from leadbridge.sandbox.world import seed_demo_leads


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: int = 0,
    *,
    config_dir: Path | None = None,
    out: TextIO | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM, then return the exit status (0); with ``config_dir``, also
    write a configuration for it."""
    out = out or sys.stdout
    # Both signals only raise a flag, handled from before anything is printed, so one sent as
    # soon as the URL is read is never lost nor raised outside the wait (and even if the
    # parent left SIGINT ignored); the handler takes no lock.
    signals: list[int] = []
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda received, _: signals.append(received))
    sandbox = Sandbox(host, port, seed)
    seed_demo_leads(sandbox.state)
    sandbox.start()
    try:
        print(f"leadbridge sandbox listening on {sandbox.url}", file=out)
        print(f"  monday:   monday.api_url = {sandbox.url}/monday/v2", file=out)
        print(f"  google:   google.api_base_url = {sandbox.url}/google/", file=out)
        print(f"            google.token_uri = {sandbox.url}/google/token", file=out)
        print(f"  github:   github.base_url = {sandbox.url}/github", file=out)
        print(f"  state:    GET {sandbox.url}/_sandbox/state", file=out)
        print(f"  faults:   POST {sandbox.url}/_sandbox/faults", file=out)
        if config_dir is not None:
            written = write_sandbox_config(sandbox, config_dir)
            print(
                f"  config:   LEADBRIDGE_SECRETS_DIR={written.secrets_dir} "
                f"leadbridge --config {written.path} …",
                file=out,
            )
        out.flush()
        while not signals:
            time.sleep(0.2)  # a signal ends the sleep early; its handler has run by then
    finally:
        sandbox.stop()
        print("leadbridge sandbox stopped", file=out)
    return 0
