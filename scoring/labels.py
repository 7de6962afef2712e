"""Readable labels of model features, in English and French, for advisors and their clients."""

from __future__ import annotations

LABELS: dict[str, tuple[str, str]] = {
    "EXT_SOURCE_1": ("External score 1", "Score externe 1"),
    "EXT_SOURCE_2": ("External score 2", "Score externe 2"),
    "EXT_SOURCE_3": ("External score 3", "Score externe 3"),
    "EXT_SOURCE_MEAN": ("Average external score", "Score externe moyen"),
    "EXT_SOURCE_MIN": ("Lowest external score", "Score externe le plus bas"),
    "EXT_SOURCE_MAX": ("Highest external score", "Score externe le plus haut"),
    "EXT_SOURCE_STD": ("Spread of external scores", "Dispersion des scores externes"),
    "EXT_SOURCE_PROD": ("Product of external scores", "Produit des scores externes"),
    "EXT_SOURCE_WEIGHTED": ("Weighted external score", "Score externe pondéré"),
    "EXT_SOURCE_MISSING": ("Missing external scores", "Scores externes manquants"),
    "AGE_YEARS": ("Age (years)", "Âge (années)"),
    "EMPLOYED_YEARS": ("Years in current job", "Ancienneté dans l'emploi (années)"),
    "REGISTRATION_YEARS": (
        "Years since registration change",
        "Années depuis le changement d'enregistrement",
    ),
    "ID_PUBLISH_YEARS": (
        "Years since ID document change",
        "Années depuis le changement de pièce d'identité",
    ),
    "PHONE_CHANGE_YEARS": ("Years since phone change", "Années depuis le changement de téléphone"),
    "DAYS_EMPLOYED_ANOMALY": ("No employment record", "Sans emploi déclaré"),
    "AMT_INCOME_TOTAL": ("Annual income", "Revenu annuel"),
    "AMT_CREDIT": ("Credit amount", "Montant du crédit"),
    "AMT_ANNUITY": ("Loan annuity", "Annuité du prêt"),
    "AMT_GOODS_PRICE": ("Price of the goods", "Prix du bien"),
    "CREDIT_INCOME_RATIO": ("Credit / income", "Crédit / revenu"),
    "ANNUITY_INCOME_RATIO": ("Annuity / income", "Annuité / revenu"),
    "CREDIT_TERM_YEARS": ("Credit term (years)", "Durée du crédit (années)"),
    "CREDIT_GOODS_RATIO": ("Credit / goods price", "Crédit / prix du bien"),
    "INCOME_PER_PERSON": ("Income per household member", "Revenu par membre du foyer"),
    "EMPLOYED_AGE_RATIO": ("Share of life employed", "Part de la vie en emploi"),
    "CAR_AGE_RATIO": ("Car age / client age", "Âge de la voiture / âge du client"),
    "OWN_CAR_AGE": ("Car age (years)", "Âge de la voiture (années)"),
    "OWNS_CAR": ("Owns a car", "Possède une voiture"),
    "OWNS_REALTY": ("Owns real estate", "Propriétaire d'un bien immobilier"),
    "REVOLVING_LOAN": ("Revolving loan", "Crédit renouvelable"),
    "GENDER_MALE": ("Gender: male", "Genre : homme"),
    "EDUCATION_LEVEL": ("Education level", "Niveau d'études"),
    "CNT_CHILDREN": ("Number of children", "Nombre d'enfants"),
    "CNT_FAM_MEMBERS": ("Household size", "Taille du foyer"),
    "REGION_POPULATION_RELATIVE": (
        "Region population density",
        "Densité de population de la région",
    ),
    "REGION_RATING_CLIENT": ("Region rating", "Note de la région"),
    "REGION_RATING_CLIENT_W_CITY": ("Region and city rating", "Note de la région et de la ville"),
    "DOCUMENT_COUNT": ("Documents provided", "Documents fournis"),
    "SOCIAL_DEFAULT_RATIO_30": (
        "Defaults in social circle (30 days)",
        "Défauts dans l'entourage (30 jours)",
    ),
    "SOCIAL_DEFAULT_RATIO_60": (
        "Defaults in social circle (60 days)",
        "Défauts dans l'entourage (60 jours)",
    ),
    "BUREAU_ENQUIRIES_YEAR": (
        "Credit bureau enquiries (year)",
        "Demandes au bureau de crédit (an)",
    ),
    "NAME_INCOME_TYPE": ("Income type", "Type de revenu"),
    "NAME_FAMILY_STATUS": ("Family status", "Situation familiale"),
    "NAME_HOUSING_TYPE": ("Housing type", "Type de logement"),
    "OCCUPATION_TYPE": ("Occupation", "Profession"),
    "ORGANIZATION_TYPE": ("Employer type", "Type d'employeur"),
    "NAME_TYPE_SUITE": ("Accompanied by", "Accompagné par"),
    "HOUR_APPR_PROCESS_START": ("Hour of application", "Heure de la demande"),
    "DAYS_LAST_PHONE_CHANGE": (
        "Days since phone change",
        "Jours depuis le changement de téléphone",
    ),
    "BUREAU_LOAN_COUNT": ("Loans at other lenders", "Crédits auprès d'autres prêteurs"),
    "BUREAU_DEBT_CREDIT_RATIO": (
        "Debt / credit at other lenders",
        "Dette / crédit auprès d'autres prêteurs",
    ),
    "PREV_REFUSED_SHARE": (
        "Share of previous applications refused",
        "Part des demandes précédentes refusées",
    ),
    "INST_LATE_SHARE": ("Share of late instalments", "Part des échéances payées en retard"),
    "INST_PAID_RATIO": ("Paid / due on instalments", "Payé / dû sur les échéances"),
}


def label(feature: str, lang: str = "en") -> str:
    """The readable label of a feature; a tidy version of its name when none is written."""
    pair = LABELS.get(feature)
    if pair:
        return pair[1] if lang == "fr" else pair[0]
    text = feature.replace("_", " ").strip().lower()
    return text[:1].upper() + text[1:]
