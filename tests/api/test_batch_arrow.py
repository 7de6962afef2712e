"""POST /v1/predict/batch with an Arrow IPC stream: the same answer and audit rows as the same
records in JSON, errors naming the feature and the record, nothing audited when refused."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc

from api.arrowbody import ARROW_STREAM
from tests.api.conftest import HEADERS, services_of
from tests.api.test_batch import full_records

ARROW = {**HEADERS, "Content-Type": ARROW_STREAM}


def stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pyarrow.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=7)  # several record batches
    return bytes(sink.getvalue().to_pybytes())


def arrow_of(records: list[dict[str, Any]], names: list[str]) -> pa.Table:
    """The records as columns, in ``names``' order; a feature a record lacks is null."""
    return pa.table(
        {
            name: pa.array([r["features"].get(name) for r in records], type=pa.float64())
            for name in names
        }
    )


def test_an_arrow_batch_answers_and_audits_as_the_same_json_batch(
    make_client: Callable[..., Any],
) -> None:
    with make_client(api_batch_max=1000) as client:
        services = services_of(client.app)  # type: ignore[arg-type]
        records = full_records(services, 300)
        names = list(services.model.feature_names)
        for record in records[::3]:  # some features left out of some records
            del record["features"][names[5]]
        as_json = client.post("/v1/predict/batch", json={"records": records}, headers=HEADERS)
        assert as_json.status_code == 200
        before = services.audit.rows()
        columns = arrow_of(records, names[::-1])  # any order of columns
        # integers are numbers too: a whole-valued column sent as int64 (nulls kept)
        whole = next(n for n in names if all(
            r["features"].get(n) is None or float(r["features"][n]).is_integer() for r in records
        ))  # fmt: skip
        position = columns.column_names.index(whole)
        ints = pa.array([r["features"].get(whole) for r in records], type=pa.float64())
        columns = columns.set_column(position, whole, ints.cast(pa.int64()))
        response = client.post("/v1/predict/batch", content=stream(columns), headers=ARROW)
        assert response.status_code == 200, response.text[:300]
        assert response.json() == as_json.json()
        rows = services.audit.rows()[len(before) :]
        assert len(rows) == 300
        assert [r["input_hash"] for r in rows] == [r["input_hash"] for r in before[-300:]]
        assert {r["input_hash_kind"] for r in rows} == {"row-v1"}


def test_an_arrow_batch_of_some_features_and_a_null_column(
    make_client: Callable[..., Any],
) -> None:
    with make_client() as client:
        services = services_of(client.app)  # type: ignore[arg-type]
        a, b = services.model.feature_names[:2]
        value = float(services.model.reference[a].dropna().iloc[0])
        table = pa.table({a: pa.array([value, None]), b: pa.nulls(2)})
        response = client.post("/v1/predict/batch", content=stream(table), headers=ARROW)
        assert response.status_code == 200, response.text[:300]
        items = response.json()["items"]
        one = client.post("/v1/predict", json={"features": {a: value}}, headers=HEADERS).json()
        assert items[0]["probability"] == one["probability"]
        assert b in items[0]["missing_features"]
        assert a in items[1]["missing_features"]
        empty = pa.table({a: pa.array([], type=pa.float64())})
        response = client.post("/v1/predict/batch", content=stream(empty), headers=ARROW)
        assert response.status_code == 200
        assert response.json()["items"] == []


def test_arrow_batches_refused_name_the_feature_and_the_record(
    make_client: Callable[..., Any],
) -> None:
    with make_client(api_batch_max=10) as client:
        services = services_of(client.app)  # type: ignore[arg-type]
        a = services.model.feature_names[0]
        ok = float(services.model.reference[a].dropna().iloc[0])
        before = services.audit.count()

        def post(data: bytes) -> Any:
            return client.post("/v1/predict/batch", content=data, headers=ARROW)

        cases = [
            (stream(pa.table({"NOT_A_FEATURE": [1.0]})), 422, "NOT_A_FEATURE"),
            (stream(pa.table({a: ["1.5"]})), 422, f"feature {a}: expected a numeric column"),
            (stream(pa.table({a: [True]})), 422, f"feature {a}: expected a numeric column"),
            (
                stream(pa.table({a: [ok, math.nan]})),
                422,
                f"feature {a}: record 1: must be a finite",
            ),
            (stream(pa.table({a: [ok, ok, math.inf]})), 422, f"feature {a}: record 2: must be"),
            (stream(pa.table({a: [ok, -1e12]})), 422, f"record 1: {a}: -1e+12 is outside"),
            (stream(pa.table({a: [ok] * 11})), 413, "at most 10"),
            (b"not an arrow stream", 422, "not an Arrow IPC stream"),
        ]
        for data, status, text in cases:
            response = post(data)
            assert response.status_code == status, (text, response.text[:300])
            assert text in response.text, response.text[:300]
        # compressed, 100,000 records fit in a few kB: refused before they are all decoded
        many = pa.table({a: pa.array(np.full(100_000, ok))})
        sink = pa.BufferOutputStream()
        options = pyarrow.ipc.IpcWriteOptions(compression="zstd")
        with pyarrow.ipc.new_stream(sink, many.schema, options=options) as writer:
            writer.write_table(many, max_chunksize=5)
        response = post(sink.getvalue().to_pybytes())
        assert response.status_code == 413
        assert "at most 10" in response.text
        width = len(services.model.feature_names)
        wide = pa.table({f"C{i}": [1.0] for i in range(width + 1)})
        response = post(stream(wide))
        assert response.status_code == 422
        assert f"at most {width} columns" in response.text
        twice = pa.Table.from_arrays([pa.array([ok]), pa.array([ok])], names=[a, a])
        response = post(stream(twice))
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", a]
        assert services.audit.count() == before  # nothing refused was audited
        # an Arrow body elsewhere is any other body that is not JSON: the schema's 422
        response = client.post("/v1/predict", content=stream(pa.table({a: [ok]})), headers=ARROW)
        assert response.status_code == 422


def test_the_arrow_body_is_documented_next_to_json(make_client: Callable[..., Any]) -> None:
    with make_client() as client:
        operation = client.get("/openapi.json").json()["paths"]["/v1/predict/batch"]["post"]
        content = operation["requestBody"]["content"]
        assert set(content) == {"application/json", ARROW_STREAM}
        assert content["application/json"]["schema"] == {
            "$ref": "#/components/schemas/BatchRequest"
        }
        assert content[ARROW_STREAM]["schema"] == {"type": "string", "format": "binary"}
        assert "Arrow IPC stream" in operation["requestBody"]["description"]
