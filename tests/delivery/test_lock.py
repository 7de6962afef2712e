"""requirements.lock pins what every requirements file asks for (regenerate it: `make lock`)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from tests.delivery.support import REPO_ROOT

LOCK = REPO_ROOT / "requirements.lock"
REQUIREMENT_FILES = sorted(p.name for p in REPO_ROOT.glob("requirements-*.txt"))
FIX = "run `make lock` (and `make install`) after changing a requirements file"


def read_requirements(path: Path) -> list[Requirement]:
    """The requirements of a file, its `-r` includes followed."""
    found: list[Requirement] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            found += read_requirements(path.parent / line[3:].strip())
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
