"""Running the web app under gunicorn, each worker building its own services after the fork.

The app is named by its import string so that `timeline/` never imports `api/`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

WSGI_FACTORY = "api.wsgi:create_app"

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "plain",
        }
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["stderr"], "level": "INFO"},
}
"""Every log line, the access log included, goes to standard error."""


def load_wsgi_app(target: str = WSGI_FACTORY) -> Callable[..., Any]:
    """Import `module:factory` and call the factory."""
    module_name, _, factory_name = target.partition(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    app: Callable[..., Any] = factory()
    return app


class TimelineServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn configured in code: no config file, no preloading before the fork."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Hand gunicorn our settings."""
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Callable[..., Any]:
        """Build the WSGI app in the worker."""
        return load_wsgi_app()


def run(*, host: str, port: int, workers: int, threads: int) -> None:
    """Serve until stopped; SIGTERM lets requests in flight finish first."""
    TimelineServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "preload_app": False,
            "graceful_timeout": 30,
            "timeout": 60,
            "keepalive": 5,
            "control_socket_disable": True,
            "logconfig_dict": LOGGING,
            "limit_request_line": 8190,
            "limit_request_fields": 100,
            "limit_request_field_size": 8190,
        }
    ).run()
