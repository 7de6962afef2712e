"""Every curl example of docs/api.md, parsed from the file, runs against the API on the demo
test bundle and gets the status and the body field the guide documents next to it."""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import KEY, METRICS_TOKEN

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
BLOCK = re.compile(r"```bash\n(curl .*?)```", re.S)
EXPECT = re.compile(r"^# -> (\d{3}) (\S+)$", re.M)


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    headers: dict[str, str]
    body: str | None
    status: int
    field: str


def parse(block: str) -> Call:
    """One ``curl`` command (continuation lines allowed) and its ``# -> STATUS field`` line."""
    expect = EXPECT.search(block)
    assert expect is not None, f"no '# -> STATUS field' line in:\n{block}"
    command = EXPECT.sub("", block).replace("\\\n", " ")
    words = shlex.split(command)
    assert words[0] == "curl", block
    method, url, body = "GET", "", None
    headers: dict[str, str] = {}
    it = iter(words[1:])
    for word in it:
        if word in ("-s", "-sS", "-i"):
            continue
        if word == "-X":
            method = next(it)
        elif word == "-H":
            name, _, value = next(it).partition(":")
            headers[name.strip()] = value.strip()
        elif word in ("-d", "--data"):
            body = next(it)
            method = "POST" if method == "GET" else method
        else:
            assert not word.startswith("-"), f"unsupported curl option {word}"
            url = word
    return Call(method, url, headers, body, int(expect.group(1)), expect.group(2))


def calls() -> list[Call]:
    return [parse(block) for block in BLOCK.findall(GUIDE.read_text(encoding="utf-8"))]


def test_the_guide_has_an_example_of_every_operation(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    documented = {
        (call.method.lower(), re.sub(r"\?.*", "", call.url.removeprefix("$BASE_URL")))
        for call in calls()
    }
    for path, ops in spec["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", path) + "$")
        for method in ops:
            assert any(
                m == method and pattern.match(p.replace("$CLIENT_ID", "1")) for m, p in documented
            ), f"docs/api.md has no curl example of {method.upper()} {path}"


def _field(body: Any, path: str) -> Any:
    for part in path.split("."):
        body = body[int(part)] if isinstance(body, list) else body[part]
    return body


def test_every_curl_example_answers_as_documented(
    client: TestClient, client_ids: list[int]
) -> None:
    variables = {
        "$BASE_URL": "",
        "$API_KEY": KEY,
        "$METRICS_TOKEN": METRICS_TOKEN,
        "$CLIENT_ID": str(client_ids[0]),
    }
    examples = calls()
    assert len(examples) >= 20
    dump: dict[str, Any] = {}
    for call in examples:

        def fill(text: str) -> str:
            for name, value in variables.items():
                text = text.replace(name, value)
            return text

        answer = client.request(
            call.method,
            fill(call.url),
            headers={k: fill(v) for k, v in call.headers.items()},
            content=fill(call.body).encode() if call.body is not None else None,
        )
        where = f"{call.method} {call.url}"
        assert answer.status_code == call.status, (where, answer.text[:300])
        if call.field == "text":
            assert answer.text, where
            continue
        body = answer.json()
        try:
            _field(body, call.field)
        except (KeyError, IndexError, TypeError):
            pytest.fail(f"{where}: no {call.field} in {json.dumps(body)[:300]}")
        dump[where] = body
    if os.environ.get("API_GUIDE_DUMP"):  # to refresh the example answers of the guide
        Path(os.environ["API_GUIDE_DUMP"]).write_text(json.dumps(dump, indent=2))
