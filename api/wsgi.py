"""The WSGI entry point for `timeline serve`: `api.wsgi:create_app()` builds one app per worker.

`timeline serve` creates the tables once before the workers start and tells them so with
TIMELINE_TABLES_READY=1; started any other way, each worker creates what is missing.
"""

from __future__ import annotations

import os
import sys

from flask import Flask

from api.app import create_app as create_flask_app
from timeline.bootstrap import build
from timeline.config import Config
from timeline.keys import IdempotencyKeys, Purger


def create_app() -> Flask:
    """Build the services from the environment, then the app."""
    interval = os.environ.get("TIMELINE_SWITCH_INTERVAL")
    if interval:
        sys.setswitchinterval(float(interval))
    services = build(Config.from_env(), create=os.environ.get("TIMELINE_TABLES_READY") != "1")
    # Every serving process purges old idempotency keys now and then, outside any append.
    Purger(IdempotencyKeys(services.engine, services.config.idempotency_retention_hours)).start()
    return create_flask_app(services)
