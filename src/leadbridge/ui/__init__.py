"""The status page: overview, leads, one lead's timeline, hubs, and retry buttons.

Server-rendered HTML (Jinja2, autoescaped), served by ``leadbridge run`` beside /healthz and
/metrics and by ``leadbridge serve-ui`` against the state database alone.
"""

from leadbridge.ui.app import Request, Response, UiApp
from leadbridge.ui.auth import NotConfigured
from leadbridge.ui.server import UiServer, build_app, serve_ui, ui_handler

__all__ = [
    "NotConfigured",
    "Request",
    "Response",
    "UiApp",
    "UiServer",
    "build_app",
    "serve_ui",
    "ui_handler",
]
