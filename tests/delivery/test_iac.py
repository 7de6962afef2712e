"""The Azure infrastructure as code (deploy/azure/main.bicep): parsed, read, statically checked."""

from __future__ import annotations

import shutil
import subprocess
import sys
from functools import cache
from typing import Any

import pytest
from pycep import BicepParser

from tests.delivery.support import (
    APPS,
    BICEP,
    DEPLOY,
    HEALTH_PATHS,
    REPO_ROOT,
    STARTUP_COMMANDS,
    run_tool,
)

CHECKOV_VENV = REPO_ROOT / "var" / "checkov-venv"


@cache
def template() -> dict[str, Any]:
    parsed = BicepParser().parse(file_path=BICEP)
    return dict(parsed)


def site(app: str) -> dict[str, Any]:
    resource = template()["resources"][app]
    assert resource["type"] == "Microsoft.Web/sites"
    config: dict[str, Any] = resource["config"]
    return config


def value(expression: Any) -> Any:
    """A literal, or the value of the template variable it names (pycep leaves names bare)."""
    variables = template()["variables"]
    if isinstance(expression, str) and expression in variables:
        return variables[expression]["value"]
    return expression


def app_settings(app: str) -> dict[str, Any]:
    settings = site(app)["properties"]["siteConfig"]["appSettings"]
    return {item["name"]: item["value"] for item in settings}


def test_bicep_parses_with_the_expected_resources() -> None:
    resources = template()["resources"]
    types = {name: resource["type"] for name, resource in resources.items()}
    assert types["plan"] == "Microsoft.Web/serverfarms"
    assert types["vault"] == "Microsoft.KeyVault/vaults"
    assert types["postgres"] == "Microsoft.DBforPostgreSQL/flexibleServers"
    assert "deployPostgres" in str(resources["postgres"]), "PostgreSQL must stay optional"
    assert resources["plan"]["config"]["properties"]["reserved"] is True  # Linux


@pytest.mark.parametrize("app", APPS)
def test_web_app_runtime_startup_and_health_check(app: str) -> None:
    config = site(app)["properties"]["siteConfig"]
    assert config["linuxFxVersion"] == "PYTHON|3.11"
    assert value(config["appCommandLine"]) == STARTUP_COMMANDS[app]
    assert config["healthCheckPath"] == HEALTH_PATHS[app]
    assert config["alwaysOn"] is True


@pytest.mark.parametrize("app", APPS)
def test_web_app_is_https_only_without_ftp_and_with_a_managed_identity(app: str) -> None:
    config = site(app)
    assert config["properties"]["httpsOnly"] is True
    assert config["properties"]["siteConfig"]["ftpsState"] == "Disabled"
    assert config["properties"]["siteConfig"]["minTlsVersion"] == "1.2"
    assert config["identity"]["type"] == "SystemAssigned"
    policies = {
        resource["config"]["name"]: resource["config"]["properties"]["allow"]
        for resource in template()["resources"].values()
        if resource["type"] == "Microsoft.Web/sites/basicPublishingCredentialsPolicies"
        and resource["config"]["parent"] == app
    }
    assert policies == {"ftp": False, "scm": False}


def test_websockets_on_for_the_dashboard_only() -> None:
    assert site("dashboard")["properties"]["siteConfig"]["webSocketsEnabled"] is True
    assert site("api")["properties"]["siteConfig"]["webSocketsEnabled"] is False


def test_app_settings_point_at_the_staged_package_and_keep_secrets_in_key_vault() -> None:
    api = app_settings("api")
    dashboard = app_settings("dashboard")
    # deploy/stage.py puts the bundle in bundle/ and the new clients in clients/.
    assert api["SCORING_BUNDLE"] == "bundle"
    assert api["SCORING_CLIENTS"] == "clients"
    assert api["SCM_DO_BUILD_DURING_DEPLOYMENT"] == dashboard["SCM_DO_BUILD_DURING_DEPLOYMENT"]
    assert api["SCM_DO_BUILD_DURING_DEPLOYMENT"] == "true"
    assert dashboard["API_URL"] == "https://${api.properties.defaultHostName}"
    assert str(api["API_KEYS"]).startswith("@Microsoft.KeyVault(")
    assert str(dashboard["API_KEY"]).startswith("@Microsoft.KeyVault(")
    secure = {
        name
        for name, parameter in template()["parameters"].items()
        if any("secure" in str(d) for d in parameter.get("decorators", []))
    }
    assert secure == {"postgresAdminPassword"}


def checkov() -> str:
    """checkov from its own virtualenv (var/checkov-venv), built on first use."""
    executable = CHECKOV_VENV / "bin" / "checkov"
    complete = CHECKOV_VENV / ".installed"
    if complete.is_file() and executable.is_file():
        return str(executable)
    if CHECKOV_VENV.exists():  # a build that stopped halfway
        shutil.rmtree(CHECKOV_VENV)
    subprocess.run([sys.executable, "-m", "venv", str(CHECKOV_VENV)], check=True)
    subprocess.run(
        [
            str(CHECKOV_VENV / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "-r",
            str(DEPLOY / "requirements-checkov.txt"),
        ],
        check=True,
        timeout=900,
    )
    complete.write_text("ok\n", encoding="utf-8")
    return str(executable)


@pytest.mark.slow
def test_checkov_passes_on_the_bicep_and_the_dockerfiles() -> None:
    result = run_tool(
        checkov(),
        "--config-file",
        str(DEPLOY / "checkov.yaml"),
        "-d",
        str(DEPLOY),
        timeout=600,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    for framework in ("bicep", "dockerfile"):
        section = report.split(f"{framework} scan results:", 1)
        assert len(section) == 2, f"checkov did not scan the {framework} files:\n{report}"
        assert "Failed checks: 0" in section[1].split("scan results:", 1)[0]
