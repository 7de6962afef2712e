"""The row-v1 audit fingerprint: one per record of what the model scores, computed in bulk."""

from __future__ import annotations

import hashlib
import struct

import numpy as np

from scoring.fingerprint import names_digest, row_hashes
from scoring.model import ScoringModel

PREFIX = names_digest(["A", "B", "C"])


def test_the_definition_written_out_by_hand() -> None:
    """What docs/security.md tells an auditor to compute, without numpy."""
    prefix = hashlib.sha256(b"row-v1\nA\nB\nC").digest()
    row = struct.pack("<ddd", 1.5, 0.0, float("nan"))
    assert row_hashes(np.array([[1.5, -0.0, np.nan]]), PREFIX) == [
        hashlib.sha256(prefix + row).hexdigest()
    ]


def test_each_row_is_hashed_on_its_own_and_the_matrix_is_untouched() -> None:
    matrix = np.array([[1.0, 2.0, np.nan], [1.0, 2.0, 3.0], [1.0, 2.0, np.nan], [-0.0, 0, 0]])
    before = matrix.copy()
    hashes = row_hashes(matrix, PREFIX)
    assert len(hashes) == 4
    assert all(len(h) == 64 for h in hashes)
    assert hashes[0] == hashes[2] != hashes[1]
    assert hashes == [row_hashes(row, PREFIX)[0] for row in matrix]  # one row alone, same
    np.testing.assert_array_equal(matrix, before)
    assert np.signbit(matrix[3, 0])  # -0.0 kept in the caller's matrix
    assert row_hashes(np.empty((0, 3)), PREFIX) == []


def test_every_nan_is_one_missing_value() -> None:
    other_nan = np.frombuffer(struct.pack("<Q", 0x7FF0000000000001), dtype="<f8")[0]
    assert np.isnan(other_nan)
    assert row_hashes(np.array([[1.0, other_nan, -np.nan]]), PREFIX) == row_hashes(
        np.array([[1.0, np.nan, np.nan]]), PREFIX
    )


def test_the_feature_list_is_part_of_the_fingerprint() -> None:
    row = np.array([[1.0, 2.0, 3.0]])
    assert row_hashes(row, names_digest(["A", "C", "B"])) != row_hashes(row, PREFIX)
    assert row_hashes(row, names_digest(["AB", "C"])) != row_hashes(row, names_digest(["A", "BC"]))


def test_a_record_has_one_fingerprint_however_it_is_written(model: ScoringModel) -> None:
    """Order of the names, integers or floats, null or omitted: the same model-ready row."""
    a, b, c = model.feature_names[:3]
    va, vc = (float(model.reference[name].dropna().iloc[0]) for name in (a, c))
    whole = int(va) if va == int(va) else va  # an integer where it can be one
    written = [
        {a: whole, b: None, c: vc},
        {c: vc, a: va},
        {b: None, c: vc, a: va},
    ]
    one = {model.row_hashes(model.vector(record)[0])[0] for record in written}
    bulk = set(model.row_hashes(model.rows(written).matrix))
    assert len(one) == 1
    assert bulk == one
    assert model.row_hashes(model.vector({c: vc})[0]) != list(one)
