"""The audit fingerprint of a model-ready record: a SHA-256 of what the model saw, never the
record itself (docs/security.md).

``row-v1``: ``sha256(names_digest(feature_names) + row)``, where ``row`` is the record's
model-ready row (``ScoringModel.vector``/``rows``): one little-endian float64 per feature of the
bundle, in the bundle's feature order, a missing value (null or omitted) as the one quiet NaN
``0x7ff8000000000000`` and -0.0 as 0.0, and ``names_digest`` is the SHA-256 of the bundle's
feature names joined by newlines, after the line ``row-v1``. So a record has one fingerprint
whichever route carried it, in whatever order of names, its numbers written as integers or
floats, its missing values null or left out: the fingerprint changes exactly when what the model
scores changes. It is computed on a batch's matrix at once (a few microseconds per record,
against ~10 for a sorted-key JSON of the record)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

ROW_HASH_KIND = "row-v1"
_NAN = np.float64("nan")


def names_digest(feature_names: Sequence[str]) -> bytes:
    """The prefix of every ``row-v1`` fingerprint of a bundle: its version line and names."""
    text = "\n".join([ROW_HASH_KIND, *feature_names])
    return hashlib.sha256(text.encode("utf-8")).digest()


def row_hashes(matrix: np.ndarray, prefix: bytes) -> list[str]:
    """The ``row-v1`` fingerprint (hex) of each row of a (records, features) matrix."""
    rows = np.array(matrix, dtype="<f8", ndmin=2)  # a copy: the caller's matrix is untouched
    rows += 0.0  # -0.0 -> 0.0
    rows[np.isnan(rows)] = _NAN  # one bit pattern for every NaN
    data, step = rows.tobytes(), rows.shape[1] * 8
    sha256 = hashlib.sha256
    return [sha256(prefix + data[i : i + step]).hexdigest() for i in range(0, len(data), step)]
