# The connection secrets. RBAC only; the app identity may read secrets (Key Vault Secrets User),
# nothing more.
#
# private_networking: reachable only through its private endpoint (network.tf). Flex Consumption
# resolves Key Vault references against a network-restricted vault through the app's VNet
# integration (generally available since October 2025, Azure update 512379; earlier Flex releases
# could not), with all outbound traffic routed into the VNet (vnetRouteAllEnabled on the site:
# app-service-key-vault-references asks it of Linux apps that use private endpoints).
resource "azurerm_key_vault" "this" {
  name                          = local.key_vault_name
  location                      = local.location
  resource_group_name           = data.azurerm_resource_group.this.name
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "standard"
  rbac_authorization_enabled    = true
  soft_delete_retention_days    = 90
  purge_protection_enabled      = true
  public_network_access_enabled = var.private_networking ? false : true
  tags                          = local.tags

  network_acls {
    default_action = var.private_networking ? "Deny" : "Allow"
    bypass         = "AzureServices"
  }
}

# Written through Resource Manager (azapi, as infra/bicep does), not the vault's data plane: the
# vault's network rules do not apply there, so this works from anywhere with private_networking
# on. Created on the first apply from the (sensitive) variables; a secret given no value holds
# local.secret_placeholder until operators set it. After that operators rotate them in the vault
# and Terraform leaves the value alone (docs/deploy.md).
resource "azapi_resource" "secret" {
  for_each  = local.secret_names
  type      = "Microsoft.KeyVault/vaults/secrets@2023-07-01"
  name      = each.value
  parent_id = azurerm_key_vault.this.id

  body = {
    properties = {
      value       = local.secret_values[each.key] != "" ? local.secret_values[each.key] : local.secret_placeholder
      contentType = "text/plain"
    }
  }

  lifecycle {
    ignore_changes = [body]
  }
}

# Earlier versions wrote the secrets with azurerm_key_vault_secret (the vault's data plane).
# Forget those on upgrade rather than delete what operators rotated; docs/deploy.md says how to
# import them into azapi_resource.secret before the first apply.
removed {
  from = azurerm_key_vault_secret.app

  lifecycle {
    destroy = false
  }
}
