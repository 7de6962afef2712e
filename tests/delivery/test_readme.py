"""The README as a newcomer reads it on a fresh clone: links that resolve, the first curl calls
working when pasted against the demo, example ids that are real demo clients, and `make
test-fast` meaning what it says."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dashboard.i18n import STRINGS
from tests.delivery.support import REPO_ROOT, free_port, wait_for_health

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
DEMO_PORT = 8000
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def make_variable(name: str) -> str:
    match = re.search(rf"^{name}\s*[:?]?=\s*(.+)$", MAKEFILE, re.MULTILINE)
    assert match, f"{name} is not set in the Makefile"
    return match.group(1).strip()


def first_calls() -> list[str]:
    """The curl lines of the README's "First calls" code block."""
    section = README[README.index("## First calls") :]
    block = section[section.index("```bash") + len("```bash") : section.index("```\n", 10)]
    calls = [line.strip() for line in block.splitlines() if line.strip().startswith("curl ")]
    assert len(calls) == 3, calls
    return calls


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_relative_link_resolves_inside_the_clone(doc: Path) -> None:
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+://|#|mailto:", target):
            continue
        resolved = (doc.parent / target.split("#", 1)[0]).resolve()
        assert resolved.is_relative_to(REPO_ROOT), f"{doc.name}: {target} is outside the clone"
        assert resolved.exists(), f"{doc.name}: {target} does not exist"


def test_test_fast_leaves_out_every_marker_and_the_readme_says_so() -> None:
    expression = make_variable("FAST_MARKERS")
    markers = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = [m.split(":")[0] for m in markers["tool"]["pytest"]["ini_options"]["markers"]]
    assert expression == " and ".join(f"not {marker}" for marker in declared)
    assert '$(VENV)/bin/pytest -m "$(FAST_MARKERS)"' in MAKEFILE
    assert f'pytest -m "{expression}"' in README


def test_bundles_and_var_are_ignored() -> None:
    result = subprocess.run(
        ["git", "check-ignore", "bundles/v1/model.txt", "var/demo/api-key"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if "not a git repository" in result.stderr:  # a staged or exported copy: read the file
        ignored = (REPO_ROOT / ".gitignore").read_text(encoding="utf-8").split()
        assert {"bundles/", "var/"} <= set(ignored)
    else:
        assert result.stdout.split() == ["bundles/v1/model.txt", "var/demo/api-key"]


@pytest.fixture(scope="module")
def make_demo_clients(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The new clients `make demo` generates (its DEMO_ROWS, the CLI's default seed)."""
    out = tmp_path_factory.mktemp("make-demo-data")
    rows = make_variable("DEMO_ROWS")
    subprocess.run(
        [sys.executable, "-m", "scoring", "demo-data", "--out", str(out), "--rows", rows],
        check=True, capture_output=True,
    )  # fmt: skip
    return out


def demo_ids(folder: Path) -> list[int]:
    (path,) = folder.glob("application_test.*")
    ids: list[int] = pd.read_parquet(path, columns=["SK_ID_CURR"])["SK_ID_CURR"].tolist()
    return ids


def test_example_ids_are_new_clients_of_make_demo(make_demo_clients: Path) -> None:
    ids = demo_ids(make_demo_clients)
    (readme_id,) = {int(i) for i in re.findall(r"/v1/clients/(\d+)/", " ".join(first_calls()))}
    assert readme_id in ids
    for lang, strings in STRINGS.items():
        (placeholder_id,) = re.findall(r"\d{6}", strings["search.placeholder"])
        assert int(placeholder_id) in ids, f"{lang} search placeholder"


@pytest.fixture(scope="module")
def demo_api(
    demo_bundle: Path, make_demo_clients: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[int, Path]]:
    """The API on the demo's new clients, and a folder holding var/demo/api-key as make demo."""
    home = tmp_path_factory.mktemp("first-calls")
    (home / "var" / "demo").mkdir(parents=True)
    (home / "var" / "demo" / "api-key").write_text("readme-key\n", encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCORING_", "API_"))}
    env.update(
        SCORING_BUNDLE=str(demo_bundle),
        SCORING_CLIENTS=str(make_demo_clients),
        API_KEYS="demo:readme-key",
        DATABASE_URL=f"sqlite:///{home / 'audit.db'}",
    )
    argv = [sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port)]
    with (home / "api.log").open("wb") as log:
        process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
        try:
            wait_for_health(f"http://127.0.0.1:{port}/health", process, 120)
            yield port, home
        finally:
            process.terminate()
            process.wait(timeout=30)


def paste(call: str, port: int, home: Path) -> Any:
    """Run one README line in bash from a folder laid out as the repository after make demo."""
    assert f"127.0.0.1:{DEMO_PORT}/" in call
    line = call.replace(f"127.0.0.1:{DEMO_PORT}/", f"127.0.0.1:{port}/")
    result = subprocess.run(
        ["bash", "-c", line], cwd=home, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"{shlex.quote(call)}: {result.stderr}"
    return json.loads(result.stdout)


@pytest.mark.slow
def test_first_calls_work_when_pasted(demo_api: tuple[int, Path], make_demo_clients: Path) -> None:
    port, home = demo_api
    health, clients, explanation = (paste(call, port, home) for call in first_calls())
    assert health == {"status": "ok"}
    ids = demo_ids(make_demo_clients)
    assert clients["total"] == len(ids)
    assert clients["items"] == sorted(ids)[:3]
    assert explanation["client_id"] == clients["items"][0]
    assert explanation["decision"] in {"grant", "refuse"}
    assert len(explanation["contributions"]) == 3  # top=3
    assert explanation["reasons"]["against"] or explanation["reasons"]["for"]
    # What the README shows of the answers.
    assert '{"status":"ok"}' in README
    assert f'"items":{json.dumps(clients["items"], separators=(",", ":"))}' in README
    assert f'"total":{clients["total"]}' in README
