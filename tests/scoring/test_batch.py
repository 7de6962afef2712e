"""Batch scoring: same values as one-row explain, cached per (bundle version, client data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pytest

import scoring.batch
from scoring.batch import BatchScores, cache_path, compute, load, save, score_clients
from scoring.model import ScoringModel


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise AssertionError("compute() called although the result is cached")


def test_batch_equals_single_row_explain(
    model: ScoringModel, clients_features: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scoring.batch, "CHUNK_ROWS", 64)  # several chunks, a ragged last one
    scores = compute(model, clients_features, threads=2)
    X = clients_features.to_numpy(dtype="float64")
    assert scores.ids.tolist() == clients_features.index.tolist()
    assert scores.shap.shape == X.shape
    for row in [0, 63, 64, 65, len(X) - 1]:
        single = model.explain(X[row])
        assert scores.probability[row] == pytest.approx(single.probability, abs=1e-12)
        np.testing.assert_allclose(scores.shap[row], single.shap, atol=1e-12)
        assert scores.base_value == pytest.approx(single.base_value, abs=1e-12)
        rebuilt = model.explanation_from(X[row], scores.shap[row], scores.base_value)
        assert rebuilt.probability == pytest.approx(single.probability, abs=1e-12)
        assert scores.index_of(int(scores.ids[row])) == row
    assert scores.index_of(-1) is None


def test_second_call_is_a_lookup(
    model: ScoringModel,
    clients_features: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    progress: list[int] = []
    first = score_clients(model, clients_features, tmp_path, progress=progress.append)
    assert sum(progress) == len(clients_features)
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == [
        cache_path(tmp_path, model, clients_features).name
    ]
    monkeypatch.setattr(scoring.batch, "compute", _refuse)
    second = score_clients(model, clients_features, tmp_path)
    np.testing.assert_array_equal(second.ids, first.ids)
    np.testing.assert_array_equal(second.probability, first.probability)
    np.testing.assert_array_equal(second.shap, first.shap)
    assert second.base_value == first.base_value


def test_cache_key_follows_data_and_model(
    model: ScoringModel, clients_features: pd.DataFrame, tmp_path: Path
) -> None:
    key = cache_path(tmp_path, model, clients_features)
    assert key == cache_path(tmp_path, model, clients_features.copy())
    assert model.version in key.name
    changed = clients_features.copy()
    changed.iloc[0, 0] = changed.iloc[0, 0] + 1 if np.isfinite(changed.iloc[0, 0]) else 1.0
    assert cache_path(tmp_path, model, changed) != key
    assert cache_path(tmp_path, model, clients_features.iloc[:-1]) != key
    renumbered = clients_features.copy()
    renumbered.index = renumbered.index + 1
    assert cache_path(tmp_path, model, renumbered) != key


def test_changed_data_is_recomputed(
    model: ScoringModel, clients_features: pd.DataFrame, tmp_path: Path
) -> None:
    score_clients(model, clients_features, tmp_path)
    subset = clients_features.iloc[:10]
    scores = score_clients(model, subset, tmp_path)
    assert len(scores.ids) == 10
    assert len([p for p in tmp_path.glob("scores-*") if p.is_dir()]) == 2


def test_unreadable_cache_is_recomputed(
    model: ScoringModel, clients_features: pd.DataFrame, tmp_path: Path
) -> None:
    path = cache_path(tmp_path, model, clients_features)
    path.write_bytes(b"torn file")
    assert load(path) is None
    scores = score_clients(model, clients_features, tmp_path)
    assert len(scores.ids) == len(clients_features)
    assert load(path) is not None


def _good_cache(model: ScoringModel, features: pd.DataFrame, tmp_path: Path) -> Path:
    score_clients(model, features, tmp_path)
    return cache_path(tmp_path, model, features)


@pytest.mark.parametrize(
    "damage",
    [
        "no-meta",  # crashed before the last write
        "short-array",  # a truncated array file
        "wrong-shape",  # meta and arrays disagree
        "old-format",
    ],
)
def test_torn_or_stale_cache_folder_is_rebuilt(
    model: ScoringModel, clients_features: pd.DataFrame, tmp_path: Path, damage: str
) -> None:
    path = _good_cache(model, clients_features, tmp_path)
    reference = load(path)
    assert reference is not None
    expected = np.array(reference.shap)
    del reference
    meta = json.loads((path / "meta.json").read_text())
    if damage == "no-meta":
        (path / "meta.json").unlink()
    elif damage == "short-array":
        data = (path / "shap.npy").read_bytes()
        (path / "shap.npy").write_bytes(data[: len(data) // 2])
    elif damage == "wrong-shape":
        meta["shapes"]["shap"] = [1, 1]
        (path / "meta.json").write_text(json.dumps(meta))
    else:
        meta["format"] = 1
        (path / "meta.json").write_text(json.dumps(meta))
    assert load(path) is None
    rebuilt = score_clients(model, clients_features, tmp_path)
    assert rebuilt.shared
    np.testing.assert_array_equal(rebuilt.shap, expected)
    assert load(path) is not None


def test_cache_is_memory_mapped_from_the_file(
    model: ScoringModel, clients_features: pd.DataFrame, tmp_path: Path
) -> None:
    """What makes workers share one copy: the arrays are file-backed maps, not heap copies."""
    path = _good_cache(model, clients_features, tmp_path)
    scores = load(path)
    assert scores is not None
    assert scores.shared
    for array in (scores.ids, scores.probability, scores.shap, scores.features):
        assert isinstance(array, np.memmap)
        assert not array.flags.writeable
    float(scores.shap[-1, -1])  # touch a page
    maps = Path("/proc/self/maps").read_text()
    assert str((path / "shap.npy").resolve()) in maps
    assert str((path / "features.npy").resolve()) in maps
    with pytest.raises(ValueError, match="read-only"):
        scores.shap[0, 0] = 1.0  # read-only: a worker cannot corrupt the others' view


def test_mapped_cache_has_the_computed_values(
    model: ScoringModel, clients_features: pd.DataFrame, tmp_path: Path
) -> None:
    computed = compute(model, clients_features)
    mapped = score_clients(model, clients_features, tmp_path)
    assert mapped.shared
    assert not isinstance(computed.shap, np.memmap)
    np.testing.assert_array_equal(mapped.ids, computed.ids)
    np.testing.assert_array_equal(mapped.probability, computed.probability)
    np.testing.assert_array_equal(mapped.shap, computed.shap)
    assert computed.features is not None
    assert mapped.features is not None
    np.testing.assert_array_equal(mapped.features, computed.features)
    assert mapped.base_value == computed.base_value
    for row in (0, len(computed.ids) // 2, len(computed.ids) - 1):
        assert mapped.index_of(int(computed.ids[row])) == row
    rows = mapped.rows_of(np.array([computed.ids[3], -5, computed.ids[0]], dtype=np.int64))
    assert rows.tolist() == [3, -1, 0]


def test_concurrent_processes_compute_once(
    model: ScoringModel, clients_features: pd.DataFrame, tmp_path: Path
) -> None:
    """Two processes asking at once: one computes under the lock, the other maps its result."""
    import multiprocessing

    # spawn, not fork: a forked child of a process that ran LightGBM's OpenMP threads hangs
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        counts = pool.starmap(_score_counting, [(model, clients_features, tmp_path)] * 2)
    assert sorted(counts) == [0, 1]
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == [
        cache_path(tmp_path, model, clients_features).name
    ]


def _score_counting(model: ScoringModel, features: pd.DataFrame, cache: Path) -> int:
    calls: list[int] = []
    original = scoring.batch.compute

    def counting(*args: Any, **kwargs: Any) -> BatchScores:
        calls.append(1)
        return original(*args, **kwargs)

    scoring.batch.compute = counting  # type: ignore[assignment]
    try:
        scores = score_clients(model, features, cache, threads=1)
    finally:
        scoring.batch.compute = original  # type: ignore[assignment]
    assert scores.shared
    return len(calls)


def test_save_load_round_trip_leaves_no_temporary(tmp_path: Path) -> None:
    scores = BatchScores(
        ids=np.array([3, 1], dtype="int64"),
        probability=np.array([0.2, 0.7]),
        shap=np.array([[0.1, -0.2], [0.3, 0.0]]),
        base_value=-2.5,
    )
    path = tmp_path / "cache" / "scores-x"
    save(scores, path)
    loaded = load(path)
    assert loaded is not None
    np.testing.assert_array_equal(loaded.shap, scores.shap)
    assert loaded.features is None
    assert loaded.base_value == -2.5
    assert loaded.index_of(1) == 1
    assert loaded.index_of(3) == 0
    assert loaded.index_of(2) is None
    assert [p.name for p in path.parent.iterdir()] == ["scores-x"]


def test_empty_client_set(model: ScoringModel, clients_features: pd.DataFrame) -> None:
    scores = compute(model, clients_features.iloc[:0])
    assert scores.ids.size == scores.probability.size == 0
    assert scores.shap.shape == (0, len(model.feature_names))
