"""The dashboard's configuration: environment first, then st.secrets, then safe defaults.

API_URL, API_KEY and API_TIMEOUT say where the API is, which key to use and how long to wait;
DASHBOARD_LANG is the language a new session starts in (dashboard.i18n). API_KEY has no
default: without it the dashboard shows why and serves no page (dashboard/app.py), rather than
calling the API with a public demo key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

DEFAULT_API_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_S = 10.0
MISSING_KEY = (
    "dashboard: no API key configured: set API_KEY (an environment variable or a Streamlit "
    "secret) to a key the API accepts (`make demo` sets one)"
)


@dataclass(frozen=True)
class Settings:
    api_url: str
    api_key: str  # "" when none is configured: the app then refuses to serve
    timeout_s: float


def _secret(name: str) -> str | None:
    """A value from st.secrets, or None; a missing secrets.toml must not crash the app."""
    try:
        value = st.secrets.get(name)
    except Exception:  # StreamlitSecretNotFoundError, or a malformed file: use the defaults
        return None
    return str(value) if value not in (None, "") else None


def setting(name: str, default: str) -> str:
    """A setting from the environment, else st.secrets, else ``default``."""
    return os.environ.get(name) or _secret(name) or default


def load_settings() -> Settings:
    try:
        timeout = float(setting("API_TIMEOUT", str(DEFAULT_TIMEOUT_S)))
    except ValueError:
        timeout = DEFAULT_TIMEOUT_S
    return Settings(
        api_url=setting("API_URL", DEFAULT_API_URL),
        api_key=setting("API_KEY", "").strip(),
        timeout_s=timeout,
    )
