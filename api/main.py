"""ASGI entry point: ``uvicorn api.main:app --no-server-header`` or, in production,
``gunicorn -c python:api.server -w 2 api.main:app`` (api/server.py: uvicorn workers without the
server banner, metrics of every worker). Configuration comes from the environment (see
api/settings.py); with no API_KEYS nor API_KEYS_FILE the app refuses to start unless
API_ALLOW_DEMO_KEY=1, which accepts the public key ``demo-key``."""

from __future__ import annotations

from api.app import create_app

app = create_app()
