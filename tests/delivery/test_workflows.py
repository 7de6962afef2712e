"""The GitHub Actions workflows: valid, linted, and gated (tests before any deploy, main only)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.delivery.support import (
    APPS,
    HEALTH_PATHS,
    REPO_ROOT,
    STARTUP_COMMANDS,
    WORKFLOWS,
    load_stage_module,
    run_tool,
    tool,
)

DEPLOY_CONDITION = "github.event_name == 'push' && github.ref == 'refs/heads/main'"
# Oldest major accepted per action: the node24 releases (older ones run on a retired Node.js).
MINIMUM_MAJORS = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/upload-artifact": 6,
    "azure/login": 3,
    "azure/webapps-deploy": 3,
}

Workflow = dict[Any, Any]  # keys are str, except `on` read as True


def load(app: str) -> Workflow:
    data = yaml.safe_load((WORKFLOWS / f"{app}.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def triggers(workflow: Workflow) -> dict[str, Any]:
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True.
    on = workflow.get("on", workflow.get(True))
    assert isinstance(on, dict), "`on:` must be a mapping of events"
    return on


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).split("@")[0] == action]


def resolve(value: str, *scopes: dict[str, Any]) -> str:
    """Substitute `${{ env.NAME }}` from the given env scopes (job first, then workflow)."""

    def lookup(match: re.Match[str]) -> str:
        for scope in scopes:
            if match.group(1) in scope:
                return str(scope[match.group(1)])
        raise AssertionError(f"env.{match.group(1)} is not defined")

    return re.sub(r"\$\{\{\s*env\.(\w+)\s*\}\}", lookup, value)


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))


def test_one_workflow_per_app() -> None:
    names = {path.stem for path in workflow_files()}
    assert set(APPS) <= names


def test_workflows_match_the_github_schema() -> None:
    result = run_tool(
        tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        *map(str, workflow_files()),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_pass_actionlint() -> None:
    result = run_tool(tool("actionlint"), "-no-color", *map(str, workflow_files()))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("app", APPS)
def test_triggers_and_path_filters_cover_what_the_app_imports(app: str) -> None:
    on = triggers(load(app))
    assert set(on) == {"push", "pull_request", "workflow_dispatch"}
    assert on["push"]["branches"] == ["main"]
    push_paths = on["push"]["paths"]
    assert on["pull_request"]["paths"] == push_paths, "PRs must test what a push would deploy"
    spec = load_stage_module().APPS[app]
    required = {
        "scoring/**",  # the shared core: a change there re-tests (and redeploys) both apps
        *(f"{package}/**" for package in spec.packages),
        spec.requirements,
        "requirements-dev.txt",
        "requirements.lock",
        f".github/workflows/{app}.yml",
        f"tests/{app}/**",
        "deploy/**",
    }
    assert required <= set(push_paths), required - set(push_paths)
    for pattern in push_paths:  # no stale filter that matches nothing in the repository
        prefix = pattern.split("*")[0].rstrip("/")
        assert prefix.startswith("tests/") or (REPO_ROOT / prefix).exists(), pattern


@pytest.mark.parametrize("app", APPS)
def test_permissions_are_least_and_oidc_only_on_deploy(app: str) -> None:
    workflow = load(app)
    assert workflow.get("permissions") in ({}, {"contents": "read"})
    jobs = workflow["jobs"]
    for name, job in jobs.items():
        permissions = job.get("permissions", {})
        assert isinstance(permissions, dict), f"{name}: permissions must be explicit"
        writes = {scope for scope, level in permissions.items() if level == "write"}
        if name == "deploy":
            assert writes == {"id-token"}
        else:
            assert writes == set(), f"{name} must not write anything"
            assert "secrets." not in yaml.safe_dump(job), f"{name} must run without secrets"
            assert not steps_using(job, "azure/login")


@pytest.mark.parametrize("app", APPS)
def test_concurrency_cancels_pull_requests_and_queues_deploys(app: str) -> None:
    workflow = load(app)
    concurrency = workflow["concurrency"]
    assert app in concurrency["group"]
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    deploy = workflow["jobs"]["deploy"]["concurrency"]
    assert deploy == {"group": f"deploy-production-{app}", "cancel-in-progress": False}


@pytest.mark.parametrize("app", APPS)
def test_deploy_is_gated_on_tests_and_only_on_push_to_main(app: str) -> None:
    jobs = load(app)["jobs"]
    assert set(jobs) == {"test", "deploy"}
    deploy = jobs["deploy"]
    needs = deploy["needs"]
    assert (needs if isinstance(needs, list) else [needs]) == ["test"]
    # A pull_request (or manual) run has another event name: the deploy job is skipped.
    assert " ".join(deploy["if"].split()) == DEPLOY_CONDITION
    assert "always()" not in deploy["if"]
    assert deploy["environment"]["name"] == f"production-{app}"
    # Only the deploy job touches Azure.
    assert "environment" not in jobs["test"]


@pytest.mark.parametrize("app", APPS)
def test_test_job_pins_python_caches_pip_and_gates_coverage(app: str) -> None:
    workflow = load(app)
    job = workflow["jobs"]["test"]
    (setup,) = steps_using(job, "actions/setup-python")
    inputs = setup["with"]
    assert resolve(str(inputs["python-version"]), workflow.get("env", {})) == "3.11"
    assert inputs["cache"] == "pip"
    assert f"requirements-{app}.txt" in inputs["cache-dependency-path"].split()
    commands = "\n".join(str(step.get("run", "")) for step in job["steps"])
    assert "pip install -r requirements-dev.txt" in commands
    pytest_line = " ".join(commands[commands.index("pytest ") :].split())
    assert f"tests/{app}" in pytest_line
    assert f"--cov={app}" in pytest_line
    assert re.search(r"--cov-fail-under[= ](\d+)", pytest_line), "coverage gate missing"
    assert "|| true" not in commands
    assert "continue-on-error" not in yaml.safe_dump(job)


@pytest.mark.parametrize("app", APPS)
def test_deploy_uses_oidc_login_the_staged_package_and_the_exact_startup_command(app: str) -> None:
    workflow = load(app)
    deploy = workflow["jobs"]["deploy"]
    (login,) = steps_using(deploy, "azure/login")
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}  # no `creds`
    (webapp,) = steps_using(deploy, "azure/webapps-deploy")
    assert "publish-profile" not in webapp["with"]
    command = resolve(
        webapp["with"]["startup-command"], deploy.get("env", {}), workflow.get("env", {})
    )
    assert command == STARTUP_COMMANDS[app]
    runs = [str(step.get("run", "")) for step in deploy["steps"]]
    stage_runs = [run for run in runs if "deploy/stage.py" in run]
    assert stage_runs, "the deploy job must stage the package with deploy/stage.py"
    assert f"deploy/stage.py {app} --out {webapp['with']['package']}" in stage_runs[0]
    if app == "api":
        assert "--bundle" in stage_runs[0]
    order = [step.get("uses", step.get("run", "")) for step in deploy["steps"]]
    assert order.index(webapp["uses"]) > order.index(stage_runs[0])


@pytest.mark.parametrize("app", APPS)
def test_deploy_ends_with_a_retried_smoke_test_of_the_health_path(app: str) -> None:
    deploy = load(app)["jobs"]["deploy"]
    smoke = str(deploy["steps"][-1].get("run", ""))
    assert "curl --fail" in smoke
    assert "--retry" in smoke
    assert f'{HEALTH_PATHS[app]}"' in smoke
    assert "steps.deploy.outputs.webapp-url" in yaml.safe_dump(deploy["steps"][-1])


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_actions_use_current_majors(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for action, ref in re.findall(r"uses:\s*([\w.-]+/[\w.-]+)@(\S+)", text):
        assert re.fullmatch(r"v\d+(\.\d+){0,2}|[0-9a-f]{40}", ref), f"{action}@{ref}: pin a release"
        if action in MINIMUM_MAJORS and ref.startswith("v"):
            major = int(ref[1:].split(".")[0])
            assert major >= MINIMUM_MAJORS[action], f"{action}@{ref} is outdated"


def test_production_bundle_is_pinned_in_the_repository() -> None:
    """A model release is a reviewed change of deploy/bundle-release.env (which api.yml watches)."""
    release = (REPO_ROOT / "deploy" / "bundle-release.env").read_text(encoding="utf-8")
    keys = {
        line.split("=", 1)[0] for line in release.splitlines() if line and not line.startswith("#")
    }
    assert keys == {"SCORING_BUNDLE_BLOB", "SCORING_CLIENTS_BLOB"}
    deploy = load("api")["jobs"]["deploy"]
    fetch = next(
        str(s["run"]) for s in deploy["steps"] if "bundle-release.env" in str(s.get("run"))
    )
    assert "--auth-mode login" in fetch  # Entra identity of the deploy job: no storage key
    assert "python -m scoring train" in fetch  # the demo fallback
    assert "deploy/**" in triggers(load("api"))["push"]["paths"]


@pytest.mark.parametrize("app", APPS)
def test_every_pip_install_takes_the_locked_versions(app: str) -> None:
    """Tests and deploys install the versions of requirements.lock, never fresh resolutions."""
    installs = [
        " ".join(line.split())
        for job in load(app)["jobs"].values()
        for step in job["steps"]
        for line in str(step.get("run", "")).splitlines()
        if "pip install" in line
    ]
    assert installs, "no pip install in the workflow"
    for command in installs:
        assert "-r requirements-" in command, command
        assert "-c requirements.lock" in command, command
