"""Turn the core's scores and explanations into response bodies; read them from the batch cache
when it holds the client."""

from __future__ import annotations

import math
from typing import Any

from api.store import ClientStore
from scoring.model import Explanation, ScoringModel
from scoring.reasons import format_value, reasons, top_contributions
from scoring.wording import Lang


def decision(probability: float, threshold: float) -> str:
    return "refuse" if probability >= threshold else "grant"


def score_body(model: ScoringModel, probability: float) -> dict[str, Any]:
    return {
        "probability": probability,
        "decision": decision(probability, model.threshold),
        "threshold": model.threshold,
        "model_version": model.version,
    }


def cached_explanation(
    store: ClientStore, model: ScoringModel, client_id: int
) -> Explanation | None:
    """The client's explanation from the batch cache, or None while it is warming.

    The raw score is recomputed as base value + sum of the stored contributions, so additivity
    holds exactly for what is served even though contributions are kept as float32."""
    row = store.cached_row(client_id)
    if row is None or store.batch is None:
        return None
    return model.explanation_from(
        store.feature_row(client_id), store.batch.shap[row], float(store.batch.base_value)
    )


def explanation_body(
    expl: Explanation,
    model: ScoringModel,
    client_id: int | None,
    top: int,
    lang: Lang,
    group: bool = False,
) -> dict[str, Any]:
    contributions, rest_count, rest_shap = top_contributions(expl, model, top, lang, group)
    why = reasons(expl, model, lang, n=3)
    return {
        "probability": float(expl.probability),
        "decision": expl.decision,
        "threshold": float(expl.threshold),
        "model_version": expl.model_version,
        "client_id": client_id,
        "base_value": float(expl.base_value),
        "raw_score": float(expl.raw_score),
        "contributions": [
            {
                "feature": c.feature,
                "label": c.label,
                "value": None if c.value is None or math.isnan(c.value) else float(c.value),
                "value_text": format_value(model, c.feature, c.value, lang),
                "shap": float(c.shap),
            }
            for c in contributions
        ],
        "rest": {"count": int(rest_count), "shap": float(rest_shap)},
        "reasons": {"against": list(why["against"]), "for": list(why["for"])},
    }
