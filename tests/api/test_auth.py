"""API key parsing and identification, names bounded, and the keys file re-read when it changes
(rotation and revocation without a restart)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest

from api.auth import DEMO_KEY, KeyConfigError, KeyRing, ReloadingKeys, digest, load_keys


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


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("a" * 65 + ":s3cret-1", "key name 'aaaa"),
        ("bad name:s3cret-1", "key name 'bad name' is invalid"),
        ("nom-é:s3cret-1", "is invalid: 1 to 64 letters"),
        ("alice:s3cret-1,alice:s3cret-2", "key name 'alice' is given twice"),
        ("alice:s3cret-1,bob:s3cret-1", "keys 'alice' and 'bob' are the same key"),
    ],
)
def test_key_names_are_bounded_and_unique(spec: str, message: str) -> None:
    """A name reaches the audit log's 64-character column and the logs: refused at start-up,
    naming the entry but never showing the key."""
    with pytest.raises(KeyConfigError, match=re.escape(message)) as refused:
        KeyRing.parse(spec)
    assert "s3cret" not in str(refused.value)


def test_the_longest_name_is_accepted() -> None:
    assert KeyRing.parse(f"{'n' * 64}:secret-1").identify("secret-1") == "n" * 64


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, text: str) -> None:
    """Replace the file at once, as an operator's `mv new-keys keys` does."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def test_keys_file_is_reread_when_it_changes(
    tmp_path: Path, api_records: list[logging.LogRecord]
) -> None:
    path = tmp_path / "keys"
    write(path, "# advisors' keys\nold:old-secret\n\nbatch:sha256:" + digest("batch-secret"))
    clock = Clock()
    keys = ReloadingKeys(KeyRing.parse("ops:ops-secret"), path, 2.0, clock)
    assert [keys.identify(k) for k in ("old-secret", "batch-secret", "ops-secret")] == [
        "old", "batch", "ops",
    ]  # fmt: skip

    write(path, "new:new-secret\nbatch:sha256:" + digest("batch-secret"))
    assert keys.identify("old-secret") == "old"  # looked at no more often than every 2 s
    clock.now += 2.0
    assert keys.identify("old-secret") == "old"  # changed: read once it stays so for a look
    clock.now += 2.0
    assert keys.identify("old-secret") is None  # revoked
    assert keys.identify("new-secret") == "new"  # rotated in
    assert keys.identify("batch-secret") == "batch"
    assert keys.identify("ops-secret") == "ops"  # API_KEYS stay
    assert [r.getMessage() for r in api_records] == [f"API keys reloaded from {path}: 3 keys"]


@pytest.mark.parametrize(
    "broken", ["nonsense", "bad name:key", "ops:other", "dup:ops-secret", None]
)
def test_a_broken_keys_file_keeps_the_previous_keys(
    tmp_path: Path, api_records: list[logging.LogRecord], broken: str | None
) -> None:
    """Malformed, clashing with API_KEYS, or gone: one error line, the last good keys stay."""
    path = tmp_path / "keys"
    write(path, "old:old-secret")
    clock = Clock()
    keys = ReloadingKeys(KeyRing.parse("ops:ops-secret"), path, 1.0, clock)
    if broken is None:
        path.unlink()
    else:
        write(path, broken)
    for _ in range(5):
        clock.now += 1.0
        assert keys.identify("old-secret") == "old"
        assert keys.identify("ops-secret") == "ops"
    (line,) = api_records  # one line for the change, not one per look
    assert line.levelname == "ERROR"
    assert line.getMessage().endswith("keeping the previous 2 keys")
    assert "other" not in line.getMessage()
    assert "ops-secret" not in line.getMessage()


def test_an_emptied_keys_file_revokes_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    write(path, "old:old-secret")
    clock = Clock()
    keys = ReloadingKeys(KeyRing.parse("ops:ops-secret"), path, 1.0, clock)
    write(path, "# every file key revoked\n")
    for _ in range(2):
        clock.now += 1.0
        keys.identify("ops-secret")
    assert keys.identify("old-secret") is None
    assert keys.identify("ops-secret") == "ops"


def test_keys_file_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match="cannot be read"):
        load_keys("", tmp_path / "missing", 1.0)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(KeyConfigError, match="no API keys configured"):
        load_keys("", empty, 1.0, allow_demo=True)  # a file configured: no demo key
    bad = tmp_path / "bad"
    bad.write_text("x" * 70 + ":secret")
    with pytest.raises(KeyConfigError, match="is invalid"):
        load_keys("", bad, 1.0)
    good = tmp_path / "good"
    good.write_text("alice:secret-1")
    assert load_keys("bob:secret-2", good, 1.0).identify("secret-2") == "bob"
    assert isinstance(load_keys("bob:secret-2", None, 1.0), KeyRing)


def test_a_file_caught_half_written_is_not_taken_for_the_new_keys(tmp_path: Path) -> None:
    """An editor saving in place empties the file, then writes it: a look in between sees an
    empty file, which would revoke every key; it is read only once it has stayed the same."""
    path = tmp_path / "keys"
    path.write_text("old:old-secret\nnew:new-secret\n")
    clock = Clock()
    keys = ReloadingKeys(KeyRing(()), path, 1.0, clock)
    path.write_text("")  # truncated, caught by the next look
    clock.now += 1.0
    assert keys.identify("old-secret") == "old"
    path.write_text("new:new-secret\n")  # the save completes
    clock.now += 1.0
    assert keys.identify("new-secret") == "new"
    clock.now += 1.0
    assert keys.identify("old-secret") is None  # now read
    assert keys.identify("new-secret") == "new"


def test_a_hash_inside_a_key_is_part_of_it() -> None:
    ring = KeyRing.parse("# a comment line\nalice:se#cret-1")
    assert ring.identify("se#cret-1") == "alice"
    assert ring.identify("se") is None
