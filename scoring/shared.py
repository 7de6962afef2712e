"""Tables shared by every API worker on a machine through read-only memory maps.

Each worker used to hold its own copy of the new clients' raw rows, their auxiliary aggregates,
the bundle's reference sample and the neighbour index built on it (about 300 MiB per worker at
300k + 50k clients). This module writes them once into a folder of plain ``.npy`` arrays and a
``meta.json`` (written last), named after the bundle version and a fingerprint of the tables,
and opens them with ``mmap_mode="r"``: the pages sit once in the page cache for all workers.

- numeric columns are grouped by dtype into column-major matrices, so each column is one
  contiguous slice of the map, and frames are rebuilt column by column without a copy
  (``pd.DataFrame(..., copy=False)`` keeps every column's own block);
- text columns are stored as category codes with their categories; the worker rebuilds them as
  object columns (a pointer per row, the strings themselves shared by every row);
- the neighbour index's arrays are saved as built, so lookups give the same numbers.

The folder is built in a temporary folder, renamed into place under a file lock (the first
worker builds it, the others wait and map it); a torn, foreign or older-format folder is
rebuilt. Tables that cannot be stored exactly (a text column holding other values) stay in
memory: ``share`` raises ``NotShareableError`` and the caller keeps its own copy.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import mmap
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scoring.data import fingerprint
from scoring.neighbors import RESERVED, NeighborIndex

FORMAT = 1
FRAMES = ("applications", "aggregates", "reference")
_NEIGHBOR_ARRAYS = ("center", "scale", "matrix", "sq_norms", "ids", "target", "probability")


class NotShareableError(ValueError):
    """A table holds values the shared format cannot store exactly."""


@dataclass(frozen=True)
class SharedTables:
    applications: pd.DataFrame  # raw application rows (RangeIndex), numeric columns mapped
    aggregates: pd.DataFrame  # per-client aggregates (index SK_ID_CURR), mapped
    reference: pd.DataFrame  # the bundle's reference sample (index SK_ID_CURR), mapped
    neighbors: NeighborIndex  # built on ``reference``, its arrays mapped
    path: Path


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside ``path``: concurrent processes build a folder once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tables_path(
    cache_dir: Path,
    version: str,
    applications: pd.DataFrame,
    aggregates: pd.DataFrame,
    reference: pd.DataFrame,
    neighbor_features: Sequence[str],
) -> Path:
    extra = {"aggregates": aggregates.reset_index(), "reference": reference.reset_index()}
    key = fingerprint(applications, extra) + "|" + ",".join(neighbor_features)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir / f"tables-{version}-{digest}"


def is_mapped(values: Any) -> bool:
    """Whether an array's memory is a file map (walking the chain of views down to it)."""
    base = values
    while base is not None:
        if isinstance(base, np.memmap | mmap.mmap):
            return True
        base = getattr(base, "base", None)
    return False


# -- frames --------------------------------------------------------------------------------------
def _text_column(values: pd.Series, name: str) -> tuple[list[str], np.ndarray, str]:
    """Categories, int32 codes (-1: missing) and the missing marker ("none" or "nan")."""
    missing = values.isna().to_numpy()
    kinds = {"none" if v is None else "nan" for v in values[missing]}
    present = values[~missing]
    if len(kinds) > 1 or not all(isinstance(v, str) for v in present):
        raise NotShareableError(f"{name}: a text column holds other values")
    codes, categories = pd.factorize(values, use_na_sentinel=True)
    return [str(c) for c in categories], codes.astype(np.int32), kinds.pop() if kinds else "none"


def _save_frame(frame: pd.DataFrame, folder: Path, name: str) -> dict[str, Any]:
    columns: list[dict[str, Any]] = []
    groups: dict[str, list[str]] = {}
    for column in frame.columns:
        dtype = frame[column].dtype
        if pd.api.types.is_object_dtype(dtype):
            categories, codes, missing = _text_column(frame[column], str(column))
            np.save(folder / f"{name}-text-{len(columns)}.npy", codes)
            columns.append(
                {"name": column, "kind": "text", "categories": categories, "missing": missing}
            )
        elif isinstance(dtype, np.dtype) and dtype.kind in "biuf":
            groups.setdefault(dtype.str, []).append(str(column))
            columns.append({"name": column, "kind": "number", "dtype": dtype.str})
        else:
            raise NotShareableError(f"{column}: dtype {dtype} is not stored")
    for code, names in groups.items():
        matrix = np.asfortranarray(frame[names].to_numpy(dtype=np.dtype(code)))
        np.save(folder / f"{name}-{_safe(code)}.npy", matrix)
    index: dict[str, Any]
    if isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1:
        index = {"range": len(frame)}
    else:
        np.save(folder / f"{name}-index.npy", frame.index.to_numpy(dtype=np.int64))
        index = {"name": frame.index.name}
    return {"rows": len(frame), "columns": columns, "groups": groups, "index": index}


def _safe(dtype: str) -> str:
    return dtype.replace("<", "le").replace(">", "be").replace("|", "")


def _load_frame(folder: Path, name: str, meta: dict[str, Any]) -> pd.DataFrame:
    """The frame over the maps: its largest dtype group (most columns) is one block viewing the
    map, as a frame read from Parquet holds it, so row lookups cost what they did; the other,
    small groups and the text columns are inserted around it (copied: a few columns)."""
    rows = int(meta["rows"])
    if "range" in meta["index"]:
        index: pd.Index = pd.RangeIndex(rows)
    else:
        ids = np.load(folder / f"{name}-index.npy", mmap_mode="r")
        index = pd.Index(np.asarray(ids), name=meta["index"]["name"])
    blocks: dict[str, pd.DataFrame] = {}
    for dtype, names in meta["groups"].items():
        matrix = np.load(folder / f"{name}-{_safe(dtype)}.npy", mmap_mode="r")
        if matrix.shape != (rows, len(names)) or matrix.dtype.str != dtype:
            raise ValueError(f"{name}: {dtype} matrix of the wrong shape")
        plain = matrix.view(np.ndarray)  # a view of the map, typed as a plain array
        blocks[dtype] = pd.DataFrame(plain, index=index, columns=names, copy=False)
    largest = max(blocks.values(), key=lambda block: block.shape[1], default=None)
    frame = largest if largest is not None else pd.DataFrame(index=index)
    for position, column in enumerate(meta["columns"]):
        label = column["name"]
        if label in frame.columns:
            continue
        if column["kind"] == "number":
            values: Any = blocks[column["dtype"]][label].to_numpy()
        else:
            codes = np.load(folder / f"{name}-text-{position}.npy", mmap_mode="r")
            if codes.shape != (rows,):
                raise ValueError(f"{name}: codes of the wrong shape")
            missing: Any = None if column["missing"] == "none" else math.nan
            lookup = np.array([*column["categories"], missing], dtype=object)
            values = lookup[np.asarray(codes)]  # -1 picks the missing marker
        frame.insert(position, label, values)
    # One block per dtype, as read from Parquet: the text columns merge into one (a copy of
    # their pointers); the mapped block, alone of its dtype, is left as it is.
    consolidate = getattr(frame, "_consolidate_inplace", None)
    if callable(consolidate):
        consolidate()
    return frame


# -- the folder ----------------------------------------------------------------------------------
def save(
    path: Path,
    frames: dict[str, pd.DataFrame],
    neighbors: NeighborIndex,
) -> None:
    """Write the folder atomically: built beside it, then renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tables-", dir=path.parent))
    try:
        meta: dict[str, Any] = {"format": FORMAT, "frames": {}}
        for name in FRAMES:
            meta["frames"][name] = _save_frame(frames[name], tmp, name)
        for name in _NEIGHBOR_ARRAYS:
            np.save(tmp / f"neighbors-{name}.npy", np.ascontiguousarray(getattr(neighbors, name)))
        meta["neighbors"] = {"features": list(neighbors.features)}
        (tmp / "meta.json").write_text(json.dumps(meta))  # last: its presence means complete
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)  # a stale or torn folder under the name
        os.rename(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def load(path: Path) -> SharedTables | None:
    """The shared tables, memory-mapped read-only, or None when absent, torn or of another
    format (then they are written again)."""
    try:
        meta: dict[str, Any] = json.loads((path / "meta.json").read_text())
        if meta.get("format") != FORMAT:
            return None
        frames = {name: _load_frame(path, name, meta["frames"][name]) for name in FRAMES}
        arrays = {n: np.load(path / f"neighbors-{n}.npy", mmap_mode="r") for n in _NEIGHBOR_ARRAYS}
        features = [str(f) for f in meta["neighbors"]["features"]]
        rows = len(arrays["ids"])
        if arrays["matrix"].shape != (rows, len(features)):
            return None
        neighbors = NeighborIndex(features=features, **arrays)
        return SharedTables(
            frames["applications"], frames["aggregates"], frames["reference"], neighbors, path
        )
    except (OSError, KeyError, ValueError, TypeError, IndexError):
        return None


def share(
    cache_dir: Path,
    version: str,
    frames: dict[str, pd.DataFrame],
    neighbor_features: Sequence[str] | None,
) -> SharedTables:
    """The tables (``applications``, ``aggregates``, ``reference``) and the neighbour index on
    the reference, memory-mapped from ``cache_dir``: the first process writes them under a lock,
    the others wait, then map them. Raises NotShareableError for tables the format cannot hold."""
    reference = frames["reference"]
    features = (
        list(neighbor_features)
        if neighbor_features is not None
        else [str(c) for c in reference.columns if c not in RESERVED]
    )
    path = tables_path(
        cache_dir, version, frames["applications"], frames["aggregates"], reference, features
    )
    found = load(path)
    if found is not None:
        return found
    with locked(path):
        found = load(path)  # another process may have written it while we waited
        if found is None:
            save(path, frames, NeighborIndex.build(reference, features))
            found = load(path)
    if found is None:
        raise OSError(f"{path}: written but cannot be read back")
    return found


# -- recalling the tables of a clients source without reading it -----------------------------
# Every worker used to read the clients' Parquet files, validate them and aggregate their
# auxiliary tables (most of a worker's start-up at 300k + 50k clients), only to swap the result
# for the shared maps. The first process notes which tables folder a source gave, under a name
# made of the bundle version and the source files' identity (name, size, modification time,
# inode); the next ones, and the next start with the same files, map that folder directly.


def source_digest(source: Path, version: str) -> str:
    """What identifies a clients file or folder without reading it: the bundle version and each
    file's relative name, size, modification time (ns) and inode. Rewriting a file changes it."""
    digest = hashlib.sha256(f"{FORMAT}|{version}".encode())
    files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
    for file in files:
        stat = file.stat()
        name = file.relative_to(source) if source.is_dir() else file.name
        digest.update(f"|{name}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ino}".encode())
    return digest.hexdigest()[:16]


def _source_note(cache_dir: Path, version: str, digest: str) -> Path:
    return cache_dir / f"source-{version}-{digest}.json"


def remember_source(
    cache_dir: Path, version: str, digest: str, tables: SharedTables, aux: Sequence[str]
) -> None:
    """Note that the source ``digest`` gave ``tables`` (with these auxiliary tables); written
    atomically (a reader sees the whole note or none)."""
    note = _source_note(cache_dir, version, digest)
    payload = {"format": FORMAT, "tables": tables.path.name, "aux": list(aux)}
    fd, tmp = tempfile.mkstemp(prefix=".source-", dir=cache_dir)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle)
        os.replace(tmp, note)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def recall_source(
    cache_dir: Path, version: str, digest: str
) -> tuple[SharedTables, tuple[str, ...]] | None:
    """The mapped tables (and auxiliary table names) the source ``digest`` gave, or None when
    no note names a folder that still loads (then the source is read as before)."""
    try:
        note = json.loads(_source_note(cache_dir, version, digest).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict) or note.get("format") != FORMAT:
        return None
    name, aux = note.get("tables"), note.get("aux")
    if not isinstance(name, str) or "/" in name or not isinstance(aux, list):
        return None
    tables = load(cache_dir / name)
    if tables is None:
        return None
    return tables, tuple(str(a) for a in aux)
