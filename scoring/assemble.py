"""Assemble a model bundle from a finished training run: typed metadata, feature catalogue,
global importance, reference sample and statistics."""

from __future__ import annotations

import platform
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np

from scoring.bundle import FORMAT_VERSION, Bundle
from scoring.features import BINARY_COLUMNS, EDUCATION_ORDER, FeatureBuilder
from scoring.metadata import (
    BundleMetadata,
    CostSettings,
    CrossValidation,
    DataSummary,
    FeatureInfo,
    FeatureKind,
    Metrics,
    ReferSettings,
)
from scoring.reference import reference_sample, summary_statistics
from scoring.schema import ACTIONABLE_COLUMNS, APPLICATION_KINDS
from scoring.train import TrainConfig, TrainResult
from scoring.wording import feature_description, feature_label

IMPORTANCE_ROWS = 5000
# The refer policy: more than REFER_MAX_MISSING of the REFER_TOP_K most important application
# features unknown -> refer to a human. bench/refer.py measures how often real clients are
# referred (docs/decisions.md).
REFER_TOP_K = 10
REFER_MAX_MISSING = 3
# Indicators computed for every row (never NaN): they say nothing about missing information.
ALWAYS_KNOWN = {"EXT_SOURCE_MISSING", "DAYS_EMPLOYED_ANOMALY", "DOCUMENT_COUNT"}
LIBRARIES = ["lightgbm", "numpy", "pandas", "scikit-learn", "pyarrow"]


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def global_importance(result: TrainResult, seed: int) -> dict[str, float]:
    """Mean |SHAP| per feature over a sample of training rows, largest first."""
    X = result.features.to_numpy(dtype="float64")
    if len(X) > IMPORTANCE_ROWS:
        X = X[np.random.default_rng(seed).choice(len(X), IMPORTANCE_ROWS, replace=False)]
    contrib = result.served.contributions(X, threads=0)[:, :-1]
    mean_abs = np.abs(contrib).mean(axis=0)
    pairs = sorted(
        zip(result.builder.feature_names, mean_abs.tolist(), strict=True), key=lambda p: -p[1]
    )
    return dict(pairs)


def _dtype(builder: FeatureBuilder, feature: str) -> FeatureKind:
    if feature in builder.vocabularies:
        return "category"
    if feature == "EDUCATION_LEVEL":
        return "ordinal"
    if feature in {name for name, _ in BINARY_COLUMNS.values()} or feature.endswith("_ANOMALY"):
        return "binary"
    return "float"


def feature_catalogue(builder: FeatureBuilder) -> list[FeatureInfo]:
    """name, labels, description, dtype, raw sources and actionability of every feature."""
    catalogue = []
    for feature, sources in builder.sources().items():
        levels: list[str] | None = None
        if feature in builder.vocabularies:
            levels = builder.vocabularies[feature]
        elif feature == "EDUCATION_LEVEL":
            levels = EDUCATION_ORDER  # ordinal code -> its words
        catalogue.append(
            FeatureInfo(
                name=feature,
                label=feature_label(feature, "en"),
                label_fr=feature_label(feature, "fr"),
                description=feature_description(feature, sources),
                dtype=_dtype(builder, feature),
                sources=sources,
                actionable=any(s in ACTIONABLE_COLUMNS for s in sources),
                levels=levels,
            )
        )
    return catalogue


def refer_settings(
    importance: dict[str, float],
    sources: dict[str, list[str]],
    top_k: int = REFER_TOP_K,
    max_missing: int = REFER_MAX_MISSING,
) -> ReferSettings:
    """The refer policy's key features: the top_k most important features computed from the
    application alone (an auxiliary aggregate is legitimately absent for a client without
    history, so it never counts as missing information), one per set of raw columns."""
    application = set(APPLICATION_KINDS)
    key: list[str] = []
    seen: set[frozenset[str]] = set()
    for name, _ in sorted(importance.items(), key=lambda item: (-item[1], item[0])):
        used = frozenset(sources.get(name, []))
        # one feature per set of raw columns: the mean, min and max of the external scores are
        # one missing fact, not three
        if name in ALWAYS_KNOWN or not used or not used <= application or used in seen:
            continue
        seen.add(used)
        key.append(name)
        if len(key) == top_k:
            break
    return ReferSettings(
        top_k=len(key), max_missing=min(max_missing, max(len(key) - 1, 0)), features=key
    )


def model_version(trained_at: datetime, fingerprint: str) -> str:
    return f"hc-{trained_at:%Y%m%d-%H%M%S}-{fingerprint[:8]}"


def assemble_bundle(
    result: TrainResult, config: TrainConfig, fingerprint: str, reference_rows: int
) -> Bundle:
    """Everything the API needs, computed once from a finished training run."""
    trained_at = datetime.now(UTC).replace(microsecond=0)
    reference = reference_sample(
        result.features, result.target, result.cv.oof, reference_rows, config.seed
    )
    defaults = int(result.target.sum())
    importance = global_importance(result, config.seed)
    metadata = BundleMetadata(
        format_version=FORMAT_VERSION,
        version=model_version(trained_at, fingerprint),
        trained_at=trained_at,
        threshold=result.threshold,
        cost=CostSettings(**asdict(config.weights)),
        metrics=Metrics(**result.metrics),
        cv=CrossValidation(
            folds=config.folds,
            seed=config.seed,
            fold_auc=result.cv.fold_auc,
            best_iterations=result.cv.best_iterations,
        ),
        data=DataSummary(
            rows=len(result.target),
            defaults=defaults,
            default_rate=defaults / len(result.target),
            features=len(result.builder.feature_names),
            fingerprint=fingerprint,
            auxiliary_tables=result.builder.aux_tables,
            reference_rows=len(reference),
        ),
        params={k: v for k, v in result.params.items() if k != "num_threads"},
        features=feature_catalogue(result.builder),
        library_versions=library_versions(),
        refer=refer_settings(importance, result.builder.sources()),
    )
    return Bundle(
        path=Path(),  # set by save_bundle
        metadata=metadata,
        booster=result.booster if result.ensemble is None else None,
        builder=result.builder,
        stats=summary_statistics(reference, result.builder.feature_names, result.threshold),
        importance=importance,
        reference=reference,
        ensemble=result.ensemble,
        card=result.card,
    )
