"""API keys: named keys from the environment, kept only as SHA-256 digests, compared in
constant time."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

DEMO_KEY = "demo-key"
DEMO_KEY_NAME = "demo"


class KeyConfigError(ValueError):
    """API_KEYS is malformed, or empty while the demo key is not allowed."""


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class KeyRing:
    """Accepted keys as (name, sha256 hex digest) pairs."""

    entries: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, spec: str, allow_demo: bool = False) -> KeyRing:
        """Parse ``name:key,name2:sha256:<hex>``; the demo key only when nothing is configured
        and it is explicitly allowed."""
        entries: list[tuple[str, str]] = []
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            name, sep, secret = item.partition(":")
            if not sep or not name or not secret:
                raise KeyConfigError("API_KEYS: each entry must be name:key or name:sha256:<hex>")
            if secret.startswith("sha256:"):
                hexdigest = secret.removeprefix("sha256:").lower()
                if len(hexdigest) != 64 or any(c not in "0123456789abcdef" for c in hexdigest):
                    raise KeyConfigError(f"API_KEYS: key {name!r} has a malformed sha256 digest")
                entries.append((name, hexdigest))
            else:
                entries.append((name, digest(secret)))
        if not entries:
            if not allow_demo:
                raise KeyConfigError(
                    "no API keys configured: set API_KEYS=name:key "
                    "(or API_ALLOW_DEMO_KEY=1 to accept the public demo key 'demo-key')"
                )
            entries.append((DEMO_KEY_NAME, digest(DEMO_KEY)))
        return cls(tuple(entries))

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
