# Shuttle on Azure: a Flex Consumption (FC1) Python 3.11 function app, integrated into a delegated
# subnet whose NAT gateway gives every outbound call one static public IP, with identity-based
# storage (no keys), Key Vault references for the connection secrets, and Application Insights on
# a Log Analytics workspace. The same resources as infra/bicep; tests/infra keeps them in step.
#
# Deploy into an existing resource group: docs/deploy.md.

data "azurerm_client_config" "current" {}

data "azurerm_resource_group" "this" {
  name = var.resource_group_name
}

locals {
  location = coalesce(var.location, data.azurerm_resource_group.this.location)
  # Stable per subscription, resource group and environment (Bicep: uniqueString).
  token = substr(sha1("${data.azurerm_client_config.current.subscription_id}/${data.azurerm_resource_group.this.id}/${var.environment_name}"), 0, 13)
  base  = "${var.name_prefix}-${var.environment_name}"
  tags  = merge(var.tags, { "azd-env-name" = var.environment_name, application = "shuttle" })

  identity_name        = "id-${local.base}"
  log_analytics_name   = "log-${local.base}"
  app_insights_name    = "appi-${local.base}"
  storage_account_name = substr("st${var.name_prefix}${local.token}", 0, 24)
  key_vault_name       = substr("kv-${var.name_prefix}-${local.token}", 0, 24)
  public_ip_name       = "pip-${local.base}-egress"
  nat_gateway_name     = "ng-${local.base}"
  nsg_name             = "nsg-${local.base}-functions"
  vnet_name            = "vnet-${local.base}"
  # Flex Consumption rejects subnet names with an underscore.
  app_subnet_name           = "snet-functions"
  plan_name                 = "plan-${local.base}"
  function_app_name         = substr("func-${var.name_prefix}-${local.token}", 0, 32)
  deployment_container_name = "app-package"

  private_endpoint_subnet_name = "snet-private-endpoints"
  diagnostic_setting_name      = "to-log-analytics"
  # Storage services with diagnostic settings (resource type of each under the account).
  storage_services = {
    blob  = "blobServices"
    queue = "queueServices"
    table = "tableServices"
  }

  # One private endpoint per storage service the app uses and one for the vault, each resolved
  # through its privatelink zone linked to the virtual network.
  private_dns_zones = {
    blob  = "privatelink.blob.core.windows.net"
    queue = "privatelink.queue.core.windows.net"
    table = "privatelink.table.core.windows.net"
    vault = "privatelink.vaultcore.azure.net"
  }

  # Sign-in: on when an app registration is given.
  auth_enabled   = var.auth_client_id != ""
  auth_tenant_id = coalesce(var.auth_tenant_id, data.azurerm_client_config.current.tenant_id)
  auth_audiences = length(var.auth_allowed_audiences) > 0 ? var.auth_allowed_audiences : ["api://${var.auth_client_id}"]
  auth_issuer    = "https://login.microsoftonline.com/${local.auth_tenant_id}/v2.0"

  # Key Vault secret names (letters, digits and dashes) of the secret app settings. checkov's
  # secrets scan takes some of these names for high-entropy strings: each is skipped.
  secret_names = {
    # checkov:skip=CKV_SECRET_6: a Key Vault secret name, not a secret
    CREATIO_PASSWORD = "creatio-password"
    # checkov:skip=CKV_SECRET_6: a Key Vault secret name, not a secret
    CREATIO_CLIENT_SECRET = "creatio-client-secret"
    # checkov:skip=CKV_SECRET_6: a Key Vault secret name, not a secret
    INTACCT_SENDER_PASSWORD = "intacct-sender-password"
    # checkov:skip=CKV_SECRET_6: a Key Vault secret name, not a secret
    INTACCT_USER_PASSWORD = "intacct-user-password"
    # checkov:skip=CKV_SECRET_6: a Key Vault secret name, not a secret
    DATAVERSE_CLIENT_SECRET = "dataverse-client-secret"
    # checkov:skip=CKV_SECRET_6: a Key Vault secret name, not a secret
    DATAVERSE_CLIENT_CERT = "dataverse-client-cert"
    # checkov:skip=CKV_SECRET_6: a Key Vault secret name, not a secret
    SHUTTLE_SMTP_PASSWORD = "smtp-password"
  }
  # Value of a secret given none: the app (shared/settings.py) treats it as not set, so a
  # DATAVERSE_CLIENT_CERT nobody has set never shadows DATAVERSE_CLIENT_SECRET.
  # checkov:skip=CKV_SECRET_6: a placeholder value, not a secret
  secret_placeholder = "SET-IN-KEY-VAULT"
  # Initial values (sensitive); only written when the secret is first created.
  secret_values = {
    CREATIO_PASSWORD        = var.creatio_password
    CREATIO_CLIENT_SECRET   = var.creatio_client_secret
    INTACCT_SENDER_PASSWORD = var.intacct_sender_password
    INTACCT_USER_PASSWORD   = var.intacct_user_password
    DATAVERSE_CLIENT_SECRET = var.dataverse_client_secret
    DATAVERSE_CLIENT_CERT   = var.dataverse_client_cert
    SHUTTLE_SMTP_PASSWORD   = var.smtp_password
  }
}

# ---------------------------------------------------------------------------------------------
# Identity and monitoring
# ---------------------------------------------------------------------------------------------

resource "azurerm_user_assigned_identity" "app" {
  name                = local.identity_name
  location            = local.location
  resource_group_name = data.azurerm_resource_group.this.name
  tags                = local.tags
}

resource "azurerm_log_analytics_workspace" "this" {
  name                = local.log_analytics_name
  location            = local.location
  resource_group_name = data.azurerm_resource_group.this.name
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days
  tags                = local.tags
}

resource "azurerm_application_insights" "this" {
  name                = local.app_insights_name
  location            = local.location
  resource_group_name = data.azurerm_resource_group.this.name
  application_type    = "web"
  workspace_id        = azurerm_log_analytics_workspace.this.id
  # Telemetry is accepted only with an Entra token (the app identity, Monitoring Metrics Publisher).
  local_authentication_disabled = true
  tags                          = local.tags
}

# ---------------------------------------------------------------------------------------------
# Role assignments of the app identity (and of the operator on the vault)
# ---------------------------------------------------------------------------------------------

resource "azurerm_role_assignment" "storage_blob_data_owner" {
  scope                = azurerm_storage_account.this.id
  role_definition_name = "Storage Blob Data Owner"
  principal_id         = azurerm_user_assigned_identity.app.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "storage_queue_data_contributor" {
  scope                = azurerm_storage_account.this.id
  role_definition_name = "Storage Queue Data Contributor"
  principal_id         = azurerm_user_assigned_identity.app.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "storage_table_data_contributor" {
  scope                = azurerm_storage_account.this.id
  role_definition_name = "Storage Table Data Contributor"
  principal_id         = azurerm_user_assigned_identity.app.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "vault_secrets_user" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.app.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "monitoring_metrics_publisher" {
  scope                = azurerm_application_insights.this.id
  role_definition_name = "Monitoring Metrics Publisher"
  principal_id         = azurerm_user_assigned_identity.app.principal_id
  principal_type       = "ServicePrincipal"
}

# Terraform writes the secrets through the Key Vault data plane, so whoever runs it (or the
# operator named in operator_principal_id) needs Secrets Officer on this vault. Operators rotate
# secrets with the same role.
resource "azurerm_role_assignment" "operator_secrets_officer" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = coalesce(var.operator_principal_id, data.azurerm_client_config.current.object_id)
}
