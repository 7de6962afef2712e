"""deploy/stage.py: one folder per app, what App Service's build (or docker build) receives."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.delivery.support import DEPLOY, REPO_ROOT, load_stage_module

stage_module = load_stage_module()
stage = stage_module.stage
StageError = stage_module.StageError


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(re.split(r"[\[<>=!~;\s]", line, maxsplit=1)[0].lower())
    return names


@pytest.fixture
def fake_bundle(tmp_path: Path) -> Path:
    bundle = tmp_path / "bundle-in"
    (bundle / "nested").mkdir(parents=True)
    (bundle / "model.txt").write_text("tree\n", encoding="utf-8")
    (bundle / "metadata.json").write_text('{"version": "test"}\n', encoding="utf-8")
    (bundle / "nested" / "reference.parquet").write_bytes(b"PAR1")
    return bundle


@pytest.fixture
def fake_clients(tmp_path: Path) -> Path:
    clients = tmp_path / "application_test.csv"
    clients.write_text("SK_ID_CURR,AMT_CREDIT\n100001,1000.0\n", encoding="utf-8")
    return clients


def assert_requirements_pinned_by_the_lock(out: Path, source: str) -> None:
    """requirements.txt = the app's requirements file (the repository's own projects installed
    from their copy, not editable), then `-c requirements.lock` (a copy)."""
    staged = (out / "requirements.txt").read_text(encoding="utf-8").splitlines()
    original = (REPO_ROOT / source).read_text(encoding="utf-8").splitlines()
    original = [line.removeprefix("-e ") for line in original]
    assert staged[: len(original)] == original
    extra = [line for line in staged[len(original) :] if not line.startswith("#")]
    assert extra == ["-c requirements.lock"]
    assert (out / "requirements.lock").read_bytes() == (
        REPO_ROOT / "requirements.lock"
    ).read_bytes()


def test_pip_reads_the_staged_requirements_with_the_lock_beside_them(tmp_path: Path) -> None:
    """pip resolves `-c requirements.lock` next to requirements.txt, wherever it is installed.

    Offline (--no-index), so without the client's line: pip builds a local project before it
    resolves anything, which needs its build backend from an index (the test below installs it).
    """
    out = stage("dashboard", tmp_path / "out")
    lines = (out / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert "./clients/python" in lines  # installed from its copy in the package, not editable
    named = out / "requirements-named.txt"
    named.write_text("\n".join(x for x in lines if x != "./clients/python"), encoding="utf-8")
    pip = [sys.executable, "-m", "pip", "--isolated", "install", "--dry-run", "--no-index"]
    result = subprocess.run(
        [*pip, "--no-deps", "--ignore-installed", "-r", str(named)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,  # not the package folder: the lock is found beside requirements.txt
    )
    lock = {
        line.split("==")[0]: line.split("==")[1].split()[0]
        for line in (REPO_ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    }
    # --no-index finds nothing to install: pip names the pinned version it looked for.
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"(constraint) streamlit=={lock['streamlit']}" in output, output


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_api_package_has_the_app_the_core_its_requirements_and_the_bundle(
    tmp_path: Path, fake_bundle: Path, fake_clients: Path
) -> None:
    out = stage("api", tmp_path / "out", bundle=fake_bundle, clients=fake_clients)
    top = {p.name for p in out.iterdir()}
    assert top == {
        "api",
        "scoring",
        "bundle",
        "clients",
        "requirements.txt",
        "requirements.lock",
        "build-info.json",
    }
    assert (out / "api" / "__init__.py").is_file()
    assert (out / "scoring" / "__init__.py").is_file()
    source_files = {
        p.relative_to(REPO_ROOT).as_posix()
        for package in ("api", "scoring")
        for p in (REPO_ROOT / package).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert source_files <= files_under(out), "every source and resource file of the packages"
    assert files_under(out / "bundle") == files_under(fake_bundle)
    assert (out / "bundle" / "model.txt").read_text(encoding="utf-8") == "tree\n"
    assert files_under(out / "clients") == {"application_test.csv"}
    assert_requirements_pinned_by_the_lock(out, "requirements-api.txt")
    assert not list(out.rglob("__pycache__"))
    assert json.loads((out / "build-info.json").read_text(encoding="utf-8"))["app"] == "api"


def test_api_package_installs_what_its_startup_command_runs() -> None:
    names = requirement_names(REPO_ROOT / "requirements-api.txt")
    assert {"gunicorn", "uvicorn-worker", "fastapi"} <= names
    assert "streamlit" not in names


def test_dashboard_package_is_the_dashboard_alone(tmp_path: Path) -> None:
    out = stage("dashboard", tmp_path / "out")
    top = {p.name for p in out.iterdir()}
    assert {"dashboard", "clients", "requirements.txt", "requirements.lock"} <= top
    assert top <= {
        "dashboard",
        "clients",
        "requirements.txt",
        "requirements.lock",
        "build-info.json",
        ".streamlit",
    }
    assert (out / "dashboard" / "app.py").is_file()
    if (REPO_ROOT / ".streamlit" / "config.toml").is_file():
        assert files_under(out / ".streamlit") == {"config.toml"}  # never secrets.toml
    assert_requirements_pinned_by_the_lock(out, "requirements-dashboard.txt")
    assert "streamlit" in requirement_names(out / "requirements.txt")
    # the shared API client, its sources and build files only (no egg-info, no tests)
    client = REPO_ROOT / "clients" / "python"
    shipped = files_under(out / "clients" / "python")
    assert {"pyproject.toml", "README.md", "src/pret_a_depenser_client/py.typed"} <= shipped
    assert shipped <= {
        p.relative_to(client).as_posix()
        for p in client.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and ".egg-info" not in str(p)
    }
    assert all(name.startswith(("src/", "pyproject", "README")) for name in shipped), shipped


def test_a_requirement_on_a_folder_the_app_does_not_ship_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "dashboard").mkdir(parents=True)
    (root / "dashboard" / "__init__.py").write_text("", encoding="utf-8")
    (root / "requirements.lock").write_text("httpx==0.28.1\n", encoding="utf-8")
    (root / "requirements-dashboard.txt").write_text("-e ./tools/mine\n", encoding="utf-8")
    with pytest.raises(StageError, match="installs tools/mine, which the app does not ship"):
        stage("dashboard", tmp_path / "out", repo_root=root)


@pytest.mark.slow
def test_the_staged_client_installs_and_imports_on_its_own(tmp_path: Path) -> None:
    """What the deploy's pip does with `./clients/python`, from the package root (as App
    Service's build and the Dockerfile run it): build it (its backend from the index) and
    install it."""
    out = stage("dashboard", tmp_path / "out")
    target = tmp_path / "site"
    installed = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--no-deps"),
            *("--target", str(target), "./clients/python"),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=out,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    package = target / "pret_a_depenser_client"
    assert (package / "py.typed").is_file()
    code = (
        f"import sys; sys.path.insert(0, {str(target)!r}); import pret_a_depenser_client as c; "
        "print(c.__file__); print(c.__version__)"
    )
    imported = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=False
    )
    assert imported.returncode == 0, imported.stderr
    where, version = imported.stdout.split()
    assert Path(where).is_relative_to(target)  # the installed copy, not the checkout
    assert version == "1.0.0"


def test_the_dashboard_imports_nothing_it_does_not_ship() -> None:
    for path in (REPO_ROOT / "dashboard").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import)\s+(scoring|api)\b", text, re.MULTILINE), path


@pytest.mark.parametrize(
    ("app", "given", "message"),
    [
        ("api", (), "needs --bundle"),
        ("dashboard", ("bundle",), "ships no model bundle"),
        ("dashboard", ("clients",), "ships no model bundle"),
        ("worker", (), "unknown app"),
    ],
)
def test_refuses_an_incomplete_or_wrong_request(
    tmp_path: Path, fake_bundle: Path, app: str, given: tuple[str, ...], message: str
) -> None:
    arguments = dict.fromkeys(given, fake_bundle)
    with pytest.raises(StageError, match=message):
        stage(app, tmp_path / "out", **arguments)


def test_refuses_an_empty_bundle_and_a_non_empty_output(tmp_path: Path, fake_bundle: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StageError, match="missing or empty"):
        stage("api", tmp_path / "out", bundle=empty)
    used = tmp_path / "used"
    used.mkdir()
    (used / "old.txt").write_text("x", encoding="utf-8")
    with pytest.raises(StageError, match="not empty"):
        stage("api", used, bundle=fake_bundle)


def test_cli_stages_and_reports_errors(tmp_path: Path, fake_bundle: Path) -> None:
    script = str(DEPLOY / "stage.py")
    ok = subprocess.run(
        [
            sys.executable,
            script,
            "api",
            "--out",
            str(tmp_path / "out"),
            "--bundle",
            str(fake_bundle),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "out" / "bundle" / "model.txt").is_file()
    failed = subprocess.run(
        [sys.executable, script, "api", "--out", str(tmp_path / "other")],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert failed.returncode == 2
    assert "needs --bundle" in failed.stderr


def test_refuses_to_stage_without_the_lock(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "dashboard").mkdir(parents=True)
    (root / "dashboard" / "__init__.py").write_text("", encoding="utf-8")
    (root / "requirements-dashboard.txt").write_text("streamlit>=1.40\n", encoding="utf-8")
    with pytest.raises(StageError, match=r"requirements.lock is missing: run `make lock`"):
        stage("dashboard", tmp_path / "out", repo_root=root)
    assert not (tmp_path / "out").exists()
    (root / "requirements.lock").write_text("streamlit==1.67.0\n", encoding="utf-8")
    out = stage("dashboard", tmp_path / "out", repo_root=root)
    assert (out / "requirements.txt").read_text(encoding="utf-8").splitlines()[-1] == (
        "-c requirements.lock"
    )
    assert (out / "requirements.lock").read_text(encoding="utf-8") == "streamlit==1.67.0\n"
