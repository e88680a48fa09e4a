"""ASGI entry point for uvicorn workers: ``uvicorn --factory spinemets.service.asgi:app_from_environment``.

Each worker process reads its settings from the environment (``SPINEMETS_*``, set by
``spinemets serve``) and builds its own app and connection pool.
"""

from __future__ import annotations

import logging
import sys

from fastapi import FastAPI

from spinemets.service.app import create_app
from spinemets.service.settings import ServiceSettings, load_settings


def configure_logging(settings: ServiceSettings) -> None:
    """One stderr handler on the ``spinemets`` logger (the access log never holds patient data)."""
    logger = logging.getLogger("spinemets")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(settings.log_level.upper())


def app_from_environment() -> FastAPI:
    """The app for one worker, configured from the environment."""
    settings = load_settings()
    configure_logging(settings)
    return create_app(settings)
