"""Key rotation and revocation on a running API, through API_KEYS_FILE: the old key is refused
within seconds, the new one accepted, and no call of a key that stays valid fails meanwhile."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.auth import digest
from tests.api.conftest import services_of

DEADLINE_S = 30.0  # how long the test waits for a change; the API takes API_KEYS_RELOAD_S


def replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def status(client: TestClient, key: str) -> int:
    return client.get("/v1/model", headers={"X-API-Key": key}).status_code


def wait_for(client: TestClient, key: str, expected: int) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while status(client, key) != expected:
        assert time.monotonic() < deadline, f"{key} still not {expected}"
        time.sleep(0.05)


def test_rotate_and_revoke_without_restart(make_client: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "api-keys"
    replace(path, f"advisor:old-advisor-key\nbatch:sha256:{digest('batch-key')}\n")
    with make_client(
        api_keys="", api_keys_file=path, api_keys_reload_s=0.2, api_warm_cache=False
    ) as client:
        assert status(client, "old-advisor-key") == 200
        assert status(client, "new-advisor-key") == 401

        # A key that stays valid is called without a pause during the whole rotation.
        statuses: list[int] = []
        stop = threading.Event()

        def steady() -> None:
            while not stop.is_set():
                statuses.append(status(client, "batch-key"))

        caller = threading.Thread(target=steady)
        caller.start()
        try:
            # 1. the new key is added next to the old one (clients switch over meanwhile)
            replace(
                path,
                "advisor:old-advisor-key\nadvisor-2:new-advisor-key\n"
                f"batch:sha256:{digest('batch-key')}\n",
            )
            wait_for(client, "new-advisor-key", 200)
            assert status(client, "old-advisor-key") == 200
            # 2. the old key is revoked
            replace(path, f"advisor-2:new-advisor-key\nbatch:sha256:{digest('batch-key')}\n")
            wait_for(client, "old-advisor-key", 401)
            assert status(client, "new-advisor-key") == 200
        finally:
            stop.set()
            caller.join()
        assert statuses, "the steady caller made no call"
        assert set(statuses) == {200}, f"{statuses.count(401)} calls lost out of {len(statuses)}"

        # Decisions are audited under the new key's name.
        services = services_of(client.app)  # type: ignore[arg-type]
        cid = int(services.store.ids[0])
        scored = client.get(f"/v1/clients/{cid}/score", headers={"X-API-Key": "new-advisor-key"})
        assert scored.status_code == 200
        assert services.audit.rows()[-1]["key_name"] == "advisor-2"
