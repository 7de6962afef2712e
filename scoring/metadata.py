"""The bundle's metadata.json as typed models, validated when a bundle is loaded.

Everything the API serves about a model (version, threshold, cost weights, metrics, feature
catalogue) is read through these attributes, never by string key: a renamed or mistyped field is
a refusal at load time naming the field, not a 500 at request time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

FeatureKind = Literal["float", "binary", "ordinal", "category"]


class _Strict(BaseModel):
    # Unknown keys are refused too: a misspelt key would otherwise be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CostSettings(_Strict):
    fn: float = Field(gt=0, allow_inf_nan=False, description="cost of a missed default")
    fp: float = Field(gt=0, allow_inf_nan=False, description="cost of a refused good client")


class Metrics(_Strict):
    """Out-of-fold metrics of the cross-validation, at the chosen threshold."""

    auc: float = Field(ge=0, le=1)
    auc_std: float = Field(ge=0)
    business_cost: float = Field(ge=0)
    business_cost_accept_all: float = Field(ge=0)
    recall: float = Field(ge=0, le=1)
    precision: float = Field(ge=0, le=1)
    refusal_rate: float = Field(ge=0, le=1)
    brier: float = Field(ge=0, le=1)


class CrossValidation(_Strict):
    folds: int = Field(ge=2)
    seed: int
    fold_auc: list[float]
    best_iterations: list[int]


class DataSummary(_Strict):
    rows: int = Field(ge=1)
    defaults: int = Field(ge=0)
    default_rate: float = Field(ge=0, le=1)
    features: int = Field(ge=1)
    fingerprint: str = Field(min_length=8)
    auxiliary_tables: list[str]
    reference_rows: int = Field(ge=1)


class FeatureInfo(_Strict):
    name: str = Field(min_length=1)
    label: str
    label_fr: str
    description: str
    dtype: FeatureKind
    sources: list[str]
    actionable: bool
    levels: list[str] | None = None  # category or ordinal codes -> their words


class ReferSettings(_Strict):
    """The refer policy: more than ``max_missing`` of ``features`` (the ``top_k`` most important
    application features, by mean |SHAP|) unknown -> decision ``refer``."""

    top_k: int = Field(ge=1)
    max_missing: int = Field(ge=0)
    features: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> ReferSettings:
        if len(self.features) != self.top_k or self.max_missing >= self.top_k:
            raise ValueError("features must hold top_k names and max_missing be under top_k")
        return self


class BundleMetadata(_Strict):
    format_version: int
    version: str = Field(min_length=1, max_length=64)
    trained_at: datetime
    threshold: float = Field(gt=0, le=1, allow_inf_nan=False)
    cost: CostSettings
    metrics: Metrics
    cv: CrossValidation
    data: DataSummary
    params: dict[str, Any]
    features: list[FeatureInfo] = Field(min_length=1)
    library_versions: dict[str, str]
    refer: ReferSettings

    _by_name: dict[str, FeatureInfo] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        self._by_name = {f.name: f for f in self.features}

    @model_validator(mode="after")
    def _refer_features_known(self) -> BundleMetadata:
        known = {f.name for f in self.features}
        unknown = [name for name in self.refer.features if name not in known]
        if unknown:
            raise ValueError(f"refer.features names unknown features: {', '.join(unknown)}")
        return self

    def feature(self, name: str) -> FeatureInfo | None:
        """The catalogue entry of a feature (None for a name the catalogue lacks)."""
        return self._by_name.get(name)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def first_error(exc: ValidationError) -> str:
    """The first validation problem as 'field.path: message' (one line, for BundleError)."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "metadata"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {error['msg']}{more}"
