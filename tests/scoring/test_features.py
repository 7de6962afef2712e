"""Feature transform: deterministic, identical in training and serving, safe names and values."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoring.aggregates import AGGREGATORS, aggregate_sources
from scoring.batch import compute
from scoring.bundle import REFERENCE_FILE
from scoring.data import load_tables, validate_application
from scoring.features import (
    APPLICATION_INPUTS,
    DAYS_EMPLOYED_ANOMALY,
    DAYS_PER_YEAR,
    EDUCATION_ORDER,
    FeatureBuilder,
    _application_features,
)
from scoring.model import ScoringModel
from scoring.schema import APPLICATION_KINDS, AUXILIARY_KEYS, ID, TARGET

SAFE_NAME = re.compile(r"^[A-Z0-9_]+$")


@pytest.fixture
def app(small_train: pd.DataFrame) -> pd.DataFrame:
    """Validated raw rows, as every caller of the transform sees them."""
    return validate_application(small_train, "application_train", with_target=True)


@pytest.fixture
def builder(app: pd.DataFrame) -> FeatureBuilder:
    return FeatureBuilder().fit(app)


def _aux(app: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Small bureau and previous_application tables for the first rows of `app`."""
    ids = app[ID].to_numpy()
    bureau = pd.DataFrame(
        {
            ID: [ids[0], ids[0], ids[1]],
            "SK_ID_BUREAU": [10, 11, 12],
            "CREDIT_ACTIVE": ["Active", "Closed", "Active"],
            "AMT_CREDIT_SUM": [1000.0, 3000.0, 500.0],
            "AMT_CREDIT_SUM_DEBT": [500.0, 0.0, 0.0],
        }
    )
    previous = pd.DataFrame(
        {
            ID: [ids[2], ids[2]],
            "SK_ID_PREV": [1, 2],
            "NAME_CONTRACT_STATUS": ["Approved", "Refused"],
            "AMT_APPLICATION": [100.0, 300.0],
        }
    )
    return {"bureau": bureau, "previous_application": previous}


# --- determinism and parity -----------------------------------------------------------------


def test_same_input_twice_gives_identical_frames(app: pd.DataFrame) -> None:
    first = FeatureBuilder().fit(app, _aux(app))
    second = FeatureBuilder().fit(app.copy(), _aux(app))
    assert first.to_dict() == second.to_dict()
    a = first.transform(app, _aux(app))
    b = second.transform(app.copy(), _aux(app))
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.index.name == ID
    assert (a.dtypes == "float64").all()
    assert list(a.index) == app[ID].tolist()


def test_a_row_alone_equals_its_row_in_the_batch(app: pd.DataFrame) -> None:
    aux = _aux(app)
    builder = FeatureBuilder().fit(app, aux)
    batch = builder.transform(app, aux)
    for position in [0, 1, 2, 3, 57, len(app) - 1]:
        alone = builder.transform(app.iloc[[position]], aux)
        pd.testing.assert_frame_equal(alone, batch.iloc[[position]], check_exact=True)


def test_the_transform_reads_the_application_inputs_and_nothing_else(app: pd.DataFrame) -> None:
    """What a batch engine sends (SK_ID_CURR and APPLICATION_INPUTS) gives the same features as
    the whole row, and each of those columns is needed."""
    aux = _aux(app)
    builder = FeatureBuilder().fit(app, aux)
    narrow = app[[ID, *APPLICATION_INPUTS]]
    assert len(APPLICATION_INPUTS) < len(APPLICATION_KINDS)
    pd.testing.assert_frame_equal(
        builder.transform(narrow, aux), builder.transform(app, aux), check_exact=True
    )
    for column in APPLICATION_INPUTS:
        with pytest.raises(KeyError):
            builder.transform(narrow.drop(columns=[column]), aux)


def test_state_survives_json(app: pd.DataFrame) -> None:
    aux = _aux(app)
    builder = FeatureBuilder().fit(app, aux)
    restored = FeatureBuilder.from_dict(json.loads(json.dumps(builder.to_dict())))
    pd.testing.assert_frame_equal(
        restored.transform(app, aux), builder.transform(app, aux), check_exact=True
    )


def test_model_transform_is_the_training_transform(
    model: ScoringModel, demo_data: Path, demo_bundle: Path
) -> None:
    """The bundle's transform reproduces, row for row, the features the model was trained on."""
    tables = load_tables(demo_data, require_test=False)
    assert tables.train is not None
    refit = FeatureBuilder().fit(tables.train, tables.aux)
    assert refit.to_dict() == model.builder.to_dict()
    served = model.transform(tables.train, tables.aux)
    pd.testing.assert_frame_equal(served, refit.transform(tables.train, tables.aux))
    # reference.parquet keeps the training matrix (float32) with TARGET; all rows at this size.
    trained = pd.read_parquet(demo_bundle / REFERENCE_FILE)
    assert len(trained) == len(served)
    np.testing.assert_array_equal(trained[TARGET].to_numpy(), tables.train[TARGET].to_numpy())
    np.testing.assert_array_equal(
        trained[model.feature_names].to_numpy(),
        served.to_numpy(dtype="float32"),
    )


def test_vector_of_a_record_scores_like_the_batch(
    model: ScoringModel, clients_features: pd.DataFrame
) -> None:
    batch = compute(model, clients_features, threads=1)
    for position in [0, 5, len(clients_features) // 2, len(clients_features) - 1]:
        record = {
            name: (None if math.isnan(value) else float(value))
            for name, value in clients_features.iloc[position].items()
        }
        record = json.loads(json.dumps(record))  # as it arrives over HTTP
        x, missing = model.vector(record)
        assert missing == [n for n, v in record.items() if v is None]
        np.testing.assert_array_equal(x, clients_features.iloc[position].to_numpy())
        assert model.score(x).probability == pytest.approx(batch.probability[position], abs=1e-12)
        explanation = model.explain(x)
        np.testing.assert_allclose(explanation.shap, batch.shap[position], atol=1e-12)


# --- values ---------------------------------------------------------------------------------


def _one_row(app: pd.DataFrame, **values: object) -> pd.DataFrame:
    row = app.iloc[[0]].copy()
    for column, value in values.items():
        row[column] = pd.Series([value], index=row.index, dtype=object)
    return row


def test_days_employed_anomaly_becomes_missing_and_a_flag(
    app: pd.DataFrame, builder: FeatureBuilder
) -> None:
    raw = pd.concat(
        [
            _one_row(app, DAYS_EMPLOYED=DAYS_EMPLOYED_ANOMALY, DAYS_BIRTH=-23000),
            _one_row(app, DAYS_EMPLOYED=-730.5, DAYS_BIRTH=-14610),
        ]
    )
    raw[ID] = [1, 2]
    features = builder.transform(raw)
    anomalous, employed = features.loc[1], features.loc[2]
    assert math.isnan(anomalous["EMPLOYED_YEARS"])
    assert anomalous["DAYS_EMPLOYED_ANOMALY"] == 1.0
    assert math.isnan(anomalous["EMPLOYED_AGE_RATIO"])
    assert employed["DAYS_EMPLOYED_ANOMALY"] == 0.0
    assert employed["EMPLOYED_YEARS"] == pytest.approx(730.5 / DAYS_PER_YEAR)  # 2 years
    assert employed["AGE_YEARS"] == pytest.approx(14610 / DAYS_PER_YEAR)  # 40 years
    assert employed["EMPLOYED_AGE_RATIO"] == pytest.approx(2 / 40)


def test_ratios_with_zero_denominators_are_missing_not_infinite(
    app: pd.DataFrame, builder: FeatureBuilder
) -> None:
    raw = _one_row(
        app,
        AMT_INCOME_TOTAL=0.0,
        AMT_ANNUITY=0.0,
        AMT_GOODS_PRICE=0.0,
        CNT_FAM_MEMBERS=0.0,
        OBS_30_CNT_SOCIAL_CIRCLE=0.0,
        DEF_30_CNT_SOCIAL_CIRCLE=0.0,
        OBS_60_CNT_SOCIAL_CIRCLE=0.0,
        DEF_60_CNT_SOCIAL_CIRCLE=1.0,
        OWN_CAR_AGE=5.0,
        DAYS_BIRTH=0,
    )
    row = builder.transform(raw).iloc[0]
    for name in [
        "CREDIT_INCOME_RATIO",
        "ANNUITY_INCOME_RATIO",
        "CREDIT_TERM_YEARS",
        "CREDIT_GOODS_RATIO",
        "INCOME_PER_PERSON",
        "SOCIAL_DEFAULT_RATIO_30",
        "SOCIAL_DEFAULT_RATIO_60",
        "CAR_AGE_RATIO",
    ]:
        assert math.isnan(row[name]), name
    assert not np.isinf(builder.transform(app).to_numpy()).any()


def test_engineered_values_by_hand(app: pd.DataFrame, builder: FeatureBuilder) -> None:
    raw = _one_row(
        app,
        AMT_CREDIT=300_000.0,
        AMT_INCOME_TOTAL=100_000.0,
        AMT_ANNUITY=15_000.0,
        AMT_GOODS_PRICE=250_000.0,
        CNT_FAM_MEMBERS=4.0,
        EXT_SOURCE_1=0.2,
        EXT_SOURCE_2=0.5,
        EXT_SOURCE_3=np.nan,
        FLAG_OWN_CAR="Y",
        FLAG_OWN_REALTY="N",
        CODE_GENDER="F",
        NAME_CONTRACT_TYPE="Revolving loans",
        NAME_EDUCATION_TYPE="Higher education",
        FLAG_DOCUMENT_3=1,
        FLAG_DOCUMENT_6=1,
        FLAG_DOCUMENT_8=0,
        AMT_REQ_CREDIT_BUREAU_HOUR=np.nan,
        AMT_REQ_CREDIT_BUREAU_DAY=1.0,
        AMT_REQ_CREDIT_BUREAU_WEEK=np.nan,
        AMT_REQ_CREDIT_BUREAU_MON=2.0,
        AMT_REQ_CREDIT_BUREAU_QRT=np.nan,
        AMT_REQ_CREDIT_BUREAU_YEAR=3.0,
    )
    provided = {"FLAG_DOCUMENT_3", "FLAG_DOCUMENT_6"}
    for column in APPLICATION_KINDS:
        if column.startswith("FLAG_DOCUMENT_") and column not in provided:
            raw[column] = 0
    row = builder.transform(raw).iloc[0]
    expected = {
        "CREDIT_INCOME_RATIO": 3.0,  # 300k / 100k
        "ANNUITY_INCOME_RATIO": 0.15,  # 15k / 100k
        "CREDIT_TERM_YEARS": 20.0,  # 300k / 15k
        "CREDIT_GOODS_RATIO": 1.2,  # 300k / 250k
        "INCOME_PER_PERSON": 25_000.0,  # 100k / 4
        "EXT_SOURCE_MEAN": 0.35,  # (0.2 + 0.5) / 2, the missing one ignored
        "EXT_SOURCE_MIN": 0.2,
        "EXT_SOURCE_MAX": 0.5,
        "EXT_SOURCE_STD": math.sqrt(2 * 0.15**2 / 1),  # sample std of two values
        "EXT_SOURCE_WEIGHTED": (2 * 0.2 + 1 * 0.5) / 3,  # weights 2, 1, (3 missing)
        "EXT_SOURCE_MISSING": 1.0,
        "OWNS_CAR": 1.0,
        "OWNS_REALTY": 0.0,
        "GENDER_MALE": 0.0,
        "REVOLVING_LOAN": 1.0,
        "EDUCATION_LEVEL": 3.0,  # Lower secondary 0 ... Higher education 3
        "DOCUMENT_COUNT": 2.0,
        "BUREAU_ENQUIRIES_YEAR": 6.0,  # 1 + 2 + 3, missing ones ignored
    }
    for name, value in expected.items():
        assert row[name] == pytest.approx(value, rel=1e-12), name
    assert math.isnan(row["EXT_SOURCE_PROD"])  # needs all three


def test_all_enquiries_missing_stays_missing(app: pd.DataFrame, builder: FeatureBuilder) -> None:
    columns = [c for c in APPLICATION_KINDS if c.startswith("AMT_REQ_CREDIT_BUREAU_")]
    raw = _one_row(app, **dict.fromkeys(columns, np.nan))
    assert math.isnan(builder.transform(raw).iloc[0]["BUREAU_ENQUIRIES_YEAR"])


def test_unseen_or_missing_category_is_missing(app: pd.DataFrame, builder: FeatureBuilder) -> None:
    raw = pd.concat(
        [
            _one_row(app, ORGANIZATION_TYPE="Martian embassy", NAME_EDUCATION_TYPE="PhD on Mars"),
            _one_row(app, ORGANIZATION_TYPE=None, FLAG_OWN_CAR=None),
        ]
    )
    raw[ID] = [1, 2]
    features = builder.transform(raw)
    assert features["ORGANIZATION_TYPE"].isna().all()
    assert math.isnan(features.loc[1, "EDUCATION_LEVEL"])
    assert math.isnan(features.loc[2, "OWNS_CAR"])


def test_vocabulary_by_decreasing_frequency_then_name(app: pd.DataFrame) -> None:
    levels = ["b", "a", "c", "a", "b", "d", "c"] * 3 + ["a"]  # a: 7, b: 6, c: 6, d: 3
    frame = pd.concat([app.iloc[[0]]] * len(levels), ignore_index=True)
    frame[ID] = range(1, len(levels) + 1)
    frame["OCCUPATION_TYPE"] = levels
    builder = FeatureBuilder().fit(frame)
    assert builder.vocabularies["OCCUPATION_TYPE"] == ["a", "b", "c", "d"]
    codes = builder.transform(frame)["OCCUPATION_TYPE"].tolist()
    assert codes == [{"a": 0.0, "b": 1.0, "c": 2.0, "d": 3.0}[v] for v in levels]


# --- names and sources ----------------------------------------------------------------------


def test_feature_names_are_json_and_lightgbm_safe(app: pd.DataFrame) -> None:
    aux = _aux(app) | {
        name: pd.DataFrame(columns=AUXILIARY_KEYS[name])
        for name in ("POS_CASH_balance", "installments_payments", "credit_card_balance")
    }
    builder = FeatureBuilder().fit(app, aux)
    names = builder.feature_names
    assert len(names) == len(set(names))
    assert [n for n in names if not SAFE_NAME.match(n)] == []
    assert {"BUREAU_LOAN_COUNT", "PREV_COUNT", "POS_MONTHS", "INST_COUNT", "CC_MONTHS"} <= set(
        names
    )


def test_sources_cover_every_feature_with_real_columns(app: pd.DataFrame) -> None:
    builder = FeatureBuilder().fit(app, _aux(app))
    sources = builder.sources()
    assert list(sources) == builder.feature_names
    raw_columns = set(APPLICATION_KINDS)
    for feature, columns in sources.items():
        assert columns, f"{feature} has no source"
        for column in columns:
            if "." in column:
                table, _ = column.split(".", 1)
                assert table in AUXILIARY_KEYS, (feature, column)
            else:
                assert column in raw_columns, (feature, column)
    assert sources["AGE_YEARS"] == ["DAYS_BIRTH"]
    assert sources["OWNS_CAR"] == ["FLAG_OWN_CAR"]
    assert sources["CREDIT_INCOME_RATIO"] == ["AMT_CREDIT", "AMT_INCOME_TOTAL"]
    assert "bureau_balance.STATUS" in sources["BUREAU_LATE_MONTH_SHARE"]


# --- auxiliary tables at scoring time -------------------------------------------------------


def test_auxiliary_table_absent_at_scoring_gives_missing_columns(app: pd.DataFrame) -> None:
    aux = _aux(app)
    builder = FeatureBuilder().fit(app, aux)
    with_aux = builder.transform(app, aux)
    without = builder.transform(app)
    assert list(without.columns) == builder.feature_names == list(with_aux.columns)
    aux_columns = [c for c in builder.feature_names if c.startswith(("BUREAU_LOAN", "PREV_"))]
    assert aux_columns
    assert without[aux_columns].isna().all().all()
    application_columns = [c for c in builder.feature_names if c in app.columns]
    pd.testing.assert_frame_equal(without[application_columns], with_aux[application_columns])


def test_table_not_seen_in_training_is_ignored(app: pd.DataFrame, builder: FeatureBuilder) -> None:
    plain = builder.transform(app)
    with_extra = builder.transform(app, _aux(app))
    pd.testing.assert_frame_equal(plain, with_extra, check_exact=True)
    assert not any(c.startswith("BUREAU_") for c in plain.columns if c != "BUREAU_ENQUIRIES_YEAR")


def test_clients_without_auxiliary_rows_get_missing_aggregates(app: pd.DataFrame) -> None:
    aux = _aux(app)
    features = FeatureBuilder().fit(app, aux).transform(app, aux)
    ids = app[ID].to_numpy()
    assert features.loc[ids[0], "BUREAU_LOAN_COUNT"] == 2.0
    assert features.loc[ids[1], "BUREAU_LOAN_COUNT"] == 1.0
    assert math.isnan(features.loc[ids[3], "BUREAU_LOAN_COUNT"])
    assert features.loc[ids[2], "PREV_REFUSED_SHARE"] == 0.5
    assert math.isnan(features.loc[ids[0], "PREV_REFUSED_SHARE"])


def test_demo_model_reads_the_history_where_there_is_one(
    model: ScoringModel, demo_data: Path
) -> None:
    """The demo bundle is trained with the six auxiliary tables: each aggregate is present for
    exactly the clients with rows in its table, and missing for the others."""
    tables = load_tables(demo_data)
    assert tables.train is not None
    assert tables.test is not None
    assert model.builder.aux_tables == sorted(AGGREGATORS)
    assert set(aggregate_sources(sorted(AGGREGATORS))) <= set(model.feature_names)
    for raw in (tables.train, tables.test):
        features = model.transform(raw, tables.aux)
        ids = features.index.to_series()
        for table, first in [
            ("bureau", "BUREAU_LOAN_COUNT"),
            ("previous_application", "PREV_COUNT"),
            ("POS_CASH_balance", "POS_MONTHS"),
            ("installments_payments", "INST_COUNT"),
            ("credit_card_balance", "CC_MONTHS"),
        ]:
            has_history = ids.isin(tables.aux[table][ID]).to_numpy()
            assert 0 < has_history.sum() < len(ids), table  # some with history, some without
            np.testing.assert_array_equal(features[first].notna().to_numpy(), has_history)
            aggregates = [
                n for n, s in model.builder.sources().items() if s[0].startswith(f"{table}.")
            ]
            assert features.loc[~has_history, aggregates].isna().all().all(), table
        bureau = tables.aux["bureau"]
        balanced = bureau.loc[
            bureau["SK_ID_BUREAU"].isin(tables.aux["bureau_balance"]["SK_ID_BUREAU"]), ID
        ]
        np.testing.assert_array_equal(
            features["BUREAU_LATE_MONTH_SHARE"].notna().to_numpy(), ids.isin(balanced).to_numpy()
        )


def test_demo_model_learns_from_the_history(model: ScoringModel) -> None:
    """The demo's history carries risk the application does not show: the model relies on it."""
    aggregates = set(aggregate_sources(sorted(AGGREGATORS)))
    ranked = list(model.importance)  # mean |SHAP| on training rows, largest first
    assert aggregates & set(ranked[:10]), ranked[:10]
    share = sum(v for k, v in model.importance.items() if k in aggregates) / sum(
        model.importance.values()
    )
    assert share > 0.10, share


def _joined_reference(
    builder: FeatureBuilder, app: pd.DataFrame, history: pd.DataFrame
) -> pd.DataFrame:
    """The transform as a frame join: the application features, the vocabularies mapped by a
    dict, the history joined on SK_ID_CURR, then reindexed to the feature names."""
    columns = _application_features(app)
    education = app["NAME_EDUCATION_TYPE"].map({v: i for i, v in enumerate(EDUCATION_ORDER)})
    columns["EDUCATION_LEVEL"] = pd.to_numeric(education, errors="coerce").to_numpy("float64")
    for column, levels in builder.vocabularies.items():
        codes = app[column].map({level: float(i) for i, level in enumerate(levels)})
        columns[column] = pd.to_numeric(codes, errors="coerce").to_numpy(dtype="float64")
    frame = pd.DataFrame(columns, index=pd.Index(app[ID].astype("int64"), name=ID))
    frame = frame.join(history, how="left")
    return frame.reindex(columns=builder.feature_names).astype("float64")


def test_the_matrix_is_the_frame_join_of_the_features_and_the_history(app: pd.DataFrame) -> None:
    aux = _aux(app)
    builder = FeatureBuilder().fit(app, aux)
    history = builder.aggregates(aux)
    rows = app.copy()
    rows.loc[rows.index[:5], "ORGANIZATION_TYPE"] = "a level never seen"
    expected = _joined_reference(builder, rows, history)
    ids, X, names = builder.matrix(rows, aggregates=history)
    assert names == builder.feature_names
    assert X.flags.c_contiguous
    assert list(ids) == rows[ID].tolist()
    np.testing.assert_array_equal(X, expected.to_numpy())
    assert np.isnan(X[:5, names.index("ORGANIZATION_TYPE")]).all()
    # the batch path's columns (a mapping of Series) and categorical columns: the same matrix
    as_columns = {c: rows[c].reset_index(drop=True) for c in rows.columns}
    np.testing.assert_array_equal(builder.matrix(as_columns, aggregates=history)[1], X)
    categorical = rows.astype(dict.fromkeys(builder.vocabularies, "category"))
    np.testing.assert_array_equal(builder.matrix(categorical, aggregates=history)[1], X)
