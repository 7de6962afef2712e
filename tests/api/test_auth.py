"""API key parsing and identification."""

from __future__ import annotations

import pytest

from api.auth import DEMO_KEY, KeyConfigError, KeyRing, digest


def test_plain_and_hashed_keys_are_accepted_and_stored_hashed() -> None:
    ring = KeyRing.parse(f"alice:secret-1, bob:sha256:{digest('secret-2')}")
    assert ring.identify("secret-1") == "alice"
    assert ring.identify("secret-2") == "bob"
    assert all("secret" not in stored for _, stored in ring.entries)


@pytest.mark.parametrize("presented", [None, "", "secret", "secret-11", "SECRET-1"])
def test_wrong_keys_are_refused(presented: str | None) -> None:
    assert KeyRing.parse("alice:secret-1").identify(presented) is None


@pytest.mark.parametrize(
    "spec", ["alice", "alice:", ":key", "bob:sha256:abc", "x:sha256:" + "g" * 64]
)
def test_malformed_specs_are_refused(spec: str) -> None:
    with pytest.raises(KeyConfigError):
        KeyRing.parse(spec)


def test_no_keys_refuses_unless_demo_allowed() -> None:
    with pytest.raises(KeyConfigError, match="API_ALLOW_DEMO_KEY"):
        KeyRing.parse("  ")
    ring = KeyRing.parse("", allow_demo=True)
    assert ring.identify(DEMO_KEY) == "demo"


def test_demo_key_is_not_accepted_when_keys_are_configured() -> None:
    assert KeyRing.parse("alice:secret-1", allow_demo=True).identify(DEMO_KEY) is None
