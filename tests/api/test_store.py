"""The client store on the shared, memory-mapped batch cache: same numbers as the in-memory path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from api.store import ClientStore
from scoring.batch import compute, score_clients
from scoring.clients import ClientBase
from scoring.model import ScoringModel
from scoring.schema import ID


def test_mapped_store_serves_what_the_in_memory_store_serves(
    demo_bundle: Path, demo_clients_folder: Path, tmp_path: Path
) -> None:
    model = ScoringModel.load(demo_bundle)
    base = ClientBase.load(demo_clients_folder, model.builder)
    in_memory, mapped = ClientStore(base), ClientStore(base)
    frame = pd.DataFrame(
        in_memory.features, index=pd.Index(in_memory.ids, name=ID), columns=in_memory.feature_names
    )
    in_memory.attach(compute(model, frame))
    mapped.attach(score_clients(model, frame, tmp_path))
    assert mapped.batch is not None
    assert mapped.batch.shared
    assert isinstance(mapped.features, np.memmap)  # its own copy is dropped for the shared map
    assert not isinstance(in_memory.features, np.memmap)
    for client in [int(i) for i in in_memory.ids[:: max(1, len(in_memory) // 25)]]:
        np.testing.assert_array_equal(mapped.feature_row(client), in_memory.feature_row(client))
        assert mapped.feature_dict(client) == in_memory.feature_dict(client)
        assert mapped.raw_record(client, "fr") == in_memory.raw_record(client, "fr")
        ours, theirs = (s.cached_explanation(model, client) for s in (mapped, in_memory))
        assert ours is not None
        assert theirs is not None
        assert ours.probability == theirs.probability
        np.testing.assert_array_equal(ours.shap, theirs.shap)
        np.testing.assert_array_equal(ours.values, theirs.values)
        row = mapped.cached_row(client)
        assert row is not None
        assert (
            mapped.batch.probability[row]
            == model.predict_proba(in_memory.feature_row(client).reshape(1, -1))[0]
        )
