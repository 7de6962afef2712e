"""The Azure infrastructure as code (deploy/azure/main.bicep): parsed, read, statically checked."""

from __future__ import annotations

import shutil
import subprocess
import sys
from functools import cache
from typing import Any

import pytest
from pycep import BicepParser

from api import telemetry
from api.settings import Settings
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


def body(name: str) -> tuple[dict[str, Any], Any]:
    """A resource's configuration and its condition (None when it is always deployed)."""
    config: dict[str, Any] = template()["resources"][name]["config"]
    if set(config) == {"condition", "config"}:
        return config["config"], config["condition"]
    return config, None


def ref(expression: Any) -> Any:
    """`a.b.c` for pycep's nested property accessors; anything else unchanged."""
    if isinstance(expression, dict) and "operator" in expression:
        operator = expression["operator"]
        if operator["type"] == "property_accessor":
            operands = operator["operands"]
            return f"{ref(operands['operand_1'])}.{ref(operands['operand_2'])}"
    return expression


def value(expression: Any) -> Any:
    """A literal, or the value of the template variable it names (pycep leaves names bare)."""
    variables = template()["variables"]
    if isinstance(expression, str) and expression in variables:
        return variables[expression]["value"]
    return expression


def app_settings(app: str) -> dict[str, Any]:
    settings = value(site(app)["properties"]["siteConfig"]["appSettings"])
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
    assert str(api["METRICS_TOKEN"]).startswith("@Microsoft.KeyVault(")
    assert str(dashboard["API_KEY"]).startswith("@Microsoft.KeyVault(")
    secure = {
        name
        for name, parameter in template()["parameters"].items()
        if any("secure" in str(d) for d in parameter.get("decorators", []))
    }
    assert secure == {"postgresAdminPassword"}


def test_plan_sku_defaults_to_a_tier_with_slots_and_autoscale() -> None:
    parameters = template()["parameters"]
    assert parameters["planSku"]["default"] == "P0v3"
    allowed = next(
        d["argument"] for d in parameters["planSku"]["decorators"] if d["type"] == "allowed"
    )
    assert "B1" in allowed  # still allowed, without slots and autoscale (docs/deploy.md)
    # Slots and autoscale exist exactly when the SKU is not Basic (B1, B2).
    assert value("slotsAndAutoscale") == {
        "operator": {
            "type": "not",
            "operands": {
                "bool_value": {
                    "function": {
                        "type": "starts_with",
                        "parameters": {"string_to_search": "planSku", "string_to_find": "B"},
                    }
                }
            },
        }
    }
    capacity = site_plan_capacity()
    assert capacity["condition"] == "slotsAndAutoscale"
    assert capacity["true_value"] == "autoscaleDefaultInstances"


def site_plan_capacity() -> dict[str, Any]:
    operands: dict[str, Any] = body("plan")[0]["sku"]["capacity"]["operator"]["operands"]
    return operands


@pytest.mark.parametrize("app", APPS)
def test_each_app_has_a_staging_slot_configured_like_production(app: str) -> None:
    slot, condition = body(f"{app}Staging")
    assert template()["resources"][f"{app}Staging"]["type"] == "Microsoft.Web/sites/slots"
    assert condition == "slotsAndAutoscale"
    assert slot["parent"] == app
    assert value(slot["name"]) == "staging"  # the slot-name the workflows deploy to
    production = site(app)
    # Same code path, settings and checks on both sides of a swap.
    assert slot["properties"] == production["properties"]
    assert slot["properties"]["httpsOnly"] is True
    assert slot["properties"]["siteConfig"]["healthCheckPath"] == HEALTH_PATHS[app]
    assert slot["identity"] == {"type": "SystemAssigned"}
    settings = app_settings(app)
    assert settings["WEBSITE_SWAP_WARMUP_PING_PATH"] == HEALTH_PATHS[app]
    assert settings["WEBSITE_SWAP_WARMUP_PING_STATUSES"] == "200"
    policies = {
        body(name)[0]["name"]: (body(name)[0]["properties"]["allow"], body(name)[1])
        for name, resource in template()["resources"].items()
        if resource["type"] == "Microsoft.Web/sites/slots/basicPublishingCredentialsPolicies"
        and body(name)[0]["parent"] == f"{app}Staging"
    }
    assert policies == {"ftp": (False, "slotsAndAutoscale"), "scm": (False, "slotsAndAutoscale")}
    # The slot's own identity reads the vault, or its Key Vault references would not resolve.
    reads, reads_condition = body(f"{app}StagingReadsSecrets")
    assert reads_condition == "slotsAndAutoscale"
    assert reads["scope"] == "vault"
    assert ref(reads["properties"]["principalId"]) == f"{app}Staging.identity.principalId"


def test_application_insights_on_a_log_analytics_workspace_feeds_the_api() -> None:
    resources = template()["resources"]
    assert resources["workspace"]["type"] == "Microsoft.OperationalInsights/workspaces"
    workspace = body("workspace")[0]["properties"]
    assert workspace["sku"] == {"name": "PerGB2018"}
    assert workspace["retentionInDays"] == "logRetentionDays"
    assert workspace["workspaceCapping"] == {"dailyQuotaGb": "logDailyCapGb"}
    assert resources["appInsights"]["type"] == "Microsoft.Insights/components"
    insights = body("appInsights")[0]
    assert insights["kind"] == "web"
    assert ref(insights["properties"]["WorkspaceResourceId"]) == "workspace.id"
    assert insights["properties"]["IngestionMode"] == "LogAnalytics"
    # The setting api/telemetry.py reads (through api.settings.Settings).
    assert "applicationinsights_connection_string" in Settings.model_fields
    connection = app_settings("api")["APPLICATIONINSIGHTS_CONNECTION_STRING"]
    assert ref(connection) == "appInsights.properties.ConnectionString"


@pytest.mark.parametrize("app", APPS)
def test_app_service_logs_of_both_apps_go_to_the_workspace(app: str) -> None:
    diagnostics, condition = body(f"{app}Logs")
    assert template()["resources"][f"{app}Logs"]["type"] == "Microsoft.Insights/diagnosticSettings"
    assert condition is None
    assert diagnostics["scope"] == app
    assert ref(diagnostics["properties"]["workspaceId"]) == "workspace.id"
    categories = {log["category"] for log in diagnostics["properties"]["logs"] if log["enabled"]}
    # Console logs carry the API's JSON request lines (route templates only). The HTTP access
    # log stays out of the workspace: its paths hold client ids, and it records callers' IPs.
    assert categories == {"AppServiceConsoleLogs", "AppServicePlatformLogs"}
    assert diagnostics["properties"]["metrics"] == [{"category": "AllMetrics", "enabled": True}]


def test_alert_on_the_api_5xx_count_of_production() -> None:
    alert, condition = body("api5xxAlert")
    assert template()["resources"]["api5xxAlert"]["type"] == "Microsoft.Insights/metricAlerts"
    assert condition is None
    properties = alert["properties"]
    assert [ref(scope) for scope in properties["scopes"]] == ["api.id"]  # not the slot
    assert properties["windowSize"] == "PT5M"
    (criterion,) = properties["criteria"]["allOf"]
    assert criterion["metricNamespace"] == "Microsoft.Web/sites"
    assert criterion["metricName"] == "Http5xx"
    assert criterion["timeAggregation"] == "Total"
    assert criterion["operator"] == "GreaterThan"
    assert criterion["threshold"] == "alert5xxPerFiveMinutes"
    assert properties["actions"]["loop_type"]["detail"]["array_name"] == "alertActions"
    assert properties["actions"]["config"] == {"actionGroupId": "id"}


def test_alert_on_the_api_p95_latency_reads_the_api_requests() -> None:
    alert, condition = body("apiLatencyAlert")
    resource_type = template()["resources"]["apiLatencyAlert"]["type"]
    assert resource_type == "Microsoft.Insights/scheduledQueryRules"
    assert condition is None
    properties = alert["properties"]
    assert [ref(scope) for scope in properties["scopes"]] == ["appInsights.id"]
    (criterion,) = properties["criteria"]["allOf"]
    query = criterion["query"]
    assert "percentile(duration, 95)" in query
    assert f'cloud_RoleName == "{telemetry.SERVICE_NAME}"' in query  # the API's role name
    assert criterion["metricMeasureColumn"] == "p95"
    assert criterion["operator"] == "GreaterThan"
    assert criterion["threshold"] == "alertP95LatencyMs"
    assert properties["actions"] == {"actionGroups": "alertActions"}


def test_alerts_notify_the_action_group_parameter_when_given() -> None:
    assert template()["parameters"]["alertActionGroupId"]["default"] == ""
    assert value("alertActions") == {
        "operator": {
            "type": "conditional",
            "operands": {
                "condition": {
                    "function": {
                        "type": "empty",
                        "parameters": {"item_to_test": "alertActionGroupId"},
                    }
                },
                "true_value": [],
                "false_value": ["alertActionGroupId"],
            },
        }
    }


def test_autoscale_on_cpu_between_the_instance_parameters() -> None:
    autoscale, condition = body("autoscale")
    assert template()["resources"]["autoscale"]["type"] == "Microsoft.Insights/autoscalesettings"
    assert condition == "slotsAndAutoscale"
    properties = autoscale["properties"]
    assert properties["enabled"] is True
    assert ref(properties["targetResourceUri"]) == "plan.id"
    (profile,) = properties["profiles"]
    capacity = {
        bound: expression["function"]["parameters"]["value_to_convert"]
        for bound, expression in profile["capacity"].items()
    }
    assert capacity == {
        "minimum": "autoscaleMinInstances",
        "maximum": "autoscaleMaxInstances",
        "default": "autoscaleDefaultInstances",
    }
    rules = {rule["scaleAction"]["direction"]: rule for rule in profile["rules"]}
    assert set(rules) == {"Increase", "Decrease"}
    out, back = rules["Increase"]["metricTrigger"], rules["Decrease"]["metricTrigger"]
    for trigger in (out, back):
        assert trigger["metricName"] == "CpuPercentage"
        assert ref(trigger["metricResourceUri"]) == "plan.id"
    assert (out["operator"], back["operator"]) == ("GreaterThan", "LessThan")
    assert out["threshold"] > back["threshold"]  # a gap, so it does not flap
    parameters = template()["parameters"]
    for name in ("autoscaleMinInstances", "autoscaleMaxInstances", "autoscaleDefaultInstances"):
        assert parameters[name]["type"] == "int"


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
