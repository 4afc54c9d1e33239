output "function_app_name" {
  description = "Name of the function app (func azure functionapp publish <name>)."
  value       = azapi_resource.function_app.name
}

output "function_app_default_hostname" {
  description = "Default hostname of the function app: https://<hostname>/api/status."
  value       = azapi_resource.function_app.output.properties.defaultHostName
}

output "egress_ip_address" {
  description = "The static public IP every outbound call leaves from: allow-list it in Intacct, Creatio and Dataverse."
  value       = azurerm_public_ip.egress.ip_address
}

output "key_vault_name" {
  description = "Key Vault holding the connection secrets (rotate them here)."
  value       = azurerm_key_vault.this.name
}

output "storage_account_name" {
  description = "Storage account of the host, the flow state and the deployment package."
  value       = azurerm_storage_account.this.name
}

output "resource_group_name" {
  description = "Resource group of the deployment."
  value       = data.azurerm_resource_group.this.name
}
