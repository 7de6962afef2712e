"""The Home Credit Default Risk raw schema: tables, columns, kinds and descriptions.

The application table's columns and kinds are fixed here (they are the contract of every input
file); their descriptions, in English and French, are in scoring.wording.
"""

from __future__ import annotations

from typing import Literal

ColumnKind = Literal["int", "float", "category"]

ID = "SK_ID_CURR"
TARGET = "TARGET"
# Kaggle's placeholder in DAYS_* columns for "no such date": not employed (DAYS_EMPLOYED of
# pensioners), a previous loan still running (DAYS_LAST_DUE, DAYS_TERMINATION), no drawing yet.
NO_DATE = 365243

# Kinds of the 120 application columns besides SK_ID_CURR and TARGET, in Kaggle's order.
APPLICATION_KINDS: dict[str, ColumnKind] = {
    "NAME_CONTRACT_TYPE": "category",
    "CODE_GENDER": "category",
    "FLAG_OWN_CAR": "category",
    "FLAG_OWN_REALTY": "category",
    "CNT_CHILDREN": "int",
    "AMT_INCOME_TOTAL": "float",
    "AMT_CREDIT": "float",
    "AMT_ANNUITY": "float",
    "AMT_GOODS_PRICE": "float",
    "NAME_TYPE_SUITE": "category",
    "NAME_INCOME_TYPE": "category",
    "NAME_EDUCATION_TYPE": "category",
    "NAME_FAMILY_STATUS": "category",
    "NAME_HOUSING_TYPE": "category",
    "REGION_POPULATION_RELATIVE": "float",
    "DAYS_BIRTH": "int",
    "DAYS_EMPLOYED": "int",
    "DAYS_REGISTRATION": "float",
    "DAYS_ID_PUBLISH": "int",
    "OWN_CAR_AGE": "float",
    "FLAG_MOBIL": "int",
    "FLAG_EMP_PHONE": "int",
    "FLAG_WORK_PHONE": "int",
    "FLAG_CONT_MOBILE": "int",
    "FLAG_PHONE": "int",
    "FLAG_EMAIL": "int",
    "OCCUPATION_TYPE": "category",
    "CNT_FAM_MEMBERS": "float",
    "REGION_RATING_CLIENT": "int",
    "REGION_RATING_CLIENT_W_CITY": "int",
    "WEEKDAY_APPR_PROCESS_START": "category",
    "HOUR_APPR_PROCESS_START": "int",
    "REG_REGION_NOT_LIVE_REGION": "int",
    "REG_REGION_NOT_WORK_REGION": "int",
    "LIVE_REGION_NOT_WORK_REGION": "int",
    "REG_CITY_NOT_LIVE_CITY": "int",
    "REG_CITY_NOT_WORK_CITY": "int",
    "LIVE_CITY_NOT_WORK_CITY": "int",
    "ORGANIZATION_TYPE": "category",
    "EXT_SOURCE_1": "float",
    "EXT_SOURCE_2": "float",
    "EXT_SOURCE_3": "float",
    "APARTMENTS_AVG": "float",
    "BASEMENTAREA_AVG": "float",
    "YEARS_BEGINEXPLUATATION_AVG": "float",
    "YEARS_BUILD_AVG": "float",
    "COMMONAREA_AVG": "float",
    "ELEVATORS_AVG": "float",
    "ENTRANCES_AVG": "float",
    "FLOORSMAX_AVG": "float",
    "FLOORSMIN_AVG": "float",
    "LANDAREA_AVG": "float",
    "LIVINGAPARTMENTS_AVG": "float",
    "LIVINGAREA_AVG": "float",
    "NONLIVINGAPARTMENTS_AVG": "float",
    "NONLIVINGAREA_AVG": "float",
    "APARTMENTS_MODE": "float",
    "BASEMENTAREA_MODE": "float",
    "YEARS_BEGINEXPLUATATION_MODE": "float",
    "YEARS_BUILD_MODE": "float",
    "COMMONAREA_MODE": "float",
    "ELEVATORS_MODE": "float",
    "ENTRANCES_MODE": "float",
    "FLOORSMAX_MODE": "float",
    "FLOORSMIN_MODE": "float",
    "LANDAREA_MODE": "float",
    "LIVINGAPARTMENTS_MODE": "float",
    "LIVINGAREA_MODE": "float",
    "NONLIVINGAPARTMENTS_MODE": "float",
    "NONLIVINGAREA_MODE": "float",
    "APARTMENTS_MEDI": "float",
    "BASEMENTAREA_MEDI": "float",
    "YEARS_BEGINEXPLUATATION_MEDI": "float",
    "YEARS_BUILD_MEDI": "float",
    "COMMONAREA_MEDI": "float",
    "ELEVATORS_MEDI": "float",
    "ENTRANCES_MEDI": "float",
    "FLOORSMAX_MEDI": "float",
    "FLOORSMIN_MEDI": "float",
    "LANDAREA_MEDI": "float",
    "LIVINGAPARTMENTS_MEDI": "float",
    "LIVINGAREA_MEDI": "float",
    "NONLIVINGAPARTMENTS_MEDI": "float",
    "NONLIVINGAREA_MEDI": "float",
    "FONDKAPREMONT_MODE": "category",
    "HOUSETYPE_MODE": "category",
    "TOTALAREA_MODE": "float",
    "WALLSMATERIAL_MODE": "category",
    "EMERGENCYSTATE_MODE": "category",
    "OBS_30_CNT_SOCIAL_CIRCLE": "float",
    "DEF_30_CNT_SOCIAL_CIRCLE": "float",
    "OBS_60_CNT_SOCIAL_CIRCLE": "float",
    "DEF_60_CNT_SOCIAL_CIRCLE": "float",
    "DAYS_LAST_PHONE_CHANGE": "float",
    "FLAG_DOCUMENT_2": "int",
    "FLAG_DOCUMENT_3": "int",
    "FLAG_DOCUMENT_4": "int",
    "FLAG_DOCUMENT_5": "int",
    "FLAG_DOCUMENT_6": "int",
    "FLAG_DOCUMENT_7": "int",
    "FLAG_DOCUMENT_8": "int",
    "FLAG_DOCUMENT_9": "int",
    "FLAG_DOCUMENT_10": "int",
    "FLAG_DOCUMENT_11": "int",
    "FLAG_DOCUMENT_12": "int",
    "FLAG_DOCUMENT_13": "int",
    "FLAG_DOCUMENT_14": "int",
    "FLAG_DOCUMENT_15": "int",
    "FLAG_DOCUMENT_16": "int",
    "FLAG_DOCUMENT_17": "int",
    "FLAG_DOCUMENT_18": "int",
    "FLAG_DOCUMENT_19": "int",
    "FLAG_DOCUMENT_20": "int",
    "FLAG_DOCUMENT_21": "int",
    "AMT_REQ_CREDIT_BUREAU_HOUR": "float",
    "AMT_REQ_CREDIT_BUREAU_DAY": "float",
    "AMT_REQ_CREDIT_BUREAU_WEEK": "float",
    "AMT_REQ_CREDIT_BUREAU_MON": "float",
    "AMT_REQ_CREDIT_BUREAU_QRT": "float",
    "AMT_REQ_CREDIT_BUREAU_YEAR": "float",
}

RAW_COLUMNS: list[str] = [ID, *APPLICATION_KINDS]
"""application_test columns (new clients), in order."""

TRAIN_COLUMNS: list[str] = [ID, TARGET, *APPLICATION_KINDS]
"""application_train columns (reference population), in order."""

CATEGORY_COLUMNS: list[str] = [c for c, k in APPLICATION_KINDS.items() if k == "category"]
NUMERIC_COLUMNS: list[str] = [c for c, k in APPLICATION_KINDS.items() if k != "category"]

# Columns an applicant can act on when asking what would change the decision. Age, gender,
# family status and the like are never offered: they are not the applicant's to change and
# suggesting it would be discriminatory.
ACTIONABLE_COLUMNS: list[str] = [
    "AMT_CREDIT",
    "AMT_ANNUITY",
    "AMT_GOODS_PRICE",
    "AMT_INCOME_TOTAL",
    "FLAG_OWN_CAR",
    "FLAG_OWN_REALTY",
]

# Key columns of the optional auxiliary tables: a table without them cannot be aggregated.
AUXILIARY_KEYS: dict[str, list[str]] = {
    "bureau": [ID, "SK_ID_BUREAU"],
    "bureau_balance": ["SK_ID_BUREAU", "MONTHS_BALANCE", "STATUS"],
    "previous_application": [ID, "SK_ID_PREV"],
    "POS_CASH_balance": [ID, "SK_ID_PREV", "MONTHS_BALANCE"],
    "installments_payments": [ID, "SK_ID_PREV"],
    "credit_card_balance": [ID, "SK_ID_PREV", "MONTHS_BALANCE"],
}
# Columns the aggregates read as numbers, when a table has them: anything else in them is an
# error naming the column (not a value silently read as missing).
AUXILIARY_NUMERIC: dict[str, list[str]] = {
    "bureau": [
        "DAYS_CREDIT",
        "CREDIT_DAY_OVERDUE",
        "AMT_CREDIT_SUM",
        "AMT_CREDIT_SUM_DEBT",
        "AMT_CREDIT_SUM_OVERDUE",
    ],
    "bureau_balance": ["MONTHS_BALANCE"],
    "previous_application": ["AMT_APPLICATION", "AMT_CREDIT", "DAYS_DECISION"],
    "POS_CASH_balance": ["MONTHS_BALANCE", "SK_DPD"],
    "installments_payments": [
        "DAYS_INSTALMENT",
        "DAYS_ENTRY_PAYMENT",
        "AMT_INSTALMENT",
        "AMT_PAYMENT",
    ],
    "credit_card_balance": ["MONTHS_BALANCE", "AMT_BALANCE", "AMT_CREDIT_LIMIT_ACTUAL", "SK_DPD"],
}
# A credit or an application appears once in its table: a repeated id would count it twice.
AUXILIARY_UNIQUE: dict[str, str] = {"bureau": "SK_ID_BUREAU", "previous_application": "SK_ID_PREV"}
BUREAU_STATUSES = ("C", "X", "0", "1", "2", "3", "4", "5")  # closed, unknown, months late
