# Diagnostic settings: who read a secret (Key Vault AuditEvent) and every storage request, in the
# Log Analytics workspace. The function app's own logs (traces, requests, exceptions) reach the
# same workspace through Application Insights, which is workspace-based: Flex Consumption does not
# support diagnostic settings on the app (flex-consumption-plan, Considerations).

resource "azurerm_monitor_diagnostic_setting" "storage" {
  name                       = local.diagnostic_setting_name
  target_resource_id         = azurerm_storage_account.this.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id

  enabled_metric {
    category = "Transaction"
  }
}

# The blob, queue and table services of the account: one setting each (Bicep declares the
# services; here they are the account's default child resources).
resource "azurerm_monitor_diagnostic_setting" "storage_services" {
  for_each                   = local.storage_services
  name                       = local.diagnostic_setting_name
  target_resource_id         = "${azurerm_storage_account.this.id}/${each.value}/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id

  enabled_log {
    category = "StorageRead"
  }
  enabled_log {
    category = "StorageWrite"
  }
  enabled_log {
    category = "StorageDelete"
  }
  enabled_metric {
    category = "Transaction"
  }
}

resource "azurerm_monitor_diagnostic_setting" "vault" {
  name                       = local.diagnostic_setting_name
  target_resource_id         = azurerm_key_vault.this.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id

  enabled_log {
    category = "AuditEvent"
  }
  enabled_metric {
    category = "AllMetrics"
  }
}
