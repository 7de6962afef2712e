"""requirements.lock pins what every requirements file asks for (regenerate it: `make lock`)."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from tests.delivery.support import REPO_ROOT

LOCK = REPO_ROOT / "requirements.lock"
REQUIREMENT_FILES = sorted(p.name for p in REPO_ROOT.glob("requirements-*.txt"))
FIX = "run `make lock` (and `make install`) after changing a requirements file"


def local_project(line: str) -> str | None:
    """The folder of a line installing a project of this repository (`-e ./x` or `./x`)."""
    target = line[3:].strip() if line.startswith("-e ") else line
    return target if target.startswith(("./", "../")) else None


def project_dependencies(folder: Path) -> list[Requirement]:
    pyproject = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    return [Requirement(line) for line in pyproject["project"].get("dependencies", [])]


def local_projects(path: Path) -> list[Path]:
    """The repository's own projects a file installs (pip resolves them from the root)."""
    found: list[Path] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line.startswith("-r "):
            found += local_projects(path.parent / line[3:].strip())
        elif (folder := local_project(line)) is not None:
            found.append(REPO_ROOT / folder)
    return found


def read_requirements(path: Path) -> list[Requirement]:
    """The requirements of a file, its `-r` includes followed; a project of this repository
    counts as its dependencies (the lock pins those, not the project itself)."""
    found: list[Requirement] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            found += read_requirements(path.parent / line[3:].strip())
        elif (folder := local_project(line)) is not None:
            found += project_dependencies(REPO_ROOT / folder)
        else:
            assert not line.startswith("-"), f"{path.name}: unexpected option {line!r}"
            found.append(Requirement(line))
    return found


def read_lock() -> dict[NormalizedName, Version]:
    pins: dict[NormalizedName, Version] = {}
    for raw in LOCK.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        (specifier,) = requirement.specifier  # one exact pin per line
        assert specifier.operator == "==", f"not a pin: {line!r}"
        name = canonicalize_name(requirement.name)
        assert name not in pins, f"{name} pinned twice"
        pins[name] = Version(specifier.version)
    return pins


def test_the_lock_pins_exact_versions_for_the_deploy_target() -> None:
    pins = read_lock()
    assert len(pins) > 50
    assert {"fastapi", "lightgbm", "streamlit", "pandas"} <= set(pins)
    assert pins[canonicalize_name("pandas")] < Version("3")  # the pandas 2 pin holds


@pytest.mark.parametrize("name", REQUIREMENT_FILES)
def test_every_requirement_is_pinned_at_a_version_its_range_admits(name: str) -> None:
    pins = read_lock()
    requirements = read_requirements(REPO_ROOT / name)
    assert requirements, f"{name} asks for nothing"
    for requirement in requirements:
        key = canonicalize_name(requirement.name)
        assert key in pins, f"{requirement} ({name}) is not in requirements.lock: {FIX}"
        assert requirement.specifier.contains(pins[key], prereleases=True), (
            f"requirements.lock pins {key}=={pins[key]}, outside {requirement} ({name}): {FIX}"
        )


def test_the_repositorys_own_client_is_installed_from_its_folder_and_not_pinned() -> None:
    """pip refuses a local path as a constraint: the lock leaves the project out (`make lock`
    passes --no-emit-package) and pins its dependencies."""
    projects = local_projects(REPO_ROOT / "requirements-dev.txt")
    assert projects == [REPO_ROOT / "clients" / "python"]
    assert local_projects(REPO_ROOT / "requirements-demo.txt") == projects  # make demo too
    pins = read_lock()
    for folder in projects:
        name = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))["project"]
        assert canonicalize_name(name["name"]) not in pins
        assert f"--no-emit-package {name['name']}" in (REPO_ROOT / "Makefile").read_text(
            encoding="utf-8"
        )
        for dependency in project_dependencies(folder):
            assert dependency.specifier.contains(pins[canonicalize_name(dependency.name)])


def test_nothing_the_requirements_pull_in_is_missing_from_the_lock() -> None:
    """Every dependency (extras included) of every requirement, transitively, is pinned.

    Read from the installed packages' metadata: a package installed at another version than
    its pin (a virtualenv older than the lock) is checked itself but not walked into.
    """
    pins = read_lock()
    todo = [
        (req, "requirements-dev.txt")
        for req in read_requirements(REPO_ROOT / "requirements-dev.txt")
    ]
    seen: set[tuple[NormalizedName, frozenset[str]]] = set()
    walked = 0
    while todo:
        requirement, wanted_by = todo.pop()
        key = canonicalize_name(requirement.name)
        assert key in pins, f"{requirement} (needed by {wanted_by}) is not in the lock: {FIX}"
        assert requirement.specifier.contains(pins[key], prereleases=True), (
            f"{wanted_by} needs {requirement}, the lock pins {pins[key]}: {FIX}"
        )
        extras = frozenset(requirement.extras)
        if (key, extras) in seen:
            continue
        seen.add((key, extras))
        try:
            installed = importlib.metadata.distribution(key)
        except importlib.metadata.PackageNotFoundError:
            continue
        if Version(installed.version) != pins[key]:
            continue
        walked += 1
        for line in installed.requires or []:
            dependency = Requirement(line)
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if dependency.marker is None or any(
                dependency.marker.evaluate(env) for env in environments
            ):
                todo.append((dependency, f"{key}=={pins[key]}"))
    assert walked > 50, "the installed packages do not match the lock: run `make install`"
