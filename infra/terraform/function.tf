# The Flex Consumption plan and the function app.

resource "azurerm_service_plan" "this" {
  #checkov:skip=CKV_AZURE_225:zone redundancy is the zone_redundant variable: Flex Consumption offers it only in some regions, with zone-redundant storage.
  #checkov:skip=CKV_AZURE_212:Flex Consumption has no plan-level worker count; it scales out per event from zero (maximum_instance_count).
  name                   = local.plan_name
  location               = local.location
  resource_group_name    = data.azurerm_resource_group.this.name
  os_type                = "Linux"
  sku_name               = "FC1"
  zone_balancing_enabled = var.zone_redundant
  tags                   = local.tags
}

locals {
  vault_secrets_uri = "${azurerm_key_vault.this.vault_uri}secrets"

  # Every setting of local.settings.example.json except: FUNCTIONS_WORKER_RUNTIME (Flex takes the
  # runtime from functionAppConfig.runtime), AzureWebJobsStorage (replaced by the identity-based
  # AzureWebJobsStorage__* settings: a connection string would need a key, and an empty value
  # shadows them) and SHUTTLE_LOCAL_KEY (local host only; Azure uses function keys).
  app_settings = {
    AzureWebJobsStorage__accountName          = azurerm_storage_account.this.name
    AzureWebJobsStorage__credential           = "managedidentity"
    AzureWebJobsStorage__clientId             = azurerm_user_assigned_identity.app.client_id
    APPLICATIONINSIGHTS_CONNECTION_STRING     = azurerm_application_insights.this.connection_string
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING = "ClientId=${azurerm_user_assigned_identity.app.client_id};Authorization=AAD"
    SHUTTLE_SOLUTIONS                         = var.solutions
    SHUTTLE_SCHEDULER_SCHEDULE                = var.scheduler_schedule
    SHUTTLE_TABLE_PREFIX                      = var.table_prefix
    SHUTTLE_RUN_LEASE_SECONDS                 = tostring(var.run_lease_seconds)
    SHUTTLE_READ_OVERLAP_SECONDS              = tostring(var.read_overlap_seconds)
    SHUTTLE_PAGE_SIZE                         = tostring(var.page_size)
    INTACCT_TIMEZONE                          = var.intacct_timezone
    INTACCT_MAX_IN_FLIGHT                     = tostring(var.intacct_max_in_flight)
    DATAVERSE_MAX_CONCURRENCY                 = tostring(var.dataverse_max_concurrency)
    SHUTTLE_EGRESS_IP                         = azurerm_public_ip.egress.ip_address
    CREATIO_URL                               = var.creatio_url
    CREATIO_AUTH                              = var.creatio_auth
    CREATIO_USERNAME                          = var.creatio_username
    CREATIO_PASSWORD                          = "@Microsoft.KeyVault(SecretUri=${local.vault_secrets_uri}/${local.secret_names.CREATIO_PASSWORD}/)"
    CREATIO_IDENTITY_URL                      = var.creatio_identity_url
    CREATIO_CLIENT_ID                         = var.creatio_client_id
    CREATIO_CLIENT_SECRET                     = "@Microsoft.KeyVault(SecretUri=${local.vault_secrets_uri}/${local.secret_names.CREATIO_CLIENT_SECRET}/)"
    INTACCT_ENDPOINT                          = var.intacct_endpoint
    INTACCT_SENDER_ID                         = var.intacct_sender_id
    INTACCT_SENDER_PASSWORD                   = "@Microsoft.KeyVault(SecretUri=${local.vault_secrets_uri}/${local.secret_names.INTACCT_SENDER_PASSWORD}/)"
    INTACCT_COMPANY_ID                        = var.intacct_company_id
    INTACCT_ENTITY_ID                         = var.intacct_entity_id
    INTACCT_USER_ID                           = var.intacct_user_id
    INTACCT_USER_PASSWORD                     = "@Microsoft.KeyVault(SecretUri=${local.vault_secrets_uri}/${local.secret_names.INTACCT_USER_PASSWORD}/)"
    DATAVERSE_URL                             = var.dataverse_url
    DATAVERSE_TENANT_ID                       = var.dataverse_tenant_id
    DATAVERSE_CLIENT_ID                       = var.dataverse_client_id
    DATAVERSE_CLIENT_SECRET                   = "@Microsoft.KeyVault(SecretUri=${local.vault_secrets_uri}/${local.secret_names.DATAVERSE_CLIENT_SECRET}/)"
    DATAVERSE_CLIENT_CERT                     = var.dataverse_client_cert
    DATAVERSE_AUTHORITY_HOST                  = var.dataverse_authority_host
  }
}

# azapi rather than azurerm_function_app_flex_consumption: see versions.tf. The body is the same
# Microsoft.Web/sites resource as infra/bicep/main.bicep.
resource "azapi_resource" "function_app" {
  type      = "Microsoft.Web/sites@2024-04-01"
  name      = local.function_app_name
  parent_id = data.azurerm_resource_group.this.id
  location  = local.location
  tags      = local.tags

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.app.id]
  }

  body = {
    kind = "functionapp,linux"
    properties = {
      serverFarmId        = azurerm_service_plan.this.id
      httpsOnly           = true
      clientCertEnabled   = false
      publicNetworkAccess = "Enabled"
      # Key Vault references resolve with the user-assigned identity (the app has no other).
      keyVaultReferenceIdentity = azurerm_user_assigned_identity.app.id
      # Outbound: through the delegated subnet, whose NAT gateway owns the egress IP.
      virtualNetworkSubnetId = azurerm_subnet.functions.id
      siteConfig = {
        minTlsVersion    = "1.2"
        scmMinTlsVersion = "1.2"
        ftpsState        = "Disabled"
        http20Enabled    = true
        appSettings      = [for name, value in local.app_settings : { name = name, value = value }]
      }
      functionAppConfig = {
        deployment = {
          storage = {
            type  = "blobContainer"
            value = "${azurerm_storage_account.this.primary_blob_endpoint}${azurerm_storage_container.deployment.name}"
            authentication = {
              type                           = "UserAssignedIdentity"
              userAssignedIdentityResourceId = azurerm_user_assigned_identity.app.id
            }
          }
        }
        scaleAndConcurrency = {
          instanceMemoryMB     = var.instance_memory_mb
          maximumInstanceCount = var.maximum_instance_count
        }
        runtime = {
          name    = "python"
          version = "3.11"
        }
      }
    }
  }

  response_export_values = ["properties.defaultHostName"]

  depends_on = [
    # The host reads storage and the vault with the identity from its first start, and the NAT
    # gateway must own the subnet's egress before the app makes its first call.
    azurerm_role_assignment.storage_blob_data_owner,
    azurerm_role_assignment.storage_queue_data_contributor,
    azurerm_role_assignment.storage_table_data_contributor,
    azurerm_role_assignment.vault_secrets_user,
    azurerm_role_assignment.monitoring_metrics_publisher,
    azurerm_subnet_nat_gateway_association.functions,
    azurerm_subnet_network_security_group_association.functions,
    azurerm_nat_gateway_public_ip_association.egress,
  ]
}
