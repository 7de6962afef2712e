"""The loaded app is frozen out of the garbage collector's reach while it serves, and given back
to it when it closes (api/services.py, freeze_loaded)."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

from tests.api.conftest import services_of


def test_the_loaded_app_is_frozen_while_it_serves(make_client: Callable[..., Any]) -> None:
    gc.unfreeze()
    with make_client(wait_cache=False) as client:
        store = services_of(client.app).store  # type: ignore[arg-type]
        assert gc.get_freeze_count() > 0
        frozen_before = gc.get_freeze_count()
        gc.collect()
        assert gc.get_freeze_count() == frozen_before  # a collection leaves them frozen
        assert len(store) > 0
    assert gc.get_freeze_count() == 0
