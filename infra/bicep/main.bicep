// Shuttle on Azure: a Flex Consumption (FC1) Python 3.11 function app, integrated into a delegated
// subnet whose NAT gateway gives every outbound call one static public IP, with identity-based
// storage (no keys), Key Vault references for the connection secrets, and Application Insights on
// a Log Analytics workspace. The same resources as infra/terraform; tests/infra keeps them in step.
//
// Deploy into an existing resource group (az deployment group create, or azd up): docs/deploy.md.
targetScope = 'resourceGroup'

// ---------------------------------------------------------------------------------------------
// Names, region, sizes
// ---------------------------------------------------------------------------------------------

@description('Environment name (dev, prod, ...; lowercase letters, digits, dashes): part of every resource name; azd passes AZURE_ENV_NAME.')
@minLength(1)
@maxLength(16)
param environmentName string

@description('Short prefix of every resource name: lowercase letters and digits.')
@minLength(2)
@maxLength(8)
param namePrefix string = 'shuttle'

@description('Region of every resource; must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
param location string = resourceGroup().location

@description('Tags added to every resource.')
param tags object = {}

@description('Storage (blob, queue, table) and Key Vault reachable only through private endpoints in the virtual network, public network access denied. On unless a non-production environment turns it off (docs/deploy.md).')
param privateNetworking bool = true

@description('Address space of the virtual network.')
param vnetAddressPrefix string = '10.40.0.0/16'

@description('Address range of the function app integration subnet (Flex Consumption: /27 or larger; /24 recommended).')
param appSubnetPrefix string = '10.40.0.0/24'

@description('Address range of the subnet holding the private endpoints of storage and Key Vault (used when privateNetworking is on).')
param privateEndpointSubnetPrefix string = '10.40.1.0/24'

@description('Memory of each Flex Consumption instance, in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Most instances the app scales out to. Lower it to protect rate-limited APIs.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Spread the plan over availability zones (only in regions where Flex Consumption supports zones; needs ZRS storage).')
param zoneRedundant bool = false

@description('Replication of the storage account holding flow state, bindings, queues and the deployment package (GRS keeps a copy in the paired region; with zoneRedundant use Standard_GZRS or Standard_ZRS).')
@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS', 'Standard_RAGRS', 'Standard_RAGZRS'])
param storageSku string = 'Standard_GRS'

@description('Days Log Analytics keeps the logs and traces.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 90

@description('Minutes an idle outbound flow stays open on the NAT gateway.')
@minValue(4)
@maxValue(120)
param natIdleTimeoutMinutes int = 10

@description('Object id of the operator (user, group or deployment principal) who may set and rotate the secrets; empty for none. azd passes AZURE_PRINCIPAL_ID.')
param operatorPrincipalId string = ''

@description('Type of operatorPrincipalId.')
@allowed(['User', 'Group', 'ServicePrincipal'])
param operatorPrincipalType string = 'User'

// ---------------------------------------------------------------------------------------------
// App settings (local.settings.example.json lists them all; README documents them)
// ---------------------------------------------------------------------------------------------

@description('SHUTTLE_SOLUTIONS: comma list of enabled solutions.')
param solutions string = 'creatio-intacct,creatio-dynamics'

@description('SHUTTLE_SCHEDULER_SCHEDULE: NCRONTAB (six fields, seconds first) of the scheduler tick.')
param schedulerSchedule string = '*/15 * * * * *'

@description('SHUTTLE_TABLE_PREFIX: prefix of Shuttle\'s table and queue names (lowercase letters and digits).')
param tablePrefix string = 'shuttle'

@description('SHUTTLE_RUN_LEASE_SECONDS: how long a run may go silent before it is recovered.')
@minValue(30)
param runLeaseSeconds int = 600

@description('SHUTTLE_READ_OVERLAP_SECONDS: each incremental read starts this long before query starts.')
@minValue(0)
@maxValue(86400)
param readOverlapSeconds int = 120

@description('SHUTTLE_PAGE_SIZE: records read per flow-runs message.')
@minValue(1)
@maxValue(5000)
param pageSize int = 500

@description('SHUTTLE_CHUNK_SIZE: records per record-upserts message, matched and written together.')
@minValue(1)
@maxValue(500)
param chunkSize int = 100

@description('INTACCT_TIMEZONE: the Intacct company time zone, in which WHENMODIFIED is reported.')
param intacctTimezone string = 'America/Los_Angeles'

@description('INTACCT_MAX_IN_FLIGHT: Intacct requests in flight for the company, all workers together (the Intacct default limit is 2).')
@minValue(1)
@maxValue(50)
param intacctMaxInFlight int = 2

@description('CREATIO_TIMEOUT_SECONDS: how long one Creatio request may take before it is given up and retried.')
@minValue(1)
@maxValue(900)
param creatioTimeoutSeconds int = 30

@description('INTACCT_TIMEOUT_SECONDS: how long one Intacct request may take; a hung call holds one of the company\'s few slots until then.')
@minValue(1)
@maxValue(900)
param intacctTimeoutSeconds int = 30

@description('DATAVERSE_TIMEOUT_SECONDS: how long one Dataverse request may take ($batch requests carry up to 100 records).')
@minValue(1)
@maxValue(900)
param dataverseTimeoutSeconds int = 60

@description('DATAVERSE_MAX_CONCURRENCY: Dataverse concurrent requests per worker (service protection allows 52).')
@minValue(1)
@maxValue(52)
param dataverseMaxConcurrency int = 52

@description('CREATIO_URL: the Creatio site, e.g. https://example.creatio.com.')
param creatioUrl string = ''

@description('CREATIO_AUTH: forms (AuthService login) or oauth (client credentials).')
@allowed(['forms', 'oauth'])
param creatioAuth string = 'forms'

@description('CREATIO_USERNAME: forms login user.')
param creatioUsername string = ''

@description('CREATIO_IDENTITY_URL: Creatio identity service (oauth).')
param creatioIdentityUrl string = ''

@description('CREATIO_CLIENT_ID: Creatio OAuth client id.')
param creatioClientId string = ''

@description('INTACCT_ENDPOINT: the Sage Intacct XML gateway.')
param intacctEndpoint string = 'https://api.intacct.com/ia/xml/xmlgw.phtml'

@description('INTACCT_SENDER_ID: Web Services sender id.')
param intacctSenderId string = ''

@description('INTACCT_COMPANY_ID: Intacct company id.')
param intacctCompanyId string = ''

@description('INTACCT_ENTITY_ID: Intacct entity id (optional).')
param intacctEntityId string = ''

@description('INTACCT_USER_ID: Intacct Web Services user.')
param intacctUserId string = ''

@description('DATAVERSE_URL: the Dataverse environment, e.g. https://org.crm.dynamics.com.')
param dataverseUrl string = ''

@description('DATAVERSE_TENANT_ID: Entra tenant of the Dataverse app registration.')
param dataverseTenantId string = ''

@description('DATAVERSE_CLIENT_ID: client id of the Dataverse app registration.')
param dataverseClientId string = ''

@description('DATAVERSE_AUTHORITY_HOST: Entra authority host.')
param dataverseAuthorityHost string = 'https://login.microsoftonline.com'

// Secrets: written to Key Vault only when a value is given, so a later deployment without them
// never overwrites what operators rotated in the vault. The app reads them by Key Vault reference.

@secure()
@description('CREATIO_PASSWORD: written to Key Vault when non-empty.')
param creatioPassword string = ''

@secure()
@description('CREATIO_CLIENT_SECRET: written to Key Vault when non-empty.')
param creatioClientSecret string = ''

@secure()
@description('INTACCT_SENDER_PASSWORD: written to Key Vault when non-empty.')
param intacctSenderPassword string = ''

@secure()
@description('INTACCT_USER_PASSWORD: written to Key Vault when non-empty.')
param intacctUserPassword string = ''

@secure()
@description('DATAVERSE_CLIENT_SECRET: written to Key Vault when non-empty.')
param dataverseClientSecret string = ''

@secure()
@description('DATAVERSE_CLIENT_CERT: the PEM (unencrypted private key + certificate), written to Key Vault when non-empty; without it the app uses DATAVERSE_CLIENT_SECRET (docs/deploy.md).')
param dataverseClientCert string = ''

@secure()
@description('SHUTTLE_SMTP_PASSWORD: written to Key Vault when non-empty.')
param smtpPassword string = ''

// ---------------------------------------------------------------------------------------------
// Notifications (docs/operations.md): the SMTP relay alerts go through and their defaults
// ---------------------------------------------------------------------------------------------

@description('SHUTTLE_SMTP_HOST: SMTP relay of alert e-mails; empty = no e-mail (webhooks still work).')
param smtpHost string = ''

@description('SHUTTLE_SMTP_PORT: SMTP port (587 with starttls, 465 with tls).')
@minValue(1)
@maxValue(65535)
param smtpPort int = 587

@description('SHUTTLE_SMTP_SECURITY: starttls, tls (implicit TLS) or none (never across the internet).')
@allowed(['starttls', 'tls', 'none'])
param smtpSecurity string = 'starttls'

@description('SHUTTLE_SMTP_USERNAME: SMTP login, if the relay needs one.')
param smtpUsername string = ''

@description('SHUTTLE_MAIL_FROM: sender address of alerts.')
param mailFrom string = ''

@description('SHUTTLE_NOTIFY_MODE: notification mode until an operator changes it through /api/settings/notifications.')
@allowed([
  'none'
  'connection_failures'
  'every_error'
  'connection_failures_and_full_daily'
  'connection_failures_and_error_daily'
  'error_daily'
  'full_daily'
])
param notifyMode string = 'connection_failures'

@description('SHUTTLE_ADMIN_EMAIL: default admin address of alerts.')
param adminEmail string = ''

@description('SHUTTLE_CONNECTION_MONITOR_SCHEDULE: NCRONTAB (six fields, seconds first) of the connection monitor.')
param connectionMonitorSchedule string = '0 */5 * * * *'

// ---------------------------------------------------------------------------------------------
// Sign-in: App Service Authentication with Microsoft Entra ID (docs/deploy.md, "Operator sign-in")
// ---------------------------------------------------------------------------------------------

@description('Names of function keys for the audit trail: name=fingerprint pairs, comma-separated; a fingerprint is the first 12 hex digits of the key\'s SHA-256 (the app never sees a key\'s name: README, Access and audit).')
param keyNames string = ''

@description('Client id of the Entra app registration operators sign in to (app roles Shuttle.Viewer, Shuttle.Operator, Shuttle.Admin); empty = no App Service Authentication, function keys only.')
param authClientId string = ''

@description('Entra tenant of that app registration; the token issuer is <login endpoint>/<tenant>/v2.0.')
param authTenantId string = subscription().tenantId

@description('Audiences a bearer token may carry; empty = api://<authClientId>.')
param authAllowedAudiences array = []

// ---------------------------------------------------------------------------------------------
// Names and constants
// ---------------------------------------------------------------------------------------------

var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var base = '${namePrefix}-${environmentName}'
var allTags = union(tags, { 'azd-env-name': environmentName, application: 'shuttle' })

var identityName = 'id-${base}'
var logAnalyticsName = 'log-${base}'
var appInsightsName = 'appi-${base}'
var storageAccountName = take('st${toLower(namePrefix)}${token}', 24)
var keyVaultName = take('kv-${toLower(namePrefix)}-${token}', 24)
var publicIpName = 'pip-${base}-egress'
var natGatewayName = 'ng-${base}'
var vnetName = 'vnet-${base}'
// Flex Consumption rejects subnet names with an underscore.
var appSubnetName = 'snet-functions'
var privateEndpointSubnetName = 'snet-private-endpoints'
var planName = 'plan-${base}'
var functionAppName = take('func-${toLower(namePrefix)}-${token}', 32)
var deploymentContainerName = 'app-package'
var diagnosticSettingName = 'to-log-analytics'

// Built-in role definition ids.
var roleStorageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var roleStorageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var roleStorageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var roleKeyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var roleKeyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
var roleMonitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

// Key Vault secret names (letters, digits and dashes) of the secret app settings. checkov's
// secrets scan takes some of these names for high-entropy strings: each is skipped.
// checkov:skip=CKV_SECRET_6: a Key Vault secret name, not a secret
var secretCreatioPassword = 'creatio-password'
// checkov:skip=CKV_SECRET_6: a Key Vault secret name, not a secret
var secretCreatioClientSecret = 'creatio-client-secret'
// checkov:skip=CKV_SECRET_6: a Key Vault secret name, not a secret
var secretIntacctSenderPassword = 'intacct-sender-password'
// checkov:skip=CKV_SECRET_6: a Key Vault secret name, not a secret
var secretIntacctUserPassword = 'intacct-user-password'
// checkov:skip=CKV_SECRET_6: a Key Vault secret name, not a secret
var secretDataverseClientSecret = 'dataverse-client-secret'
// checkov:skip=CKV_SECRET_6: a Key Vault secret name, not a secret
var secretDataverseClientCert = 'dataverse-client-cert'
// checkov:skip=CKV_SECRET_6: a Key Vault secret name, not a secret
var secretSmtpPassword = 'smtp-password'

// Private endpoints (privateNetworking): one per storage service the app uses and one for the
// vault, each resolved through its privatelink zone linked to the virtual network.
var zoneBlob = 'privatelink.blob.core.windows.net'
var zoneQueue = 'privatelink.queue.core.windows.net'
var zoneTable = 'privatelink.table.core.windows.net'
var zoneVault = 'privatelink.vaultcore.azure.net'

// Sign-in: on when an app registration is given.
var authEnabled = !empty(authClientId)
var authAudiences = empty(authAllowedAudiences) ? ['api://${authClientId}'] : authAllowedAudiences
var authIssuer = '${environment().authentication.loginEndpoint}${authTenantId}/v2.0'

// privateNetworking: storage and the vault refuse the public network.
var publicNetworkAccess = privateNetworking ? 'Disabled' : 'Enabled'
var networkDefaultAction = privateNetworking ? 'Deny' : 'Allow'

// ---------------------------------------------------------------------------------------------
// Identity and monitoring
// ---------------------------------------------------------------------------------------------

resource appIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
  tags: allTags
}

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: allTags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: allTags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    // Telemetry is accepted only with an Entra token (the app identity, Monitoring Metrics Publisher).
    DisableLocalAuth: true
  }
}

// ---------------------------------------------------------------------------------------------
// Storage: host storage, Shuttle's tables and queues, the deployment package. No shared keys.
// ---------------------------------------------------------------------------------------------

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: the default action follows privateNetworking (Deny by default for production), an expression checkov 3.3.30 does not evaluate; tests/infra asserts it.
  // checkov:skip=CKV_AZURE_43: the name is computed (st + prefix + uniqueString, cut to 24): lowercase letters and digits by construction, which checkov cannot evaluate.
  name: storageAccountName
  location: location
  tags: allTags
  kind: 'StorageV2'
  sku: {
    name: storageSku
  }
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    isLocalUserEnabled: false
    isSftpEnabled: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // privateNetworking: only the blob, queue and table private endpoints; the app reads its
    // package over its VNet integration, as the Flex quickstarts' VNET_ENABLED do (deploy.md).
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: networkDefaultAction
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: { enabled: true }
        file: { enabled: true }
        queue: { enabled: true, keyType: 'Account' }
        table: { enabled: true, keyType: 'Account' }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

// Declared so their diagnostic settings have a scope (the services exist with the account).
resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// ---------------------------------------------------------------------------------------------
// Key Vault: the connection secrets. RBAC only; the app identity may read secrets, nothing more.
// ---------------------------------------------------------------------------------------------

// privateNetworking: Flex Consumption resolves Key Vault references against a network-restricted
// vault through the app's VNet integration (generally available since October 2025:
// Azure update 512379; earlier Flex releases could not), with all outbound traffic routed into
// the VNet (vnetRouteAllEnabled on the site: app-service-key-vault-references asks it of Linux
// apps that use private endpoints). The secrets below are written through Resource Manager,
// which the vault's network rules do not restrict.
resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: the default action follows privateNetworking (Deny by default for production), an expression checkov 3.3.30 does not evaluate; tests/infra asserts it.
  // checkov:skip=CKV_AZURE_189: public access follows privateNetworking (Disabled by default for production), an expression checkov 3.3.30 does not evaluate; tests/infra asserts it.
  name: keyVaultName
  location: location
  tags: allTags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    // privateNetworking: reachable only through its private endpoint (see the comment above).
    // Interpolated only so checkov 3.3.30 reads a string here; it crashes on an expression.
    publicNetworkAccess: '${publicNetworkAccess}'
    networkAcls: {
      defaultAction: networkDefaultAction
      bypass: 'AzureServices'
    }
  }
}

resource secretCreatioPasswordRes 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(creatioPassword)) {
  // checkov:skip=CKV_AZURE_41: no expiry date: an expired secret makes its Key Vault reference fail and stops every sync; operators rotate instead (docs/deploy.md).
  // checkov:skip=CKV_AZURE_114: contentType is set; checkov 3.3.30 does not look inside a conditional (if) resource body (tests/infra asserts it).
  parent: vault
  name: secretCreatioPassword
  properties: {
    value: creatioPassword
    contentType: 'text/plain'
  }
}

resource secretCreatioClientSecretRes 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(creatioClientSecret)) {
  // checkov:skip=CKV_AZURE_41: no expiry date: an expired secret makes its Key Vault reference fail and stops every sync; operators rotate instead (docs/deploy.md).
  // checkov:skip=CKV_AZURE_114: contentType is set; checkov 3.3.30 does not look inside a conditional (if) resource body (tests/infra asserts it).
  parent: vault
  name: secretCreatioClientSecret
  properties: {
    value: creatioClientSecret
    contentType: 'text/plain'
  }
}

resource secretIntacctSenderPasswordRes 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(intacctSenderPassword)) {
  // checkov:skip=CKV_AZURE_41: no expiry date: an expired secret makes its Key Vault reference fail and stops every sync; operators rotate instead (docs/deploy.md).
  // checkov:skip=CKV_AZURE_114: contentType is set; checkov 3.3.30 does not look inside a conditional (if) resource body (tests/infra asserts it).
  parent: vault
  name: secretIntacctSenderPassword
  properties: {
    value: intacctSenderPassword
    contentType: 'text/plain'
  }
}

resource secretIntacctUserPasswordRes 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(intacctUserPassword)) {
  // checkov:skip=CKV_AZURE_41: no expiry date: an expired secret makes its Key Vault reference fail and stops every sync; operators rotate instead (docs/deploy.md).
  // checkov:skip=CKV_AZURE_114: contentType is set; checkov 3.3.30 does not look inside a conditional (if) resource body (tests/infra asserts it).
  parent: vault
  name: secretIntacctUserPassword
  properties: {
    value: intacctUserPassword
    contentType: 'text/plain'
  }
}

resource secretDataverseClientSecretRes 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(dataverseClientSecret)) {
  // checkov:skip=CKV_AZURE_41: no expiry date: an expired secret makes its Key Vault reference fail and stops every sync; operators rotate instead (docs/deploy.md).
  // checkov:skip=CKV_AZURE_114: contentType is set; checkov 3.3.30 does not look inside a conditional (if) resource body (tests/infra asserts it).
  parent: vault
  name: secretDataverseClientSecret
  properties: {
    value: dataverseClientSecret
    contentType: 'text/plain'
  }
}

resource secretDataverseClientCertRes 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(dataverseClientCert)) {
  // checkov:skip=CKV_AZURE_41: no expiry date: an expired secret makes its Key Vault reference fail and stops every sync; operators rotate instead (docs/deploy.md).
  // checkov:skip=CKV_AZURE_114: contentType is set; checkov 3.3.30 does not look inside a conditional (if) resource body (tests/infra asserts it).
  parent: vault
  name: secretDataverseClientCert
  properties: {
    value: dataverseClientCert
    contentType: 'text/plain'
  }
}

resource secretSmtpPasswordRes 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(smtpPassword)) {
  // checkov:skip=CKV_AZURE_41: no expiry date: an expired secret makes its Key Vault reference fail and stops every sync; operators rotate instead (docs/deploy.md).
  // checkov:skip=CKV_AZURE_114: contentType is set; checkov 3.3.30 does not look inside a conditional (if) resource body (tests/infra asserts it).
  parent: vault
  name: secretSmtpPassword
  properties: {
    value: smtpPassword
    contentType: 'text/plain'
  }
}

// ---------------------------------------------------------------------------------------------
// Network: one static egress IP. NAT gateway on the delegated subnet the app integrates with.
// ---------------------------------------------------------------------------------------------

resource egressIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: publicIpName
  location: location
  tags: allTags
  sku: {
    name: 'Standard'
    tier: 'Regional'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource natGateway 'Microsoft.Network/natGateways@2024-05-01' = {
  name: natGatewayName
  location: location
  tags: allTags
  sku: {
    name: 'Standard'
  }
  properties: {
    idleTimeoutInMinutes: natIdleTimeoutMinutes
    publicIpAddresses: [
      {
        id: egressIp.id
      }
    ]
  }
}

resource nsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-${base}-functions'
  location: location
  tags: allTags
  properties: {
    // Nothing listens in this subnet (VNet integration is outbound only): no inbound rules beyond
    // the platform defaults; outbound to the internet goes through the NAT gateway.
    securityRules: []
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: vnetName
  location: location
  tags: allTags
  properties: {
    addressSpace: {
      addressPrefixes: [
        vnetAddressPrefix
      ]
    }
    // The subnet is declared inline so that redeploying the virtual network never removes it.
    subnets: [
      {
        name: appSubnetName
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
          natGateway: {
            id: natGateway.id
          }
          networkSecurityGroup: {
            id: nsg.id
          }
        }
      }
      {
        // Holds the private endpoints of storage and Key Vault (privateNetworking); Flex
        // Consumption's subnet cannot hold them. Always declared, so turning privateNetworking
        // on or off never reshapes the network.
        name: privateEndpointSubnetName
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Enabled'
          networkSecurityGroup: {
            id: nsg.id
          }
        }
      }
    ]
  }
}

resource appSubnet 'Microsoft.Network/virtualNetworks/subnets@2024-05-01' existing = {
  parent: vnet
  name: appSubnetName
}

resource privateEndpointSubnet 'Microsoft.Network/virtualNetworks/subnets@2024-05-01' existing = {
  parent: vnet
  name: privateEndpointSubnetName
}

// ---------------------------------------------------------------------------------------------
// Private networking (privateNetworking): a private endpoint per storage service and for the
// vault, each with its privatelink DNS zone linked to the virtual network, so the app's calls to
// <account>.blob.core.windows.net and <vault>.vault.azure.net resolve to private addresses.
// ---------------------------------------------------------------------------------------------

resource privateZoneBlob 'Microsoft.Network/privateDnsZones@2024-06-01' = if (privateNetworking) {
  name: zoneBlob
  location: 'global'
  tags: allTags
}

resource privateZoneLinkBlob 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = if (privateNetworking) {
  parent: privateZoneBlob
  name: vnetName
  location: 'global'
  tags: allTags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

resource privateEndpointBlob 'Microsoft.Network/privateEndpoints@2024-05-01' = if (privateNetworking) {
  name: 'pe-${base}-blob'
  location: location
  tags: allTags
  properties: {
    subnet: {
      id: privateEndpointSubnet.id
    }
    privateLinkServiceConnections: [
      {
        name: 'blob'
        properties: {
          privateLinkServiceId: storage.id
          groupIds: [
            'blob'
          ]
        }
      }
    ]
  }
}

resource privateDnsGroupBlob 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = if (privateNetworking) {
  parent: privateEndpointBlob
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'blob'
        properties: {
          privateDnsZoneId: privateZoneBlob.id
        }
      }
    ]
  }
}

resource privateZoneQueue 'Microsoft.Network/privateDnsZones@2024-06-01' = if (privateNetworking) {
  name: zoneQueue
  location: 'global'
  tags: allTags
}

resource privateZoneLinkQueue 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = if (privateNetworking) {
  parent: privateZoneQueue
  name: vnetName
  location: 'global'
  tags: allTags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

resource privateEndpointQueue 'Microsoft.Network/privateEndpoints@2024-05-01' = if (privateNetworking) {
  name: 'pe-${base}-queue'
  location: location
  tags: allTags
  properties: {
    subnet: {
      id: privateEndpointSubnet.id
    }
    privateLinkServiceConnections: [
      {
        name: 'queue'
        properties: {
          privateLinkServiceId: storage.id
          groupIds: [
            'queue'
          ]
        }
      }
    ]
  }
}

resource privateDnsGroupQueue 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = if (privateNetworking) {
  parent: privateEndpointQueue
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'queue'
        properties: {
          privateDnsZoneId: privateZoneQueue.id
        }
      }
    ]
  }
}

resource privateZoneTable 'Microsoft.Network/privateDnsZones@2024-06-01' = if (privateNetworking) {
  name: zoneTable
  location: 'global'
  tags: allTags
}

resource privateZoneLinkTable 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = if (privateNetworking) {
  parent: privateZoneTable
  name: vnetName
  location: 'global'
  tags: allTags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

resource privateEndpointTable 'Microsoft.Network/privateEndpoints@2024-05-01' = if (privateNetworking) {
  name: 'pe-${base}-table'
  location: location
  tags: allTags
  properties: {
    subnet: {
      id: privateEndpointSubnet.id
    }
    privateLinkServiceConnections: [
      {
        name: 'table'
        properties: {
          privateLinkServiceId: storage.id
          groupIds: [
            'table'
          ]
        }
      }
    ]
  }
}

resource privateDnsGroupTable 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = if (privateNetworking) {
  parent: privateEndpointTable
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'table'
        properties: {
          privateDnsZoneId: privateZoneTable.id
        }
      }
    ]
  }
}

resource privateZoneVault 'Microsoft.Network/privateDnsZones@2024-06-01' = if (privateNetworking) {
  name: zoneVault
  location: 'global'
  tags: allTags
}

resource privateZoneLinkVault 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = if (privateNetworking) {
  parent: privateZoneVault
  name: vnetName
  location: 'global'
  tags: allTags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

resource privateEndpointVault 'Microsoft.Network/privateEndpoints@2024-05-01' = if (privateNetworking) {
  name: 'pe-${base}-vault'
  location: location
  tags: allTags
  properties: {
    subnet: {
      id: privateEndpointSubnet.id
    }
    privateLinkServiceConnections: [
      {
        name: 'vault'
        properties: {
          privateLinkServiceId: vault.id
          groupIds: [
            'vault'
          ]
        }
      }
    ]
  }
}

resource privateDnsGroupVault 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = if (privateNetworking) {
  parent: privateEndpointVault
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'vault'
        properties: {
          privateDnsZoneId: privateZoneVault.id
        }
      }
    ]
  }
}

// ---------------------------------------------------------------------------------------------
// Role assignments of the app identity (and of the operator on the vault)
// ---------------------------------------------------------------------------------------------

resource storageBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appIdentity.id, roleStorageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageBlobDataOwner)
    principalId: appIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource storageQueueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appIdentity.id, roleStorageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageQueueDataContributor)
    principalId: appIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource storageTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appIdentity.id, roleStorageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageTableDataContributor)
    principalId: appIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource vaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appIdentity.id, roleKeyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleKeyVaultSecretsUser)
    principalId: appIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource monitoringMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appIdentity.id, roleMonitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleMonitoringMetricsPublisher)
    principalId: appIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource operatorSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(vault.id, operatorPrincipalId, roleKeyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleKeyVaultSecretsOfficer)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

// ---------------------------------------------------------------------------------------------
// Diagnostic settings: who read a secret (Key Vault AuditEvent) and every storage request, in the
// Log Analytics workspace. The function app's own logs (FunctionAppLogs, traces, requests) reach
// the same workspace through Application Insights, which is workspace-based: Flex Consumption
// does not support diagnostic settings on the app (flex-consumption-plan, Considerations).
// ---------------------------------------------------------------------------------------------

resource storageDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: diagnosticSettingName
  scope: storage
  properties: {
    workspaceId: logAnalytics.id
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: diagnosticSettingName
  scope: blobService
  properties: {
    workspaceId: logAnalytics.id
    logs: [
      {
        category: 'StorageRead'
        enabled: true
      }
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: diagnosticSettingName
  scope: queueService
  properties: {
    workspaceId: logAnalytics.id
    logs: [
      {
        category: 'StorageRead'
        enabled: true
      }
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource tableDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: diagnosticSettingName
  scope: tableService
  properties: {
    workspaceId: logAnalytics.id
    logs: [
      {
        category: 'StorageRead'
        enabled: true
      }
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: diagnosticSettingName
  scope: vault
  properties: {
    workspaceId: logAnalytics.id
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

// ---------------------------------------------------------------------------------------------
// The function app
// ---------------------------------------------------------------------------------------------

// Key Vault references name no version, so they follow the latest one (rotation).
var vaultSecretsUri = '${vault.properties.vaultUri}secrets'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy is the zoneRedundant parameter: Flex Consumption offers it only in some regions, with zone-redundant storage.
  name: planName
  location: location
  tags: allTags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

// App settings: every setting of local.settings.example.json except FUNCTIONS_WORKER_RUNTIME
// (Flex takes the runtime from functionAppConfig.runtime), AzureWebJobsStorage (replaced by the
// identity-based AzureWebJobsStorage__* settings: a connection string would need a key, and an
// empty value shadows them) and SHUTTLE_LOCAL_KEY (local host only; Azure uses function keys).
resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: the control API is called from operators' tools over the internet, each route behind a function key (x-functions-key).
  // checkov:skip=CKV_AZURE_17: callers authenticate with function keys, not client certificates.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales out per event from zero; work waits durably in queues and timers, so no instance is kept warm for failover.
  // checkov:skip=CKV_AZURE_213: every /api route needs a function key, so a platform health probe has no route to call; /api/status serves the operators.
  name: functionAppName
  location: location
  tags: union(allTags, { 'azd-service-name': 'shuttle' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${appIdentity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    // Key Vault references resolve with the user-assigned identity (the app has no other).
    keyVaultReferenceIdentity: appIdentity.id
    // Outbound: through the delegated subnet, whose NAT gateway owns the egress IP. All of it,
    // so Key Vault references and storage reach their private endpoints (privateNetworking).
    virtualNetworkSubnetId: appSubnet.id
    vnetRouteAllEnabled: true
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // Written out, not looped: a for-expression cannot iterate over runtime values.
      appSettings: [
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storage.name
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: appIdentity.properties.clientId
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${appIdentity.properties.clientId};Authorization=AAD'
        }
        {
          name: 'SHUTTLE_SOLUTIONS'
          value: solutions
        }
        {
          name: 'SHUTTLE_SCHEDULER_SCHEDULE'
          value: schedulerSchedule
        }
        {
          name: 'SHUTTLE_TABLE_PREFIX'
          value: tablePrefix
        }
        {
          name: 'SHUTTLE_RUN_LEASE_SECONDS'
          value: string(runLeaseSeconds)
        }
        {
          name: 'SHUTTLE_READ_OVERLAP_SECONDS'
          value: string(readOverlapSeconds)
        }
        {
          name: 'SHUTTLE_PAGE_SIZE'
          value: string(pageSize)
        }
        {
          name: 'SHUTTLE_CHUNK_SIZE'
          value: string(chunkSize)
        }
        {
          name: 'INTACCT_TIMEZONE'
          value: intacctTimezone
        }
        {
          name: 'INTACCT_MAX_IN_FLIGHT'
          value: string(intacctMaxInFlight)
        }
        {
          name: 'CREATIO_TIMEOUT_SECONDS'
          value: string(creatioTimeoutSeconds)
        }
        {
          name: 'INTACCT_TIMEOUT_SECONDS'
          value: string(intacctTimeoutSeconds)
        }
        {
          name: 'DATAVERSE_TIMEOUT_SECONDS'
          value: string(dataverseTimeoutSeconds)
        }
        {
          name: 'DATAVERSE_MAX_CONCURRENCY'
          value: string(dataverseMaxConcurrency)
        }
        {
          name: 'SHUTTLE_EGRESS_IP'
          value: egressIp.properties.ipAddress
        }
        {
          name: 'CREATIO_URL'
          value: creatioUrl
        }
        {
          name: 'CREATIO_AUTH'
          value: creatioAuth
        }
        {
          name: 'CREATIO_USERNAME'
          value: creatioUsername
        }
        {
          name: 'CREATIO_PASSWORD'
          value: '@Microsoft.KeyVault(SecretUri=${vaultSecretsUri}/${secretCreatioPassword}/)'
        }
        {
          name: 'CREATIO_IDENTITY_URL'
          value: creatioIdentityUrl
        }
        {
          name: 'CREATIO_CLIENT_ID'
          value: creatioClientId
        }
        {
          name: 'CREATIO_CLIENT_SECRET'
          value: '@Microsoft.KeyVault(SecretUri=${vaultSecretsUri}/${secretCreatioClientSecret}/)'
        }
        {
          name: 'INTACCT_ENDPOINT'
          value: intacctEndpoint
        }
        {
          name: 'INTACCT_SENDER_ID'
          value: intacctSenderId
        }
        {
          name: 'INTACCT_SENDER_PASSWORD'
          value: '@Microsoft.KeyVault(SecretUri=${vaultSecretsUri}/${secretIntacctSenderPassword}/)'
        }
        {
          name: 'INTACCT_COMPANY_ID'
          value: intacctCompanyId
        }
        {
          name: 'INTACCT_ENTITY_ID'
          value: intacctEntityId
        }
        {
          name: 'INTACCT_USER_ID'
          value: intacctUserId
        }
        {
          name: 'INTACCT_USER_PASSWORD'
          value: '@Microsoft.KeyVault(SecretUri=${vaultSecretsUri}/${secretIntacctUserPassword}/)'
        }
        {
          name: 'DATAVERSE_URL'
          value: dataverseUrl
        }
        {
          name: 'DATAVERSE_TENANT_ID'
          value: dataverseTenantId
        }
        {
          name: 'DATAVERSE_CLIENT_ID'
          value: dataverseClientId
        }
        {
          name: 'DATAVERSE_CLIENT_SECRET'
          value: '@Microsoft.KeyVault(SecretUri=${vaultSecretsUri}/${secretDataverseClientSecret}/)'
        }
        {
          name: 'DATAVERSE_CLIENT_CERT'
          value: '@Microsoft.KeyVault(SecretUri=${vaultSecretsUri}/${secretDataverseClientCert}/)'
        }
        {
          name: 'DATAVERSE_AUTHORITY_HOST'
          value: dataverseAuthorityHost
        }
        {
          name: 'SHUTTLE_SMTP_HOST'
          value: smtpHost
        }
        {
          name: 'SHUTTLE_SMTP_PORT'
          value: string(smtpPort)
        }
        {
          name: 'SHUTTLE_SMTP_SECURITY'
          value: smtpSecurity
        }
        {
          name: 'SHUTTLE_SMTP_USERNAME'
          value: smtpUsername
        }
        {
          name: 'SHUTTLE_SMTP_PASSWORD'
          value: '@Microsoft.KeyVault(SecretUri=${vaultSecretsUri}/${secretSmtpPassword}/)'
        }
        {
          name: 'SHUTTLE_MAIL_FROM'
          value: mailFrom
        }
        {
          name: 'SHUTTLE_NOTIFY_MODE'
          value: notifyMode
        }
        {
          name: 'SHUTTLE_ADMIN_EMAIL'
          value: adminEmail
        }
        {
          name: 'SHUTTLE_CONNECTION_MONITOR_SCHEDULE'
          value: connectionMonitorSchedule
        }
        {
          // The app trusts X-MS-CLIENT-PRINCIPAL only when App Service Authentication is in front.
          name: 'SHUTTLE_AUTH_MODE'
          value: authEnabled ? 'appservice' : 'keys'
        }
        {
          name: 'SHUTTLE_KEY_NAMES'
          value: keyNames
        }
        {
          // App Service Authentication proves the app registration with this identity (a
          // federated credential) instead of a client secret: docs/deploy.md, "Operator sign-in".
          name: 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'
          value: appIdentity.properties.clientId
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: appIdentity.id
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
  dependsOn: [
    // The host reads storage and the vault with the identity from its first start, and the
    // subnet (with its NAT gateway) must exist before the app integrates with it.
    vnet
    deploymentContainer
    storageBlobDataOwner
    storageQueueDataContributor
    storageTableDataContributor
    vaultSecretsUser
    monitoringMetricsPublisher
    // privateNetworking: the names resolve privately before the host first reads them.
    privateDnsGroupBlob
    privateDnsGroupQueue
    privateDnsGroupTable
    privateDnsGroupVault
    privateZoneLinkBlob
    privateZoneLinkQueue
    privateZoneLinkTable
    privateZoneLinkVault
  ]
}

// No basic-auth (user name + password) publishing over SCM or FTP: deployments go with Entra
// tokens (azd, func azure functionapp publish).
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

// App Service Authentication with Microsoft Entra ID, on when authClientId is given. Always
// declared, so clearing authClientId turns it off on the next deployment. AllowAnonymous rather
// than Return401: the platform then validates a signed-in session or bearer token and passes the
// caller in X-MS-CLIENT-PRINCIPAL, while a request with neither still reaches the Functions host,
// which answers 401 to any route without a valid function key. So operators sign in, machine
// clients keep their function keys, and nothing unauthenticated gets through. Return401 would
// refuse key-only clients before the host sees their key, and excludedPaths cannot carve the API
// out of /api while keeping the console (also under /api) behind sign-in (docs/deploy.md).
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: this resource is the App Service Authentication, enabled by authEnabled, an expression checkov 3.3.30 does not evaluate (tests/infra asserts it).
  // checkov:skip=CKV_AZURE_63: checkov 3.3.30 runs its site-config checks on every Microsoft.Web/sites/config resource; this one is authsettingsV2, which has no HTTP logging setting; the app logs to Application Insights.
  // checkov:skip=CKV_AZURE_65: checkov 3.3.30 runs its site-config checks on every Microsoft.Web/sites/config resource; this one is authsettingsV2, which has no detailed-error setting; errors go to Application Insights.
  // checkov:skip=CKV_AZURE_66: checkov 3.3.30 runs its site-config checks on every Microsoft.Web/sites/config resource; this one is authsettingsV2, which has no request-tracing setting; requests are traced in Application Insights.
  // checkov:skip=CKV_AZURE_80: checkov 3.3.30 runs its site-config checks on every Microsoft.Web/sites/config resource; this one is authsettingsV2, which has no .NET version; the app runs Python 3.11.
  // checkov:skip=CKV_AZURE_88: checkov 3.3.30 runs its site-config checks on every Microsoft.Web/sites/config resource; this one is authsettingsV2, which has no storage mounts; Flex Consumption has no Azure Files content share.
  // checkov:skip=CKV_AZURE_222: checkov 3.3.30 runs its site-config checks on every Microsoft.Web/sites/config resource; this one is authsettingsV2, which has no network setting; the site's public access is explained on functionApp.
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: authEnabled
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
      redirectToProvider: 'azureactivedirectory'
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: authEnabled
        registration: {
          openIdIssuer: authIssuer
          clientId: authClientId
          clientSecretSettingName: 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'
        }
        validation: {
          allowedAudiences: authAudiences
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Outputs (azd stores them in the environment: azd env get-values)
// ---------------------------------------------------------------------------------------------

output FUNCTION_APP_NAME string = functionApp.name
output FUNCTION_APP_HOSTNAME string = functionApp.properties.defaultHostName
output EGRESS_IP_ADDRESS string = egressIp.properties.ipAddress
output KEY_VAULT_NAME string = vault.name
output STORAGE_ACCOUNT_NAME string = storage.name
output AZURE_RESOURCE_GROUP string = resourceGroup().name
