"""Stage one app's deployment package: the folder that App Service (or `docker build`) receives.

App Service's build (Oryx) installs `requirements.txt` from the root of what it is given, and
this repository holds two apps with a requirements file each, so every deploy ships its own
folder:

    api:        api/ scoring/ requirements.txt (= requirements-api.txt) requirements.lock
                bundle/ [clients/]
    dashboard:  dashboard/ clients/python/ requirements.txt (= requirements-dashboard.txt)
                requirements.lock [.streamlit/config.toml]

requirements.txt ends with `-c requirements.lock`: the deploy installs the versions pinned by
the repository's lock (`make lock`), the ones the tests ran with, not whatever its ranges
resolve to on the day. The dashboard talks to the API over HTTP only, so it ships without the
scoring core, with the shared API client (clients/python, `pret_a_depenser_client`): its
`-e ./clients/python` line becomes `./clients/python`, a plain install (an editable one would
point into the build folder App Service discards). pip resolves that path from the folder it
runs in: the package root, as App Service's build and the Dockerfiles do.

Usage:
    python deploy/stage.py api --out build/api --bundle var/bundle \
        --clients var/demo/application_test.csv
    python deploy/stage.py dashboard --out build/dashboard
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache")
# What a local project ships: its build files and sources, not what a build or install left.
PROJECT_IGNORED = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "*.pyo", "*.egg-info", "build", "dist", ".pytest_cache", ".mypy_cache"
)
LOCK = "requirements.lock"


@dataclass(frozen=True)
class AppSpec:
    """What one deployable app is made of, relative to the repository root."""

    packages: tuple[str, ...]
    requirements: str
    needs_bundle: bool
    projects: tuple[str, ...] = ()  # the repository's own projects its requirements install


APPS: dict[str, AppSpec] = {
    "api": AppSpec(
        packages=("api", "scoring"), requirements="requirements-api.txt", needs_bundle=True
    ),
    "dashboard": AppSpec(
        packages=("dashboard",),
        requirements="requirements-dashboard.txt",
        needs_bundle=False,
        projects=("clients/python",),
    ),
}


class StageError(Exception):
    """The package cannot be staged as asked (missing input, non-empty output, ...)."""


def local_project(line: str) -> str | None:
    """The folder a requirement line installs from this repository (`-e ./x`, `./x`), or None."""
    target = line.split(" #", 1)[0].strip()
    if target.startswith(("-e ", "--editable ")):
        target = target.split(None, 1)[1].strip()
    if not target.startswith(("./", "../")):
        return None
    return target.removeprefix("./").rstrip("/")


def _projects_installed(requirements: Path, allowed: tuple[str, ...]) -> list[str]:
    """The repository's projects a requirements file installs; each must be one the app ships."""
    found = [
        folder
        for line in requirements.read_text(encoding="utf-8").splitlines()
        if (folder := local_project(line)) is not None
    ]
    for folder in found:
        if folder not in allowed:
            raise StageError(f"{requirements.name} installs {folder}, which the app does not ship")
    return found


def _staged_line(line: str, projects: tuple[str, ...], source: Path) -> str:
    folder = local_project(line)
    if folder is None:
        return line
    if folder not in projects:
        raise StageError(f"{source.name} installs {folder}, which the package does not ship")
    return f"./{folder}"


def _copy_requirements(source: Path, lock: Path, out: Path, projects: tuple[str, ...] = ()) -> None:
    """Copy a requirements file as requirements.txt, constrained by the lock copied beside it;
    the repository's own projects are installed from their copy in the package, not editable.

    Refuses `-r`/`-c` includes: the files they name would not exist in the package.
    """
    lines = source.read_text(encoding="utf-8").splitlines()
    includes = [
        line
        for line in lines
        if line.strip().startswith(("-r ", "--requirement", "-c ", "--constraint"))
    ]
    if includes:
        raise StageError(f"{source.name} includes other files ({includes}); inline them")
    lines = [_staged_line(line, projects, source) for line in lines]
    body = "\n".join(lines) + f"\n# pinned versions (make lock)\n-c {LOCK}\n"
    (out / "requirements.txt").write_text(body, encoding="utf-8")
    shutil.copy2(lock, out / LOCK)


def stage(
    app: str,
    out: Path,
    *,
    bundle: Path | None = None,
    clients: Path | None = None,
    repo_root: Path = REPO_ROOT,
) -> Path:
    """Build the package folder for `app` in `out` (created; must be absent or empty)."""
    if app not in APPS:
        raise StageError(f"unknown app {app!r}; expected one of {sorted(APPS)}")
    spec = APPS[app]
    if spec.needs_bundle and bundle is None:
        raise StageError(f"{app} needs --bundle (a model bundle folder)")
    if not spec.needs_bundle and (bundle is not None or clients is not None):
        raise StageError(f"{app} ships no model bundle nor client data")
    if bundle is not None and (not bundle.is_dir() or not any(bundle.iterdir())):
        raise StageError(f"bundle folder {bundle} is missing or empty")
    if clients is not None and not clients.exists():
        raise StageError(f"clients path {clients} does not exist")
    if not (repo_root / LOCK).is_file():
        raise StageError(f"{repo_root / LOCK} is missing: run `make lock`")
    if out.exists() and any(out.iterdir()):
        raise StageError(f"output folder {out} is not empty")

    out.mkdir(parents=True, exist_ok=True)
    for package in spec.packages:
        source = repo_root / package
        if not (source / "__init__.py").is_file():
            raise StageError(f"{source} is not a Python package")
        shutil.copytree(source, out / package, ignore=IGNORED)
    requirements = repo_root / spec.requirements
    for project in _projects_installed(requirements, spec.projects):
        source = repo_root / project
        if not (source / "pyproject.toml").is_file():
            raise StageError(f"{source} is not a Python project (no pyproject.toml)")
        shutil.copytree(source, out / project, ignore=PROJECT_IGNORED)
    _copy_requirements(requirements, repo_root / LOCK, out, spec.projects)

    streamlit_config = repo_root / ".streamlit" / "config.toml"
    if app == "dashboard" and streamlit_config.is_file():
        (out / ".streamlit").mkdir()
        shutil.copy2(streamlit_config, out / ".streamlit" / "config.toml")  # never secrets.toml
    if bundle is not None:
        shutil.copytree(bundle, out / "bundle", ignore=IGNORED)
    if clients is not None:
        (out / "clients").mkdir()
        if clients.is_dir():
            shutil.copytree(clients, out / "clients", ignore=IGNORED, dirs_exist_ok=True)
        else:
            shutil.copy2(clients, out / "clients" / clients.name)

    info = {
        "app": app,
        "commit": os.environ.get("GITHUB_SHA", "local"),
        "run_id": os.environ.get("GITHUB_RUN_ID", "local"),
        "staged_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (out / "build-info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", choices=sorted(APPS))
    parser.add_argument("--out", type=Path, required=True, help="package folder to create")
    parser.add_argument("--bundle", type=Path, help="model bundle folder (api only)")
    parser.add_argument("--clients", type=Path, help="application_test file or folder (api only)")
    args = parser.parse_args(argv)
    try:
        out = stage(args.app, args.out, bundle=args.bundle, clients=args.clients)
    except StageError as error:
        print(f"stage: {error}", file=sys.stderr)
        return 2
    print(f"staged {args.app} in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
