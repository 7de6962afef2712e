"""Dashboard tests: the API is faked behind HTTP (tests/dashboard/fake_http.py), and the pages
reach it through the shared client, built as the dashboard builds it (cached_api.make_client)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import cached_api
from tests.dashboard import fake_http
from tests.dashboard.fake_api import REFUSED_ID, FakeApi

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # The app serves no page without a key (dashboard/app.py); the fake API ignores it.
    monkeypatch.setenv("API_KEY", "dashboard-test-key")


@pytest.fixture(autouse=True)
def _clean_caches() -> Iterator[None]:
    # st.cache_data outlives a test: a response cached by one test must not serve the next.
    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    api = FakeApi()
    client = cached_api.make_client(
        "http://fake-api.test",
        "dashboard-test-key",
        10.0,
        transport=fake_http.transport(api),
        sleep=lambda seconds: None,  # the retry policy's waits, without waiting
    )
    monkeypatch.setattr(cached_api, "get_client", lambda: client)
    return api


AppFactory = Callable[..., AppTest]


@pytest.fixture
def open_page(fake_api: FakeApi) -> AppFactory:
    """Run the app on one page, for one client (None: no client chosen), in one language."""

    def _open(page: str, client_id: int | None = REFUSED_ID, lang: str = "en") -> AppTest:
        at = AppTest.from_file(APP, default_timeout=30)
        if client_id is not None:
            at.query_params["client_id"] = str(client_id)
        at.query_params["lang"] = lang
        at.switch_page(f"views/{page}.py")
        return at.run()

    return _open
