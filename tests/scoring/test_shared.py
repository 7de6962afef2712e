"""Tables shared through memory maps: the same frames and neighbours as in memory, rebuilt when
torn, stale or foreign, written once by concurrent processes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import scoring.shared
from scoring.clients import ClientBase
from scoring.model import ScoringModel
from scoring.neighbors import NeighborIndex
from scoring.shared import NotShareableError, SharedTables, is_mapped, load, share, tables_path

FEATURES = 12  # neighbour features, as the API picks them: the most important first


@pytest.fixture(scope="module")
def model(demo_bundle: Path) -> ScoringModel:
    return ScoringModel.load(demo_bundle)


@pytest.fixture(scope="module")
def frames(model: ScoringModel, demo_clients_folder: Path) -> dict[str, pd.DataFrame]:
    base = ClientBase.load(demo_clients_folder, model.builder)
    return {
        "applications": base.applications,
        "aggregates": base.aggregates,
        "reference": model.reference,
    }


def _features(model: ScoringModel) -> list[str]:
    return [n for n in model.importance if n in model.reference.columns][:FEATURES]


def _share(model: ScoringModel, frames: dict[str, pd.DataFrame], cache: Path) -> SharedTables:
    return share(cache, model.version, frames, _features(model))


def test_shared_frames_equal_the_in_memory_frames(
    model: ScoringModel, frames: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    tables = _share(model, frames, tmp_path)
    for name, shared in (
        ("applications", tables.applications),
        ("aggregates", tables.aggregates),
        ("reference", tables.reference),
    ):
        # same values, dtypes, column order, index (and None for missing text), bit for bit
        pd.testing.assert_frame_equal(shared, frames[name], check_exact=True)
    text = [c for c in frames["applications"].columns if frames["applications"][c].dtype == object]
    assert text  # the demo clients have text columns: the codes path is exercised
    for column in text:
        ours, theirs = tables.applications[column], frames["applications"][column]
        assert [v is None for v in ours] == [v is None for v in theirs]


def test_numeric_columns_are_file_maps(
    model: ScoringModel, frames: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    """What makes workers share one copy: the big numeric blocks view the files."""
    tables = _share(model, frames, tmp_path)
    apps = tables.applications
    floats = [c for c in apps.columns if apps[c].dtype == np.float64]
    assert len(floats) > len(apps.columns) // 2
    assert all(is_mapped(apps[c].to_numpy()) for c in floats)
    assert not is_mapped(frames["applications"][floats[0]].to_numpy())
    assert all(is_mapped(tables.aggregates[c].to_numpy()) for c in tables.aggregates.columns)
    reference = tables.reference
    main = reference.dtypes.value_counts().idxmax()
    assert all(
        is_mapped(reference[c].to_numpy()) for c in reference.columns[reference.dtypes == main]
    )
    assert is_mapped(tables.neighbors.matrix)
    maps = Path("/proc/self/maps").read_text()
    assert str(tables.path.resolve()) in maps
    with pytest.raises(ValueError, match="read-only"):
        apps[floats[0]].to_numpy()[0] = 1.0  # a worker cannot change the others' view


def test_row_lookups_equal_the_in_memory_ones(
    model: ScoringModel, frames: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    tables = _share(model, frames, tmp_path)
    apps = frames["applications"]
    for row in range(0, len(apps), max(1, len(apps) // 40)):
        pd.testing.assert_frame_equal(
            tables.applications.iloc[[row]].reset_index(drop=True),
            apps.iloc[[row]].reset_index(drop=True),
            check_exact=True,
        )
        expected = model.builder.transform(apps.iloc[[row]], aggregates=frames["aggregates"])
        got = model.builder.transform(tables.applications.iloc[[row]], aggregates=tables.aggregates)
        pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_neighbours_equal_the_in_memory_index(
    model: ScoringModel, frames: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    tables = _share(model, frames, tmp_path)
    built = NeighborIndex.build(model.reference, _features(model))
    assert tables.neighbors.features == built.features
    reference = model.reference
    for row in range(0, len(reference), max(1, len(reference) // 20)):
        query = {
            name: (None if math.isnan(v) else float(v))
            for name, v in reference.iloc[row][built.features].items()
        }
        ours, theirs = tables.neighbors.query(query, 10), built.query(query, 10)
        np.testing.assert_array_equal(ours.ids, theirs.ids)
        np.testing.assert_array_equal(ours.distances, theirs.distances)
        np.testing.assert_array_equal(ours.probability, theirs.probability)
        np.testing.assert_array_equal(ours.target, theirs.target)


def test_second_call_maps_what_the_first_wrote(
    model: ScoringModel, frames: dict[str, pd.DataFrame], tmp_path: Path, monkeypatch: Any
) -> None:
    first = _share(model, frames, tmp_path)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("written again although the folder is there")

    monkeypatch.setattr(scoring.shared, "save", refuse)
    again = _share(model, frames, tmp_path)
    assert again.path == first.path


def test_other_data_gets_a_folder_of_its_own(
    model: ScoringModel, frames: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    """A foreign folder is never read: the name follows the bundle version and every table."""
    first = _share(model, frames, tmp_path)
    changed = dict(frames, aggregates=frames["aggregates"].copy())
    changed["aggregates"].iloc[0, 0] = 12345.0
    second = _share(model, changed, tmp_path)
    assert second.path != first.path
    assert second.aggregates.iloc[0, 0] == 12345.0
    other_version = share(tmp_path, "another-version", frames, _features(model))
    assert other_version.path not in (first.path, second.path)
    fewer = share(tmp_path, model.version, frames, _features(model)[:3])
    assert fewer.path not in (first.path, second.path)
    assert fewer.neighbors.features == _features(model)[:3]


@pytest.mark.parametrize("damage", ["no-meta", "short-array", "wrong-shape", "old-format"])
def test_torn_or_stale_folder_is_rebuilt(
    model: ScoringModel, frames: dict[str, pd.DataFrame], tmp_path: Path, damage: str
) -> None:
    path = _share(model, frames, tmp_path).path
    meta = json.loads((path / "meta.json").read_text())
    matrix = path / "applications-lef8.npy"
    if damage == "no-meta":
        (path / "meta.json").unlink()  # crashed before the last write
    elif damage == "short-array":
        data = matrix.read_bytes()
        matrix.write_bytes(data[: len(data) // 2])
    elif damage == "wrong-shape":
        meta["frames"]["aggregates"]["rows"] += 1
        (path / "meta.json").write_text(json.dumps(meta))
    else:
        meta["format"] = 0
        (path / "meta.json").write_text(json.dumps(meta))
    assert load(path) is None
    rebuilt = _share(model, frames, tmp_path)
    assert rebuilt.path == path
    pd.testing.assert_frame_equal(rebuilt.applications, frames["applications"], check_exact=True)
    assert load(path) is not None


def test_concurrent_processes_write_once(
    model: ScoringModel, frames: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    """Workers starting together: one writes under the lock, the others map its folder, and
    every one of them reads the same, whole tables."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    features = _features(model)
    with context.Pool(3) as pool:
        results = pool.starmap(_share_counting, [(tmp_path, model.version, frames, features)] * 3)
    assert sorted(writes for writes, _ in results) == [0, 0, 1]
    assert len({path for _, path in results}) == 1
    path = tables_path(
        tmp_path, model.version, frames["applications"], frames["aggregates"],
        frames["reference"], features,
    )  # fmt: skip
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == [path.name]
    found = load(path)
    assert found is not None
    pd.testing.assert_frame_equal(found.reference, frames["reference"], check_exact=True)


def _share_counting(
    cache: Path, version: str, frames: dict[str, pd.DataFrame], features: list[str]
) -> tuple[int, str]:
    writes: list[int] = []
    original = scoring.shared.save

    def counting(*args: Any, **kwargs: Any) -> None:
        writes.append(1)
        original(*args, **kwargs)

    scoring.shared.save = counting  # type: ignore[assignment]
    try:
        tables = share(cache, version, frames, features)
    finally:
        scoring.shared.save = original  # type: ignore[assignment]
    assert is_mapped(tables.neighbors.matrix)
    return len(writes), str(tables.path)


def _small() -> dict[str, pd.DataFrame]:
    ids = pd.Index([5, 3, 9], name="SK_ID_CURR")
    return {
        "applications": pd.DataFrame(
            {
                "SK_ID_CURR": np.array([5, 3, 9], dtype=np.int64),
                "AMT": [1.5, np.nan, 3.0],
                "KIND": ["a", math.nan, "b"],
                "FLAG": np.array([1, 0, 1], dtype=np.int8),
            }
        ),
        "aggregates": pd.DataFrame({"X": [0.1, 0.2, np.nan]}, index=ids),
        "reference": pd.DataFrame(
            {
                "F": np.array([1.0, 2.0, 3.0], dtype=np.float32),
                "TARGET": np.array([0, 1, 0], dtype=np.int8),
                "probability": [0.1, 0.9, 0.2],
            },
            index=ids,
        ),
    }


def test_text_missing_as_nan_round_trips_and_leaves_no_temporary(tmp_path: Path) -> None:
    frames = _small()
    tables = share(tmp_path / "cache", "v1", frames, None)
    for name in ("applications", "aggregates", "reference"):
        pd.testing.assert_frame_equal(getattr(tables, name), frames[name], check_exact=True)
    kind = tables.applications["KIND"]
    assert isinstance(kind.iloc[1], float)
    assert math.isnan(kind.iloc[1])
    assert tables.neighbors.features == ["F"]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir() if p.is_dir()) == [
        tables.path.name
    ]


def test_a_text_column_of_other_values_is_refused(tmp_path: Path) -> None:
    frames = _small()
    frames["applications"]["KIND"] = pd.Series(["a", 2, None], dtype=object)
    with pytest.raises(NotShareableError, match="KIND"):
        share(tmp_path, "v1", frames, None)
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # no folder left half-written


def test_a_source_is_recalled_until_one_of_its_files_changes(
    model: ScoringModel, frames: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    from scoring.shared import recall_source, remember_source, source_digest

    source = tmp_path / "clients"
    source.mkdir()
    (source / "application_test.csv").write_text("SK_ID_CURR\n1\n")
    (source / "bureau.csv").write_text("SK_ID_CURR\n1\n")
    cache = tmp_path / "cache"
    digest = source_digest(source, model.version)
    assert recall_source(cache, model.version, digest) is None  # nothing noted yet
    tables = _share(model, frames, cache)
    remember_source(cache, model.version, digest, tables, ("bureau",))
    recalled = recall_source(cache, model.version, digest)
    assert recalled is not None
    again, aux = recalled
    assert aux == ("bureau",)
    assert again.path == tables.path
    pd.testing.assert_frame_equal(again.applications, frames["applications"])
    pd.testing.assert_frame_equal(again.aggregates, frames["aggregates"])
    assert source_digest(source, "another-version") != digest
    (source / "bureau.csv").write_text("SK_ID_CURR\n1\n2\n")  # rewritten: another source
    assert source_digest(source, model.version) != digest
    # a torn note, or one naming a folder that no longer loads, is no recall
    note = next(cache.glob("source-*.json"))
    note.write_text("{")
    assert recall_source(cache, model.version, digest) is None
    note.write_text(json.dumps({"format": 1, "tables": "tables-gone", "aux": []}))
    assert recall_source(cache, model.version, digest) is None
