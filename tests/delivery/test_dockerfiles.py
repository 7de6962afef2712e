"""The container images (deploy/Dockerfile.*): hadolint-clean, slim, pinned, non-root, healthy."""

from __future__ import annotations

import json
import re

import pytest

from tests.delivery.support import (
    APPS,
    DEPLOY,
    HEALTH_PATHS,
    STARTUP_COMMANDS,
    load_stage_module,
    run_tool,
    tool,
)

SECRET_NAMES = re.compile(r"(KEY|SECRET|PASSWORD|TOKEN|DATABASE_URL|REDIS_URL)", re.IGNORECASE)


def instructions(app: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (DEPLOY / f"Dockerfile.{app}").read_text(encoding="utf-8")
    logical = re.sub(r"\\\n(\s*#.*\n)*", " ", text)
    pairs = []
    for line in logical.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def test_dockerfiles_pass_hadolint() -> None:
    files = [str(DEPLOY / f"Dockerfile.{app}") for app in APPS]
    result = run_tool(tool("hadolint"), "--no-color", "--failure-threshold", "info", *files)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("app", APPS)
def test_base_image_is_slim_and_pinned_to_a_patch_release(app: str) -> None:
    froms = [args for keyword, args in instructions(app) if keyword == "FROM"]
    assert len(froms) == 1
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", froms[0]), froms[0]


@pytest.mark.parametrize("app", APPS)
def test_runs_as_a_non_root_user(app: str) -> None:
    users = [args for keyword, args in instructions(app) if keyword == "USER"]
    assert users, "no USER: the app would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}


@pytest.mark.parametrize("app", APPS)
def test_healthcheck_probes_the_health_path(app: str) -> None:
    checks = [args for keyword, args in instructions(app) if keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    assert f"127.0.0.1:8000{HEALTH_PATHS[app]}" in checks[0]


@pytest.mark.parametrize("app", APPS)
def test_cmd_is_the_exact_startup_command(app: str) -> None:
    cmds = [args for keyword, args in instructions(app) if keyword == "CMD"]
    assert len(cmds) == 1
    assert " ".join(json.loads(cmds[0])) == STARTUP_COMMANDS[app]
    assert ("EXPOSE", "8000") in instructions(app)


@pytest.mark.parametrize("app", APPS)
def test_no_secret_is_baked_into_the_image(app: str) -> None:
    for keyword, args in instructions(app):
        if keyword in {"ENV", "ARG"}:
            names = re.findall(r"(\w+)=", args) or [args.split()[0]]
            assert not [n for n in names if SECRET_NAMES.search(n)], f"{keyword} {args}"


@pytest.mark.parametrize("app", APPS)
def test_pip_installs_with_the_lock_copied_beside_the_requirements(app: str) -> None:
    steps = instructions(app)
    install = next(i for i, (kw, args) in enumerate(steps) if kw == "RUN" and "pip install" in args)
    assert "-r requirements.txt" in steps[install][1]
    copied = " ".join(args for kw, args in steps[:install] if kw == "COPY").split()
    # stage.py writes `-c requirements.lock` into requirements.txt: both must be there.
    assert {"requirements.txt", "requirements.lock"} <= set(copied), copied


def test_the_dashboard_image_has_the_shared_client_before_pip_installs_it() -> None:
    """requirements.txt installs ./clients/python (deploy/stage.py): it must be copied first."""
    steps = instructions("dashboard")
    install = next(i for i, (kw, args) in enumerate(steps) if kw == "RUN" and "pip install" in args)
    copied = [args.split() for kw, args in steps[:install] if kw == "COPY"]
    assert ["clients", "./clients"] in copied, copied
    staged = load_stage_module().APPS["dashboard"].projects
    assert staged == ("clients/python",)
