# The connection secrets. RBAC only; the app identity may read secrets (Key Vault Secrets User),
# nothing more.

resource "azurerm_key_vault" "this" {
  #checkov:skip=CKV_AZURE_109:Flex Consumption cannot resolve Key Vault references against a network-restricted vault (flex-consumption-plan considerations); access is RBAC-only, the app identity may only read secrets.
  #checkov:skip=CKV_AZURE_189:same reason as CKV_AZURE_109: the vault stays reachable so Key Vault references resolve on Flex Consumption.
  #checkov:skip=CKV2_AZURE_32:same reason as CKV_AZURE_109: Key Vault references resolve from the platform, not through a private endpoint.
  name                          = local.key_vault_name
  location                      = local.location
  resource_group_name           = data.azurerm_resource_group.this.name
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "standard"
  rbac_authorization_enabled    = true
  soft_delete_retention_days    = 90
  purge_protection_enabled      = true
  public_network_access_enabled = true
  tags                          = local.tags

  network_acls {
    default_action = "Allow"
    bypass         = "AzureServices"
  }
}

# Created on the first apply from the (sensitive) variables; a secret given no value holds
# local.secret_placeholder until operators set it. After that operators rotate them in the vault
# and Terraform leaves the value alone (docs/deploy.md).
resource "azurerm_key_vault_secret" "app" {
  #checkov:skip=CKV_AZURE_41:no expiry date: an expired secret makes its Key Vault reference fail and stops every sync; operators rotate instead (docs/deploy.md).
  for_each     = local.secret_names
  name         = each.value
  value        = local.secret_values[each.key] != "" ? local.secret_values[each.key] : local.secret_placeholder
  content_type = "text/plain"
  key_vault_id = azurerm_key_vault.this.id

  lifecycle {
    ignore_changes = [value]
  }

  depends_on = [azurerm_role_assignment.operator_secrets_officer]
}
