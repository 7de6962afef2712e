"""The API's response bodies (v1), as TypedDicts: plain dicts at run time, typed for mypy and
editors. Each mirrors a schema of the API's OpenAPI document (``/openapi.json``); the
repository's contract test (tests/contract) fails when a field the client reads is renamed,
dropped, made optional or given a type or an enum value the client does not hold.

The API may add fields within /v1 (docs/api.md, versioning): a model lists the fields the client
promises, and the dicts carry any others as sent.
"""

from __future__ import annotations

from typing import Literal, TypedDict

Decision = Literal["grant", "refuse", "refer"]
DecisionReason = Literal["below_threshold", "at_or_above_threshold", "missing_information"]
Lang = Literal["en", "fr"]
RawValue = str | float | int | None
FeatureValues = dict[str, float | None]


# --- health -----------------------------------------------------------------------------------
class Health(TypedDict):
    status: Literal["ok"]


class Ready(TypedDict):
    status: Literal["ready"]
    model_version: str
    clients: int
    database: Literal["ok"]
    cache: Literal["warming", "ready"]


# --- scores -----------------------------------------------------------------------------------
class Score(TypedDict):
    probability: float  # of payment difficulties
    decision: Decision
    decision_reason: DecisionReason
    missing_key_features: list[str]  # why a "refer": the key features the record lacks
    threshold: float
    model_version: str


class Prediction(Score):
    missing_features: list[str]  # every model feature the record lacks


class BatchPrediction(TypedDict):
    model_version: str
    items: list[Prediction]  # in the order of the records sent


class ClientScore(Score):
    client_id: int


class Contribution(TypedDict):
    feature: str
    label: str
    value: float | None
    value_text: str  # the value as words, in the language asked for
    shap: float  # log-odds; positive pushes towards refusal


class Rest(TypedDict):
    count: int
    shap: float


# "for" is a Python keyword: the functional syntax keeps the contract's field name.
Reasons = TypedDict("Reasons", {"against": list[str], "for": list[str]})


class Explanation(Score):
    client_id: int | None
    base_value: float
    raw_score: float
    contributions: list[Contribution]
    rest: Rest
    reasons: Reasons


# --- clients ----------------------------------------------------------------------------------
class ClientPage(TypedDict):
    total: int
    limit: int
    offset: int
    items: list[int]


class RawField(TypedDict):
    name: str
    label: str
    value: RawValue
    description: str
    valid_min: float | None  # the range a what-if change may set (docs/plausibility.md)
    valid_max: float | None


class ClientRecord(TypedDict):
    client_id: int
    fields: list[RawField]


class ClientFeatures(TypedDict):
    client_id: int
    model_version: str
    features: FeatureValues


class Neighbor(TypedDict):
    client_id: int
    distance: float
    target: int
    probability: float


class Neighbors(TypedDict):
    client_id: int
    k: int
    default_rate: float
    features: list[str]
    items: list[Neighbor]


class Change(TypedDict):
    column: str
    label: str
    before: float | str | None
    after: float | str
    derived: bool  # follows from another change (the annuity of a same-term loan)


class Counterfactual(TypedDict):
    client_id: int
    found: bool
    decision_before: Decision
    decision_after: Decision | None
    probability_before: float
    probability_after: float | None
    changes: list[Change]
    message: str


# --- features ---------------------------------------------------------------------------------
class FeatureInfo(TypedDict):
    name: str
    label: str
    description: str
    dtype: str
    sources: list[str]
    importance: float
    actionable: bool
    valid_min: float | None
    valid_max: float | None


class FeatureList(TypedDict):
    items: list[FeatureInfo]


class Distribution(TypedDict):
    feature: str
    label: str
    by: str
    bin_edges: list[float]
    counts_0: list[int]
    counts_1: list[int]
    labels: list[str]
    missing_0: int
    missing_1: int
    client_value: float | None


class ScatterPoints(TypedDict):
    x: list[float | None]
    y: list[float | None]
    target: list[int]
    probability: list[float]


class Scatter(TypedDict):
    x: str
    y: str
    points: ScatterPoints


# --- model ------------------------------------------------------------------------------------
class Cost(TypedDict):
    fn: float
    fp: float


class Metrics(TypedDict):
    auc: float
    auc_std: float
    business_cost: float
    business_cost_accept_all: float
    recall: float
    precision: float
    brier: float


class DataSummary(TypedDict):
    rows: int
    defaults: int
    default_rate: float
    features: int
    fingerprint: str


class ReferPolicy(TypedDict):
    top_k: int
    max_missing: int
    features: list[str]


class Registry(TypedDict):
    name: str | None
    version: int | None
    aliases: list[str]


class ComparedModel(TypedDict):
    model: str
    description: str
    auc_mean: float
    auc_std: float
    business_cost: float
    threshold: float


class Comparison(TypedDict):
    default: str
    reason: str
    incumbent: str
    auc_gain_over_incumbent: float
    cost_saving_over_incumbent: float
    baseline: str | None
    auc_gain_over_baseline: float | None
    cost_saving_over_baseline: float | None
    models: list[ComparedModel]


class ModelCard(TypedDict):
    version: str
    trained_at: str
    threshold: float
    refer: ReferPolicy
    cost: Cost
    metrics: Metrics
    data: DataSummary
    library_versions: dict[str, str]
    model: str
    registry: Registry | None
    comparison: Comparison | None


class FairnessGroup(TypedDict):
    group: str
    count: int
    approval_rate: float
    default_rate: float
    false_negative_rate: float | None
    false_positive_rate: float | None
    in_differences: bool


class FairnessAttribute(TypedDict):
    attribute: str
    label: str
    groups: list[FairnessGroup]
    demographic_parity_difference: float | None
    equalized_odds_difference: float | None
    is_model_input: bool
    reading: str


class Fairness(TypedDict):
    model_version: str
    model: str
    threshold: float
    attributes: list[FairnessAttribute]
    auc_without_gender_and_age: float | None
    summary: str


class FeatureDrift(TypedDict):
    """One feature's drift test (``GET /v1/model/drift``)."""

    feature: str
    test: str  # ks, chisquare, z, wasserstein, jensenshannon, not_tested
    p_value: float | None
    distance: float | None
    threshold: float | None
    drifted: bool
    score: float  # the value relative to its threshold: above 1 means drifted


class DriftWindow(TypedDict):
    """The applications the drift summary was computed on."""

    rows: int
    since: str | None
    until: str | None
    min_rows: int


class DriftSummary(TypedDict):
    """``GET /v1/model/drift``: drift of the applications scored lately against the training
    reference."""

    status: Literal["ok", "insufficient_data", "unavailable"]
    message: str
    dataset_drift: bool | None
    share_drifted: float | None
    drifted: list[str]
    tested: int
    features: list[FeatureDrift]
    window: DriftWindow


class Importance(TypedDict):
    feature: str
    label: str
    importance: float


class ImportanceList(TypedDict):
    items: list[Importance]
