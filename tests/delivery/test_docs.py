"""docs/deploy.md stays in step with what the workflows and the IaC actually do."""

from __future__ import annotations

import re

import pytest
from pycep import BicepParser

from tests.delivery.support import APPS, BICEP, HEALTH_PATHS, REPO_ROOT, STARTUP_COMMANDS

DOC = (REPO_ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("app", APPS)
def test_doc_names_the_startup_command_health_path_and_environment(app: str) -> None:
    assert STARTUP_COMMANDS[app] in DOC
    assert HEALTH_PATHS[app] in DOC
    assert f"production-{app}" in DOC


@pytest.mark.parametrize(
    "needle",
    [
        "az deployment group create",
        "az ad app federated-credential create",
        "token.actions.githubusercontent.com",
        "gh secret set AZURE_CLIENT_ID",
        "gh variable set AZURE_API_APP_NAME",
        "gh variable set AZURE_DASHBOARD_APP_NAME",
        "deploy/bundle-release.env",
        "az webapp deployment slot swap",
        "az webapp deploy",
        "10,000 decisions",
    ],
)
def test_doc_covers_each_step(needle: str) -> None:
    assert needle in DOC


def test_every_variable_and_secret_the_workflows_read_is_set_in_the_doc() -> None:
    used: set[tuple[str, str]] = set()
    for app in APPS:
        text = (REPO_ROOT / ".github" / "workflows" / f"{app}.yml").read_text(encoding="utf-8")
        used |= set(re.findall(r"\$\{\{\s*(vars|secrets)\.(\w+)\s*\}\}", text))
    assert ("secrets", "SMOKE_API_KEY") in used
    assert ("vars", "AZURE_RESOURCE_GROUP") in used
    for kind, name in sorted(used):
        command = "gh variable set" if kind == "vars" else "gh secret set"
        assert f"{command} {name}" in DOC, f"docs/deploy.md never sets {kind}.{name}"


def test_every_bicep_parameter_is_documented() -> None:
    parameters = BicepParser().parse(file_path=BICEP)["parameters"]
    missing = [name for name in parameters if f"`{name}" not in DOC and f"{name}=" not in DOC]
    assert missing == []


def test_doc_says_what_a_basic_plan_loses_and_how_to_roll_back() -> None:
    assert "What B1 (and B2) loses" in DOC
    rollback = DOC[DOC.index("### 8. Rollback") :]
    assert "--slot staging --target-slot production" in rollback
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in DOC
