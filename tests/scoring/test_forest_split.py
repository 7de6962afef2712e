"""An explanation computed in forest slices is the one computed whole."""

from __future__ import annotations

from concurrent.futures import Executor, Future, ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pytest

from scoring.forest import forest_spans, round_costs
from scoring.model import SPLIT_MIN_LEAVES, ScoringModel


def test_spans_cover_the_forest_in_order() -> None:
    equal = [1.0] * 10
    assert forest_spans(equal, 1) == [(0, 10)]
    assert forest_spans(equal, 3) == [(0, 3), (3, 3), (6, 4)]
    assert forest_spans([1.0, 1.0], 5) == [(0, 1), (1, 1)]  # never an empty slice
    assert forest_spans([1.0] * 7, 0) == [(0, 7)]
    for total, parts in [(588, 2), (353, 4), (1, 2)]:
        spans = forest_spans(np.random.default_rng(total).uniform(1, 9, total).tolist(), parts)
        assert spans[0][0] == 0
        assert sum(n for _, n in spans) == total
        assert all(n >= 1 for _, n in spans)
        assert all(a + n == b for (a, n), (b, _) in pairwise(spans))


def test_spans_share_the_cost_not_the_rounds() -> None:
    """Deeper late trees: the first slice takes more rounds, each slice half the cost."""
    assert forest_spans([1, 1, 1, 1, 4, 4], 2) == [(0, 4), (4, 2)]
    assert forest_spans([9, 1, 1, 1], 2) == [(0, 1), (1, 3)]
    assert forest_spans([1, 1, 1, 1, 1, 1, 6, 6], 3) == [(0, 6), (6, 1), (7, 1)]
    assert forest_spans([100, 1, 1], 3) == [(0, 1), (1, 1), (2, 1)]  # each slice one round


def test_a_round_costs_its_leaves_depth_squared(lgbm: ScoringModel) -> None:
    import lightgbm as lgb

    assert lgbm.booster is not None
    text = lgbm.booster.model_to_string(num_iteration=lgbm.iterations)
    costs = round_costs(text)
    assert len(costs) == lgbm.iterations == len(lgbm.round_costs)
    assert costs == lgbm.round_costs
    frame = lgbm.booster.trees_to_dataframe()
    leaves = frame[frame["split_feature"].isna() & (frame["tree_index"] < lgbm.iterations)]
    depth = np.maximum(leaves["node_depth"].to_numpy() - 1, 1)  # the root is node_depth 1
    expected = pd.Series(depth**2).groupby(leaves["tree_index"].to_numpy()).sum()
    assert costs == expected.astype(float).tolist()
    stump = lgb.Booster(model_str=text).model_to_string(num_iteration=1)
    assert round_costs(stump) == costs[:1]


def test_rounds_of_several_trees_add_up() -> None:
    one = "tree\nversion=v4\n\nTree=0\nnum_leaves=1\nleaf_value=0.1\n\n"
    two = (
        "Tree=1\nnum_leaves=3\nleft_child=-1 -2\nright_child=1 -3\nleaf_value=1 2 3\n\n"
        "end of trees\n\nfeature_importances:\nleft_child=9\n"
    )
    assert round_costs(one + two) == [1.0, 1 + 4 + 4]
    assert round_costs(one + two, trees_per_round=2) == [10.0]


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
