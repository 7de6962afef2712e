"""API_URL / API_KEY: environment first, then st.secrets, then safe defaults; no secrets file
must not crash."""

from __future__ import annotations

import pytest
import streamlit as st

from dashboard import settings


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("API_URL", "API_KEY", "API_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_without_env_or_secrets_file() -> None:
    loaded = settings.load_settings()
    assert loaded == settings.Settings("http://127.0.0.1:8000", "demo-key", 10.0)


def test_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_URL", "https://api.example")
    monkeypatch.setenv("API_KEY", "k")
    monkeypatch.setenv("API_TIMEOUT", "2.5")
    assert settings.load_settings() == settings.Settings("https://api.example", "k", 2.5)


def test_secrets_are_used_when_the_environment_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {"API_URL": "https://from-secrets", "API_KEY": "s3cret"}
    monkeypatch.setattr(st, "secrets", secrets)
    loaded = settings.load_settings()
    assert (loaded.api_url, loaded.api_key) == ("https://from-secrets", "s3cret")


def test_a_broken_secrets_file_falls_back_to_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def get(self, name: str) -> str:
            raise FileNotFoundError("no secrets.toml")

    monkeypatch.setattr(st, "secrets", Broken())
    monkeypatch.setenv("API_TIMEOUT", "soon")
    assert settings.load_settings() == settings.Settings("http://127.0.0.1:8000", "demo-key", 10.0)
