"""The GitHub Actions workflows: valid, linted, and gated (tests before any deploy, main only)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pycep import BicepParser

from tests.delivery.support import (
    APPS,
    BICEP,
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

# The jobs a deploy waits for: the dashboard's also runs the end-to-end browser test.
GATES = {"api": ["test"], "dashboard": ["test", "e2e"]}
# Either side of the HTTP contract, and the core, re-run both workflows (issue: a pull request
# touching only api/ must run the dashboard's tests too).
SHARED_PATHS = {"api/**", "dashboard/**", "scoring/**", "tests/contract/**", "clients/python/**"}

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


def bicep_staging_slot() -> str:
    slot = BicepParser().parse(file_path=BICEP)["variables"]["stagingSlot"]["value"]
    assert isinstance(slot, str)
    return slot


def matches(pattern: str, path: str) -> bool:
    """GitHub's path-filter globs: `**` crosses folders, `*` does not."""
    regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
    return re.fullmatch(regex, path) is not None


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
    assert set(jobs) == {*GATES[app], "deploy"}
    deploy = jobs["deploy"]
    needs = deploy["needs"]
    assert sorted(needs if isinstance(needs, list) else [needs]) == sorted(GATES[app])
    # A pull_request (or manual) run has another event name: the deploy job is skipped.
    assert " ".join(deploy["if"].split()) == DEPLOY_CONDITION
    assert "always()" not in deploy["if"]
    assert deploy["environment"]["name"] == f"production-{app}"
    # Only the deploy job touches Azure.
    assert all("environment" not in jobs[gate] for gate in GATES[app])


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


def step_name(step: dict[str, Any]) -> str:
    return str(step.get("name", step.get("uses", "")))


def is_swap(step: dict[str, Any]) -> bool:
    return "az webapp deployment slot swap" in str(step.get("run", ""))


def runs(condition: str, failed: bool, outcomes: dict[str, str]) -> bool:
    """GitHub's decision for a step's `if:`, for the expressions these workflows use."""
    terms = [term.strip() for term in condition.split("&&")]
    if not any(term in ("success()", "failure()", "always()") for term in terms):
        terms.insert(0, "success()")  # GitHub's implicit status check
    for term in terms:
        if term == "success()":
            ok = not failed
        elif term == "failure()":
            ok = failed
        elif term == "always()":
            ok = True
        else:
            match = re.fullmatch(r"steps\.([\w-]+)\.outcome == '(\w+)'", term)
            assert match, f"the simulation does not know {term!r}"
            ok = outcomes.get(match.group(1)) == match.group(2)
        if not ok:
            return False
    return True


def simulate(steps: list[dict[str, Any]], failing: set[str]) -> list[str]:
    """Names of the steps a run executes when the steps named in `failing` fail."""
    executed, outcomes, failed = [], {}, False
    for step in steps:
        outcome = "skipped"
        if runs(str(step.get("if", "success()")), failed, outcomes):
            executed.append(step_name(step))
            outcome = "failure" if step_name(step) in failing else "success"
            failed = failed or outcome == "failure"
        if "id" in step:
            outcomes[step["id"]] = outcome
    return executed


def deploy_steps(app: str) -> dict[str, Any]:
    """The deploy job's slot steps, by role."""
    steps = load(app)["jobs"]["deploy"]["steps"]
    (deploy,) = [s for s in steps if str(s.get("uses", "")).startswith("azure/webapps-deploy@")]
    swaps = [s for s in steps if is_swap(s)]
    assert len(swaps) == 2, "one swap, one swap back"
    swap, back = swaps
    after = steps.index(deploy) + 1
    (slot_smoke,) = [s for s in steps[after : steps.index(swap)] if "curl" in str(s.get("run"))]
    (production_smoke,) = [
        s for s in steps[steps.index(swap) + 1 : steps.index(back)] if "curl" in str(s.get("run"))
    ]
    return {
        "steps": steps,
        "deploy": deploy,
        "slot_smoke": slot_smoke,
        "swap": swap,
        "production_smoke": production_smoke,
        "back": back,
    }


@pytest.mark.parametrize("app", APPS)
def test_deploy_goes_to_the_staging_slot_then_smoke_tests_then_swaps(app: str) -> None:
    workflow = load(app)
    job = workflow["jobs"]["deploy"]
    roles = deploy_steps(app)
    steps = roles["steps"]
    order = [steps.index(roles[r]) for r in ("deploy", "slot_smoke", "swap", "production_smoke")]
    assert order == sorted(order)
    slot = resolve(roles["deploy"]["with"]["slot-name"], job["env"], workflow.get("env", {}))
    assert slot == bicep_staging_slot()
    # The slot smoke test polls the slot's own URL (the deploy step's output) on the health path.
    smoke = roles["slot_smoke"]
    assert smoke["env"]["SLOT_URL"] == "${{ steps.deploy.outputs.webapp-url }}"
    command = str(smoke["run"])
    assert "curl --fail" in command
    assert "--retry" in command
    assert f'${{SLOT_URL%/}}{HEALTH_PATHS[app]}"' in command
    if app == "api":  # one refused and one authenticated call, the key never in argv
        assert smoke["env"]["SMOKE_API_KEY"] == "${{ secrets.SMOKE_API_KEY }}"
        assert 'test "${status}" = 401' in command
        assert "--header @-" in command
        assert command.count('"${SLOT_URL%/}/v1/model"') == 2
        assert "jq --exit-status '.version'" in command
    swap = str(roles["swap"]["run"])
    assert '--slot "${SLOT}" --target-slot production' in swap
    assert roles["swap"]["id"] == "swap"
    assert job["environment"]["url"] == "${{ steps.swap.outputs.url }}"
    assert f'"${{APP_URL%/}}{HEALTH_PATHS[app]}"' in str(roles["production_smoke"]["run"])
    assert roles["production_smoke"]["env"]["APP_URL"] == "${{ steps.swap.outputs.url }}"
    # Nothing up to the swap may run after a failure or swallow one.
    for step in steps[: steps.index(roles["swap"]) + 1]:
        assert "if" not in step, step_name(step)
        assert "continue-on-error" not in step, step_name(step)


@pytest.mark.parametrize("app", APPS)
def test_a_failed_slot_smoke_test_leaves_production_untouched(app: str) -> None:
    roles = deploy_steps(app)
    steps, swap, back = roles["steps"], step_name(roles["swap"]), step_name(roles["back"])
    for failing in (roles["deploy"], roles["slot_smoke"]):
        executed = simulate(steps, {step_name(failing)})
        assert step_name(failing) in executed
        assert swap not in executed, f"{step_name(failing)} failed, yet the job swapped"
        assert back not in executed
    # All green: one swap, no swap back.
    executed = simulate(steps, set())
    assert swap in executed
    assert back not in executed
    assert executed[-1] == step_name(roles["production_smoke"])


@pytest.mark.parametrize("app", APPS)
def test_production_failing_after_the_swap_swaps_back(app: str) -> None:
    roles = deploy_steps(app)
    executed = simulate(roles["steps"], {step_name(roles["production_smoke"])})
    assert executed[-2:] == [step_name(roles["production_smoke"]), step_name(roles["back"])]
    assert swap_command(roles["back"]) == swap_command(roles["swap"])  # the same swap, again


def swap_command(step: dict[str, Any]) -> str:
    lines = str(step["run"]).replace("\\\n", " ").splitlines()
    (command,) = [" ".join(line.split()) for line in lines if "slot swap" in line]
    return command


@pytest.mark.parametrize("app", APPS)
def test_both_workflows_watch_both_apps_the_core_and_the_contract(app: str) -> None:
    paths = set(triggers(load(app))["push"]["paths"])
    assert paths >= SHARED_PATHS, SHARED_PATHS - paths


@pytest.mark.parametrize(
    "changed",
    [
        "api/routes/clients.py",
        "api/schemas.py",
        "dashboard/api_client.py",
        "clients/python/src/pret_a_depenser_client/models.py",
        "scoring/decision.py",
    ],
)
def test_a_pull_request_touching_one_app_runs_both_workflows(changed: str) -> None:
    for app in APPS:
        paths = triggers(load(app))["pull_request"]["paths"]
        assert any(matches(pattern, changed) for pattern in paths), (app, changed)
    assert matches("tests/contract/**", "tests/contract/test_dashboard_contract.py")
    assert not matches("api/*", "api/routes/clients.py")  # the matcher itself


@pytest.mark.parametrize("app", APPS)
def test_both_workflows_run_the_contract_tests(app: str) -> None:
    job = load(app)["jobs"]["test"]
    commands = "\n".join(str(step.get("run", "")) for step in job["steps"])
    pytest_line = " ".join(commands[commands.index("pytest ") :].split())
    assert "tests/contract" in pytest_line.split()
    assert (REPO_ROOT / "tests" / "contract" / "__init__.py").is_file()


def test_dashboard_workflow_runs_the_e2e_browser_test_with_debian_chromium() -> None:
    workflow = load("dashboard")
    job = workflow["jobs"]["e2e"]
    # Debian (the Dockerfiles' base image), where `apt-get install chromium` is the real browser.
    dockerfile = (REPO_ROOT / "deploy" / "Dockerfile.dashboard").read_text(encoding="utf-8")
    base = re.search(r"^FROM (\S+)", dockerfile, re.M)
    assert base is not None
    assert job["container"]["image"] == base.group(1)
    assert job["container"]["image"].endswith("-bookworm")
    runs = [str(step.get("run", "")) for step in job["steps"]]
    install = next(i for i, run in enumerate(runs) if "apt-get install" in run)
    assert "chromium" in runs[install].split()
    tests = next(i for i, run in enumerate(runs) if run.startswith("pytest "))
    assert install < tests
    assert runs[tests].split()[:2] == ["pytest", "tests/e2e"]
    assert "pip install -r requirements-dev.txt" in "\n".join(runs[install:tests])
    # CI=true (set by GitHub) makes a missing browser fail the test instead of skipping it.
    assert "CI" not in {**workflow.get("env", {}), **job.get("env", {})}
    assert "continue-on-error" not in yaml.safe_dump(job)
    assert "|| true" not in "\n".join(runs)
    assert "tests/e2e/**" in triggers(workflow)["pull_request"]["paths"]


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


def test_dashboard_workflow_tests_lints_and_covers_the_shared_client() -> None:
    """The dashboard's client is the package in clients/python: its own tests, its types and
    its coverage gate the dashboard's deploy."""
    job = load("dashboard")["jobs"]["test"]
    commands = "\n".join(str(step.get("run", "")) for step in job["steps"])
    pytest_line = " ".join(commands[commands.index("pytest ") :].split()).split()
    assert "tests/clients" in pytest_line
    assert "--cov=pret_a_depenser_client" in pytest_line
    assert "-p pret_a_depenser_client" in commands  # mypy
    assert re.search(r"^\s*ruff check .*\bclients\b", commands, re.M)
    assert (REPO_ROOT / "tests" / "clients" / "__init__.py").is_file()
