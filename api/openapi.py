"""The OpenAPI document completed for code generators (openapi-generator, Postman, the typed
client): readable operation ids, every error of every operation with its typed body, and an
example on every request body and every response.

FastAPI builds the document from the routes; this module only adds to it, so that the routes
keep their decorators short."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api import schemas

VERBS = ("get_", "list_", "predict", "explain")


def operation_id(route: APIRoute) -> str:
    """``get_client_score`` for the GET route named ``client_score``; names that already say
    what they do (``list_clients``, ``predict_batch``, ``explain``) are kept as they are."""
    name = route.name
    if name.startswith(VERBS):
        return name
    method = sorted(route.methods or {"GET"})[0].lower()
    return f"{method}_{name}"


# Examples of the bodies whose model has none of its own (the shapes of the demo's answers).
_SCORE = {
    "probability": 0.2731,
    "decision": "refuse",
    "decision_reason": "at_or_above_threshold",
    "threshold": 0.2449,
    "model_version": "20260101-abc123",
    "missing_key_features": [],
}
EXAMPLES: dict[type[BaseModel], dict[str, Any]] = {
    schemas.Health: {"status": "ok"},
    schemas.Ready: {
        "status": "ready",
        "model_version": "20260101-abc123",
        "clients": 1000,
        "database": "ok",
        "cache": "ready",
    },
    schemas.BatchRequest: {
        "records": [
            {"features": {"EXT_SOURCE_2": 0.62, "OWN_CAR_AGE": None}},
            {"features": {"EXT_SOURCE_2": 0.15}},
        ]
    },
    schemas.BatchPrediction: {
        "model_version": "20260101-abc123",
        "items": [{**_SCORE, "missing_features": ["OWN_CAR_AGE"]}],
    },
    schemas.FeatureList: {
        "items": [
            {
                "name": "EXT_SOURCE_2",
                "label": "External score 2",
                "description": "Normalized score from external data source",
                "dtype": "float",
                "sources": ["application"],
                "importance": 0.31,
                "actionable": False,
                "valid_min": 0.0,
                "valid_max": 1.0,
            }
        ]
    },
    schemas.Scatter: {
        "x": "EXT_SOURCE_2",
        "y": "AMT_CREDIT",
        "points": {
            "x": [0.62, None],
            "y": [450000.0, 1293502.5],
            "target": [0, 1],
            "probability": [0.08, 0.41],
        },
    },
    schemas.Neighbors: {
        "client_id": 100001,
        "k": 2,
        "default_rate": 0.5,
        "features": ["EXT_SOURCE_2", "AMT_CREDIT"],
        "items": [
            {"client_id": 100002, "distance": 0.41, "target": 1, "probability": 0.35},
            {"client_id": 100003, "distance": 0.52, "target": 0, "probability": 0.12},
        ],
    },
    schemas.Counterfactual: {
        "client_id": 100001,
        "found": True,
        "decision_before": "refuse",
        "decision_after": "grant",
        "probability_before": 0.2731,
        "probability_after": 0.2312,
        "changes": [
            {
                "column": "AMT_CREDIT",
                "label": "Credit amount",
                "before": 450000.0,
                "after": 360000.0,
                "derived": False,
            },
            {
                "column": "AMT_ANNUITY",
                "label": "Loan annuity",
                "before": 24700.5,
                "after": 19760.4,
                "derived": True,
            },
        ],
        "message": "Lowering the credit amount to 360,000 would turn the refusal into a grant.",
    },
    schemas.ModelCard: {
        "version": "20260101-abc123",
        "trained_at": "2026-01-01T12:00:00+00:00",
        "threshold": 0.2449,
        "refer": {
            "top_k": 10,
            "max_missing": 3,
            "features": ["EXT_SOURCE_2", "EXT_SOURCE_3", "DAYS_BIRTH"],
        },
        "cost": {"fn": 10.0, "fp": 1.0},
        "metrics": {
            "auc": 0.76,
            "auc_std": 0.01,
            "business_cost": 0.49,
            "business_cost_accept_all": 0.81,
            "recall": 0.68,
            "precision": 0.18,
            "brier": 0.068,
        },
        "data": {
            "rows": 4000,
            "defaults": 323,
            "default_rate": 0.0808,
            "features": 120,
            "fingerprint": "3f2a9c",
        },
        "library_versions": {"lightgbm": "4.5.0", "scikit-learn": "1.5.2"},
        "model": "lightgbm",
        "registry": {"name": "credit-scoring", "version": 3, "aliases": ["champion"]},
        "comparison": None,
    },
    schemas.Fairness: {
        "model_version": "20260101-abc123",
        "model": "lightgbm",
        "threshold": 0.0808,
        "min_group": 30,
        "attributes": [
            {
                "attribute": "CODE_GENDER",
                "label": "Gender",
                "groups": [
                    {
                        "group": "F",
                        "count": 1994,
                        "approval_rate": 0.7146,
                        "default_rate": 0.0732,
                        "false_negative_rate": 0.3493,
                        "false_positive_rate": 0.2565,
                        "in_differences": True,
                    },
                    {
                        "group": "M",
                        "count": 1006,
                        "approval_rate": 0.6869,
                        "default_rate": 0.0905,
                        "false_negative_rate": 0.3077,
                        "false_positive_rate": 0.2754,
                        "in_differences": True,
                    },
                ],
                "demographic_parity_difference": 0.0278,
                "equalized_odds_difference": 0.0416,
                "is_model_input": True,
                "reading": (
                    "F clients are approved most often (71.5 %), M clients least often "
                    "(68.7 %): a gap of 2.8 points in approval rate (demographic parity). "
                    "Among the clients who repaid or defaulted alike, the model's error "
                    "rates differ by up to 4.2 points between groups (equalised odds). 0 "
                    "would be strictly equal treatment; the gap reflects differences in "
                    "observed default rates as much as the model."
                ),
            }
        ],
        "auc_without_gender_and_age": -0.0011,
        "summary": (
            "Without gender and age, the model's mean AUC changes by -0.1 points (out of "
            "100), measured on the same folds."
        ),
    },
    schemas.DriftSummary: {
        "status": "ok",
        "message": "no dataset drift: 1 of 91 features drifted",
        "model_version": "20260101-abc123",
        "dataset_drift": False,
        "share_drifted": 0.011,
        "drift_share": 0.5,
        "drifted": ["AMT_INCOME_TOTAL"],
        "tested": 91,
        "features": [
            {
                "feature": "AMT_INCOME_TOTAL",
                "kind": "numerical",
                "test": "wasserstein",
                "statistic": 0.184,
                "p_value": None,
                "distance": 0.184,
                "threshold": 0.1,
                "drifted": True,
                "score": 1.84,
                "missing_reference": 0.0,
                "missing_current": 0.0,
            }
        ],
        "reference_rows": 3000,
        "current_rows": 600,
        "window": {
            "rows": 600,
            "since": "2026-01-05T08:00:00Z",
            "until": "2026-01-05T17:42:10Z",
            "max_rows": 5000,
            "max_age_s": 604800.0,
            "min_rows": 500,
        },
        "computed_at": "2026-01-05T17:42:12Z",
        "method": "evidently-defaults",
    },
    schemas.ImportanceList: {
        "items": [
            {"feature": "EXT_SOURCE_2", "label": "External score 2", "importance": 0.31},
            {"feature": "EXT_SOURCE_3", "label": "External score 3", "importance": 0.27},
        ]
    },
}

# The error bodies, per status (every one is {"detail": ...}).
_INVALID = [
    {
        "loc": ["query", "limit"],
        "msg": "Input should be less than or equal to 200",
        "type": "less_than_equal",
    }
]
ERRORS: dict[str, tuple[type[BaseModel], str, Any]] = {
    "401": (schemas.Message, "missing or invalid API key", "missing or invalid API key"),
    "404": (schemas.Message, "unknown client or feature", "client 999999 not found"),
    "413": (schemas.Message, "body or batch too large", "records: at most 1000 per request"),
    "422": (schemas.Invalid, "a request that does not match the schema", _INVALID),
    "429": (schemas.Message, "rate limit exceeded (see Retry-After)", "retry in 12 s"),
    "503": (schemas.Message, "starting, or the audit log is unavailable", "the API is starting"),
}
METRICS_EXAMPLE = (
    "# HELP api_requests_total Requests by route and status\n"
    "# TYPE api_requests_total counter\n"
    'api_requests_total{method="GET",route="/v1/clients/{client_id}/score",status="200"} 42.0\n'
)
RETRY_AFTER = {
    "description": "seconds to wait before retrying",
    "schema": {"type": "integer", "minimum": 0},
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _example_of(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    ref = schema.get("$ref", "")
    component = spec["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    examples = component.get("examples")
    return examples[0] if examples else None


def _error(status: str, current: dict[str, Any]) -> dict[str, Any]:
    model, description, detail = ERRORS[status]
    answer: dict[str, Any] = {
        "description": current.get("description") or description,
        "content": {"application/json": {"schema": _ref(model), "example": {"detail": detail}}},
    }
    if status == "429":
        answer["headers"] = {"Retry-After": RETRY_AFTER}
    return answer


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    """Add the examples and error bodies to a document FastAPI built (in place, returned)."""
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    for model, example in EXAMPLES.items():
        if model.__name__ in components:
            components[model.__name__].setdefault("examples", [example])
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for path, operations in spec["paths"].items():
        for op in operations.values():
            answers = op["responses"]
            if path.startswith("/v1/"):
                answers.setdefault("503", {})
            if "parameters" in op or "requestBody" in op:
                answers.setdefault("422", {})
            for status in list(answers):
                if status in ERRORS:
                    answers[status] = _error(status, answers[status])
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                body.setdefault("example", _example_of(spec, body["schema"]))
            content = answers.get("200", {}).get("content", {})
            if "application/json" in content:
                ok = content["application/json"]
                ok.setdefault("example", _example_of(spec, ok["schema"]))
            if "text/plain" in content:
                content["text/plain"].setdefault("example", METRICS_EXAMPLE)
    return spec


def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built once, on first request)."""

    app.openapi_tags = TAGS

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


TAGS = [
    {"name": "health", "description": "Liveness, readiness and metrics: no API key"},
    {"name": "clients", "description": "The stored new clients: record, score, explanation"},
    {"name": "features", "description": "Model features and their distributions"},
    {"name": "predict", "description": "Score and explain records sent in the body"},
    {"name": "model", "description": "The model card, global importance, fairness and drift"},
]
