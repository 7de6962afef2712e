"""Request and response bodies: the JSON shapes of docs/api-contract.md, with examples."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SkipValidation,
    Strict,
    model_validator,
)

from scoring.decision import Decision, DecisionReason
from scoring.wording import Lang

FiniteNumber = Annotated[float, Strict(), Field(allow_inf_nan=False)]
FeatureValues = dict[str, FiniteNumber | None]
RawValue = Annotated[float, Strict(), Field(allow_inf_nan=False)] | str | None

GROUP_HELP = (
    "merge related features (the external scores) into one contribution, as the reasons do; "
    "the merged contribution is named after its representative feature (EXT_SOURCE_MEAN)"
)
_SCORE_EXAMPLE: dict[str, JsonValue] = {
    "probability": 0.2731,
    "decision": "refuse",
    "decision_reason": "at_or_above_threshold",
    "missing_key_features": [],
    "threshold": 0.2449,
    "model_version": "20260101-abc123",
}


class Message(BaseModel):
    detail: str


class FieldError(BaseModel):
    """One reason a request was refused: where (``["body", "features", "AMT_CREDIT"]``), what."""

    loc: list[str | int]
    msg: str
    type: str


class Invalid(BaseModel):
    """A 422: the request's own errors (a body that is not UTF-8 JSON or does not match the
    schema), or one sentence naming the wrong field or value."""

    detail: str | list[FieldError]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready"] = "ready"
    model_version: str
    clients: int
    database: Literal["ok"] = "ok"
    cache: Literal["warming", "ready"]


# -- clients ----------------------------------------------------------------------------------
class ClientList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"total": 2, "limit": 50, "offset": 0, "items": [100001, 100005]}]
        }
    )
    total: int
    limit: int
    offset: int
    items: list[int]


class RawField(BaseModel):
    name: str
    label: str = Field(description="a short readable name, in the requested language")
    value: str | float | int | None
    description: str = Field(description="Kaggle's description, in the requested language")
    valid_min: float | None = Field(
        description="smallest value a what-if change may set (docs/plausibility.md)"
    )
    valid_max: float | None = Field(
        description="largest value a what-if change may set (docs/plausibility.md)"
    )


class ClientRecord(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client_id": 100001,
                    "fields": [
                        {
                            "name": "AMT_CREDIT",
                            "label": "Credit amount",
                            "value": 568800.0,
                            "description": "Credit amount of the loan",
                            "valid_min": 1,
                            "valid_max": 100000000,
                        }
                    ],
                }
            ]
        }
    )
    client_id: int
    fields: list[RawField]


class ClientFeatures(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client_id": 100001,
                    "model_version": "20260101-abc123",
                    "features": {"EXT_SOURCE_2": 0.79, "OWN_CAR_AGE": None},
                }
            ]
        }
    )
    client_id: int
    model_version: str
    features: dict[str, float | None]


# -- scores -----------------------------------------------------------------------------------
class Score(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_SCORE_EXAMPLE]})
    probability: float = Field(ge=0, le=1, description="probability of payment difficulties")
    decision: Decision = Field(
        description="refer (to a human) when more than the model card's refer.max_missing of "
        "its refer.features are missing; otherwise refuse when probability >= threshold, "
        "else grant"
    )
    decision_reason: DecisionReason = Field(
        description="why, a stable code: below_threshold, at_or_above_threshold, "
        "missing_information (refer)"
    )
    missing_key_features: list[str] = Field(
        description="the refer policy's key features this record lacks, most important first",
    )
    threshold: float
    model_version: str


class PredictRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"features": {"EXT_SOURCE_2": 0.62, "OWN_CAR_AGE": None}}]},
    )
    features: FeatureValues = Field(
        description="model features by name; absent names count as missing"
    )


class Prediction(Score):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_SCORE_EXAMPLE, "missing_features": ["OWN_CAR_AGE"]}]}
    )
    missing_features: list[str]


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # documented as PredictRequest items, checked by api/batchbody.py in one pass over the batch
    # (1,000 pydantic models cost as much as scoring them): read it through batchbody.checked
    records: SkipValidation[list[PredictRequest]]


class BatchPrediction(BaseModel):
    model_version: str
    items: list[Prediction]


class ClientScore(Score):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_SCORE_EXAMPLE, "client_id": 100001}]}
    )
    client_id: int


# -- explanations -----------------------------------------------------------------------------
class Contribution(BaseModel):
    feature: str
    label: str
    value: float | None
    value_text: str = Field(
        description="the value as an advisor reads it, in the requested language: category "
        "level, yes/no, amount with its currency, or a rounded number"
    )
    shap: float = Field(description="contribution in log-odds; positive pushes towards refusal")


class Rest(BaseModel):
    count: int
    shap: float


class Reasons(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    against: list[str]
    for_: list[str] = Field(alias="for")


class Explanation(Score):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_SCORE_EXAMPLE,
                    "client_id": 100001,
                    "base_value": -2.41,
                    "raw_score": -0.98,
                    "contributions": [
                        {
                            "feature": "EXT_SOURCE_2",
                            "label": "External score 2",
                            "value": 0.12,
                            "value_text": "0.12",
                            "shap": 0.61,
                        }
                    ],
                    "rest": {"count": 199, "shap": 0.82},
                    "reasons": {"against": ["Low external score 2"], "for": []},
                }
            ]
        }
    )
    client_id: int | None
    base_value: float
    raw_score: float
    contributions: list[Contribution]
    rest: Rest
    reasons: Reasons


class ExplainRequest(BaseModel):
    """Either a full feature record, or a stored client with what-if changes to raw columns."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"client_id": 100001, "changes": {"AMT_CREDIT": 400000}, "top": 10, "lang": "en"},
                {"features": {"EXT_SOURCE_2": 0.62}, "top": 5, "lang": "fr"},
            ]
        },
    )
    features: FeatureValues | None = None
    client_id: int | None = None
    changes: dict[str, RawValue] | None = None
    top: int = Field(default=10, ge=1, le=50)
    lang: Lang = "en"
    group: bool = Field(default=False, description=GROUP_HELP)

    @model_validator(mode="after")
    def _one_source(self) -> ExplainRequest:
        if (self.features is None) == (self.client_id is None):
            raise ValueError("give either features or client_id (with optional changes)")
        if self.changes is not None and self.client_id is None:
            raise ValueError("changes apply to a stored client: give client_id")
        return self


# -- features and model -----------------------------------------------------------------------
class FeatureInfo(BaseModel):
    name: str
    label: str
    description: str
    dtype: str
    sources: list[str]
    importance: float
    actionable: bool
    valid_min: float | None = Field(
        description="smallest value /v1/predict accepts (docs/plausibility.md)"
    )
    valid_max: float | None = Field(
        description="largest value /v1/predict accepts (docs/plausibility.md)"
    )


class FeatureList(BaseModel):
    items: list[FeatureInfo]


class Distribution(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "feature": "EXT_SOURCE_2",
                    "label": "External score 2",
                    "by": "target",
                    "bin_edges": [0.0, 0.5, 1.0],
                    "counts_0": [120, 480],
                    "counts_1": [40, 20],
                    "labels": ["repaid", "payment difficulties"],
                    "missing_0": 3,
                    "missing_1": 1,
                    "client_value": 0.62,
                }
            ]
        }
    )
    feature: str
    label: str
    by: Literal["target", "prediction"]
    bin_edges: list[float]
    counts_0: list[int]
    counts_1: list[int]
    labels: list[str]
    missing_0: int
    missing_1: int
    client_value: float | None


class ScatterPoints(BaseModel):
    x: list[float | None]
    y: list[float | None]
    target: list[int]
    probability: list[float]


class Scatter(BaseModel):
    x: str
    y: str
    points: ScatterPoints


class Neighbor(BaseModel):
    client_id: int
    distance: float
    target: int
    probability: float


class Neighbors(BaseModel):
    client_id: int
    k: int
    default_rate: float
    features: list[str]
    items: list[Neighbor]


class CounterfactualChange(BaseModel):
    column: str
    label: str
    before: float | str | None
    after: float | str
    derived: bool = Field(
        description="follows from another change: the annuity of a credit amount changed at "
        "the same term"
    )


class Counterfactual(BaseModel):
    client_id: int
    found: bool
    decision_before: Decision
    decision_after: Decision | None
    probability_before: float
    probability_after: float | None
    changes: list[CounterfactualChange]
    message: str


class Cost(BaseModel):
    fn: float
    fp: float


class Metrics(BaseModel):
    auc: float
    auc_std: float
    business_cost: float
    business_cost_accept_all: float
    recall: float
    precision: float
    brier: float


class DataSummary(BaseModel):
    rows: int
    defaults: int
    default_rate: float
    features: int
    fingerprint: str


class ReferPolicy(BaseModel):
    """Too little information: more than max_missing of these top_k features missing -> refer."""

    top_k: int
    max_missing: int
    features: list[str] = Field(description="the key features, most important first")


class Registry(BaseModel):
    """Where the served bundle is registered (MLflow); absent for an unregistered bundle."""

    name: str | None
    version: int | None
    aliases: list[str]


class ComparedModel(BaseModel):
    model: str
    description: str
    auc_mean: float
    auc_std: float
    business_cost: float
    threshold: float


class Comparison(BaseModel):
    """Why this model: the candidates on the same folds and the rule's choice."""

    default: str
    reason: str
    rule: str
    incumbent: str
    auc_gain_over_incumbent: float
    cost_saving_over_incumbent: float
    baseline: str | None  # the classic scorecard, when the default is not the scorecard
    auc_gain_over_baseline: float | None
    cost_saving_over_baseline: float | None
    models: list[ComparedModel]


class ModelCard(BaseModel):
    version: str
    trained_at: str
    threshold: float
    refer: ReferPolicy
    cost: Cost
    metrics: Metrics
    data: DataSummary
    library_versions: dict[str, str]
    model: str  # the served candidate (scoring/candidates.py)
    registry: Registry | None  # None: the bundle was not registered
    comparison: Comparison | None  # None: a bundle from before model cards


class FairnessGroup(BaseModel):
    group: str
    count: int
    approval_rate: float
    default_rate: float
    false_negative_rate: float | None  # defaults that were granted; None: no default in group
    false_positive_rate: float | None  # good clients refused; None: no good client in group
    in_differences: bool  # False: too small a group to weigh in the differences


class FairnessAttribute(BaseModel):
    attribute: str  # CODE_GENDER or AGE_BAND
    label: str
    groups: list[FairnessGroup]
    demographic_parity_difference: float | None
    equalized_odds_difference: float | None
    is_model_input: bool
    reading: str  # the figures in plain words


class Fairness(BaseModel):
    """Group fairness of the decisions, out of fold, at the served threshold."""

    model_version: str
    model: str
    threshold: float
    min_group: int
    attributes: list[FairnessAttribute]
    auc_without_gender_and_age: float | None  # mean AUC change when both are removed
    summary: str


class Importance(BaseModel):
    feature: str
    label: str
    importance: float


class ImportanceList(BaseModel):
    items: list[Importance]


class FeatureDrift(BaseModel):
    """One feature's drift test (docs/drift.md): `p_value` for the tests of a reference of at
    most 1000 values (drifted below 0.05), `distance` above (drifted from 0.1)."""

    feature: str
    kind: Literal["numerical", "categorical"]
    test: Literal["ks", "chisquare", "z", "wasserstein", "jensenshannon", "not_tested"]
    statistic: float | None  # the test's statistic, or the distance; null when not finite
    p_value: float | None
    distance: float | None
    threshold: float | None  # null when not tested
    drifted: bool
    score: float  # value relative to its threshold: above 1 means drifted (at most 10)
    missing_reference: float  # share of missing values
    missing_current: float


class DriftWindow(BaseModel):
    rows: int  # applications in the window now
    since: datetime | None  # when the oldest of them was scored
    until: datetime | None  # when the newest was
    max_rows: int
    max_age_s: float
    min_rows: int  # fewer rows: status insufficient_data


class DriftSummary(BaseModel):
    """Drift of the applications this worker scored lately against the training reference:
    the shape of `python -m scoring drift`'s drift.json, with the window."""

    status: Literal["ok", "insufficient_data", "unavailable"]
    message: str
    model_version: str
    dataset_drift: bool | None  # null unless status is ok
    share_drifted: float | None
    drift_share: float  # dataset drift from this share of drifted features
    drifted: list[str]  # strongest first
    tested: int
    features: list[FeatureDrift]  # drifted first, strongest first; empty unless status is ok
    reference_rows: int
    current_rows: int
    window: DriftWindow
    computed_at: datetime | None
    method: str
