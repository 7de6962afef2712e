"""Every text the dashboard shows, in English and French.

``tr(lang, key, **values)`` is pure (charts, PDF, tests); ``t(key, **values)`` reads the language
the advisor picked in the sidebar. A test checks that both languages have exactly the same keys
and the same placeholders.
"""

from __future__ import annotations

import math
from typing import Final, Literal, cast

import streamlit as st

from dashboard.settings import setting

Lang = Literal["en", "fr"]
LANGS: Final[tuple[Lang, ...]] = ("en", "fr")
LANG_NAMES: Final[dict[Lang, str]] = {"en": "English", "fr": "Français"}

EN: Final[dict[str, str]] = {
    "app.brand": "Prêt à dépenser",
    "app.title": "Credit decision assistant",
    "app.lang": "Language / Langue",
    "app.no_key": "The dashboard has no API key, so it cannot ask the scoring service for "
    "anything. IT support: set API_KEY to a key the API accepts, then restart the dashboard.",
    "page.decision": "Decision",
    "page.explanation": "Explanation",
    "page.comparison": "Comparison",
    "page.whatif": "What-if",
    "page.model": "Model",
    # client search
    "search.label": "Client ID",
    "search.placeholder": "e.g. 100465",
    "search.help": "Type the full client ID, or a few of its digits to search.",
    "search.invalid": "A client ID contains digits only.",
    "search.none": "No client ID contains “{query}”.",
    "search.pick": "Matching clients",
    "search.more": "{total} clients match; the first {shown} are listed. Type more digits.",
    "client.current": "Client {client_id}",
    "client.none": "Find a client in the sidebar: type their ID, or a few digits of it.",
    # errors
    "error.unavailable": "The scoring service cannot be reached right now. Please retry in a "
    "moment; if it persists, contact IT support.",
    "error.timeout": "The scoring service is taking too long to answer. Please retry.",
    "error.busy": "The scoring service is receiving too many requests. Please retry in a minute.",
    "error.auth": "The dashboard is not authorised to use the scoring service (API key "
    "refused). Contact IT support.",
    "error.not_found": "Client {client_id} was not found. Check the ID and try again.",
    "error.generic": "The scoring service returned an unexpected answer. Please retry; if it "
    "persists, contact IT support.",
    "error.detail": "Reference for support: {detail}",
    "error.retry": "Retry",
    # decision
    "decision.grant": "Credit granted",
    "decision.refuse": "Credit refused",
    "decision.refer": "Referred to an advisor",
    "decision.refer_reason": "Too little information for an automatic decision: {count} of the "
    "model's most important items are unknown ({features}). Complete the file or decide in "
    "person.",
    "decision.below": "The default probability, {probability}, is {gap} below the threshold of "
    "{threshold}.",
    "decision.above": "The default probability, {probability}, is {gap} above the threshold of "
    "{threshold}.",
    "decision.at": "The default probability, {probability}, is at the threshold of {threshold}.",
    "decision.just_below": "The default probability, {probability}, is just below the threshold "
    "of {threshold}.",
    "decision.just_above": "The default probability, {probability}, is just above the threshold "
    "of {threshold}.",
    "decision.close": "Close to the threshold: review the file with care.",
    "decision.model": "Model {version}",
    "reasons.against": "What raises the risk",
    "reasons.for": "What lowers the risk",
    "reasons.none": "No strong reason in this direction.",
    "pdf.download": "Download the decision summary (PDF)",
    "pdf.title": "Credit decision summary",
    "pdf.client": "Client {client_id}",
    "pdf.date": "Date: {date}",
    "pdf.note": "This summary explains the automated score given to the application. The "
    "advisor remains responsible for the final decision and can explain it in person.",
    "gauge.title": "Default probability",
    "gauge.threshold": "Threshold",
    "gauge.alt": "Gauge of the default probability: {probability}, against a threshold of "
    "{threshold}. {verdict}.",
    # chart common
    "chart.table": "Chart as text and table",
    "table.item": "Item",
    "table.value": "Value",
    "direction.up": "raises the risk",
    "direction.down": "lowers the risk",
    # explanation
    "explanation.title": "Why this decision",
    "explanation.intro": "From the average client's default probability to this client's, each "
    "bar shows how many points one characteristic adds or takes away: hatched bars to the right "
    "raise the risk, plain bars to the left lower it.",
    "waterfall.base": "Average client",
    "waterfall.rest": "{count} other characteristics",
    "waterfall.final": "This client",
    "waterfall.axis": "Default probability",
    "waterfall.alt": "Waterfall chart. From the average client's default probability of {base}, "
    "the largest effects are: {items}. {rest}. This client's default probability is "
    "{probability}.",
    "waterfall.alt_rest": "{count} other characteristics together add {points}",
    "col.feature": "Characteristic",
    "col.value": "Client value",
    "col.contribution": "Effect on the probability",
    "col.effect": "Effect",
    "col.importance": "Relative weight (largest = 100)",
    "importance.local": "Weight for this client",
    "importance.global": "Weight for all clients",
    "importance.compare": "This client compared with all clients",
    "importance.axis": "Relative weight (top = 100)",
    "importance.local_axis": "Points",  # the plot is narrow: the chart title says the rest
    "importance.alt": "Bar chart of the {count} most influential characteristics: {items}.",
    "value.missing": "missing",
    "value.yes": "yes",
    "value.no": "no",
    # comparison
    "comparison.feature": "Characteristic",
    "dist.title": "{label}: repaid vs defaulted clients",
    "dist.repaid": "Repaid",
    "dist.defaulted": "Payment difficulties",
    "dist.client": "This client",
    "dist.axis_y": "Share of the group",
    "dist.alt": "Histogram of {label} for {n0} clients who repaid and {n1} who had payment "
    "difficulties. {position}",
    "dist.alt_client": "This client's value, {value}, falls between {low} and {high}, where "
    "{share} of clients had payment difficulties.",
    "dist.alt_missing": "This client's value is missing.",
    "col.from": "From",
    "col.to": "To",
    "scatter.title": "Two characteristics together",
    "scatter.x": "Horizontal axis",
    "scatter.y": "Vertical axis",
    "scatter.colour": "Colour by",
    "scatter.by_outcome": "Outcome",
    "scatter.by_score": "Default probability",
    "scatter.client": "This client",
    "scatter.alt": "Scatter plot of {n} reference clients, {x} against {y}: {n1} had payment "
    "difficulties (crosses) and {n0} repaid (circles). This client is at {cx}, {cy}.",
    "col.outcome": "Outcome",
    "col.count": "Clients",
    "col.median": "{label} (median)",
    "col.probability": "Default probability",
    "col.client": "Client",
    "col.distance": "Distance",
    "neighbors.title": "Similar clients",
    "neighbors.rate": "Among the {k} most similar past clients, {rate} had payment difficulties.",
    "neighbors.alt": "Bar chart of the default probability of the {k} most similar clients; "
    "{n1} of them had payment difficulties. Threshold {threshold}.",
    # what-if
    "whatif.intro": "Change what the client can act on, then re-score. Age, gender and family "
    "status are never editable.",
    "whatif.submit": "Re-score",
    "whatif.before": "Today",
    "whatif.after": "Simulated",
    "whatif.none": "No characteristic the client can act on is available for this file.",
    "whatif.unchanged": "Change at least one value, then select Re-score.",
    "whatif.delta": "Default probability {before} → {after} ({delta}).",
    "whatif.invalid": "The scoring service refused these values: {detail}",
    "whatif.out_of_range": "{label}: outside the valid range {range}.",
    "whatif.amount": "{label} ({currency})",
    "whatif.amount_invalid": "{label}: “{value}” is not an amount. Type digits, e.g. 250,000.",
    "whatif.term": "Credit term (years)",
    "whatif.term_help": "The annuity follows the credit amount and the term, so the simulated "
    "loan is a loan that could be granted.",
    "whatif.annuity": "Annuity for this amount and term: {annuity} (today {today}).",
    "cf.title": "What would change the decision",
    "cf.none": "No small change of the actionable characteristics crosses the threshold.",
    "cf.after": "With these changes: {decision}, default probability {probability}.",
    "cf.apply": "Try these changes in the simulation",
    "cf.derived": "{label} (follows, same term)",
    "col.now": "Today",
    "col.needed": "Needed",
    # model
    "model.title": "About the model",
    "model.version": "Version",
    "model.trained_at": "Trained on",
    "model.threshold": "Decision threshold",
    "model.threshold_help": "A client is refused when the default probability is at or above "
    "this value.",
    "model.cost": "Business cost: a missed default costs {ratio} times as much as a good client "
    "wrongly refused. The threshold minimises this cost.",
    "model.refer": "Too little information: when more than {max_missing} of the model's "
    "{top_k} most important items are unknown, the file is referred to an advisor instead of an "
    "automatic decision. The items: {features}.",
    "model.cost_value": "Business cost per client",
    "model.cost_accept_all": "Cost if every client were granted",
    "model.auc": "AUC (ranking quality)",
    "model.recall": "Recall (defaults caught)",
    "model.precision": "Precision (refusals justified)",
    "model.brier": "Brier score (calibration)",
    "model.data": "Trained on {rows} clients, {rate} with payment difficulties, {features} "
    "characteristics.",
    "model.importance": "Most influential characteristics overall",
    "model.libraries": "Library versions",
    "model.served": "Model",
    "model.registry": "Registry version",
    "model.unregistered": "not registered",
    "model.comparison": "Why this model",
    "model.beats": "On the same cross-validation folds, it beats {baseline} (the classic credit "
    "scorecard) by {auc} AUC points and lowers the business cost by {cost} per client.",
    "model.beats_incumbent": "Against {incumbent} (the previous default): {auc} AUC points, cost "
    "{cost} per client lower.",
    "model.is_baseline": "The classic credit scorecard is itself the model chosen.",
    "col.candidate": "Model",
    "col.auc": "AUC (mean ± std over folds)",
    "col.cost": "Business cost per client",
    "model.fairness": "Fairness by gender and age",
    "model.fairness_intro": "Measured on clients the model had not seen (out of fold), at the "
    "decision threshold.",
    "model.parity": "Approval gap (demographic parity)",
    "model.odds": "Error-rate gap (equalised odds)",
    "col.group": "Group",
    "col.approval": "Approved",
    "col.default_rate": "Defaulted",
    "col.fnr": "Defaults granted",
    "col.fpr": "Good clients refused",
    "col.library": "Library",
    "col.version": "Version",
    "drift.title": "Data drift: recent applications against the training data",
    "drift.insufficient": "Too few applications scored lately to judge drift: {rows} of the "
    "{min_rows} needed.",
    "drift.unavailable": "Drift monitoring is not available: {message}",
    "drift.error": "The drift summary could not be loaded; the rest of the page is up to date.",
    "drift.none": "The {rows} applications scored since {since} look like the training data: "
    "{drifted} of {tested} characteristics moved ({share}), below the alert level of half.",
    "drift.detected": "The {rows} applications scored since {since} differ from the training "
    "data: {drifted} of {tested} characteristics moved ({share}). Decisions may be less "
    "reliable: tell the data science team.",
    "drift.moved": "Characteristics that moved: {features}.",
    "drift.chart": "Strongest changes against the training data",
    "drift.axis": "Change relative to the alert threshold (above 1: moved)",
    "drift.threshold": "alert threshold",
    "col.test": "Test",
    "col.drift_value": "p-value or distance",
    "col.drift_threshold": "Threshold",
    "col.drifted": "Moved",
    "currency": "€",
}

FR: Final[dict[str, str]] = {
    "app.brand": "Prêt à dépenser",
    "app.title": "Assistant de décision de crédit",
    "app.lang": "Language / Langue",
    "app.no_key": "Le tableau de bord n'a pas de clé d'API : il ne peut rien demander au "
    "service de scoring. Support informatique : définissez API_KEY avec une clé acceptée par "
    "l'API, puis redémarrez le tableau de bord.",
    "page.decision": "Décision",
    "page.explanation": "Explication",
    "page.comparison": "Comparaison",
    "page.whatif": "Simulation",
    "page.model": "Modèle",
    "search.label": "Identifiant client",
    "search.placeholder": "ex. 100465",
    "search.help": "Saisissez l'identifiant complet, ou quelques chiffres pour chercher.",
    "search.invalid": "Un identifiant client ne contient que des chiffres.",
    "search.none": "Aucun identifiant ne contient « {query} ».",
    "search.pick": "Clients correspondants",
    "search.more": "{total} clients correspondent ; les {shown} premiers sont listés. "
    "Saisissez plus de chiffres.",
    "client.current": "Client {client_id}",
    "client.none": "Cherchez un client dans le volet latéral : saisissez son identifiant, ou "
    "quelques chiffres.",
    "error.unavailable": "Le service de scoring est injoignable pour le moment. Réessayez "
    "dans un instant ; si le problème persiste, contactez le support informatique.",
    "error.timeout": "Le service de scoring met trop de temps à répondre. Réessayez.",
    "error.busy": "Le service de scoring reçoit trop de demandes. Réessayez dans une minute.",
    "error.auth": "Le tableau de bord n'est pas autorisé à utiliser le service de scoring "
    "(clé d'API refusée). Contactez le support informatique.",
    "error.not_found": "Le client {client_id} est introuvable. Vérifiez l'identifiant.",
    "error.generic": "Le service de scoring a donné une réponse inattendue. Réessayez ; si le "
    "problème persiste, contactez le support informatique.",
    "error.detail": "Référence pour le support : {detail}",
    "error.retry": "Réessayer",
    "decision.grant": "Crédit accordé",
    "decision.refuse": "Crédit refusé",
    "decision.refer": "Dossier transmis à un conseiller",
    "decision.refer_reason": "Trop peu d'informations pour une décision automatique : {count} des "
    "éléments les plus importants du modèle sont inconnus ({features}). Complétez le dossier ou "
    "décidez en personne.",
    "decision.below": "La probabilité de défaut, {probability}, est {gap} sous le seuil de "
    "{threshold}.",
    "decision.above": "La probabilité de défaut, {probability}, est {gap} au-dessus du seuil "
    "de {threshold}.",
    "decision.at": "La probabilité de défaut, {probability}, est au seuil de {threshold}.",
    "decision.just_below": "La probabilité de défaut, {probability}, est juste sous le seuil "
    "de {threshold}.",
    "decision.just_above": "La probabilité de défaut, {probability}, est juste au-dessus du "
    "seuil de {threshold}.",
    "decision.close": "Proche du seuil : examinez le dossier avec attention.",
    "decision.model": "Modèle {version}",
    "reasons.against": "Ce qui augmente le risque",
    "reasons.for": "Ce qui diminue le risque",
    "reasons.none": "Aucune raison marquée dans ce sens.",
    "pdf.download": "Télécharger la synthèse de la décision (PDF)",
    "pdf.title": "Synthèse de la décision de crédit",
    "pdf.client": "Client {client_id}",
    "pdf.date": "Date : {date}",
    "pdf.note": "Cette synthèse explique le score automatique attribué à la demande. Le "
    "conseiller reste responsable de la décision finale et peut l'expliquer de vive voix.",
    "gauge.title": "Probabilité de défaut",
    "gauge.threshold": "Seuil",
    "gauge.alt": "Jauge de la probabilité de défaut : {probability}, pour un seuil de "
    "{threshold}. {verdict}.",
    "chart.table": "Graphique en texte et en tableau",
    "table.item": "Élément",
    "table.value": "Valeur",
    "direction.up": "augmente le risque",
    "direction.down": "diminue le risque",
    "explanation.title": "Pourquoi cette décision",
    "explanation.intro": "De la probabilité de défaut du client moyen à celle de ce client, "
    "chaque barre montre combien de points une caractéristique ajoute ou retire : les barres "
    "hachurées vers la droite augmentent le risque, les barres pleines vers la gauche le "
    "diminuent.",
    "waterfall.base": "Client moyen",
    "waterfall.rest": "{count} autres caractéristiques",
    "waterfall.final": "Ce client",
    "waterfall.axis": "Probabilité de défaut",
    "waterfall.alt": "Graphique en cascade. Depuis la probabilité de défaut du client moyen, "
    "{base}, les effets les plus forts sont : {items}. {rest}. La probabilité de défaut de ce "
    "client est de {probability}.",
    "waterfall.alt_rest": "{count} autres caractéristiques ajoutent ensemble {points}",
    "col.feature": "Caractéristique",
    "col.value": "Valeur du client",
    "col.contribution": "Effet sur la probabilité",
    "col.effect": "Effet",
    "col.importance": "Poids relatif (le plus fort = 100)",
    "importance.local": "Poids pour ce client",
    "importance.global": "Poids pour l'ensemble des clients",
    "importance.compare": "Ce client comparé à l'ensemble des clients",
    "importance.axis": "Poids relatif (max = 100)",
    "importance.local_axis": "Points",
    "importance.alt": "Diagramme en barres des {count} caractéristiques les plus influentes : "
    "{items}.",
    "value.missing": "manquante",
    "value.yes": "oui",
    "value.no": "non",
    "comparison.feature": "Caractéristique",
    "dist.title": "{label} : clients ayant remboursé ou non",
    "dist.repaid": "Remboursé",
    "dist.defaulted": "Difficultés de paiement",
    "dist.client": "Ce client",
    "dist.axis_y": "Part du groupe",
    "dist.alt": "Histogramme de {label} pour {n0} clients ayant remboursé et {n1} ayant eu "
    "des difficultés de paiement. {position}",
    "dist.alt_client": "La valeur de ce client, {value}, se situe entre {low} et {high}, où "
    "{share} des clients ont eu des difficultés de paiement.",
    "dist.alt_missing": "La valeur de ce client est manquante.",
    "col.from": "De",
    "col.to": "À",
    "scatter.title": "Deux caractéristiques ensemble",
    "scatter.x": "Axe horizontal",
    "scatter.y": "Axe vertical",
    "scatter.colour": "Couleur selon",
    "scatter.by_outcome": "Issue",
    "scatter.by_score": "Probabilité de défaut",
    "scatter.client": "Ce client",
    "scatter.alt": "Nuage de {n} clients de référence, {x} en fonction de {y} : {n1} ont eu "
    "des difficultés de paiement (croix) et {n0} ont remboursé (ronds). Ce client est en "
    "{cx}, {cy}.",
    "col.outcome": "Issue",
    "col.count": "Clients",
    "col.median": "{label} (médiane)",
    "col.probability": "Probabilité de défaut",
    "col.client": "Client",
    "col.distance": "Distance",
    "neighbors.title": "Clients similaires",
    "neighbors.rate": "Parmi les {k} anciens clients les plus proches, {rate} ont eu des "
    "difficultés de paiement.",
    "neighbors.alt": "Diagramme en barres de la probabilité de défaut des {k} clients les "
    "plus proches ; {n1} d'entre eux ont eu des difficultés de paiement. Seuil {threshold}.",
    "whatif.intro": "Modifiez ce sur quoi le client peut agir, puis recalculez le score. "
    "L'âge, le genre et la situation familiale ne sont jamais modifiables.",
    "whatif.submit": "Recalculer",
    "whatif.before": "Aujourd'hui",
    "whatif.after": "Simulé",
    "whatif.none": "Aucune caractéristique modifiable par le client n'est disponible pour ce "
    "dossier.",
    "whatif.unchanged": "Modifiez au moins une valeur, puis choisissez Recalculer.",
    "whatif.delta": "Probabilité de défaut {before} → {after} ({delta}).",
    "whatif.invalid": "Le service de scoring a refusé ces valeurs : {detail}",
    "whatif.out_of_range": "{label} : hors de l'intervalle valide {range}.",
    "whatif.amount": "{label} ({currency})",
    "whatif.amount_invalid": "{label} : « {value} » n'est pas un montant. Saisissez des "
    "chiffres, par exemple 250 000.",
    "whatif.term": "Durée du crédit (années)",
    "whatif.term_help": "L'annuité suit le montant et la durée du crédit : le prêt simulé est "
    "un prêt qui pourrait être accordé.",
    "whatif.annuity": "Annuité pour ce montant et cette durée : {annuity} (aujourd'hui {today}).",
    "cf.title": "Ce qui changerait la décision",
    "cf.none": "Aucun petit changement des caractéristiques modifiables ne franchit le seuil.",
    "cf.after": "Avec ces changements : {decision}, probabilité de défaut {probability}.",
    "cf.apply": "Essayer ces changements dans la simulation",
    "cf.derived": "{label} (suit, même durée)",
    "col.now": "Aujourd'hui",
    "col.needed": "Nécessaire",
    "model.title": "À propos du modèle",
    "model.version": "Version",
    "model.trained_at": "Entraîné le",
    "model.threshold": "Seuil de décision",
    "model.threshold_help": "Un client est refusé quand sa probabilité de défaut atteint ou "
    "dépasse cette valeur.",
    "model.cost": "Coût métier : un défaut non détecté coûte {ratio} fois plus qu'un bon client "
    "refusé à tort. Le seuil minimise ce coût.",
    "model.refer": "Trop peu d'informations : quand plus de {max_missing} des {top_k} éléments "
    "les plus importants du modèle sont inconnus, le dossier est transmis à un conseiller au "
    "lieu d'une décision automatique. Les éléments : {features}.",
    "model.cost_value": "Coût métier par client",
    "model.cost_accept_all": "Coût si tous les clients étaient acceptés",
    "model.auc": "AUC (qualité du classement)",
    "model.recall": "Rappel (défauts détectés)",
    "model.precision": "Précision (refus justifiés)",
    "model.brier": "Score de Brier (calibration)",
    "model.data": "Entraîné sur {rows} clients, dont {rate} avec difficultés de paiement, "
    "{features} caractéristiques.",
    "model.importance": "Caractéristiques les plus influentes en général",
    "model.libraries": "Versions des bibliothèques",
    "model.served": "Modèle",
    "model.registry": "Version au registre",
    "model.unregistered": "non enregistré",
    "model.comparison": "Pourquoi ce modèle",
    "model.beats": "Sur les mêmes plis de validation croisée, il devance {baseline} (la grille "
    "de score classique du crédit) de {auc} points d'AUC et réduit le coût métier de {cost} par "
    "client.",
    "model.beats_incumbent": "Face à {incumbent} (le modèle précédent) : {auc} points d'AUC, coût "
    "inférieur de {cost} par client.",
    "model.is_baseline": "La grille de score classique est elle-même le modèle retenu.",
    "col.candidate": "Modèle",
    "col.auc": "AUC (moyenne ± écart-type sur les plis)",
    "col.cost": "Coût métier par client",
    "model.fairness": "Équité selon le genre et l'âge",
    "model.fairness_intro": "Mesurée sur des clients que le modèle n'avait pas vus (hors pli), au "
    "seuil de décision.",
    "model.parity": "Écart d'acceptation (parité démographique)",
    "model.odds": "Écart de taux d'erreur (égalité des chances)",
    "col.group": "Groupe",
    "col.approval": "Acceptés",
    "col.default_rate": "En défaut",
    "col.fnr": "Défauts acceptés",
    "col.fpr": "Bons clients refusés",
    "col.library": "Bibliothèque",
    "col.version": "Version",
    "drift.title": "Dérive des données : demandes récentes face aux données d'entraînement",
    "drift.insufficient": "Trop peu de demandes évaluées récemment pour juger une dérive : {rows} "
    "sur les {min_rows} nécessaires.",
    "drift.unavailable": "Le suivi de dérive n'est pas disponible : {message}",
    "drift.error": "Le résumé de dérive n'a pas pu être chargé ; le reste de la page est à jour.",
    "drift.none": "Les {rows} demandes évaluées depuis le {since} ressemblent aux données "
    "d'entraînement : {drifted} caractéristiques sur {tested} ont bougé ({share}), sous le "
    "seuil d'alerte de la moitié.",
    "drift.detected": "Les {rows} demandes évaluées depuis le {since} diffèrent des données "
    "d'entraînement : {drifted} caractéristiques sur {tested} ont bougé ({share}). Les "
    "décisions peuvent être moins fiables : prévenez l'équipe data science.",
    "drift.moved": "Caractéristiques qui ont bougé : {features}.",
    "drift.chart": "Plus forts écarts face aux données d'entraînement",
    "drift.axis": "Écart rapporté au seuil d'alerte (au-delà de 1 : a bougé)",
    "drift.threshold": "seuil d'alerte",
    "col.test": "Test",
    "col.drift_value": "p-valeur ou distance",
    "col.drift_threshold": "Seuil",
    "col.drifted": "A bougé",
    "currency": "€",
}

STRINGS: Final[dict[Lang, dict[str, str]]] = {"en": EN, "fr": FR}


def default_lang() -> Lang:
    """DASHBOARD_LANG if it names a supported language, else English."""
    wanted = setting("DASHBOARD_LANG", "en").lower()
    return wanted if wanted in LANGS else "en"


def tr(lang: Lang, key: str, **values: object) -> str:
    """The text for ``key`` in ``lang``, with ``values`` filled in."""
    text = STRINGS[lang][key]
    return text.format(**values) if values else text


def current_lang() -> Lang:
    lang = st.session_state.get("lang", default_lang())
    return cast(Lang, lang) if lang in LANGS else "en"


def t(key: str, **values: object) -> str:
    """The text for ``key`` in the language the advisor picked."""
    return tr(current_lang(), key, **values)


THIN: Final = "\u202f"  # narrow no-break space: French thousands separator
NBSP: Final = "\u00a0"  # no-break space: before "%" and "€" in French
MAX_DIGITS: Final = 3  # the most decimals a percentage is shown with to tell two values apart


def grouped(value: float, digits: int, lang: Lang) -> str:
    """``value`` with ``digits`` decimals, thousands grouped as ``lang`` writes them."""
    text = f"{value:,.{digits}f}"
    return text.replace(",", THIN).replace(".", ",") if lang == "fr" else text


def pct(value: float, lang: Lang, digits: int = 1) -> str:
    """A probability as a percentage, written the way each language writes it."""
    text = grouped(value * 100, digits, lang)
    return f"{text}{NBSP}%" if lang == "fr" else f"{text}%"


def pct_pair(probability: float, threshold: float, lang: Lang) -> tuple[str, str, bool]:
    """A probability and its threshold with enough decimals (up to MAX_DIGITS) to tell them
    apart, and whether they could be: "9.66% (threshold 9.70%)", never "9.7% (threshold 9.7%)"
    for two different values. False means even MAX_DIGITS show the same text."""
    for digits in range(1, MAX_DIGITS + 1):
        if round(probability * 100, digits) != round(threshold * 100, digits):
            return pct(probability, lang, digits), pct(threshold, lang, digits), True
    return pct(probability, lang), pct(threshold, lang), False


def num(value: float | int | None, lang: Lang, digits: int = 2) -> str:
    """A number for a person to read (thousands grouped, French decimal comma)."""
    if value is None:
        return tr(lang, "value.missing")
    if float(value).is_integer() and abs(value) >= 1:
        return grouped(int(value), 0, lang)
    return grouped(float(value), digits, lang)


def half_up(value: float) -> int:
    """Whole units as people round money: 24,700.50 -> 24,701 (round() would give 24,700)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def money(value: float | None, lang: Lang) -> str:
    """An amount in whole units with its currency: "€406,598" / "406 598 €"."""
    if value is None:
        return tr(lang, "value.missing")
    whole = grouped(half_up(value), 0, lang)
    currency = tr(lang, "currency")
    if lang == "fr":
        return f"{whole}{NBSP}{currency}"
    return f"-{currency}{whole[1:]}" if whole.startswith("-") else f"{currency}{whole}"


def points(delta: float, lang: Lang, signed: bool = True) -> str:
    """A change of probability in percentage points, signed: "-23.0 points", "-0,7 point"
    (French keeps the singular below 2)."""
    rounded = round(delta, 1) or 0.0  # never "-0.0"
    sign = "+" if rounded > 0 else "-" if rounded < 0 else ""
    sign = sign if signed else ""
    text = f"{sign}{grouped(abs(rounded), 1, lang)}"
    if lang == "fr":
        return f"{text}{NBSP}{'points' if abs(rounded) >= 2 else 'point'}"
    return f"{text} points"
