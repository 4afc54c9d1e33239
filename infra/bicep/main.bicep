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

@description('Address space of the virtual network.')
param vnetAddressPrefix string = '10.40.0.0/16'

@description('Address range of the function app integration subnet (Flex Consumption: /27 or larger; /24 recommended).')
param appSubnetPrefix string = '10.40.0.0/24'

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

@description('SHUTTLE_TABLE_PREFIX: prefix of Shuttle\'s table names.')
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

@description('INTACCT_TIMEZONE: the Intacct company time zone, in which WHENMODIFIED is reported.')
param intacctTimezone string = 'America/Los_Angeles'

@description('INTACCT_MAX_IN_FLIGHT: Intacct requests in flight per worker (the Intacct default limit is 2).')
@minValue(1)
@maxValue(50)
param intacctMaxInFlight int = 2

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

@description('DATAVERSE_CLIENT_CERT: path of a PEM certificate readable by the app; empty = use DATAVERSE_CLIENT_SECRET (docs/deploy.md).')
param dataverseClientCert string = ''

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
var planName = 'plan-${base}'
var functionAppName = take('func-${toLower(namePrefix)}-${token}', 32)
var deploymentContainerName = 'app-package'

// Built-in role definition ids.
var roleStorageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var roleStorageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var roleStorageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var roleKeyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var roleKeyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
var roleMonitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

// Key Vault secret names (letters, digits and dashes) of the secret app settings.
var secretCreatioPassword = 'creatio-password'
var secretCreatioClientSecret = 'creatio-client-secret'
var secretIntacctSenderPassword = 'intacct-sender-password'
var secretIntacctUserPassword = 'intacct-user-password'
var secretDataverseClientSecret = 'dataverse-client-secret'

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
  // checkov:skip=CKV_AZURE_59: Entra-only access (shared keys off, RBAC per identity); closing the public endpoint needs private endpoints and DNS zones for blob, queue and table, the hardening step in docs/deploy.md.
  // checkov:skip=CKV_AZURE_35: same reason as CKV_AZURE_59: no network deny rule in the base deployment, access is by Entra ID only.
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
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
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

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: Flex Consumption cannot resolve Key Vault references against a network-restricted vault (flex-consumption-plan considerations); access is RBAC-only, the app identity may only read secrets.
  // checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109: the vault stays reachable so Key Vault references resolve on Flex Consumption.
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
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
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
    ]
  }
}

resource appSubnet 'Microsoft.Network/virtualNetworks/subnets@2024-05-01' existing = {
  parent: vnet
  name: appSubnetName
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
    // Outbound: through the delegated subnet, whose NAT gateway owns the egress IP.
    virtualNetworkSubnetId: appSubnet.id
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
          name: 'INTACCT_TIMEZONE'
          value: intacctTimezone
        }
        {
          name: 'INTACCT_MAX_IN_FLIGHT'
          value: string(intacctMaxInFlight)
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
          value: dataverseClientCert
        }
        {
          name: 'DATAVERSE_AUTHORITY_HOST'
          value: dataverseAuthorityHost
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
  ]
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
