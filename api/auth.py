"""API keys: named keys from the environment (API_KEYS) and from a file re-read when it changes
(API_KEYS_FILE: rotation and revocation without a restart), kept only as SHA-256 digests and
compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

DEMO_KEY = "demo-key"
DEMO_KEY_NAME = "demo"
# A key name reaches the audit log (a 64-character column), the logs and the rate-limit store.
NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
NAME_RULE = "1 to 64 letters, digits, '.', '_' or '-'"

log = logging.getLogger("api.auth")


class KeyConfigError(ValueError):
    """API_KEYS or API_KEYS_FILE is malformed, or no key is configured while the demo key is
    not allowed."""


class KeySource(Protocol):
    """What a request's key is checked against."""

    def identify(self, presented: str | None) -> str | None: ...


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _entries(spec: str) -> list[str]:
    """Entries separated by commas or new lines; blank lines and lines starting with ``#`` are
    skipped (a ``#`` elsewhere may be part of a key)."""
    lines = (line for line in spec.splitlines() if not line.lstrip().startswith("#"))
    return [item.strip() for line in lines for item in line.split(",") if item.strip()]


@dataclass(frozen=True)
class KeyRing:
    """Accepted keys as (name, sha256 hex digest) pairs."""

    entries: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, spec: str, allow_demo: bool = False, source: str = "API_KEYS") -> KeyRing:
        """Parse ``name:key,name2:sha256:<hex>``; refuse an empty spec, except that the demo
        key is accepted when nothing is configured and it is explicitly allowed."""
        ring = cls.read(spec, source)
        if ring.entries:
            return ring
        if not allow_demo:
            raise _no_keys_error()
        return cls(((DEMO_KEY_NAME, digest(DEMO_KEY)),))

    @classmethod
    def read(cls, spec: str, source: str) -> KeyRing:
        """The entries of `spec` (commas or new lines), possibly none. Errors name `source` and
        the key's name, never the key."""
        entries: list[tuple[str, str]] = []
        for item in _entries(spec):
            name, sep, secret = item.partition(":")
            if not sep or not name or not secret:
                raise KeyConfigError(f"{source}: each entry must be name:key or name:sha256:<hex>")
            if not NAME_PATTERN.fullmatch(name):
                raise KeyConfigError(f"{source}: key name {name[:70]!r} is invalid: {NAME_RULE}")
            if secret.startswith("sha256:"):
                hexdigest = secret.removeprefix("sha256:").lower()
                if len(hexdigest) != 64 or any(c not in "0123456789abcdef" for c in hexdigest):
                    raise KeyConfigError(f"{source}: key {name!r} has a malformed sha256 digest")
                entries.append((name, hexdigest))
            else:
                entries.append((name, digest(secret)))
        ring = cls(tuple(entries))
        ring.check_unique(source)
        return ring

    def check_unique(self, source: str) -> None:
        """Two entries with one name (whose calls could not be told apart in the audit log), or
        one key under two names, are refused."""
        names: set[str] = set()
        digests: dict[str, str] = {}
        for name, hexdigest in self.entries:
            if name in names:
                raise KeyConfigError(f"{source}: key name {name!r} is given twice")
            if hexdigest in digests:
                raise KeyConfigError(
                    f"{source}: keys {digests[hexdigest]!r} and {name!r} are the same key"
                )
            names.add(name)
            digests[hexdigest] = name

    def __add__(self, other: KeyRing) -> KeyRing:
        return KeyRing(self.entries + other.entries)

    def identify(self, presented: str | None) -> str | None:
        """Name of the key presented, or None. Every entry is compared, so timing does not tell
        which key (or how much of it) matched."""
        if not presented:
            return None
        candidate = digest(presented)
        found: str | None = None
        for name, expected in self.entries:
            if hmac.compare_digest(candidate, expected):
                found = name
        return found


def _no_keys_error() -> KeyConfigError:
    return KeyConfigError(
        "no API keys configured: set API_KEYS=name:key or API_KEYS_FILE "
        "(or API_ALLOW_DEMO_KEY=1 to accept the public demo key 'demo-key')"
    )


class ReloadingKeys:
    """The keys of API_KEYS plus those of a file, which is re-read when it changes: looked at
    (one stat) at most every `interval_s`, on a request, and re-read once a change has stayed
    the same for one more look, so that a file caught half-written by an editor that saves in
    place is never taken for the new keys. A file that turns unreadable or malformed keeps the
    previous keys and says so in one log line per change of the file."""

    def __init__(
        self,
        fixed: KeyRing,
        path: Path,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fixed = fixed
        self.path = path
        self.interval_s = interval_s
        self._clock = clock
        self._signature = self._stat()
        if self._signature is None:
            raise KeyConfigError(f"API_KEYS_FILE: {path} cannot be read")
        self.ring = self._read()  # a bad file at start-up stops the API
        self._pending: tuple[int, int, int] | None = None  # a change seen once
        self._next_check = clock() + interval_s

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def _read(self) -> KeyRing:
        source = f"API_KEYS_FILE {self.path}"
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise KeyConfigError(f"{source} cannot be read: {type(error).__name__}") from None
        ring = self.fixed + KeyRing.read(text, source)
        ring.check_unique(f"API_KEYS and {source}")
        return ring

    def refresh(self) -> None:
        """Re-read the file if it changed, and has not changed since the previous look."""
        signature = self._stat()
        if signature == self._signature:
            self._pending = None
            return
        if signature != self._pending:
            self._pending = signature  # still being written, perhaps: look again next time
            return
        self._signature, self._pending = signature, None
        try:
            if signature is None:
                raise KeyConfigError(f"API_KEYS_FILE {self.path} cannot be read")
            ring = self._read()
        except KeyConfigError as error:
            log.error("%s; keeping the previous %d keys", error, len(self.ring.entries))
            return
        self.ring = ring
        log.warning("API keys reloaded from %s: %d keys", self.path, len(ring.entries))
        if not ring.entries:
            log.warning("no API key is accepted any more: every /v1 call gets 401")

    def identify(self, presented: str | None) -> str | None:
        now = self._clock()
        if now >= self._next_check:
            self._next_check = now + self.interval_s
            self.refresh()
        return self.ring.identify(presented)


def load_keys(
    spec: str, path: Path | None, interval_s: float, allow_demo: bool = False
) -> KeySource:
    """The keys the API accepts: API_KEYS, plus API_KEYS_FILE when it is set (reloaded)."""
    if path is None:
        return KeyRing.parse(spec, allow_demo)
    keys = ReloadingKeys(KeyRing.read(spec, "API_KEYS"), path, interval_s)
    if not keys.ring.entries:  # the demo key is for demos without any key configured
        raise _no_keys_error()
    return keys
