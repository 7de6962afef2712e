"""The client store on the shared, memory-mapped batch cache and tables: same answers as the
in-memory path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from api.services import Services
from api.store import ClientStore
from scoring.batch import compute, score_clients
from scoring.clients import ClientBase
from scoring.model import ScoringModel
from scoring.schema import ID
from scoring.shared import is_mapped, share


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


def test_shared_store_serves_what_the_in_memory_store_serves(
    demo_bundle: Path, demo_clients_folder: Path, tmp_path: Path
) -> None:
    """Raw records, what-if rows and their features, from the shared maps: the same answers."""
    model = ScoringModel.load(demo_bundle)
    base = ClientBase.load(demo_clients_folder, model.builder)
    in_memory, mapped = ClientStore(base), ClientStore(base)
    frames = {"applications": base.applications, "aggregates": base.aggregates}
    mapped.share(share(tmp_path, model.version, {**frames, "reference": model.reference}, None))
    assert is_mapped(mapped.raw["AMT_CREDIT"].to_numpy())
    assert is_mapped(mapped.base.aggregates.iloc[:, 0].to_numpy())
    assert not is_mapped(in_memory.raw["AMT_CREDIT"].to_numpy())
    changes = {"AMT_CREDIT": 123456.0, "NAME_CONTRACT_TYPE": "Revolving loans"}
    for client in [int(i) for i in in_memory.ids]:
        for lang in ("en", "fr"):
            assert mapped.raw_record(client, lang) == in_memory.raw_record(client, lang)
        for edit in (None, changes):
            ours, theirs = mapped.raw_frame(client, edit), in_memory.raw_frame(client, edit)
            pd.testing.assert_frame_equal(ours, theirs, check_exact=True)
            pd.testing.assert_frame_equal(
                mapped.features_of(ours), in_memory.features_of(theirs), check_exact=True
            )


def test_shared_tables_of_other_clients_are_refused(
    demo_bundle: Path, demo_clients_folder: Path, tmp_path: Path
) -> None:
    model = ScoringModel.load(demo_bundle)
    base = ClientBase.load(demo_clients_folder, model.builder)
    others = base.applications.iloc[::-1].reset_index(drop=True)
    frames = {"applications": others, "aggregates": base.aggregates, "reference": model.reference}
    store = ClientStore(base)
    with pytest.raises(ValueError, match="other clients"):
        store.share(share(tmp_path, model.version, frames, None))
    assert not is_mapped(store.raw["AMT_CREDIT"].to_numpy())  # left as it was


def test_the_app_serves_from_shared_maps(services: Services) -> None:
    """A started worker reads its raw rows, history, reference sample and neighbour index from
    the maps every worker shares."""
    assert is_mapped(services.store.raw["AMT_CREDIT"].to_numpy())
    assert is_mapped(services.store.base.aggregates.iloc[:, 0].to_numpy())
    reference = services.model.reference
    main = reference.dtypes.value_counts().idxmax()
    assert is_mapped(reference[reference.columns[reference.dtypes == main][0]].to_numpy())
    assert is_mapped(services.neighbors.matrix)
