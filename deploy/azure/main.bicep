// Prêt à dépenser credit scoring: one Linux App Service plan, two Python 3.11 web apps (API and
// advisor dashboard), a Key Vault for their secrets, and an optional PostgreSQL Flexible Server
// for the API's decision audit log. Deploy into an existing resource group:
//   az deployment group create -g rg-scoring -f deploy/azure/main.bicep -p namePrefix=pad
// Secrets are never parameters of this template: docs/deploy.md puts them in the vault with
// `az keyvault secret set`, and the apps read them through Key Vault references.

targetScope = 'resourceGroup'

@description('Azure region of every resource.')
param location string = resourceGroup().location

@description('Short prefix of resource names (letters, digits, hyphens).')
@minLength(2)
@maxLength(12)
param namePrefix string = 'pad'

@description('App Service plan SKU: B1 for a demo, P0v3 or above for slots and autoscale.')
@allowed([
  'B1'
  'B2'
  'S1'
  'P0v3'
  'P1v3'
])
param planSku string = 'B1'

@description('Instances of the plan (2+ lets the health check take a failing one out).')
@minValue(1)
@maxValue(10)
param instanceCount int = 1

@description('Create a PostgreSQL Flexible Server for the audit log (else SQLite on local disk).')
param deployPostgres bool = false

@description('PostgreSQL administrator login (only used when deployPostgres is true).')
param postgresAdminLogin string = 'scoringadmin'

@description('PostgreSQL administrator password (only used when deployPostgres is true).')
@secure()
param postgresAdminPassword string = ''

// The exact startup commands, verified locally by tests/delivery (same strings as the workflows).
var apiStartupCommand = 'gunicorn -k uvicorn_worker.UvicornWorker -w 2 --bind 0.0.0.0:8000 api.main:app'
var dashboardStartupCommand = 'python -m streamlit run dashboard/app.py --server.port 8000 --server.address 0.0.0.0 --server.headless true'

var suffix = uniqueString(resourceGroup().id)
var planName = '${namePrefix}-plan-${suffix}'
var apiAppName = '${namePrefix}-api-${suffix}'
var dashboardAppName = '${namePrefix}-dash-${suffix}'
var vaultName = take('${namePrefix}kv${suffix}', 24)
var postgresName = '${namePrefix}-pg-${suffix}'
// Built-in role "Key Vault Secrets User".
var keyVaultSecretsUserRole = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  kind: 'linux'
  sku: {
    name: planSku
    capacity: instanceCount
  }
  properties: {
    reserved: true // Linux
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: vaultName
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 30
    enablePurgeProtection: true
  }
}

resource api 'Microsoft.Web/sites@2024-04-01' = {
  name: apiAppName
  location: location
  kind: 'app,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    clientCertEnabled: false
    keyVaultReferenceIdentity: 'SystemAssigned'
    siteConfig: {
      linuxFxVersion: 'PYTHON|3.11'
      appCommandLine: apiStartupCommand
      healthCheckPath: '/health'
      alwaysOn: true
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
      webSocketsEnabled: false
      httpLoggingEnabled: true
      detailedErrorLoggingEnabled: true
      requestTracingEnabled: true
      appSettings: [
        {
          name: 'SCM_DO_BUILD_DURING_DEPLOYMENT'
          value: 'true'
        }
        {
          // Loading the bundle after the Oryx build can exceed the 230 s default.
          name: 'WEBSITES_CONTAINER_START_TIME_LIMIT'
          value: '600'
        }
        {
          // Relative to the app root, where the staged package puts them (deploy/stage.py).
          name: 'SCORING_BUNDLE'
          value: 'bundle'
        }
        {
          name: 'SCORING_CLIENTS'
          value: 'clients'
        }
        {
          name: 'API_KEYS'
          value: '@Microsoft.KeyVault(VaultName=${vault.name};SecretName=api-keys)'
        }
        {
          // The secret holds a postgresql+psycopg:// URL when deployPostgres is true; without
          // it the reference does not resolve and the app uses its SQLite default.
          name: 'DATABASE_URL'
          value: deployPostgres ? '@Microsoft.KeyVault(VaultName=${vault.name};SecretName=database-url)' : ''
        }
      ]
    }
  }
}

resource dashboard 'Microsoft.Web/sites@2024-04-01' = {
  name: dashboardAppName
  location: location
  kind: 'app,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Streamlit keeps a session per WebSocket: affinity keeps a browser on one instance.
    clientAffinityEnabled: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: 'SystemAssigned'
    siteConfig: {
      linuxFxVersion: 'PYTHON|3.11'
      appCommandLine: dashboardStartupCommand
      healthCheckPath: '/_stcore/health'
      alwaysOn: true
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
      webSocketsEnabled: true
      httpLoggingEnabled: true
      detailedErrorLoggingEnabled: true
      requestTracingEnabled: true
      appSettings: [
        {
          name: 'SCM_DO_BUILD_DURING_DEPLOYMENT'
          value: 'true'
        }
        {
          name: 'API_URL'
          value: 'https://${api.properties.defaultHostName}'
        }
        {
          name: 'API_KEY'
          value: '@Microsoft.KeyVault(VaultName=${vault.name};SecretName=dashboard-api-key)'
        }
      ]
    }
  }
}

// No FTP nor basic-auth SCM publishing: deploys authenticate with Entra ID (OIDC) only.
resource apiFtp 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: api
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource apiScm 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: api
  name: 'scm'
  properties: {
    allow: false
  }
}

resource dashboardFtp 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: dashboard
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource dashboardScm 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: dashboard
  name: 'scm'
  properties: {
    allow: false
  }
}

// Each app's managed identity may read the vault's secrets, nothing more.
resource apiReadsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, api.id, keyVaultSecretsUserRole)
  properties: {
    roleDefinitionId: keyVaultSecretsUserRole
    principalId: api.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource dashboardReadsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, dashboard.id, keyVaultSecretsUserRole)
  properties: {
    roleDefinitionId: keyVaultSecretsUserRole
    principalId: dashboard.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = if (deployPostgres) {
  name: postgresName
  location: location
  sku: {
    name: 'Standard_B1ms'
    tier: 'Burstable'
  }
  properties: {
    version: '16'
    administratorLogin: postgresAdminLogin
    administratorLoginPassword: postgresAdminPassword
    storage: {
      storageSizeGB: 32
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
  }
}

resource postgresDatabase 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = if (deployPostgres) {
  parent: postgres
  name: 'scoring'
}

// Lets Azure services (the API's outbound addresses) reach the server; TLS is enforced by default.
resource postgresAllowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (deployPostgres) {
  parent: postgres
  name: 'AllowAzureServices'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

output apiAppName string = api.name
output dashboardAppName string = dashboard.name
output apiUrl string = 'https://${api.properties.defaultHostName}'
output dashboardUrl string = 'https://${dashboard.properties.defaultHostName}'
output keyVaultName string = vault.name
output apiPrincipalId string = api.identity.principalId
output postgresHost string = deployPostgres ? postgres!.properties.fullyQualifiedDomainName : ''
