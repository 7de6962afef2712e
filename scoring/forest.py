"""A LightGBM forest cut into slices of consecutive trees that cost the same to explain.

Exact TreeSHAP of one row visits every node of every tree and, at each, extends or unwinds the
path to it: a tree costs about the sum over its leaves of the leaf's depth squared (O(L D^2)).
Late trees are deeper than early ones, so slices of equal tree counts are not equal work: on the
588-tree model of bench/results/explain-split.md the last quarter took 29 % of the time and the
first 22 %, as the depth model predicts (22/23/26/29 %), where the leaf count says 25 % each.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np


def forest_spans(costs: Sequence[float], parts: int) -> list[tuple[int, int]]:
    """``(start_iteration, num_iteration)`` of `parts` consecutive slices of a forest whose
    boosting rounds cost `costs` (one per round), each as near 1/parts of the total as whole
    rounds allow (a slice ends at the last round that keeps it within its share); fewer slices
    when there are fewer rounds, never an empty one."""
    n = len(costs)
    parts = max(1, min(parts, n))
    cumulative = np.cumsum(np.asarray(costs, dtype="float64"))
    total = float(cumulative[-1]) if n else 0.0
    bounds = [0]
    for k in range(1, parts):
        end = int(np.searchsorted(cumulative, total * k / parts * (1 + 1e-12), side="right"))
        # at least one round in this slice and in each one after it
        bounds.append(min(max(end, bounds[-1] + 1), n - (parts - k)))
    bounds.append(n)
    return [(a, b - a) for a, b in pairwise(bounds)]


def round_costs(model_text: str, trees_per_round: int = 1) -> list[float]:
    """TreeSHAP cost of each boosting round of a LightGBM text model (``model_to_string``): the
    sum over its trees' leaves of depth squared (a one-leaf tree counts 1)."""
    trees = model_text.split("\nend of trees", 1)[0].split("\nTree=")[1:]
    costs = [_tree_cost(block) for block in trees]
    per = max(1, trees_per_round)
    return [float(sum(costs[i : i + per])) for i in range(0, len(costs), per)]


def _tree_cost(block: str) -> int:
    fields = dict(
        line.split("=", 1) for line in block.splitlines()[1:] if "=" in line and line[0] != "="
    )
    if "left_child" not in fields:  # a single leaf
        return 1
    left = [int(v) for v in fields["left_child"].split()]
    right = [int(v) for v in fields["right_child"].split()]
    cost, stack = 0, [(0, 0)]  # (internal node, its depth)
    while stack:
        node, depth = stack.pop()
        for child in (left[node], right[node]):
            if child < 0:  # a leaf (~index)
                cost += (depth + 1) ** 2
            else:
                stack.append((child, depth + 1))
    return cost
