"""An explanation computed in forest slices is the one computed whole."""

from __future__ import annotations

from concurrent.futures import Executor, Future, ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

from scoring.model import SPLIT_MIN_LEAVES, ScoringModel, forest_spans


def test_spans_cover_the_forest_in_order() -> None:
    assert forest_spans(10, 1) == [(0, 10)]
    assert forest_spans(10, 3) == [(0, 3), (3, 3), (6, 4)]
    assert forest_spans(2, 5) == [(0, 1), (1, 1)]  # never an empty slice
    assert forest_spans(7, 0) == [(0, 7)]
    for total, parts in [(588, 2), (353, 4), (1, 2)]:
        spans = forest_spans(total, parts)
        assert spans[0][0] == 0
        assert sum(n for _, n in spans) == total
        assert all(a + n == b for (a, n), (b, _) in pairwise(spans))


@pytest.fixture(scope="module")
def lgbm(model: ScoringModel) -> ScoringModel:
    assert model.booster is not None  # one LightGBM booster
    assert model.iterations >= 5
    return model


def rows(model: ScoringModel) -> np.ndarray:
    x = model.reference[model.feature_names].to_numpy(dtype="float64")[:40].copy()
    x[::3, ::4] = np.nan  # missing values take the default branches
    return x


@pytest.mark.parametrize("parts", [2, 3, 5])
def test_slices_add_up_to_the_whole(lgbm: ScoringModel, parts: int) -> None:
    x = rows(lgbm)
    whole = lgbm.contributions(x)
    with ThreadPoolExecutor(parts) as pool:
        split = lgbm.contributions(x, executor=pool, parts=parts)
    np.testing.assert_allclose(split, whole, rtol=0, atol=1e-12)
    for i in range(3):
        one = lgbm.explain(x[i], executor=None)
        with ThreadPoolExecutor(1) as pool:
            alone = lgbm.explain(x[i], executor=pool, parts=parts)
        assert alone.decision == one.decision
        assert alone.raw_score == pytest.approx(one.raw_score, abs=1e-12)
        assert alone.base_value == pytest.approx(one.base_value, abs=1e-12)
        np.testing.assert_allclose(alone.shap, one.shap, rtol=0, atol=1e-12)


class Stalled(Executor):
    """An executor that never starts what it is given."""

    def __init__(self) -> None:
        self.given: list[Future[Any]] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self.given.append(future)
        return future


def test_a_full_executor_delays_but_never_blocks(lgbm: ScoringModel) -> None:
    x = rows(lgbm)
    stalled = Stalled()
    split = lgbm.contributions(x, executor=stalled, parts=3)
    assert len(stalled.given) == 2
    assert all(f.cancelled() for f in stalled.given)
    np.testing.assert_allclose(split, lgbm.contributions(x), rtol=0, atol=1e-12)


def test_parts_follow_the_forest_size_and_the_cpus(lgbm: ScoringModel) -> None:
    assert lgbm.leaves > 0
    assert lgbm.explain_parts(1) == 1
    assert lgbm.explain_parts(2) == (2 if lgbm.leaves >= SPLIT_MIN_LEAVES else 1)
    assert lgbm.explain_parts(8) == lgbm.explain_parts(2)


def test_explanations_split_at_once_on_one_model_do_not_mix(lgbm: ScoringModel) -> None:
    # LightGBM keeps a prediction's tree range in the booster: slices are boosters of their own
    x = rows(lgbm)
    whole = lgbm.contributions(x)
    with ThreadPoolExecutor(8) as pool:

        def one(i: int) -> np.ndarray:
            return lgbm.contributions(x[i : i + 1], executor=pool, parts=2 + i % 3)[0]

        for _ in range(5):
            got = np.vstack([f.result() for f in [pool.submit(one, i) for i in range(len(x))]])
            np.testing.assert_allclose(got, whole, rtol=0, atol=1e-12)


def test_a_pickled_model_explains_the_same_and_slices_again(lgbm: ScoringModel) -> None:
    """A spawned worker gets the model pickled: the lock and the slices stay behind."""
    import pickle

    x = rows(lgbm)
    lgbm.forest_slices(2)  # slices built before the copy are not in it
    copy = pickle.loads(pickle.dumps(lgbm))
    assert copy._slices == {}
    with ThreadPoolExecutor(1) as pool:
        split = copy.contributions(x, executor=pool, parts=2)
    np.testing.assert_allclose(split, lgbm.contributions(x), rtol=0, atol=1e-12)
    assert len(copy.forest_slices(2)) == 2
