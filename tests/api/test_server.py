"""gunicorn's master prepares the fork: allocators bounded, libraries imported and frozen."""

from __future__ import annotations

import gc
import sys

import pytest

from api import server


def test_arrow_uses_the_system_allocator_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    server.bound_allocators()
    assert server.os.environ["ARROW_DEFAULT_MEMORY_POOL"] == "system"
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
    server.bound_allocators()
    assert server.os.environ["ARROW_DEFAULT_MEMORY_POOL"] == "jemalloc"  # an operator's choice


def test_preload_imports_the_app_libraries_and_freezes_them() -> None:
    try:
        server.preload()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    for module in (*server.PRELOADED, "pandas", "lightgbm", "pyarrow"):
        assert module in sys.modules
    assert "api.main" not in server.PRELOADED  # the app itself is built by each worker
