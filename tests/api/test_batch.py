"""POST /v1/predict/batch: one matrix, the same scores as one record at a time, a full-size batch
within the body limit, errors naming the feature, one audit row per record."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from tests.api.conftest import HEADERS, services_of


def full_records(services: Any, n: int) -> list[dict[str, Any]]:
    """``n`` full model-ready records (every feature named) of the stored clients."""
    names = services.store.feature_names
    rows = services.store.features[np.arange(n) % len(services.store)]
    return [
        {
            "features": {
                k: (None if math.isnan(v) else v) for k, v in zip(names, row.tolist(), strict=True)
            }
        }
        for row in rows
    ]


def test_a_batch_of_1000_full_records_succeeds(make_client: Callable[..., Any]) -> None:
    with make_client(api_batch_max=1000) as client:
        services = services_of(client.app)  # type: ignore[arg-type]
        records = full_records(services, 1000)
        body = orjson.dumps({"records": records})
        assert len(body) > 1024 * 1024  # over the default limit of the other routes
        before = services.audit.count()
        response = client.post(
            "/v1/predict/batch",
            content=body,
            headers={**HEADERS, "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text[:300]
        items = response.json()["items"]
        assert len(items) == 1000
        assert services.audit.count() == before + 1000
        for i in (0, 1, 999):
            one = client.post("/v1/predict", json=records[i], headers=HEADERS).json()
            assert items[i]["probability"] == one["probability"]
            assert items[i]["decision"] == one["decision"]
            assert items[i]["missing_features"] == one["missing_features"]
        # the other routes keep the 1 MiB limit
        response = client.post(
            "/v1/predict",
            content=body,
            headers={**HEADERS, "Content-Type": "application/json"},
        )
        assert response.status_code == 413


def test_batch_matrix_matches_vector_and_names_bad_fields(make_client: Callable[..., Any]) -> None:
    with make_client() as client:
        model = services_of(client.app).model  # type: ignore[arg-type]
        a, b = model.feature_names[:2]
        records = [{a: 1.5, b: None}, {}, {b: 2}]
        matrix, missing = model.matrix(records)
        for row, (x, names), record in zip(
            matrix, map(model.vector, records), records, strict=True
        ):
            np.testing.assert_array_equal(row, x)
            assert missing[records.index(record)] == names
        response = client.post(
            "/v1/predict/batch",
            json={"records": [{"features": {a: 1.0}}, {"features": {"NOT_A_FEATURE": 1.0}}]},
            headers=HEADERS,
        )
        assert response.status_code == 422
        assert "NOT_A_FEATURE" in response.text


def test_batch_errors_name_the_record_and_the_field(make_client: Callable[..., Any]) -> None:
    """The records are checked in one pass (api/batchbody.py), not one pydantic model each: a
    bad record still gets the schema's 422 naming its index and field."""
    with make_client() as client:
        name = services_of(client.app).model.feature_names[0]  # type: ignore[arg-type]
        cases: list[tuple[Any, list[Any]]] = [
            ([{"features": {}}, {"features": {name: "1.5"}}], ["records", 1, "features", name]),
            ([{"features": {name: True}}], ["records", 0, "features", name]),
            ([{"features": {}}, {"features": {}, "extra": 1}], ["records", 1, "extra"]),
            ([{"features": {}}, {"features": [1]}], ["records", 1, "features"]),
            ([{"features": {}}, {}], ["records", 1, "features"]),
            ([{"features": {}}, 7], ["records", 1]),
            ("not a list", ["records"]),
        ]
        for records, loc in cases:
            response = client.post("/v1/predict/batch", json={"records": records}, headers=HEADERS)
            assert response.status_code == 422, records
            assert ["body", *loc] in [err["loc"] for err in response.json()["detail"]], records
        nan = f'{{"records": [{{"features": {{}}}}, {{"features": {{"{name}": NaN}}}}]}}'
        response = client.post(
            "/v1/predict/batch",
            content=nan,
            headers={**HEADERS, "Content-Type": "application/json"},
        )
        assert response.status_code == 422
        assert ["body", "records", 1, "features", name] in [
            err["loc"] for err in response.json()["detail"]
        ]


def test_a_record_has_one_input_hash_whichever_route_carries_it(
    make_client: Callable[..., Any],
) -> None:
    """The audit's input hash of a record is its model-ready row's (row-v1): the same alone, in a
    batch or explained, written with integers or floats, null or omitted; a stored client's
    request is hashed as JSON (json-v1)."""
    with make_client() as client:
        services = services_of(client.app)  # type: ignore[arg-type]
        model = services.model
        a, b = model.feature_names[:2]
        other = float(model.reference[b].dropna().iloc[0])
        record = {"features": {a: 1, b: None}}
        assert client.post("/v1/predict", json=record, headers=HEADERS).status_code == 200
        batch = {"records": [record, {"features": {a: 1.0}}, {"features": {a: 1.0, b: other}}]}
        assert client.post("/v1/predict/batch", json=batch, headers=HEADERS).status_code == 200
        explain = {"features": {b: None, a: 1.0}}
        assert client.post("/v1/explain", json=explain, headers=HEADERS).status_code == 200
        stored = {"client_id": int(services.store.ids[0])}
        assert client.post("/v1/explain", json=stored, headers=HEADERS).status_code == 200
        rows = services.audit.rows()
        hashes = [row["input_hash"] for row in rows]
        assert [row["input_hash_kind"] for row in rows] == ["row-v1"] * 5 + ["json-v1"]
        assert hashes[0] == hashes[1] == hashes[2] == hashes[4]
        assert hashes[3] != hashes[0]
        x, _ = model.vector({a: 1.0})
        assert hashes[0] == model.row_hashes(x)[0]


def test_batch_body_is_the_schema_s_and_refuses_what_it_refuses(
    make_client: Callable[..., Any],
) -> None:
    """The body written by orjson (api/rawbodies.py) is the one the pydantic models gave, field
    for field; a probability the schema refuses is an error, never a body."""
    import pytest

    from api import rawbodies, responses
    from api.schemas import BatchPrediction

    with make_client() as client:
        services = services_of(client.app)  # type: ignore[arg-type]
        model = services.model
        rows = model.rows([r["features"] for r in full_records(services, 5)] + [{}])
        probabilities = model.predict_proba(rows.matrix)
        scores = model.decide_rows(probabilities, rows.matrix)
        body = orjson.loads(rawbodies.batch_prediction(scores, rows.missing()).body)
        pairs = zip(probabilities, rows.matrix, strict=True)
        one_by_one = [model.score_of(float(p), x) for p, x in pairs]
        expected = responses.batch_prediction(model.version, one_by_one, rows.missing())
        assert body == expected.model_dump(mode="json")
        assert BatchPrediction.model_validate(body) == expected
        bad = dataclasses.replace(scores, probability=[math.nan, *scores.probability[1:]])
        with pytest.raises(ValueError, match="probability"):
            rawbodies.batch_prediction(bad, rows.missing())


def test_a_body_of_the_schema_s_shape_is_decoded_typed_and_gives_the_parsed_rows(
    make_client: Callable[..., Any],
) -> None:
    """``typed_body`` takes exactly the schema's shape with numbers or nulls: its rows are those
    of the parsed body (integers as floats, -0.0, nulls, names in any order, an empty record),
    and a value the core refuses is refused with the same message either way."""
    import pytest

    from api import batchbody
    from scoring.errors import ScoringError

    with make_client() as client:
        services = services_of(client.app)  # type: ignore[arg-type]
        model = services.model
        first, second = (r["features"] for r in full_records(services, 2))
        integral = [k for k, v in first.items() if v is not None and float(v).is_integer()]
        zero = next(k for k, v in second.items() if v == 0.0)
        good = [
            {"features": {k: int(v) if k in integral else v for k, v in first.items()}},
            {"features": dict(reversed({**second, zero: -0.0}.items()))},
            {"features": {}},
        ]
        body = orjson.dumps({"records": good})
        typed = batchbody.typed_body(body)
        assert typed is not None
        records = typed["records"]
        assert isinstance(records, batchbody.TypedRecords)
        assert len(records) == 3
        assert integral
        assert {type(records.features[0][k]) for k in integral} == {float}
        assert list(records.features[1]) == list(good[1]["features"])  # the body's order
        assert math.copysign(1.0, records.features[1][zero]) == -1.0
        typed_rows = batchbody.checked(records, model.rows)[1]
        parsed_rows = batchbody.checked(orjson.loads(body)["records"], model.rows)[1]
        np.testing.assert_array_equal(typed_rows.matrix, parsed_rows.matrix)
        assert typed_rows.missing() == parsed_rows.missing()
        assert model.row_hashes(typed_rows.matrix) == model.row_hashes(parsed_rows.matrix)
        name = model.feature_names[0]
        for refused in ({"NOT_A_FEATURE": 1.0}, {name: 1e300}):
            bad = orjson.dumps({"records": [*good, {"features": refused}]})
            typed = batchbody.typed_body(bad)
            assert typed is not None
            with pytest.raises(ScoringError) as from_typed:
                batchbody.checked(typed["records"], model.rows)
            with pytest.raises(ScoringError) as from_parsed:
                batchbody.checked(orjson.loads(bad)["records"], model.rows)
            assert str(from_typed.value) == str(from_parsed.value)


def test_a_body_of_another_shape_or_type_is_left_to_the_schema() -> None:
    from api import batchbody

    others = [
        b'{"records": [{"features": {"A": true}}]}',
        b'{"records": [{"features": {"A": "1.5"}}]}',
        b'{"records": [{"features": {"A": NaN}}]}',
        b'{"records": [{"features": {"A": 1e400}}]}',
        b'{"records": [{"features": {"A": [1]}}]}',
        b'{"records": [{"features": {"A": 1}, "extra": 1}]}',
        b'{"records": [{"features": {"A": 1}}], "extra": 1}',
        b'{"records": [{"features": [1]}]}',
        b'{"records": [{}]}',
        b'{"records": [7]}',
        b'{"records": "not a list"}',
        b'{"records": [{"features": {"A": 1}}]',
        b"[]",
    ]
    for body in others:
        assert batchbody.typed_body(body) is None, body
    assert batchbody.typed_body(b'{"records": []}') == {"records": batchbody.TypedRecords([])}


def test_the_batch_route_builds_a_typed_body_s_rows_typed(
    make_client: Callable[..., Any], monkeypatch: Any
) -> None:
    """A well-formed JSON batch skips the type scans (``rows(typed=True)``); one the typed
    decode refuses is checked as before (the 422s above)."""
    with make_client() as client:
        services = services_of(client.app)  # type: ignore[arg-type]
        model = services.model
        calls: list[bool] = []
        real = model.rows

        def spy(records: Any, *, typed: bool = False) -> Any:
            calls.append(typed)
            return real(records, typed=typed)

        monkeypatch.setattr(model, "rows", spy)
        records = full_records(services, 3)
        answer = client.post("/v1/predict/batch", json={"records": records}, headers=HEADERS)
        assert answer.status_code == 200
        assert calls == [True]
        alone = client.post("/v1/predict", json=records[2], headers=HEADERS).json()
        assert answer.json()["items"][2]["probability"] == alone["probability"]
        name = model.feature_names[0]
        refused = {"records": [{"features": {name: True}}]}
        assert client.post("/v1/predict/batch", json=refused, headers=HEADERS).status_code == 422
        assert calls == [True, False]  # not the typed decode's: parsed and checked as before
