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
    SHUTTLE_CHUNK_SIZE                        = tostring(var.chunk_size)
    INTACCT_TIMEZONE                          = var.intacct_timezone
    INTACCT_MAX_IN_FLIGHT                     = tostring(var.intacct_max_in_flight)
    CREATIO_TIMEOUT_SECONDS                   = tostring(var.creatio_timeout_seconds)
    INTACCT_TIMEOUT_SECONDS                   = tostring(var.intacct_timeout_seconds)
    DATAVERSE_TIMEOUT_SECONDS                 = tostring(var.dataverse_timeout_seconds)
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
    DATAVERSE_CLIENT_CERT                     = "@Microsoft.KeyVault(SecretUri=${local.vault_secrets_uri}/${local.secret_names.DATAVERSE_CLIENT_CERT}/)"
    DATAVERSE_AUTHORITY_HOST                  = var.dataverse_authority_host
    SHUTTLE_SMTP_HOST                         = var.smtp_host
    SHUTTLE_SMTP_PORT                         = tostring(var.smtp_port)
    SHUTTLE_SMTP_SECURITY                     = var.smtp_security
    SHUTTLE_SMTP_USERNAME                     = var.smtp_username
    SHUTTLE_SMTP_PASSWORD                     = "@Microsoft.KeyVault(SecretUri=${local.vault_secrets_uri}/${local.secret_names.SHUTTLE_SMTP_PASSWORD}/)"
    SHUTTLE_MAIL_FROM                         = var.mail_from
    SHUTTLE_NOTIFY_MODE                       = var.notify_mode
    SHUTTLE_ADMIN_EMAIL                       = var.admin_email
    SHUTTLE_CONNECTION_MONITOR_SCHEDULE       = var.connection_monitor_schedule
    # The app trusts X-MS-CLIENT-PRINCIPAL only when App Service Authentication is in front.
    SHUTTLE_AUTH_MODE = local.auth_enabled ? "appservice" : "keys"
    SHUTTLE_KEY_NAMES = var.key_names
    # App Service Authentication proves the app registration with this identity (a federated
    # credential) instead of a client secret: docs/deploy.md, "Operator sign-in".
    OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID = azurerm_user_assigned_identity.app.client_id
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
      # Outbound: through the delegated subnet, whose NAT gateway owns the egress IP. All of it,
      # so Key Vault references and storage reach their private endpoints (private_networking).
      virtualNetworkSubnetId = azurerm_subnet.functions.id
      vnetRouteAllEnabled    = true
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
    # private_networking: the names resolve privately before the host first reads them.
    azurerm_private_endpoint.blob,
    azurerm_private_endpoint.queue,
    azurerm_private_endpoint.table,
    azurerm_private_endpoint.vault,
    azurerm_private_dns_zone_virtual_network_link.this,
  ]
}

# No basic-auth (user name + password) publishing over SCM or FTP: deployments go with Entra
# tokens (azd, func azure functionapp publish).
resource "azapi_resource" "scm_basic_auth" {
  type      = "Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01"
  name      = "scm"
  parent_id = azapi_resource.function_app.id

  body = {
    properties = {
      allow = false
    }
  }
}

resource "azapi_resource" "ftp_basic_auth" {
  type      = "Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01"
  name      = "ftp"
  parent_id = azapi_resource.function_app.id

  body = {
    properties = {
      allow = false
    }
  }
}

# App Service Authentication with Microsoft Entra ID, on when auth_client_id is given. Always
# declared, so clearing auth_client_id turns it off on the next apply. AllowAnonymous rather than
# Return401: the platform then validates a signed-in session or bearer token and passes the caller
# in X-MS-CLIENT-PRINCIPAL, while a request with neither still reaches the Functions host, which
# answers 401 to any route without a valid function key. So operators sign in, machine clients
# keep their function keys, and nothing unauthenticated gets through. Return401 would refuse
# key-only clients before the host sees their key, and excludedPaths cannot carve the API out of
# /api while keeping the console (also under /api) behind sign-in (docs/deploy.md).
resource "azapi_resource" "auth_settings" {
  type      = "Microsoft.Web/sites/config@2024-04-01"
  name      = "authsettingsV2"
  parent_id = azapi_resource.function_app.id

  body = {
    properties = {
      platform = {
        enabled = local.auth_enabled
      }
      globalValidation = {
        requireAuthentication       = false
        unauthenticatedClientAction = "AllowAnonymous"
        redirectToProvider          = "azureactivedirectory"
      }
      httpSettings = {
        requireHttps = true
      }
      identityProviders = {
        azureActiveDirectory = {
          enabled = local.auth_enabled
          registration = {
            openIdIssuer            = local.auth_issuer
            clientId                = var.auth_client_id
            clientSecretSettingName = "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID"
          }
          validation = {
            allowedAudiences = local.auth_audiences
          }
        }
      }
      login = {
        tokenStore = {
          enabled = false
        }
      }
    }
  }
}
