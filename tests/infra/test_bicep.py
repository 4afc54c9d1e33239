"""infra/bicep/main.bicep, read with pycep-parser: each resource Shuttle needs, with the
properties that make it work (Flex Consumption, static egress, identity-based storage, Key Vault
references)."""

from __future__ import annotations

import re

import pytest

from tests.infra.iac import (
    FORBIDDEN_SETTINGS,
    ROLE_NAMES,
    Bicep,
    BicepResource,
    bicep_expr,
)

KV_REFERENCE = re.compile(r"^@Microsoft\.KeyVault\(SecretUri=\$\{vaultSecretsUri\}/\$\{(\w+)\}/\)$")


def _symbol(bicep: Bicep, type_: str) -> str:
    return bicep.one(type_).symbol


def _site(bicep: Bicep) -> BicepResource:
    return bicep.one("Microsoft.Web/sites")


def _identity(bicep: Bicep) -> str:
    return _symbol(bicep, "Microsoft.ManagedIdentity/userAssignedIdentities")


def _vnet_subnet(bicep: Bicep, name_symbol: str) -> dict:
    vnet = bicep.one("Microsoft.Network/virtualNetworks")
    matches = [s for s in vnet.properties["subnets"] if s["name"] == name_symbol]
    assert len(matches) == 1, f"the virtual network has no subnet named {name_symbol}"
    return matches[0]


def _app_subnet(bicep: Bicep) -> dict:
    """The subnet the function app integrates with, followed from virtualNetworkSubnetId."""
    target = bicep_expr(_site(bicep).properties["virtualNetworkSubnetId"])
    symbol, _, prop = target.partition(".")
    assert prop == "id", f"virtualNetworkSubnetId should be a subnet's id, is {target}"
    subnet_ref = bicep.resource(symbol)
    assert subnet_ref.type == "Microsoft.Network/virtualNetworks/subnets"
    assert subnet_ref.existing, "the subnet is declared inline in the virtual network"
    assert subnet_ref.body["parent"] == _symbol(bicep, "Microsoft.Network/virtualNetworks")
    return _vnet_subnet(bicep, subnet_ref.body["name"])


def test_plan_is_flex_consumption_on_linux(bicep: Bicep) -> None:
    plan = bicep.one("Microsoft.Web/serverfarms")
    assert plan.body["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan.properties["reserved"] is True
    assert bicep_expr(_site(bicep).properties["serverFarmId"]) == f"{plan.symbol}.id"


def test_function_app_runs_python_311_on_flex(bicep: Bicep) -> None:
    site = _site(bicep)
    assert site.body["kind"] == "functionapp,linux"
    config = site.properties["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    scale = config["scaleAndConcurrency"]
    assert scale["instanceMemoryMB"] == "instanceMemoryMB"
    assert scale["maximumInstanceCount"] == "maximumInstanceCount"
    assert bicep.parameter("instanceMemoryMB")["default"] == 2048
    assert site.properties["httpsOnly"] is True
    assert site.properties["siteConfig"]["ftpsState"] == "Disabled"


def test_function_app_uses_only_the_user_assigned_identity(bicep: Bicep) -> None:
    site, identity = _site(bicep), _identity(bicep)
    assert site.body["identity"]["type"] == "UserAssigned"
    assert list(site.body["identity"]["userAssignedIdentities"]) == [f"'${{{identity}.id}}'"]
    # Key Vault references resolve with this identity, not a (missing) system identity.
    assert bicep_expr(site.properties["keyVaultReferenceIdentity"]) == f"{identity}.id"


def test_deployment_package_lives_in_its_container_reached_by_identity(bicep: Bicep) -> None:
    storage = _symbol(bicep, "Microsoft.Storage/storageAccounts")
    container = bicep.one("Microsoft.Storage/storageAccounts/blobServices/containers")
    blob_service = bicep.resource(container.body["parent"])
    assert blob_service.body["parent"] == storage
    assert container.properties["publicAccess"] == "None"
    deployment = _site(bicep).properties["functionAppConfig"]["deployment"]["storage"]
    assert deployment["type"] == "blobContainer"
    assert deployment["value"] == (
        f"${{{storage}.properties.primaryEndpoints.blob}}${{{container.body['name']}}}"
    )
    assert deployment["authentication"]["type"] == "UserAssignedIdentity"
    assert (
        bicep_expr(deployment["authentication"]["userAssignedIdentityResourceId"])
        == f"{_identity(bicep)}.id"
    )


def test_app_settings_are_written_out_not_looped(bicep: Bicep) -> None:
    # A for-expression cannot iterate over runtime values (BCP178), and most settings are.
    entries = _site(bicep).properties["siteConfig"]["appSettings"]
    assert isinstance(entries, list)
    assert len(bicep.app_settings) == len(entries) > 20


def test_no_setting_that_flex_or_keyless_storage_forbids(bicep: Bicep) -> None:
    assert not FORBIDDEN_SETTINGS & set(bicep.app_settings)


def test_storage_settings_are_identity_based(bicep: Bicep) -> None:
    settings, identity = bicep.app_settings, _identity(bicep)
    storage = _symbol(bicep, "Microsoft.Storage/storageAccounts")
    assert bicep_expr(settings["AzureWebJobsStorage__accountName"]) == f"{storage}.name"
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert bicep_expr(settings["AzureWebJobsStorage__clientId"]) == (
        f"{identity}.properties.clientId"
    )
    # No key anywhere: no listKeys(), no connection string with an AccountKey.
    assert "listKeys" not in bicep.text
    assert "AccountKey" not in bicep.text


def test_storage_account_refuses_shared_keys(bicep: Bicep) -> None:
    props = bicep.one("Microsoft.Storage/storageAccounts").properties
    assert props["allowSharedKeyAccess"] is False
    assert props["defaultToOAuthAuthentication"] is True
    assert props["allowBlobPublicAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True


def test_every_secret_setting_is_a_key_vault_reference_to_a_vault_secret(
    bicep: Bicep, secret_settings: set[str]
) -> None:
    vault = _symbol(bicep, "Microsoft.KeyVault/vaults")
    assert bicep.variable("vaultSecretsUri") == f"${{{vault}.properties.vaultUri}}secrets"
    secrets = bicep.of_type("Microsoft.KeyVault/vaults/secrets")
    declared = {r.body["name"]: r for r in secrets.values()}
    for setting, value in bicep.app_settings.items():
        match = KV_REFERENCE.match(value) if isinstance(value, str) else None
        if setting not in secret_settings:
            assert match is None, f"{setting} is not a secret but reads Key Vault"
            continue
        assert match, f"{setting} must be a Key Vault reference, is {value!r}"
        secret = declared.get(match.group(1))
        assert secret is not None, f"{setting} refers to a secret the template does not declare"
        assert secret.body["parent"] == vault
        assert re.fullmatch(r"[a-z0-9-]+", bicep.literal(match.group(1)))
        assert secret.properties["contentType"] == "text/plain"
        param = secret.properties["value"]
        assert "secure" in bicep.decorator_types(param), f"{param} must be @secure()"
        # Written only when given, so a deployment never blanks what operators rotated.
        assert secret.condition == f"!empty({param})"
    assert len(declared) == len(secret_settings)


def test_vault_is_rbac_only_and_recoverable(bicep: Bicep) -> None:
    props = bicep.one("Microsoft.KeyVault/vaults").properties
    assert props["enableRbacAuthorization"] is True
    assert "accessPolicies" not in props
    assert props["enableSoftDelete"] is True
    assert props["enablePurgeProtection"] is True


def _role_assignments(bicep: Bicep) -> set[tuple[str, str, str, str | None]]:
    identity = _identity(bicep)
    out = set()
    for r in bicep.of_type("Microsoft.Authorization/roleAssignments").values():
        role_id = r.properties["roleDefinitionId"]["function"]
        assert role_id["type"] == "subscription_resource_id"
        guid = bicep.literal(role_id["parameters"]["resource_name_1"])
        principal = bicep_expr(r.properties["principalId"])
        who = "app" if principal == f"{identity}.properties.principalId" else principal
        scope_type = bicep.resource(r.body["scope"]).type
        out.add((who, scope_type, ROLE_NAMES[guid], r.condition))
        if who == "app":
            assert r.properties["principalType"] == "ServicePrincipal"
    return out


def test_app_identity_roles(bicep: Bicep) -> None:
    app = {(s, role) for who, s, role, _ in _role_assignments(bicep) if who == "app"}
    assert app == {
        ("Microsoft.Storage/storageAccounts", "Storage Blob Data Owner"),
        ("Microsoft.Storage/storageAccounts", "Storage Queue Data Contributor"),
        ("Microsoft.Storage/storageAccounts", "Storage Table Data Contributor"),
        ("Microsoft.KeyVault/vaults", "Key Vault Secrets User"),
        ("Microsoft.Insights/components", "Monitoring Metrics Publisher"),
    }


def test_on_the_vault_the_app_may_only_read_secrets(bicep: Bicep) -> None:
    on_vault = {
        (who, role)
        for who, scope, role, _ in _role_assignments(bicep)
        if scope == "Microsoft.KeyVault/vaults"
    }
    assert {role for who, role in on_vault if who == "app"} == {"Key Vault Secrets User"}
    # The operator who rotates secrets, only when a principal is given.
    assert ("operatorPrincipalId", "Key Vault Secrets Officer") in on_vault
    (operator,) = [
        c for who, _, role, c in _role_assignments(bicep) if who == "operatorPrincipalId"
    ]
    assert operator == "!empty(operatorPrincipalId)"


def test_app_insights_on_log_analytics_with_entra_only_ingestion(bicep: Bicep) -> None:
    appi = bicep.one("Microsoft.Insights/components")
    workspace = _symbol(bicep, "Microsoft.OperationalInsights/workspaces")
    assert bicep_expr(appi.properties["WorkspaceResourceId"]) == f"{workspace}.id"
    assert appi.properties["DisableLocalAuth"] is True
    settings = bicep.app_settings
    assert bicep_expr(settings["APPLICATIONINSIGHTS_CONNECTION_STRING"]) == (
        f"{appi.symbol}.properties.ConnectionString"
    )
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == (
        f"ClientId=${{{_identity(bicep)}.properties.clientId}};Authorization=AAD"
    )


def test_public_ip_is_static_standard_ipv4(bicep: Bicep) -> None:
    pip = bicep.one("Microsoft.Network/publicIPAddresses")
    assert pip.body["sku"] == {"name": "Standard", "tier": "Regional"}
    assert pip.properties["publicIPAllocationMethod"] == "Static"
    assert pip.properties["publicIPAddressVersion"] == "IPv4"


def test_nat_gateway_is_standard_and_owns_the_public_ip(bicep: Bicep) -> None:
    nat = bicep.one("Microsoft.Network/natGateways")
    assert nat.body["sku"] == {"name": "Standard"}
    pip = _symbol(bicep, "Microsoft.Network/publicIPAddresses")
    assert [bicep_expr(p["id"]) for p in nat.properties["publicIpAddresses"]] == [f"{pip}.id"]


def test_app_subnet_is_delegated_to_flex_and_egresses_through_the_nat(bicep: Bicep) -> None:
    subnet = _app_subnet(bicep)
    name = bicep.literal(subnet["name"])
    assert name and "_" not in name, "Flex Consumption rejects subnet names with an underscore"
    delegations = [d["properties"]["serviceName"] for d in subnet["properties"]["delegations"]]
    assert delegations == ["Microsoft.App/environments"]
    nat = _symbol(bicep, "Microsoft.Network/natGateways")
    assert bicep_expr(subnet["properties"]["natGateway"]["id"]) == f"{nat}.id"
    nsg = _symbol(bicep, "Microsoft.Network/networkSecurityGroups")
    assert bicep_expr(subnet["properties"]["networkSecurityGroup"]["id"]) == f"{nsg}.id"
    assert subnet["properties"]["addressPrefix"] == "appSubnetPrefix"
    vnet = bicep.one("Microsoft.Network/virtualNetworks")
    assert vnet.properties["addressSpace"]["addressPrefixes"] == ["vnetAddressPrefix"]


def test_egress_ip_setting_is_the_nat_gateways_public_ip(bicep: Bicep) -> None:
    pip = _symbol(bicep, "Microsoft.Network/publicIPAddresses")
    assert bicep_expr(bicep.app_settings["SHUTTLE_EGRESS_IP"]) == f"{pip}.properties.ipAddress"


def test_outputs_name_hostname_and_egress_ip(bicep: Bicep) -> None:
    outputs = {k: bicep_expr(v["value"]) for k, v in bicep.doc["outputs"].items()}
    site = _site(bicep).symbol
    pip = _symbol(bicep, "Microsoft.Network/publicIPAddresses")
    assert outputs["FUNCTION_APP_NAME"] == f"{site}.name"
    assert outputs["FUNCTION_APP_HOSTNAME"] == f"{site}.properties.defaultHostName"
    assert outputs["EGRESS_IP_ADDRESS"] == f"{pip}.properties.ipAddress"


def test_azd_finds_the_app_by_its_service_tag(bicep: Bicep) -> None:
    tags = _site(bicep).body["tags"]["function"]
    assert tags["type"] == "union"
    assert tags["parameters"]["arg_2"] == {"'azd-service-name'": "shuttle"}


def test_site_waits_for_its_roles_and_subnet(bicep: Bicep) -> None:
    depends = set(_site(bicep).body["dependsOn"])
    roles = set(bicep.of_type("Microsoft.Authorization/roleAssignments")) - {
        "operatorSecretsOfficer"
    }
    assert roles <= depends
    assert _symbol(bicep, "Microsoft.Network/virtualNetworks") in depends


@pytest.mark.parametrize(
    ("param", "default"),
    [
        ("namePrefix", "shuttle"),
        ("instanceMemoryMB", 2048),
        ("maximumInstanceCount", 40),
        ("vnetAddressPrefix", "10.40.0.0/16"),
        ("appSubnetPrefix", "10.40.0.0/24"),
    ],
)
def test_names_and_sizes_are_parameters(bicep: Bicep, param: str, default: object) -> None:
    assert bicep.parameter(param)["default"] == default
    assert "description" in bicep.decorator_types(param)


def test_region_and_environment_are_parameters(bicep: Bicep) -> None:
    assert bicep_expr(bicep.parameter("location")["default"]) == "resource_group().location"
    assert bicep.parameter("environmentName")["default"] is None, "required: no default"
