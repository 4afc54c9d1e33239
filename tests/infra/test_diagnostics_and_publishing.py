"""Issue 12 item 9: diagnostic settings send storage (the account and its blob, queue and table
services) and Key Vault (AuditEvent: who read a secret) to the Log Analytics workspace, the app's
logs reach the same workspace through workspace-based Application Insights (Flex Consumption has
no diagnostic settings), and basic-auth publishing (SCM and FTP) is off. Both dialects."""

from __future__ import annotations

from tests.infra.iac import Bicep, Terraform, bicep_expr, ref

STORAGE_LOGS = ["StorageRead", "StorageWrite", "StorageDelete"]

# ------------------------------------------------------------------------------------------------
# Bicep
# ------------------------------------------------------------------------------------------------


def _bicep_diagnostics(bicep: Bicep) -> dict[str, dict]:
    """Diagnostic settings by the type of what they watch (blob/queue/table by service type)."""
    out = {}
    for setting in bicep.of_type("Microsoft.Insights/diagnosticSettings").values():
        scope = bicep.resource(setting.body["scope"])
        assert scope.type not in out, f"two diagnostic settings on {scope.type}"
        out[scope.type] = setting.properties
        assert setting.condition is None, "diagnostics are always on"
    return out


def test_bicep_diagnostics_cover_storage_its_services_and_the_vault(bicep: Bicep) -> None:
    diagnostics = _bicep_diagnostics(bicep)
    account = "Microsoft.Storage/storageAccounts"
    services = {f"{account}/{s}Services" for s in ("blob", "queue", "table")}
    assert set(diagnostics) == {account, "Microsoft.KeyVault/vaults"} | services
    workspace = bicep.one("Microsoft.OperationalInsights/workspaces").symbol
    for props in diagnostics.values():
        assert bicep_expr(props["workspaceId"]) == f"{workspace}.id"
    # The account itself has metrics only; the services carry the request logs.
    assert "logs" not in diagnostics[account]
    assert [m["category"] for m in diagnostics[account]["metrics"]] == ["Transaction"]
    for service in services:
        logs = diagnostics[service]["logs"]
        assert [entry["category"] for entry in logs] == STORAGE_LOGS
        assert all(entry["enabled"] is True for entry in logs)
    vault_logs = diagnostics["Microsoft.KeyVault/vaults"]["logs"]
    assert [(e["category"], e["enabled"]) for e in vault_logs] == [("AuditEvent", True)]
    # The services are declared on the one storage account.
    storage = bicep.one(account).symbol
    for service in services:
        assert bicep.one(service).body["parent"] == storage


def test_bicep_app_logs_reach_the_same_workspace(bicep: Bicep) -> None:
    workspace = bicep.one("Microsoft.OperationalInsights/workspaces").symbol
    appi = bicep.one("Microsoft.Insights/components")
    assert bicep_expr(appi.properties["WorkspaceResourceId"]) == f"{workspace}.id"
    # Not a diagnostic setting on the site: Flex Consumption does not support them.
    assert "Microsoft.Web/sites" not in _bicep_diagnostics(bicep)
    assert "does not support diagnostic settings on the app" in bicep.text


def test_bicep_basic_publishing_credentials_are_off(bicep: Bicep) -> None:
    site = bicep.one("Microsoft.Web/sites").symbol
    policies = bicep.of_type("Microsoft.Web/sites/basicPublishingCredentialsPolicies").values()
    assert {p.body["name"]: p.properties["allow"] for p in policies} == {"scm": False, "ftp": False}
    for policy in policies:
        assert policy.body["parent"] == site
        assert policy.condition is None
    assert bicep.one("Microsoft.Web/sites").properties["siteConfig"]["ftpsState"] == "Disabled"


# ------------------------------------------------------------------------------------------------
# Terraform
# ------------------------------------------------------------------------------------------------


def _tf_logs(body: dict) -> list[str]:
    return [entry["category"] for entry in body.get("enabled_log", [])]


def _tf_metrics(body: dict) -> list[str]:
    return [entry["category"] for entry in body.get("enabled_metric", [])]


def test_terraform_diagnostics_cover_storage_its_services_and_the_vault(tf: Terraform) -> None:
    settings = tf.of_type("azurerm_monitor_diagnostic_setting")
    workspace = "azurerm_log_analytics_workspace.this.id"
    targets = {}
    for name, body in settings.items():
        assert ref(body["log_analytics_workspace_id"]) == workspace
        assert "count" not in body, "diagnostics are always on"
        targets[ref(body["target_resource_id"])] = name
    account = "azurerm_storage_account.this.id"
    services = "${azurerm_storage_account.this.id}/${each.value}/default"
    assert set(targets) == {account, services, "azurerm_key_vault.this.id"}
    assert tf.locals["storage_services"] == {
        "blob": "blobServices",
        "queue": "queueServices",
        "table": "tableServices",
    }
    per_service = settings[targets[services]]
    assert ref(per_service["for_each"]) == "local.storage_services"
    assert _tf_logs(per_service) == STORAGE_LOGS
    assert _tf_metrics(per_service) == ["Transaction"]
    assert _tf_logs(settings[targets[account]]) == []
    assert _tf_metrics(settings[targets[account]]) == ["Transaction"]
    assert _tf_logs(settings[targets["azurerm_key_vault.this.id"]]) == ["AuditEvent"]


def test_terraform_basic_publishing_credentials_are_off(tf: Terraform) -> None:
    policies = [
        body
        for body in tf.of_type("azapi_resource").values()
        if str(body["type"]).startswith("Microsoft.Web/sites/basicPublishingCredentialsPolicies@")
    ]
    assert {p["name"]: p["body"]["properties"]["allow"] for p in policies} == {
        "scm": False,
        "ftp": False,
    }
    for policy in policies:
        assert ref(policy["parent_id"]) == "azapi_resource.function_app.id"


# ------------------------------------------------------------------------------------------------
# Both
# ------------------------------------------------------------------------------------------------


def test_both_name_the_diagnostic_settings_alike(bicep: Bicep, tf: Terraform) -> None:
    assert bicep.literal("diagnosticSettingName") == tf.locals["diagnostic_setting_name"]
    for body in tf.of_type("azurerm_monitor_diagnostic_setting").values():
        assert ref(body["name"]) == "local.diagnostic_setting_name"


def test_deploy_guide_explains_diagnostics_and_publishing() -> None:
    from tests.infra.iac import ROOT

    guide = (ROOT / "docs" / "deploy.md").read_text()
    for needed in [
        "## Diagnostics",
        "AuditEvent",
        "SecretGet",
        *STORAGE_LOGS,
        "AppTraces",
        "basicPublishingCredentialsPolicies",
    ]:
        assert needed in guide, f"docs/deploy.md does not mention {needed}"
