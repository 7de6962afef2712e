"""A stand-in HTTP API serving tests/dashboard/fake_api.py over the contract's routes.

Only for looking at the dashboard without the real API (`python -m tests.e2e.fake_server 8765`);
the end-to-end test itself runs the real `api.main:app`.
"""

from __future__ import annotations

import sys
from typing import Any

from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel

from dashboard.api_client import ApiNotFound
from tests.dashboard.fake_api import FakeApi

api = FakeApi()
app = FastAPI(title="fake scoring API")


def _auth(key: str | None) -> None:
    if key != "demo-key":
        raise HTTPException(401, "invalid API key")


def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except ApiNotFound as exc:
        raise HTTPException(404, str(exc)) from exc


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/v1/clients")
def clients(search: str = "", limit: int = 50, x_api_key: str | None = Header(None)) -> Any:
    _auth(x_api_key)
    return api.search_clients(search, limit)


@app.get("/v1/features")
def features(x_api_key: str | None = Header(None)) -> Any:
    _auth(x_api_key)
    return {"items": api.features()}


@app.get("/v1/features/scatter")
def scatter(x: str, y: str, n: int = 500, x_api_key: str | None = Header(None)) -> Any:
    _auth(x_api_key)
    return api.scatter(x, y, n)


@app.get("/v1/features/{name}/distribution")
def distribution(name: str, client_id: int, x_api_key: str | None = Header(None)) -> Any:
    _auth(x_api_key)
    return _run(api.distribution, name, client_id)


@app.get("/v1/clients/{client_id}")
def client(client_id: int, x_api_key: str | None = Header(None)) -> Any:
    _auth(x_api_key)
    return _run(api.client, client_id)


@app.get("/v1/clients/{client_id}/features")
def client_features(client_id: int, x_api_key: str | None = Header(None)) -> Any:
    _auth(x_api_key)
    feats = _run(api.client_features, client_id)
    return {"client_id": client_id, "model_version": "fake", "features": feats}


@app.get("/v1/clients/{client_id}/explanation")
def explanation(
    client_id: int, top: int = 10, lang: str = "en", x_api_key: str | None = Header(None)
) -> Any:
    _auth(x_api_key)
    return _run(api.explanation, client_id, top, lang)


class WhatIf(BaseModel):
    client_id: int
    changes: dict[str, Any]
    top: int = 10
    lang: str = "en"


@app.post("/v1/explain")
def explain(body: WhatIf, x_api_key: str | None = Header(None)) -> Any:
    _auth(x_api_key)
    return _run(api.explain_changes, body.client_id, body.changes, body.top, body.lang)


@app.get("/v1/clients/{client_id}/neighbors")
def neighbors(client_id: int, k: int = 10, x_api_key: str | None = Header(None)) -> Any:
    _auth(x_api_key)
    return _run(api.neighbors, client_id, k)


@app.get("/v1/clients/{client_id}/counterfactual")
def counterfactual(client_id: int, lang: str = "en", x_api_key: str | None = Header(None)) -> Any:
    _auth(x_api_key)
    return _run(api.counterfactual, client_id, lang)


@app.get("/v1/model")
def model(x_api_key: str | None = Header(None)) -> Any:
    _auth(x_api_key)
    return api.model()


@app.get("/v1/model/importance")
def importance(top: int = 20, x_api_key: str | None = Header(None)) -> Any:
    _auth(x_api_key)
    return api.importance(top)


@app.get("/v1/model/fairness")
def fairness(lang: str = "en", x_api_key: str | None = Header(None)) -> Any:
    _auth(x_api_key)
    return api.fairness(lang)


@app.get("/v1/model/drift")
def drift(x_api_key: str | None = Header(None)) -> Any:
    _auth(x_api_key)
    return api.drift()


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 8765)
