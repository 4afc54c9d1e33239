# One static egress IP: the NAT gateway sits on the delegated subnet the function app integrates
# with, so every call to Creatio, Intacct and Dataverse leaves from its public IP.

resource "azurerm_public_ip" "egress" {
  name                = local.public_ip_name
  location            = local.location
  resource_group_name = data.azurerm_resource_group.this.name
  allocation_method   = "Static"
  sku                 = "Standard"
  sku_tier            = "Regional"
  ip_version          = "IPv4"
  tags                = local.tags
}

resource "azurerm_nat_gateway" "this" {
  name                    = local.nat_gateway_name
  location                = local.location
  resource_group_name     = data.azurerm_resource_group.this.name
  sku_name                = "Standard"
  idle_timeout_in_minutes = var.nat_idle_timeout_minutes
  tags                    = local.tags
}

resource "azurerm_nat_gateway_public_ip_association" "egress" {
  nat_gateway_id       = azurerm_nat_gateway.this.id
  public_ip_address_id = azurerm_public_ip.egress.id
}

# Nothing listens in this subnet (VNet integration is outbound only): no rules beyond the
# platform defaults; outbound to the internet goes through the NAT gateway.
resource "azurerm_network_security_group" "functions" {
  name                = local.nsg_name
  location            = local.location
  resource_group_name = data.azurerm_resource_group.this.name
  tags                = local.tags
}

resource "azurerm_virtual_network" "this" {
  name                = local.vnet_name
  location            = local.location
  resource_group_name = data.azurerm_resource_group.this.name
  address_space       = [var.vnet_address_prefix]
  tags                = local.tags
}

resource "azurerm_subnet" "functions" {
  name                 = local.app_subnet_name
  resource_group_name  = data.azurerm_resource_group.this.name
  virtual_network_name = azurerm_virtual_network.this.name
  address_prefixes     = [var.app_subnet_prefix]

  delegation {
    name = "flex-consumption"
    service_delegation {
      name    = "Microsoft.App/environments"
      actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
    }
  }
}

resource "azurerm_subnet_nat_gateway_association" "functions" {
  subnet_id      = azurerm_subnet.functions.id
  nat_gateway_id = azurerm_nat_gateway.this.id
}

resource "azurerm_subnet_network_security_group_association" "functions" {
  subnet_id                 = azurerm_subnet.functions.id
  network_security_group_id = azurerm_network_security_group.functions.id
}

# Holds the private endpoints of storage and Key Vault (private_networking); Flex Consumption's
# subnet cannot hold them. Always declared, so turning private_networking on or off never reshapes
# the network.
resource "azurerm_subnet" "private_endpoints" {
  name                              = local.private_endpoint_subnet_name
  resource_group_name               = data.azurerm_resource_group.this.name
  virtual_network_name              = azurerm_virtual_network.this.name
  address_prefixes                  = [var.private_endpoint_subnet_prefix]
  private_endpoint_network_policies = "Enabled"
}

resource "azurerm_subnet_network_security_group_association" "private_endpoints" {
  subnet_id                 = azurerm_subnet.private_endpoints.id
  network_security_group_id = azurerm_network_security_group.functions.id
}

# -----------------------------------------------------------------------------------------------
# Private networking (private_networking): a private endpoint per storage service and for the
# vault, each with its privatelink DNS zone linked to the virtual network, so the app's calls to
# <account>.blob.core.windows.net and <vault>.vault.azure.net resolve to private addresses.
# -----------------------------------------------------------------------------------------------

resource "azurerm_private_dns_zone" "this" {
  for_each            = var.private_networking ? local.private_dns_zones : {}
  name                = each.value
  resource_group_name = data.azurerm_resource_group.this.name
  tags                = local.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "this" {
  for_each              = var.private_networking ? local.private_dns_zones : {}
  name                  = local.vnet_name
  resource_group_name   = data.azurerm_resource_group.this.name
  private_dns_zone_name = azurerm_private_dns_zone.this[each.key].name
  virtual_network_id    = azurerm_virtual_network.this.id
  registration_enabled  = false
  tags                  = local.tags
}

resource "azurerm_private_endpoint" "blob" {
  count               = var.private_networking ? 1 : 0
  name                = "pe-${local.base}-blob"
  location            = local.location
  resource_group_name = data.azurerm_resource_group.this.name
  subnet_id           = azurerm_subnet.private_endpoints.id
  tags                = local.tags

  private_service_connection {
    name                           = "blob"
    private_connection_resource_id = azurerm_storage_account.this.id
    subresource_names              = ["blob"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [azurerm_private_dns_zone.this["blob"].id]
  }
}

resource "azurerm_private_endpoint" "queue" {
  count               = var.private_networking ? 1 : 0
  name                = "pe-${local.base}-queue"
  location            = local.location
  resource_group_name = data.azurerm_resource_group.this.name
  subnet_id           = azurerm_subnet.private_endpoints.id
  tags                = local.tags

  private_service_connection {
    name                           = "queue"
    private_connection_resource_id = azurerm_storage_account.this.id
    subresource_names              = ["queue"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [azurerm_private_dns_zone.this["queue"].id]
  }
}

resource "azurerm_private_endpoint" "table" {
  count               = var.private_networking ? 1 : 0
  name                = "pe-${local.base}-table"
  location            = local.location
  resource_group_name = data.azurerm_resource_group.this.name
  subnet_id           = azurerm_subnet.private_endpoints.id
  tags                = local.tags

  private_service_connection {
    name                           = "table"
    private_connection_resource_id = azurerm_storage_account.this.id
    subresource_names              = ["table"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [azurerm_private_dns_zone.this["table"].id]
  }
}

resource "azurerm_private_endpoint" "vault" {
  count               = var.private_networking ? 1 : 0
  name                = "pe-${local.base}-vault"
  location            = local.location
  resource_group_name = data.azurerm_resource_group.this.name
  subnet_id           = azurerm_subnet.private_endpoints.id
  tags                = local.tags

  private_service_connection {
    name                           = "vault"
    private_connection_resource_id = azurerm_key_vault.this.id
    subresource_names              = ["vault"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [azurerm_private_dns_zone.this["vault"].id]
  }
}
