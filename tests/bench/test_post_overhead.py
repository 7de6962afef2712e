"""bench/post_overhead.py's pieces: the raw ASGI call and the table (no app, no clock)."""

from __future__ import annotations

import asyncio
from typing import Any

from bench.post_overhead import call, markdown


def test_call_sends_the_body_and_returns_the_status() -> None:
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        seen.update(method=scope["method"], path=scope["path"], body=message["body"])
        headers = dict(scope["headers"])
        seen["length"] = headers[b"content-length"]
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    status = asyncio.run(call(app, "POST", "/v1/predict", b'{"features": {}}'))
    assert status == 418
    assert seen == {"method": "POST", "path": "/v1/predict", "body": b'{"features": {}}',
                    "length": b"16"}  # fmt: skip


def test_table_gives_each_variant_its_best_and_median_round() -> None:
    report = {
        "measured_at": "2026-12-02T07:00:00+00:00", "cpus": 2, "bundle": "b",
        "command": "python bench/post_overhead.py", "load_average_at_start": [1.0, 1.0, 1.0],
        "load_average_at_end": [1.2, 1.0, 1.0],
        "rounds": {
            "health": [{"cpu_ms": 0.06, "loop_thread_cpu_ms": 0.06}] * 3,
            "predict, audited": [
                {"cpu_ms": 0.6, "loop_thread_cpu_ms": 0.4},
                {"cpu_ms": 0.5, "loop_thread_cpu_ms": 0.45},
                {"cpu_ms": 0.9, "loop_thread_cpu_ms": 0.5},
            ],
        },
    }  # fmt: skip
    text = markdown(report)
    assert "| health | 0.060 / 0.060 | 0.060 / 0.060 |" in text
    assert "| predict, audited | 0.500 / 0.600 | 0.400 / 0.450 |" in text
    assert "at the start [1.0, 1.0, 1.0]" in text
    assert "at the end [1.2, 1.0, 1.0]" in text
