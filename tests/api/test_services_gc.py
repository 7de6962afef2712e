"""The loaded app is frozen out of the garbage collector's reach while it serves, and given back
to it when it closes (api/services.py, freeze_loaded)."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

from tests.api.conftest import services_of


def test_the_loaded_app_is_frozen_while_it_serves(make_client: Callable[..., Any]) -> None:
    gc.unfreeze()
    with make_client() as client:
        store = services_of(client.app).store
        assert gc.get_freeze_count() > 0  # (frozen objects still go when their count drops)
        assert len(store) > 0
    assert gc.get_freeze_count() == 0, "closing the app unfreezes"
