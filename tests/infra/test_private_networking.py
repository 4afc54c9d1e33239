"""Issue 12 item 9: storage (blob, queue, table) and Key Vault behind private endpoints in the
virtual network, with privatelink DNS zones linked to it and public network access denied, on by
default; the app routes all outbound traffic into the VNet so Key Vault references and storage
reach the endpoints. Both dialects."""

from __future__ import annotations

import pytest

from tests.infra.iac import Bicep, BicepResource, Terraform, bicep_expr, block, ref

# group id -> (privatelink zone, what it points at: storage account or vault)
PRIVATE_LINKS = {
    "blob": ("privatelink.blob.core.windows.net", "storage"),
    "queue": ("privatelink.queue.core.windows.net", "storage"),
    "table": ("privatelink.table.core.windows.net", "storage"),
    "vault": ("privatelink.vaultcore.azure.net", "vault"),
}
BICEP_TARGET = {
    "storage": "Microsoft.Storage/storageAccounts",
    "vault": "Microsoft.KeyVault/vaults",
}
TF_TARGET = {"storage": "azurerm_storage_account", "vault": "azurerm_key_vault"}

# ------------------------------------------------------------------------------------------------
# Bicep
# ------------------------------------------------------------------------------------------------


def test_bicep_private_networking_is_on_by_default(bicep: Bicep) -> None:
    param = bicep.parameter("privateNetworking")
    assert param["type"] == "bool"
    assert param["default"] is True
    assert "description" in bicep.decorator_types("privateNetworking")


@pytest.mark.parametrize(
    "type_", ["Microsoft.Storage/storageAccounts", "Microsoft.KeyVault/vaults"]
)
def test_bicep_storage_and_vault_deny_the_public_network(bicep: Bicep, type_: str) -> None:
    props = bicep.one(type_).properties
    # '${publicNetworkAccess}' on the vault: interpolated for checkov, the same value.
    assert str(props["publicNetworkAccess"]).strip("${}") == "publicNetworkAccess"
    assert bicep_expr(bicep.variable("publicNetworkAccess")) == (
        "conditional(privateNetworking, Disabled, Enabled)"
    )
    assert props["networkAcls"]["defaultAction"] == "networkDefaultAction"
    assert bicep_expr(bicep.variable("networkDefaultAction")) == (
        "conditional(privateNetworking, Deny, Allow)"
    )


def _bicep_private_endpoints(bicep: Bicep) -> dict[str, BicepResource]:
    out = {}
    for pe in bicep.of_type("Microsoft.Network/privateEndpoints").values():
        (connection,) = pe.properties["privateLinkServiceConnections"]
        (group,) = connection["properties"]["groupIds"]
        out[group] = pe
    return out


def test_bicep_private_endpoint_per_storage_service_and_vault(bicep: Bicep) -> None:
    endpoints = _bicep_private_endpoints(bicep)
    assert set(endpoints) == set(PRIVATE_LINKS)
    subnet = bicep_expr(next(iter(endpoints.values())).properties["subnet"]["id"])
    for group, pe in endpoints.items():
        assert pe.condition == "privateNetworking", f"{group}: only with privateNetworking"
        (connection,) = pe.properties["privateLinkServiceConnections"]
        target = bicep_expr(connection["properties"]["privateLinkServiceId"])
        expected = bicep.one(BICEP_TARGET[PRIVATE_LINKS[group][1]]).symbol
        assert target == f"{expected}.id", f"{group} endpoint points at {target}"
        assert bicep_expr(pe.properties["subnet"]["id"]) == subnet
    # Their own subnet, in the same virtual network, not the app's delegated one.
    symbol, _, attr = subnet.partition(".")
    subnet_ref = bicep.resource(symbol)
    assert (subnet_ref.existing, attr) == (True, "id")
    vnet = bicep.one("Microsoft.Network/virtualNetworks")
    assert subnet_ref.body["parent"] == vnet.symbol
    (inline,) = [s for s in vnet.properties["subnets"] if s["name"] == subnet_ref.body["name"]]
    assert inline["properties"]["addressPrefix"] == "privateEndpointSubnetPrefix"
    assert "delegations" not in inline["properties"]
    assert bicep.literal(subnet_ref.body["name"]) != bicep.literal("appSubnetName")


def test_bicep_each_endpoint_resolves_through_its_privatelink_zone(bicep: Bicep) -> None:
    endpoints = _bicep_private_endpoints(bicep)
    groups = bicep.of_type("Microsoft.Network/privateEndpoints/privateDnsZoneGroups").values()
    zone_of = {}
    for group in groups:
        assert group.condition == "privateNetworking"
        (config,) = group.properties["privateDnsZoneConfigs"]
        zone_symbol = bicep_expr(config["properties"]["privateDnsZoneId"]).removesuffix(".id")
        zone_of[group.body["parent"]] = bicep.resource(zone_symbol)
    vnet = bicep.one("Microsoft.Network/virtualNetworks").symbol
    linked = {
        link.body["parent"]
        for link in bicep.of_type("Microsoft.Network/privateDnsZones/virtualNetworkLinks").values()
        if bicep_expr(link.properties["virtualNetwork"]["id"]) == f"{vnet}.id"
        and link.properties["registrationEnabled"] is False
        and link.condition == "privateNetworking"
    }
    for name, (zone_name, _) in PRIVATE_LINKS.items():
        zone = zone_of[endpoints[name].symbol]
        assert zone.type == "Microsoft.Network/privateDnsZones"
        assert bicep.literal(zone.body["name"]) == zone_name
        assert zone.body["location"] == "global"
        assert zone.condition == "privateNetworking"
        assert zone.symbol in linked, f"{zone_name} is not linked to the virtual network"


def test_bicep_app_routes_all_outbound_traffic_into_the_vnet(bicep: Bicep) -> None:
    site = bicep.one("Microsoft.Web/sites")
    assert site.properties["vnetRouteAllEnabled"] is True
    # It starts only once the private names resolve.
    depends = set(site.body["dependsOn"])
    assert set(bicep.of_type("Microsoft.Network/privateEndpoints/privateDnsZoneGroups")) <= depends
    assert set(bicep.of_type("Microsoft.Network/privateDnsZones/virtualNetworkLinks")) <= depends


def test_bicep_the_flex_key_vault_reference_exception_is_explained(bicep: Bicep) -> None:
    text = bicep.text
    assert "Azure update 512379" in text
    assert "vnetRouteAllEnabled" in text and "app-service-key-vault-references" in text


def test_azd_can_turn_private_networking_off() -> None:
    from tests.infra.iac import BICEP_DIR

    params = (BICEP_DIR / "main.parameters.json").read_text()
    assert '"privateNetworking": { "value": "${SHUTTLE_PRIVATE_NETWORKING=true}" }' in params


# ------------------------------------------------------------------------------------------------
# Terraform
# ------------------------------------------------------------------------------------------------


def test_terraform_private_networking_is_on_by_default(tf: Terraform) -> None:
    variable = tf.variables["private_networking"]
    assert ref(variable["type"]) == "bool"
    assert variable["default"] is True


def test_terraform_storage_and_vault_deny_the_public_network(tf: Terraform) -> None:
    _, storage = tf.one("azurerm_storage_account")
    assert ref(storage["public_network_access_enabled"]) == "var.private_networking ? false : true"
    rules = block(storage["network_rules"])
    assert ref(rules["default_action"]) == 'var.private_networking ? "Deny" : "Allow"'
    _, vault = tf.one("azurerm_key_vault")
    assert ref(vault["public_network_access_enabled"]) == "var.private_networking ? false : true"
    acls = block(vault["network_acls"])
    assert ref(acls["default_action"]) == 'var.private_networking ? "Deny" : "Allow"'
    # Storage goes through Resource Manager only, so plan/apply work with the account closed.
    assert "data_plane_available = false" in tf.text


def test_terraform_private_endpoint_per_storage_service_and_vault(tf: Terraform) -> None:
    endpoints = tf.of_type("azurerm_private_endpoint")
    by_group = {}
    for name, pe in endpoints.items():
        connection = block(pe["private_service_connection"])
        (group,) = connection["subresource_names"]
        by_group[group] = (name, pe, connection)
    assert set(by_group) == set(PRIVATE_LINKS)
    zones_addr = "azurerm_private_dns_zone.this"
    for group, (_name, pe, connection) in by_group.items():
        assert ref(pe["count"]) == "var.private_networking ? 1 : 0"
        assert ref(pe["subnet_id"]) == "azurerm_subnet.private_endpoints.id"
        target = TF_TARGET[PRIVATE_LINKS[group][1]]
        assert ref(connection["private_connection_resource_id"]) == f"{target}.this.id"
        assert connection["is_manual_connection"] is False
        zone_group = block(pe["private_dns_zone_group"])
        assert [ref(z) for z in zone_group["private_dns_zone_ids"]] == [
            f'{zones_addr}["{group}"].id'
        ]
    subnet = tf.of_type("azurerm_subnet")["private_endpoints"]
    assert [ref(p) for p in subnet["address_prefixes"]] == ["var.private_endpoint_subnet_prefix"]
    assert "delegation" not in subnet


def test_terraform_privatelink_zones_are_linked_to_the_vnet(tf: Terraform) -> None:
    assert tf.locals["private_dns_zones"] == {g: zone for g, (zone, _) in PRIVATE_LINKS.items()}
    switched = "var.private_networking ? local.private_dns_zones : {}"
    (zone,) = tf.of_type("azurerm_private_dns_zone").values()
    assert ref(zone["for_each"]) == switched
    assert ref(zone["name"]) == "each.value"
    (link,) = tf.of_type("azurerm_private_dns_zone_virtual_network_link").values()
    assert ref(link["for_each"]) == switched
    assert ref(link["private_dns_zone_name"]) == "azurerm_private_dns_zone.this[each.key].name"
    assert ref(link["virtual_network_id"]) == "azurerm_virtual_network.this.id"
    assert link["registration_enabled"] is False


def test_terraform_app_routes_all_outbound_traffic_into_the_vnet(tf: Terraform) -> None:
    _, site = tf.azapi("Microsoft.Web/sites")
    assert site["body"]["properties"]["vnetRouteAllEnabled"] is True
    depends = {ref(d) for d in site["depends_on"]}
    assert {f"azurerm_private_endpoint.{n}" for n in tf.of_type("azurerm_private_endpoint")} <= (
        depends
    )
    assert "azurerm_private_dns_zone_virtual_network_link.this" in depends
    assert "Azure update 512379" in tf.text


# ------------------------------------------------------------------------------------------------
# Both
# ------------------------------------------------------------------------------------------------


def test_both_default_private_networking_on(bicep: Bicep, tf: Terraform) -> None:
    assert bicep.parameter("privateNetworking")["default"] is True
    assert tf.variables["private_networking"]["default"] is True
    assert (
        bicep.parameter("privateEndpointSubnetPrefix")["default"]
        == (tf.variables["private_endpoint_subnet_prefix"]["default"])
    )


def test_deploy_guide_explains_private_networking_and_its_exceptions() -> None:
    from tests.infra.iac import ROOT

    guide = (ROOT / "docs" / "deploy.md").read_text()
    for needed in [
        "## Private networking",
        "SHUTTLE_PRIVATE_NETWORKING",
        "private_networking = false",
        *(zone for zone, _ in PRIVATE_LINKS.values()),
        "Azure update 512379",
        "vnetRouteAllEnabled",
        "Resource Manager",
        "app-package",
    ]:
        assert needed in guide, f"docs/deploy.md does not mention {needed}"
