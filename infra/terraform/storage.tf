# Host storage, Shuttle's tables and queues, and the deployment package. No shared keys: the app
# identity reaches it with Entra ID and the role assignments in main.tf.

resource "azurerm_storage_account" "this" {
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys with infrastructure (double) encryption; a customer-managed key adds a key and its rotation that this app's data does not call for.
  #checkov:skip=CKV_AZURE_33:queue requests are logged to Log Analytics by the queue service's diagnostic setting (diagnostics.tf); classic Storage Analytics logging is key-based and shared keys are off.
  name                              = local.storage_account_name
  location                          = local.location
  resource_group_name               = data.azurerm_resource_group.this.name
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = var.storage_replication_type
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  allow_nested_items_to_be_public   = false
  cross_tenant_replication_enabled  = false
  local_user_enabled                = false
  sftp_enabled                      = false
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  # private_networking: reachable only through the blob, queue and table private endpoints
  # (network.tf). Flex Consumption reads its package from app-package over the app's VNet
  # integration, the layout of Azure-Samples' Flex Consumption quickstarts with VNET_ENABLED
  # (storage publicNetworkAccess Disabled); docs/deploy.md, "Private networking".
  public_network_access_enabled     = var.private_networking ? false : true
  infrastructure_encryption_enabled = true
  tags                              = local.tags

  blob_properties {
    delete_retention_policy {
      days = 7
    }
    container_delete_retention_policy {
      days = 7
    }
  }

  network_rules {
    default_action = var.private_networking ? "Deny" : "Allow"
    bypass         = ["AzureServices"]
  }
}

resource "azurerm_storage_container" "deployment" {
  #checkov:skip=CKV2_AZURE_21:blob requests are logged to Log Analytics by the blob service's diagnostic setting (diagnostics.tf); Storage Insights needs an account key and shared keys are off.
  name                  = local.deployment_container_name
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}
