"""infra/terraform/*.tf, read with python-hcl2: each resource Shuttle needs, with the
properties that make it work (Flex Consumption, static egress, identity-based storage, Key Vault
references)."""

from __future__ import annotations

import re

import pytest

from shared.settings import PLACEHOLDERS
from tests.infra.iac import FORBIDDEN_SETTINGS, Terraform, block, ref

KV_REFERENCE = re.compile(
    r"^@Microsoft\.KeyVault\(SecretUri=\$\{local\.vault_secrets_uri\}/"
    r"\$\{local\.secret_names\.(\w+)\}/\)$"
)


def _addr(tf: Terraform, type_: str) -> str:
    name, _ = tf.one(type_)
    return f"{type_}.{name}"


def _site(tf: Terraform) -> dict:
    return tf.azapi("Microsoft.Web/sites")[1]


def _props(tf: Terraform) -> dict:
    return _site(tf)["body"]["properties"]


def test_provider_versions_are_bounded(tf: Terraform) -> None:
    # Matches the tfvars schema these files use (rbac_authorization_enabled: azurerm 4.42).
    assert "hashicorp/azurerm" in tf.text and '">= 4.42, < 5.0"' in tf.text
    assert "Azure/azapi" in tf.text and '">= 2.2, < 3.0"' in tf.text
    assert "storage_use_azuread = true" in tf.text


def test_plan_is_flex_consumption_on_linux(tf: Terraform) -> None:
    plan_name, plan = tf.one("azurerm_service_plan")
    assert plan["sku_name"] == "FC1"
    assert plan["os_type"] == "Linux"
    assert ref(_props(tf)["serverFarmId"]) == f"azurerm_service_plan.{plan_name}.id"


def test_function_app_runs_python_311_on_flex(tf: Terraform) -> None:
    site = _site(tf)
    assert str(site["type"]).startswith("Microsoft.Web/sites@")
    assert site["body"]["kind"] == "functionapp,linux"
    config = _props(tf)["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    scale = config["scaleAndConcurrency"]
    assert ref(scale["instanceMemoryMB"]) == "var.instance_memory_mb"
    assert ref(scale["maximumInstanceCount"]) == "var.maximum_instance_count"
    assert _props(tf)["httpsOnly"] is True
    assert _props(tf)["siteConfig"]["ftpsState"] == "Disabled"


def test_function_app_uses_only_the_user_assigned_identity(tf: Terraform) -> None:
    identity = _addr(tf, "azurerm_user_assigned_identity")
    ident = block(_site(tf)["identity"])
    assert ident["type"] == "UserAssigned"
    assert [ref(i) for i in ident["identity_ids"]] == [f"{identity}.id"]
    assert ref(_props(tf)["keyVaultReferenceIdentity"]) == f"{identity}.id"


def test_deployment_package_lives_in_its_container_reached_by_identity(tf: Terraform) -> None:
    storage = _addr(tf, "azurerm_storage_account")
    container_addr = _addr(tf, "azurerm_storage_container")
    _, container = tf.one("azurerm_storage_container")
    assert ref(container["storage_account_id"]) == f"{storage}.id"
    assert container["container_access_type"] == "private"
    deployment = _props(tf)["functionAppConfig"]["deployment"]["storage"]
    assert deployment["type"] == "blobContainer"
    assert deployment["value"] == f"${{{storage}.primary_blob_endpoint}}${{{container_addr}.name}}"
    assert deployment["authentication"]["type"] == "UserAssignedIdentity"
    assert ref(deployment["authentication"]["userAssignedIdentityResourceId"]) == (
        f"{_addr(tf, 'azurerm_user_assigned_identity')}.id"
    )


def test_app_settings_come_from_the_settings_map(tf: Terraform) -> None:
    assert ref(_props(tf)["siteConfig"]["appSettings"]) == (
        "[for name, value in local.app_settings : {name = name, value = value}]"
    )


def test_no_setting_that_flex_or_keyless_storage_forbids(tf: Terraform) -> None:
    assert not FORBIDDEN_SETTINGS & set(tf.app_settings)


def test_storage_settings_are_identity_based(tf: Terraform) -> None:
    settings = tf.app_settings
    identity = _addr(tf, "azurerm_user_assigned_identity")
    assert ref(settings["AzureWebJobsStorage__accountName"]) == (
        f"{_addr(tf, 'azurerm_storage_account')}.name"
    )
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert ref(settings["AzureWebJobsStorage__clientId"]) == f"{identity}.client_id"
    # No key anywhere: no access key, no connection string of the account.
    for keyed in ("primary_access_key", "primary_connection_string", "AccountKey"):
        assert keyed not in tf.text


def test_storage_account_refuses_shared_keys(tf: Terraform) -> None:
    _, storage = tf.one("azurerm_storage_account")
    assert storage["shared_access_key_enabled"] is False
    assert storage["default_to_oauth_authentication"] is True
    assert storage["allow_nested_items_to_be_public"] is False
    assert storage["min_tls_version"] == "TLS1_2"
    assert storage["https_traffic_only_enabled"] is True
    # Bicep's separate blobServices resource: the soft-delete retention lives here.
    blob = block(storage["blob_properties"])
    assert block(blob["delete_retention_policy"])["days"] == 7


def test_every_secret_setting_is_a_key_vault_reference_to_a_vault_secret(
    tf: Terraform, secret_settings: set[str]
) -> None:
    vault = _addr(tf, "azurerm_key_vault")
    assert tf.locals["vault_secrets_uri"] == f"${{{vault}.vault_uri}}secrets"
    # Written through Resource Manager, which the vault's network rules do not restrict (a
    # data-plane azurerm_key_vault_secret fails once private networking closes the vault).
    assert not tf.of_type("azurerm_key_vault_secret")
    _, secret = tf.azapi("Microsoft.KeyVault/vaults/secrets")
    assert ref(secret["for_each"]) == "local.secret_names"
    assert ref(secret["name"]) == "each.value"
    assert ref(secret["parent_id"]) == f"{vault}.id"
    given = "local.secret_values[each.key]"
    props = secret["body"]["properties"]
    assert ref(props["value"]) == f'{given} != "" ? {given} : local.secret_placeholder'
    assert props["contentType"] == "text/plain"
    # The app reads the placeholder as "not set" (shared/settings.py), so an unset
    # DATAVERSE_CLIENT_CERT never shadows DATAVERSE_CLIENT_SECRET.
    assert tf.locals["secret_placeholder"] == "SET-IN-KEY-VAULT"
    assert tf.locals["secret_placeholder"] in PLACEHOLDERS
    # Seeded once; after that operators rotate in the vault and apply never reverts them.
    assert block(secret["lifecycle"])["ignore_changes"] == ["body"]
    for setting, value in tf.app_settings.items():
        match = KV_REFERENCE.match(str(value))
        if setting not in secret_settings:
            assert match is None, f"{setting} is not a secret but reads Key Vault"
            continue
        assert match, f"{setting} must be a Key Vault reference, is {value!r}"
        assert match.group(1) == setting
        assert re.fullmatch(r"[a-z0-9-]+", tf.locals["secret_names"][setting])
    assert set(tf.locals["secret_names"]) == secret_settings
    assert set(tf.locals["secret_values"]) == secret_settings
    for setting, value in tf.locals["secret_values"].items():
        variable = tf.variables[ref(value).removeprefix("var.")]
        assert variable["sensitive"] is True, f"the variable behind {setting} must be sensitive"
        assert variable["default"] == ""


def test_client_cert_is_a_sensitive_key_vault_secret(tf: Terraform) -> None:
    # A PEM private key: never a plain variable, never a plain app setting.
    assert tf.variables["dataverse_client_cert"]["sensitive"] is True
    assert ref(tf.locals["secret_values"]["DATAVERSE_CLIENT_CERT"]) == "var.dataverse_client_cert"
    assert tf.locals["secret_names"]["DATAVERSE_CLIENT_CERT"] == "dataverse-client-cert"
    assert KV_REFERENCE.match(tf.app_settings["DATAVERSE_CLIENT_CERT"]).group(1) == (
        "DATAVERSE_CLIENT_CERT"
    )
    assert "var.dataverse_client_cert" not in str(tf.app_settings)


def test_vault_is_rbac_only_and_recoverable(tf: Terraform) -> None:
    _, vault = tf.one("azurerm_key_vault")
    assert vault["rbac_authorization_enabled"] is True
    assert "access_policy" not in vault
    assert not tf.of_type("azurerm_key_vault_access_policy")
    assert vault["purge_protection_enabled"] is True
    assert vault["soft_delete_retention_days"] >= 7


def _role_assignments(tf: Terraform) -> set[tuple[str, str, str]]:
    identity = _addr(tf, "azurerm_user_assigned_identity")
    out = set()
    for body in tf.of_type("azurerm_role_assignment").values():
        principal = ref(body["principal_id"])
        who = "app" if principal == f"{identity}.principal_id" else principal
        scope_type = ref(body["scope"]).split(".")[0]
        out.add((who, scope_type, body["role_definition_name"]))
        if who == "app":
            assert body["principal_type"] == "ServicePrincipal"
    return out


def test_app_identity_roles(tf: Terraform) -> None:
    app = {(s, role) for who, s, role in _role_assignments(tf) if who == "app"}
    assert app == {
        ("azurerm_storage_account", "Storage Blob Data Owner"),
        ("azurerm_storage_account", "Storage Queue Data Contributor"),
        ("azurerm_storage_account", "Storage Table Data Contributor"),
        ("azurerm_key_vault", "Key Vault Secrets User"),
        ("azurerm_application_insights", "Monitoring Metrics Publisher"),
    }


def test_on_the_vault_the_app_may_only_read_secrets(tf: Terraform) -> None:
    on_vault = {(who, role) for who, s, role in _role_assignments(tf) if s == "azurerm_key_vault"}
    assert {role for who, role in on_vault if who == "app"} == {"Key Vault Secrets User"}
    # Terraform writes the secrets through the data plane: its runner (or the operator) needs
    # Secrets Officer, and the secrets wait for that assignment.
    operator = "coalesce(var.operator_principal_id, data.azurerm_client_config.current.object_id)"
    assert (operator, "Key Vault Secrets Officer") in on_vault


def test_app_insights_on_log_analytics_with_entra_only_ingestion(tf: Terraform) -> None:
    appi_addr = _addr(tf, "azurerm_application_insights")
    _, appi = tf.one("azurerm_application_insights")
    assert ref(appi["workspace_id"]) == f"{_addr(tf, 'azurerm_log_analytics_workspace')}.id"
    assert appi["local_authentication_disabled"] is True
    settings = tf.app_settings
    assert ref(settings["APPLICATIONINSIGHTS_CONNECTION_STRING"]) == (
        f"{appi_addr}.connection_string"
    )
    identity = _addr(tf, "azurerm_user_assigned_identity")
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == (
        f"ClientId=${{{identity}.client_id}};Authorization=AAD"
    )


def test_public_ip_is_static_standard_ipv4(tf: Terraform) -> None:
    _, pip = tf.one("azurerm_public_ip")
    assert pip["allocation_method"] == "Static"
    assert pip["sku"] == "Standard"
    assert pip["sku_tier"] == "Regional"
    assert pip["ip_version"] == "IPv4"


def test_nat_gateway_is_standard_and_owns_the_public_ip(tf: Terraform) -> None:
    nat_addr = _addr(tf, "azurerm_nat_gateway")
    _, nat = tf.one("azurerm_nat_gateway")
    assert nat["sku_name"] == "Standard"
    _, assoc = tf.one("azurerm_nat_gateway_public_ip_association")
    assert ref(assoc["nat_gateway_id"]) == f"{nat_addr}.id"
    assert ref(assoc["public_ip_address_id"]) == f"{_addr(tf, 'azurerm_public_ip')}.id"


def test_app_subnet_is_delegated_to_flex_and_egresses_through_the_nat(tf: Terraform) -> None:
    subnet_id = ref(_props(tf)["virtualNetworkSubnetId"])
    type_, name, attr = subnet_id.split(".")
    assert (type_, attr) == ("azurerm_subnet", "id")
    subnet = tf.of_type("azurerm_subnet")[name]
    subnet_name = tf.locals[ref(subnet["name"]).removeprefix("local.")]
    assert "_" not in subnet_name, "Flex Consumption rejects subnet names with an underscore"
    assert ref(subnet["virtual_network_name"]) == f"{_addr(tf, 'azurerm_virtual_network')}.name"
    delegation = block(block(subnet["delegation"])["service_delegation"])
    assert delegation["name"] == "Microsoft.App/environments"
    assert [ref(p) for p in subnet["address_prefixes"]] == ["var.app_subnet_prefix"]
    # The NAT gateway (and the NSG) sit on exactly that subnet.
    _, nat_assoc = tf.one("azurerm_subnet_nat_gateway_association")
    assert ref(nat_assoc["subnet_id"]) == subnet_id
    assert ref(nat_assoc["nat_gateway_id"]) == f"{_addr(tf, 'azurerm_nat_gateway')}.id"
    nsg_by_subnet = {
        ref(a["subnet_id"]): ref(a["network_security_group_id"])
        for a in tf.of_type("azurerm_subnet_network_security_group_association").values()
    }
    assert nsg_by_subnet[subnet_id] == f"{_addr(tf, 'azurerm_network_security_group')}.id"
    _, vnet = tf.one("azurerm_virtual_network")
    assert [ref(p) for p in vnet["address_space"]] == ["var.vnet_address_prefix"]


def test_egress_ip_setting_is_the_nat_gateways_public_ip(tf: Terraform) -> None:
    assert ref(tf.app_settings["SHUTTLE_EGRESS_IP"]) == (
        f"{_addr(tf, 'azurerm_public_ip')}.ip_address"
    )


def test_outputs_name_hostname_and_egress_ip(tf: Terraform) -> None:
    site_name, site = tf.azapi("Microsoft.Web/sites")
    outputs = {k: ref(v["value"]) for k, v in tf.outputs.items()}
    assert outputs["function_app_name"] == f"azapi_resource.{site_name}.name"
    assert outputs["function_app_default_hostname"] == (
        f"azapi_resource.{site_name}.output.properties.defaultHostName"
    )
    assert "properties.defaultHostName" in site["response_export_values"]
    assert outputs["egress_ip_address"] == f"{_addr(tf, 'azurerm_public_ip')}.ip_address"


def test_site_waits_for_its_roles_and_subnet(tf: Terraform) -> None:
    depends = {ref(d) for d in _site(tf)["depends_on"]}
    app_roles = {
        f"azurerm_role_assignment.{name}"
        for name, body in tf.of_type("azurerm_role_assignment").items()
        if ref(body["principal_id"]).startswith("azurerm_user_assigned_identity.")
    }
    assert app_roles <= depends
    assert f"{_addr(tf, 'azurerm_subnet_nat_gateway_association')}" in depends


@pytest.mark.parametrize(
    ("variable", "default"),
    [
        ("name_prefix", "shuttle"),
        ("instance_memory_mb", 2048),
        ("maximum_instance_count", 40),
        ("vnet_address_prefix", "10.40.0.0/16"),
        ("app_subnet_prefix", "10.40.0.0/24"),
    ],
)
def test_names_and_sizes_are_variables(tf: Terraform, variable: str, default: object) -> None:
    assert tf.variables[variable]["default"] == default
    assert tf.variables[variable]["description"]


def test_region_and_environment_are_variables(tf: Terraform) -> None:
    assert tf.variables["location"]["default"] is None  # the resource group's region
    assert "default" not in tf.variables["environment_name"]
    assert ref(tf.locals["location"]) == (
        "coalesce(var.location, data.azurerm_resource_group.this.location)"
    )
