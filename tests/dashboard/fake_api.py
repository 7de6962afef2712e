"""A fake of the scoring API for the dashboard's tests: responses shaped exactly as
docs/api-contract.md, with a switch to make any route fail the way the real one can."""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

from dashboard.api_client import (
    ApiNotFound,
    Change,
    ClientPage,
    ClientRecord,
    Counterfactual,
    Distribution,
    DriftSummary,
    Explanation,
    Fairness,
    FeatureInfo,
    ImportanceList,
    ModelCard,
    Neighbors,
    RawValue,
    Scatter,
)
from scoring.plausibility import plausibility

THRESHOLD = 0.48
REFUSED_ID = 100001
GRANTED_ID = 100002
CLIENT_IDS = [100001, 100002, 100013, 100100, 100101, 200001]

FEATURES: list[FeatureInfo] = [
    {
        "name": "EXT_SOURCE_2",
        "label": "External credit score 2",
        "description": "Normalized score from external data source",
        "dtype": "float",
        "sources": ["EXT_SOURCE_2"],
        "importance": 0.41,
        "actionable": False,
    },
    {
        "name": "CREDIT_TERM",
        "label": "Annuity to credit ratio",
        "description": "Loan annuity divided by the credit amount",
        "dtype": "float",
        "sources": ["AMT_ANNUITY", "AMT_CREDIT"],
        "importance": 0.33,
        "actionable": True,
    },
    {
        "name": "DAYS_BIRTH",
        "label": "Age (days, negative)",
        "description": "Client's age in days at the time of application",
        "dtype": "int",
        "sources": ["DAYS_BIRTH"],
        "importance": 0.25,
        "actionable": True,
    },
    {
        "name": "AMT_GOODS_PRICE",
        "label": "Price of the goods",
        "description": "Price of the goods for which the loan is given",
        "dtype": "float",
        "sources": ["AMT_GOODS_PRICE"],
        "importance": 0.18,
        "actionable": True,
    },
    {
        "name": "DAYS_EMPLOYED",
        "label": "Days employed (negative)",
        "description": "How many days before the application the person started current employment",
        "dtype": "float",
        "sources": ["DAYS_EMPLOYED"],
        "importance": 0.15,
        "actionable": False,
    },
    {
        "name": "CODE_GENDER",
        "label": "Gender",
        "description": "Gender of the client",
        "dtype": "category",
        "sources": ["CODE_GENDER"],
        "importance": 0.05,
        "actionable": False,
    },
]

# What the API answers with lang=fr (the English labels are in FEATURES).
FRENCH_LABELS = {
    "EXT_SOURCE_2": "Score de crédit externe 2",
    "CREDIT_TERM": "Ratio annuité sur crédit",
    "DAYS_BIRTH": "Âge (jours, négatif)",
    "AMT_GOODS_PRICE": "Prix du bien",
    "DAYS_EMPLOYED": "Jours d'emploi (négatif)",
    "CODE_GENDER": "Sexe",
}
CLASS_LABELS = {
    "en": {"target": ["repaid", "payment difficulties"], "prediction": ["granted", "refused"]},
    "fr": {
        "target": ["remboursé", "difficultés de paiement"],
        "prediction": ["accordé", "refusé"],
    },
}


def label(name: str, lang: str = "en") -> str:
    """A feature's label in a language, as the API's ``lang`` parameter gives it."""
    if lang == "fr" and name in FRENCH_LABELS:
        return FRENCH_LABELS[name]
    return next((f["label"] for f in FEATURES if f["name"] == name), name)


RAW: dict[int, list[tuple[str, RawValue, str]]] = {
    cid: [
        ("SK_ID_CURR", cid, "ID of loan in our sample"),
        ("CODE_GENDER", "F", "Gender of the client"),
        ("DAYS_BIRTH", -12005, "Client's age in days at the time of application"),
        ("AMT_CREDIT", 406597.5, "Credit amount of the loan"),
        ("AMT_ANNUITY", 24700.5, "Loan annuity"),
        ("AMT_GOODS_PRICE", 351000.0, "Goods price for consumer loans"),
        ("NAME_FAMILY_STATUS", "Married", "Family status of the client"),
        ("EXT_SOURCE_2", 0.2629, "Normalized score from external data source"),
        (
            "DAYS_EMPLOYED",
            -637,
            "How many days before the application the person started current employment",
        ),
    ]
    for cid in CLIENT_IDS
}
# What GET /v1/clients/{id} gives as each raw field's label and French description.
RAW_WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "SK_ID_CURR": ("Client ID", ""),
        "CODE_GENDER": ("Gender", ""),
        "DAYS_BIRTH": ("Age (days)", ""),
        "AMT_CREDIT": ("Credit amount", ""),
        "AMT_ANNUITY": ("Loan annuity", ""),
        "AMT_GOODS_PRICE": ("Price of the goods", ""),
        "NAME_FAMILY_STATUS": ("Family status", ""),
        "EXT_SOURCE_2": ("External score 2", ""),
        "DAYS_EMPLOYED": ("Days employed", ""),
    },
    "fr": {
        "SK_ID_CURR": ("Identifiant client", "Identifiant du prêt dans notre échantillon"),
        "CODE_GENDER": ("Genre", "Genre du client"),
        "DAYS_BIRTH": ("Âge (jours)", "Âge du client en jours au moment de la demande"),
        "AMT_CREDIT": ("Montant du crédit", "Montant du crédit"),
        "AMT_ANNUITY": ("Annuité du prêt", "Annuité du prêt"),
        "AMT_GOODS_PRICE": ("Prix du bien", "Prix du bien financé par le prêt"),
        "NAME_FAMILY_STATUS": ("Situation familiale", "Situation familiale du client"),
        "EXT_SOURCE_2": ("Score externe 2", "Score normalisé d'une source externe"),
        "DAYS_EMPLOYED": ("Jours dans l'emploi actuel", "Jours depuis l'embauche"),
    },
}


REFER_MISSING = ["EXT_SOURCE_2", "DAYS_BIRTH"]


def _range(column: str) -> tuple[float | None, float | None]:
    valid = plausibility().column_range(column)
    return (valid.low, valid.high) if valid else (None, None)


def _explanation(
    client_id: int | None, probability: float, lang: str = "en", decision: str | None = None
) -> Explanation:
    raw = math.log(probability / (1 - probability))
    contributions = [
        ("EXT_SOURCE_2", "External credit score 2", 0.2629, 0.62),
        ("CREDIT_TERM", "Annuity to credit ratio", 0.0607, 0.31),
        ("DAYS_BIRTH", "Age (days, negative)", -12005.0, -0.22),
        ("AMT_GOODS_PRICE", "Price of the goods", 351000.0, 0.12),
        ("DAYS_EMPLOYED", "Days employed (negative)", -637.0, -0.09),
    ]
    base = -2.4
    rest_shap = raw - base - sum(c[3] for c in contributions)
    fr = lang == "fr"
    texts = {
        "en": ["0.26", "0.06", "-12,005", "€351,000", "-637"],
        "fr": ["0,26", "0,06", "-12\u202f005", "351\u202f000\u00a0€", "-637"],
    }["fr" if fr else "en"]
    return {
        "probability": probability,
        # the real API decides; the fake mirrors its rule unless a test overrides it
        "decision": decision or ("refuse" if probability >= THRESHOLD else "grant"),
        # a "refer" names the key features the record lacks, as the API does
        "missing_key_features": REFER_MISSING if decision == "refer" else [],
        "threshold": THRESHOLD,
        "model_version": "2026.11.0-demo",
        "client_id": client_id,
        "base_value": base,
        "raw_score": raw,
        "contributions": [
            {"feature": f, "label": lbl, "value": v, "value_text": text, "shap": s}
            for (f, lbl, v, s), text in zip(contributions, texts, strict=True)
        ],
        "rest": {"count": 137, "shap": rest_shap},
        "reasons": {
            "against": [
                "Le score externe 2 est bas (0,26)." if fr else "External score 2 is low (0.26).",
                "Les mensualités pèsent lourd face au crédit."
                if fr
                else "The annuity is high for the credit amount.",
                "Le prix du bien est élevé." if fr else "The price of the goods is high.",
                "Costs $ and *stars* stay literal.",
            ],
            "for": [
                "L'âge du client réduit le risque." if fr else "The client's age lowers the risk.",
                "Emploi stable depuis 637 jours." if fr else "Employed for 637 days.",
            ],
        },
    }


class FakeApi:
    """Implements dashboard.api_client.ScoringApi in memory; counts calls per method."""

    def __init__(self, errors: Mapping[str, Exception] | None = None) -> None:
        self.errors: dict[str, Exception] = dict(errors or {})
        self.calls: Counter[str] = Counter()
        self.last_changes: dict[str, RawValue] | None = None
        self.langs: dict[str, list[str]] = {}  # the lang of each call, per labelled route
        self.groups: dict[str, list[bool]] = {}  # the group flag of each call, per route
        # A decision per client that overrides the probability >= threshold rule, as an API
        # with another rule (or another threshold) would answer: the dashboard must show it.
        self.decisions: dict[int, str] = {}
        self.extra_changes: list[Change] = []  # more counterfactual changes (e.g. a yes/no item)
        self.drift_status = "ok"  # or insufficient_data, unavailable
        self.drifted = ["EXT_SOURCE_2", "CREDIT_TERM"]  # the features GET /v1/model/drift names

    def _call(self, name: str, client_id: int | None = None) -> None:
        self.calls[name] += 1
        error = self.errors.get(name) or self.errors.get("*")
        if error is not None:
            raise error
        if client_id is not None and client_id not in CLIENT_IDS:
            raise ApiNotFound(f"HTTP 404: client {client_id} not found", 404)

    def search_clients(self, search: str, limit: int = 10) -> ClientPage:
        self._call("search_clients")
        hits = [cid for cid in CLIENT_IDS if search in str(cid)]
        return {"total": len(hits), "limit": limit, "offset": 0, "items": hits[:limit]}

    def _lang(self, name: str, lang: str) -> None:
        self.langs.setdefault(name, []).append(lang)

    def features(self, lang: str = "en") -> list[FeatureInfo]:
        self._call("features")
        self._lang("features", lang)
        items = copy.deepcopy(FEATURES)
        for item in items:
            item["label"] = label(item["name"], lang)
            valid = plausibility().feature_range(item["name"])
            item["valid_min"], item["valid_max"] = (
                (valid.low, valid.high) if valid else (None, None)
            )
        return items

    def client(self, client_id: int, lang: str = "en") -> ClientRecord:
        self._call("client", client_id)
        self._lang("client", lang)
        words = RAW_WORDS["fr" if lang == "fr" else "en"]
        fields = [
            {
                "name": n,
                "label": words[n][0],
                "value": v,
                "description": words[n][1] or d,
                # the API serves the documented ranges (scoring/resources/plausibility.json)
                "valid_min": _range(n)[0],
                "valid_max": _range(n)[1],
            }
            for n, v, d in RAW[client_id]
        ]
        return {"client_id": client_id, "fields": fields}  # type: ignore[typeddict-item]

    def client_features(self, client_id: int) -> dict[str, float | None]:
        self._call("client_features", client_id)
        return {
            "EXT_SOURCE_2": 0.2629,
            "CREDIT_TERM": 0.0607,
            "DAYS_BIRTH": -12005.0,
            "AMT_GOODS_PRICE": 351000.0,
            "DAYS_EMPLOYED": -637.0,
            "CODE_GENDER": None,
        }

    def explanation(
        self, client_id: int, top: int = 10, lang: str = "en", group: bool = False
    ) -> Explanation:
        self._call("explanation", client_id)
        self.groups.setdefault("explanation", []).append(group)
        probability = 0.62 if client_id == REFUSED_ID else 0.21
        return _explanation(client_id, probability, lang, self.decisions.get(client_id))

    def explain_changes(
        self,
        client_id: int,
        changes: Mapping[str, RawValue],
        top: int = 10,
        lang: str = "en",
        group: bool = False,
    ) -> Explanation:
        self._call("explain_changes", client_id)
        self.groups.setdefault("explain_changes", []).append(group)
        self.last_changes = dict(changes)
        return _explanation(client_id, 0.39, lang)

    def distribution(
        self,
        feature: str,
        client_id: int,
        by: str = "target",
        bins: int = 20,
        lang: str = "en",
    ) -> Distribution:
        self._call("distribution", client_id)
        self._lang("distribution", lang)
        edges = [i / 10 for i in range(11)]
        return {
            "feature": feature,
            "label": label(feature, lang),
            "by": by,
            "bin_edges": edges,
            "counts_0": [5, 9, 20, 40, 80, 120, 150, 130, 90, 40],
            "counts_1": [6, 8, 12, 14, 12, 10, 8, 5, 3, 1],
            "labels": CLASS_LABELS["fr" if lang == "fr" else "en"][by],
            "missing_0": 3,
            "missing_1": 1,
            "client_value": 0.2629,
        }

    def scatter(self, x: str, y: str, n: int = 500) -> Scatter:
        self._call("scatter")
        xs = [i / 40 for i in range(40)]
        return {
            "x": x,
            "y": y,
            "points": {
                "x": [*xs[:-1], None],
                "y": [1 - v for v in xs],
                "target": [1 if i % 7 == 0 else 0 for i in range(40)],
                "probability": [min(0.99, 0.05 + v / 2) for v in xs],
            },
        }

    def neighbors(self, client_id: int, k: int = 10) -> Neighbors:
        self._call("neighbors", client_id)
        items = [
            {
                "client_id": 300000 + i,
                "distance": 0.1 * (i + 1),
                "target": int(i in (1, 4)),
                "probability": 0.3 + 0.05 * i,
            }
            for i in range(k)
        ]
        return {
            "client_id": client_id,
            "k": k,
            "default_rate": 0.2,
            "features": ["EXT_SOURCE_2", "CREDIT_TERM"],
            "items": items,
        }  # type: ignore[typeddict-item]

    def counterfactual(self, client_id: int, lang: str = "en") -> Counterfactual:
        self._call("counterfactual", client_id)
        return {
            "client_id": client_id,
            "found": True,
            "decision_before": "refuse",
            "decision_after": "grant",
            "probability_before": 0.62,
            "probability_after": 0.46,
            "changes": [
                {
                    "column": "AMT_CREDIT",
                    "label": "credit amount" if lang == "en" else "montant du crédit",
                    "before": 406597.5,
                    "after": 300000.0,
                    "derived": False,
                },
                {
                    "column": "AMT_ANNUITY",
                    "label": "loan annuity" if lang == "en" else "annuité du prêt",
                    "before": 24700.5,
                    "after": 18224.0,
                    "derived": True,
                },
                *self.extra_changes,
            ],
            "message": "Lowering the credit amount to 300,000 would cross the threshold."
            if lang == "en"
            else "Réduire le montant du crédit à 300 000 franchirait le seuil.",
        }

    def model(self) -> ModelCard:
        self._call("model")
        return {
            "version": "2026.11.0-demo",
            "trained_at": "2026-11-20T10:00:00Z",
            "threshold": THRESHOLD,
            "refer": {"top_k": 10, "max_missing": 3, "features": ["EXT_SOURCE_2", "DAYS_BIRTH"]},
            "cost": {"fn": 10.0, "fp": 1.0},
            "metrics": {
                "auc": 0.771,
                "auc_std": 0.004,
                "business_cost": 0.492,
                "business_cost_accept_all": 0.807,
                "recall": 0.68,
                "precision": 0.19,
                "brier": 0.067,
            },
            "data": {
                "rows": 307511,
                "defaults": 24825,
                "default_rate": 0.0807,
                "features": 142,
                "fingerprint": "sha256:abc",
            },
            "library_versions": {"lightgbm": "4.6.0", "shap": "0.48.0"},
            "model": "blend",
            "registry": {"name": "credit-scoring", "version": 3, "aliases": ["champion"]},
            "comparison": {
                "default": "blend",
                "reason": "blend costs less on 4 of 5 folds: it becomes the default",
                "incumbent": "lightgbm",
                "auc_gain_over_incumbent": 0.004,
                "cost_saving_over_incumbent": 0.011,
                "baseline": "scorecard",
                "auc_gain_over_baseline": 0.012,
                "cost_saving_over_baseline": 0.02,
                "models": [
                    {
                        "model": name,
                        "description": name,
                        "auc_mean": auc,
                        "auc_std": 0.004,
                        "business_cost": cost,
                        "threshold": THRESHOLD,
                    }
                    for name, auc, cost in [
                        ("scorecard", 0.759, 0.512),
                        ("lightgbm", 0.767, 0.503),
                        ("blend", 0.771, 0.492),
                    ]
                ],
            },
        }

    def fairness(self, lang: str = "en") -> Fairness:
        self._call("fairness")
        self._lang("fairness", lang)
        groups = {
            "CODE_GENDER": [("F", 0.74, 0.07), ("M", 0.6, 0.1)],
            "AGE_BAND": [("<30", 0.5, 0.11), ("30-45", 0.65, 0.09), ("45-60", 0.78, 0.06)],
        }
        return {
            "model_version": "2026.11.0-demo",
            "model": "blend",
            "threshold": THRESHOLD,
            "attributes": [
                {
                    "attribute": name,
                    "label": name if lang == "en" else f"{name} (fr)",
                    "groups": [
                        {
                            "group": g,
                            "count": 1000,
                            "approval_rate": a,
                            "default_rate": d,
                            "false_negative_rate": 0.3,
                            "false_positive_rate": 1 - a,
                            "in_differences": True,
                        }
                        for g, a, d in rows
                    ],
                    "demographic_parity_difference": 0.14 if name == "CODE_GENDER" else 0.28,
                    "equalized_odds_difference": 0.13 if name == "CODE_GENDER" else 0.3,
                    "is_model_input": True,
                    "reading": f"reading of {name} in {lang}",
                }
                for name, rows in groups.items()
            ],
            "auc_without_gender_and_age": -0.003,
            "summary": f"summary in {lang}",
        }

    def importance(self, top: int = 20, lang: str = "en", group: bool = False) -> ImportanceList:
        self._call("importance")
        self._lang("importance", lang)
        self.groups.setdefault("importance", []).append(group)
        return {
            "items": [
                {
                    "feature": f["name"],
                    "label": label(f["name"], lang),
                    "importance": f["importance"],
                }
                for f in FEATURES
            ][:top]
        }

    def drift(self) -> DriftSummary:
        self._call("drift")
        window = {"rows": 0, "since": None, "until": None, "min_rows": 500}
        if self.drift_status != "ok":
            message = "drift needs a newer bundle" if self.drift_status == "unavailable" else ""
            return {
                "status": self.drift_status,  # type: ignore[typeddict-item]
                "message": message,
                "dataset_drift": None,
                "share_drifted": None,
                "drifted": [],
                "tested": 0,
                "features": [],
                "window": {**window, "rows": 120},  # type: ignore[typeddict-item]
            }
        names = [f["name"] for f in FEATURES]
        features = [
            {
                "feature": name,
                "test": "wasserstein",
                "p_value": None,
                "distance": 0.25 if name in self.drifted else 0.04,
                "threshold": 0.1,
                "drifted": name in self.drifted,
                "score": 2.5 if name in self.drifted else 0.4,
            }
            for name in sorted(names, key=lambda n: n not in self.drifted)
        ]
        share = len(self.drifted) / len(names)
        return {
            "status": "ok",
            "message": "",
            "dataset_drift": share >= 0.5,
            "share_drifted": share,
            "drifted": list(self.drifted),
            "tested": len(names),
            "features": features,  # type: ignore[typeddict-item]
            "window": {
                "rows": 1200,
                "since": "2026-11-20T08:00:00Z",
                "until": "2026-11-27T17:00:00Z",
                "min_rows": 500,
            },
        }


def as_json(value: Any) -> Any:
    """Deep copy, as the HTTP layer would hand it over."""
    return copy.deepcopy(value)
