"""Valid ranges: absurd values refused naming the field and range; every real row passes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoring.errors import ImplausibleValueError
from scoring.features import FeatureBuilder
from scoring.model import ScoringModel
from scoring.plausibility import plausibility
from scoring.schema import APPLICATION_KINDS


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "AMT_INCOME_TOTAL",
            -5.0,
            "AMT_INCOME_TOTAL: -5 is outside the valid range [1, 1000000000]",
        ),
        ("AMT_CREDIT", 1e308, "AMT_CREDIT: 1e+308 is outside the valid range [1, 100000000]"),
        ("DAYS_BIRTH", 30.0, "DAYS_BIRTH: 30 is outside the valid range [-36525, -6574]"),
        ("DAYS_BIRTH", -3000.0, "[-36525, -6574]"),  # 8 years old
        ("DAYS_ID_PUBLISH", 10.0, "[-36525, 0]"),  # in the future
        ("EXT_SOURCE_2", 1.5, "EXT_SOURCE_2: 1.5 is outside the valid range [0, 1]"),
        ("CNT_CHILDREN", -1.0, "[0, 30]"),
    ],
)
def test_an_absurd_raw_value_is_refused_naming_field_and_range(
    name: str, value: float, message: str
) -> None:
    with pytest.raises(ImplausibleValueError) as caught:
        plausibility().check_columns({name: value})
    assert caught.value.name == name
    assert message in str(caught.value)


def test_not_employed_sentinel_and_missing_values_pass() -> None:
    plausibility().check_columns({"DAYS_EMPLOYED": 365243, "DAYS_BIRTH": -20000})
    plausibility().check_columns({"AMT_INCOME_TOTAL": None, "EXT_SOURCE_1": float("nan")})


def test_employment_longer_than_adult_life_is_refused() -> None:
    # 30 years old, employed for 20 years: started at 10
    record = {"DAYS_BIRTH": -30 * 365.25, "DAYS_EMPLOYED": -20 * 365.25}
    with pytest.raises(ImplausibleValueError, match="before age 14") as caught:
        plausibility().check_columns(record)
    assert caught.value.name == "DAYS_EMPLOYED"
    plausibility().check_columns({"DAYS_BIRTH": -30 * 365.25, "DAYS_EMPLOYED": -15 * 365.25})
    with pytest.raises(ImplausibleValueError, match="EMPLOYED_YEARS"):
        plausibility().check_features({"AGE_YEARS": 30.0, "EMPLOYED_YEARS": 20.0})


def test_only_the_changed_columns_are_checked() -> None:
    record = {"AMT_CREDIT": -1.0, "AMT_INCOME_TOTAL": 50000.0}
    plausibility().check_columns(record, only=["AMT_INCOME_TOTAL"])
    with pytest.raises(ImplausibleValueError, match="AMT_CREDIT"):
        plausibility().check_columns(record, only=["AMT_CREDIT"])


def test_every_numeric_application_column_has_a_documented_range() -> None:
    numeric = {c for c, kind in APPLICATION_KINDS.items() if kind != "category"}
    assert numeric <= set(plausibility().columns)
    assert all(valid.why for valid in plausibility().columns.values())


def test_model_features_are_checked_when_posted(model: ScoringModel) -> None:
    with pytest.raises(ImplausibleValueError, match=r"AGE_YEARS: 150 .*\[18, 100\]"):
        model.vector({"AGE_YEARS": 150.0})
    with pytest.raises(ImplausibleValueError, match="AMT_INCOME_TOTAL"):
        model.vector({"AMT_INCOME_TOTAL": -1.0})


def test_the_batch_check_refuses_exactly_the_rows_one_record_at_a_time_refuses(
    model: ScoringModel,
) -> None:
    names = model.feature_names
    records: list[dict[str, float | None]] = [
        {"AGE_YEARS": 40.0, "EMPLOYED_YEARS": 10.0},
        {"AGE_YEARS": 150.0},  # out of range
        {},
        {"AGE_YEARS": 30.0, "EMPLOYED_YEARS": 25.0},  # employed before working age
        {"AMT_INCOME_TOTAL": -1.0},  # out of range
        {"EXT_SOURCE_2": None, "AGE_YEARS": 18.0},
    ]
    matrix = np.full((len(records), len(names)), np.nan)
    for n, record in enumerate(records):
        for name, value in record.items():
            matrix[n, names.index(name)] = np.nan if value is None else value
    refused = []
    for n, record in enumerate(records):
        try:
            plausibility().check_features(record)
        except ImplausibleValueError:
            refused.append(n)
    assert refused == [1, 3, 4]
    assert plausibility().implausible_rows(matrix, names).tolist() == refused
    with pytest.raises(ImplausibleValueError, match="AGE_YEARS: 150"):
        model.matrix(records)  # the first refused row is the one reported


def test_demo_reference_rows_pass(model: ScoringModel) -> None:
    """The training population the demo model was built from is plausible."""
    frame = model.reference[model.feature_names]
    for record in frame.head(500).to_dict("records"):
        plausibility().check_features(record)


@pytest.mark.realdata
def test_every_real_row_passes(real_data: Path) -> None:
    tables = [
        pd.read_parquet(real_data / "application_train_sample.parquet"),
        pd.read_parquet(real_data / "application_test_sample.parquet"),
    ]
    raw = pd.concat(tables, ignore_index=True)
    for record in raw.to_dict("records"):
        plausibility().check_columns(record)
    train = tables[0]
    builder = FeatureBuilder().fit(train)
    features = builder.transform(raw)
    for record in features.replace({np.nan: None}).to_dict("records"):
        plausibility().check_features(record)
    assert len(raw) == 10_000
