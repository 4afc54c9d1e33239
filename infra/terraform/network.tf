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
