"""Response bodies built from the core's objects, in one place: every route returns one of these
typed models (api/schemas.py), never a hand-written dict."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from api import schemas
from api.errors import NotFoundError
from scoring import counterfactual as cf
from scoring.drift import DRIFT_SHARE
from scoring.drift_window import WindowSettings, WindowSummary
from scoring.model import Explanation, Score, ScoringModel
from scoring.neighbors import NeighborIndex, Neighbors
from scoring.plausibility import plausibility
from scoring.reasons import format_value, grouped_importance, reasons, top_contributions
from scoring.reference import By, Distribution
from scoring.wording import Lang, feature_description, text


def score_fields(score: Score) -> dict[str, object]:
    """The fields every scored answer shares (the schemas' ``Scored`` part), in their order."""
    return {
        "probability": score.probability,
        "decision": score.decision,
        "decision_reason": score.decision_reason,
        "missing_key_features": list(score.missing_key_features),
        "threshold": score.threshold,
        "model_version": score.model_version,
    }


def client_score(score: Score, client_id: int) -> schemas.ClientScore:
    return schemas.ClientScore.model_validate({**score_fields(score), "client_id": client_id})


def prediction(score: Score, missing: list[str]) -> schemas.Prediction:
    return schemas.Prediction.model_validate({**score_fields(score), "missing_features": missing})


def batch_prediction(
    model_version: str, scores: Sequence[Score], missing: Sequence[list[str]]
) -> schemas.BatchPrediction:
    """The body of a batch, validated in one call (pydantic-core walks the 1,000 items) instead
    of one model per item: the same checks, a fifth of the cost."""
    items = [
        {**score_fields(score), "missing_features": names}
        for score, names in zip(scores, missing, strict=True)
    ]
    return schemas.BatchPrediction.model_validate({"model_version": model_version, "items": items})


def explanation(
    expl: Explanation,
    model: ScoringModel,
    client_id: int | None,
    top: int,
    lang: Lang,
    group: bool = False,
) -> schemas.Explanation:
    contributions, rest_count, rest_shap = top_contributions(expl, model, top, lang, group)
    why = reasons(expl, model, lang, n=3)
    return schemas.Explanation.model_validate(
        {
            **score_fields(expl),
            "client_id": client_id,
            "base_value": expl.base_value,
            "raw_score": expl.raw_score,
            "contributions": [
                schemas.Contribution(
                    feature=c.feature,
                    label=c.label,
                    value=None if c.value is None or math.isnan(c.value) else c.value,
                    value_text=format_value(model, c.feature, c.value, lang),
                    shap=c.shap,
                )
                for c in contributions
            ],
            "rest": schemas.Rest(count=rest_count, shap=rest_shap),
            "reasons": {"against": why["against"], "for": why["for"]},
        }
    )


def counterfactual(result: cf.Counterfactual, client_id: int, lang: Lang) -> schemas.Counterfactual:
    return schemas.Counterfactual(
        client_id=client_id,
        found=result.found,
        decision_before=result.decision_before,
        decision_after=result.decision_after,
        probability_before=result.probability_before,
        probability_after=result.probability_after,
        changes=[
            schemas.CounterfactualChange(
                column=c.column,
                label=cf.label(c.column, lang),
                before=c.before,
                after=c.after,
                derived=c.derived,
            )
            for c in result.changes
        ],
        message=cf.message(result, lang),
    )


def neighbors(client_id: int, k: int, index: NeighborIndex, found: Neighbors) -> schemas.Neighbors:
    return schemas.Neighbors(
        client_id=client_id,
        k=k,
        default_rate=found.default_rate,
        features=index.features,
        items=[
            schemas.Neighbor(client_id=int(i), distance=float(d), target=int(t), probability=p)
            for i, d, t, p in zip(
                found.ids.tolist(),
                found.distances.tolist(),
                found.target.tolist(),
                found.probability.tolist(),
                strict=True,
            )
        ],
    )


def model_card(model: ScoringModel) -> schemas.ModelCard:
    meta = model.metadata
    return schemas.ModelCard(
        version=meta.version,
        trained_at=meta.trained_at.isoformat(),
        threshold=meta.threshold,
        refer=schemas.ReferPolicy.model_validate(meta.refer.model_dump()),
        cost=schemas.Cost(fn=meta.cost.fn, fp=meta.cost.fp),
        metrics=schemas.Metrics.model_validate(meta.metrics.model_dump(exclude={"refusal_rate"})),
        data=schemas.DataSummary.model_validate(
            meta.data.model_dump(include={"rows", "defaults", "default_rate", "features"})
            | {"fingerprint": meta.data.fingerprint}
        ),
        library_versions=dict(meta.library_versions),
        model=model.model_name,
        registry=_registry(model),
        comparison=_comparison(model),
    )


def _registry(model: ScoringModel) -> schemas.Registry | None:
    record = model.registry
    if not record:
        return None
    return schemas.Registry(
        name=record.get("name"),
        version=record.get("version"),
        aliases=list(record.get("aliases", [])),
    )


def _comparison(model: ScoringModel) -> schemas.Comparison | None:
    card = model.card
    if not card:
        return None
    choice, beats = card["choice"], card["beats"]
    return schemas.Comparison(
        default=choice["default"],
        reason=choice["reason"],
        rule=choice["rule"],
        incumbent=beats["incumbent"],
        auc_gain_over_incumbent=beats["auc_gain"],
        cost_saving_over_incumbent=beats["cost_saving"],
        baseline=beats["baseline"],
        auc_gain_over_baseline=beats["baseline_auc_gain"],
        cost_saving_over_baseline=beats["baseline_cost_saving"],
        models=[schemas.ComparedModel.model_validate(row) for row in card["comparison"]],
    )


def fairness(model: ScoringModel, lang: Lang) -> schemas.Fairness:
    """The card's fairness report, with a plain-language reading of each attribute."""
    card = model.card
    if not card:
        raise NotFoundError("fairness report of model", model.version)
    report = card["fairness"]
    attributes = []
    for name, entry in report["attributes"].items():
        attributes.append(
            schemas.FairnessAttribute(
                attribute=name,
                label=text(f"fairness.attribute.{name}", lang),
                groups=[schemas.FairnessGroup.model_validate(g) for g in entry["groups"]],
                demographic_parity_difference=entry["demographic_parity_difference"],
                equalized_odds_difference=entry["equalized_odds_difference"],
                is_model_input=bool(card["are_model_inputs"].get(_PROTECTED[name], False)),
                reading=fairness_reading(name, entry, lang),
            )
        )
    ablation = card.get("without_gender_and_age") or {}
    change = ablation.get("auc_change")
    return schemas.Fairness(
        model_version=model.version,
        model=model.model_name,
        threshold=report["threshold"],
        min_group=report["min_group"],
        attributes=attributes,
        auc_without_gender_and_age=change,
        summary=text(
            "fairness.summary" if change is not None else "fairness.summary_unmeasured",
            lang,
            change=format_points(change or 0.0, lang, signed=True),
        ),
    )


_PROTECTED = {"CODE_GENDER": "CODE_GENDER", "AGE_BAND": "DAYS_BIRTH"}


def format_points(value: float, lang: Lang, signed: bool = False) -> str:
    """A rate or difference as percentage points, e.g. '14.6' (fr '14,6'), '-0.3' if signed."""
    shown = f"{value * 100:+.1f}" if signed else f"{abs(value) * 100:.1f}"
    return shown.replace(".", ",") if lang == "fr" else shown


def fairness_reading(attribute: str, entry: dict[str, Any], lang: Lang) -> str:
    """One attribute's figures in plain words: the approval gap and the error-rate gap."""
    groups = [g for g in entry["groups"] if isinstance(g, dict) and g["in_differences"]]
    parity, odds = entry["demographic_parity_difference"], entry["equalized_odds_difference"]
    if len(groups) < 2 or not isinstance(parity, float) or not isinstance(odds, float):
        return text("fairness.reading.too_small", lang)
    most = max(groups, key=lambda g: g["approval_rate"])
    least = min(groups, key=lambda g: g["approval_rate"])
    return text(
        "fairness.reading",
        lang,
        most=most["group"],
        most_rate=format_points(most["approval_rate"], lang),
        least=least["group"],
        least_rate=format_points(least["approval_rate"], lang),
        parity=format_points(parity, lang),
        odds=format_points(odds, lang),
    )


def importance(
    model: ScoringModel, top: int | None, lang: Lang, group: bool = False
) -> schemas.ImportanceList:
    if group:  # related features merged, as the reasons tell them
        merged = grouped_importance(model, lang)[: top or None]
        return schemas.ImportanceList(
            items=[
                schemas.Importance(feature=i.feature, label=i.label, importance=i.shap)
                for i in merged
            ]
        )
    ranked = list(model.importance.items())[: top or None]
    return schemas.ImportanceList(
        items=[
            schemas.Importance(feature=name, label=model.label(name, lang), importance=value)
            for name, value in ranked
        ]
    )


def feature_list(model: ScoringModel, lang: Lang) -> schemas.FeatureList:
    items = []
    ranges = plausibility()
    for name in model.feature_names:
        info = model.feature_info(name)
        valid = ranges.feature_range(name)
        items.append(
            schemas.FeatureInfo(
                name=name,
                label=model.label(name, lang),
                description=feature_description(name, list(info.sources) if info else [], lang),
                dtype=info.dtype if info else "float",
                sources=list(info.sources) if info else [],
                importance=float(model.importance.get(name, 0.0)),
                actionable=bool(info.actionable) if info else False,
                valid_min=valid.low if valid else None,
                valid_max=valid.high if valid else None,
            )
        )
    items.sort(key=lambda item: (-item.importance, item.name))
    return schemas.FeatureList(items=items)


def distribution(
    name: str,
    label: str,
    by: By,
    dist: Distribution,
    client_value: float | None,
    lang: Lang,
) -> schemas.Distribution:
    return schemas.Distribution(
        feature=name,
        label=label,
        by=by,
        bin_edges=dist.bin_edges,
        counts_0=dist.counts_0,
        counts_1=dist.counts_1,
        labels=[text(f"class.{by}.0", lang), text(f"class.{by}.1", lang)],
        missing_0=dist.missing_0,
        missing_1=dist.missing_1,
        client_value=client_value,
    )


def floats(values: np.ndarray) -> list[float | None]:
    """JSON-safe floats: NaN becomes null."""
    return [None if math.isnan(v) else v for v in values.tolist()]


def drift(
    model: ScoringModel, summary: WindowSummary | None, window: WindowSettings, unavailable: str
) -> schemas.DriftSummary:
    """The drift summary; `summary` None means the bundle cannot serve drift (`unavailable`)."""
    rows = summary.rows if summary else 0
    frame = schemas.DriftWindow(
        rows=rows,
        since=summary.since if summary else None,
        until=summary.until if summary else None,
        max_rows=window.max_rows,
        max_age_s=window.max_age_s,
        min_rows=window.min_rows,
    )
    report = summary.report if summary else None
    if summary is None or report is None:
        status: Literal["insufficient_data", "unavailable"] = (
            "unavailable" if summary is None else "insufficient_data"
        )
        message = (
            unavailable
            if summary is None
            else f"{rows} applications scored in the window; drift needs {window.min_rows}"
        )
        return schemas.DriftSummary(
            status=status, message=message, model_version=model.version, dataset_drift=None,
            share_drifted=None, drift_share=DRIFT_SHARE, drifted=[], tested=0, features=[],
            reference_rows=0, current_rows=rows, window=frame, computed_at=None,
            method="evidently-defaults",
        )  # fmt: skip
    data = report.to_dict()
    verdict = "dataset drift" if report.dataset_drift else "no dataset drift"
    return schemas.DriftSummary.model_validate(
        {
            **data,
            "status": "ok",
            "message": f"{verdict}: {len(report.drifted)} of {report.tested} features drifted",
            "model_version": model.version,
            "window": frame,
            "computed_at": summary.computed_at,
        }
    )
