"""docs/deploy.md stays in step with what the workflows and the IaC actually do."""

from __future__ import annotations

import pytest

from tests.delivery.support import APPS, HEALTH_PATHS, REPO_ROOT, STARTUP_COMMANDS

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
