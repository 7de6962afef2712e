"""ASGI entry point: ``uvicorn api.main:app`` or ``gunicorn -k uvicorn_worker.UvicornWorker
api.main:app``. Configuration comes from the environment (see api/settings.py); with no
API_KEYS the app refuses to start unless API_ALLOW_DEMO_KEY=1, which accepts the public key
``demo-key``."""

from __future__ import annotations

from api.app import create_app

app = create_app()
