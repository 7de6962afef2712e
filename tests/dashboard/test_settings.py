"""API_URL / API_KEY: environment first, then st.secrets, then safe defaults (no default key);
no secrets file must not crash; without a key the app shows why and serves no page."""

from __future__ import annotations

import logging

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import settings
from tests.dashboard.conftest import APP
from tests.dashboard.fake_api import REFUSED_ID, FakeApi


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch, _api_key: None) -> None:
    for name in ("API_URL", "API_KEY", "API_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_without_env_or_secrets_file() -> None:
    loaded = settings.load_settings()
    assert loaded == settings.Settings("http://127.0.0.1:8000", "", 10.0)


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
    assert settings.load_settings() == settings.Settings("http://127.0.0.1:8000", "", 10.0)


@pytest.mark.parametrize(("lang", "words"), [("en", "no API key"), ("fr", "pas de clé d'API")])
def test_without_a_key_the_app_says_why_and_serves_no_page(
    fake_api: FakeApi, caplog: pytest.LogCaptureFixture, lang: str, words: str
) -> None:
    """No fallback to a demo key: a message on the page, one line in the log, no API call."""
    st.cache_resource.clear()  # the log line is once per server process
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["client_id"] = str(REFUSED_ID)
    at.query_params["lang"] = lang
    with caplog.at_level(logging.ERROR, logger="dashboard"):
        at.run()
    assert not at.exception
    (error,) = at.error
    assert words in error.value
    assert "API_KEY" in error.value
    assert not at.title  # no page ran
    assert not fake_api.calls
    logged = [r.getMessage() for r in caplog.records if r.name == "dashboard"]
    assert logged == [settings.MISSING_KEY]
