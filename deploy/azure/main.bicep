// Prêt à dépenser credit scoring: one Linux App Service plan, two Python 3.11 web apps (API and
// advisor dashboard), each with a staging slot that the workflows deploy to, smoke-test and swap,
// a Key Vault for their secrets, Application Insights on a Log Analytics workspace with alerts on
// the API's 5xx responses and p95 latency, CPU autoscale of the plan, and an optional PostgreSQL
// Flexible Server for the API's decision audit log. Deploy into an existing resource group:
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

@description('App Service plan SKU. Staging slots and autoscale need Standard (S1) or Premium (P0v3+); B1/B2 get neither (docs/deploy.md).')
@allowed([
  'B1'
  'B2'
  'S1'
  'P0v3'
  'P1v3'
])
param planSku string = 'P0v3'

@description('Instances of the plan where there is no autoscale (B1, B2); 2+ lets the health check take a failing one out.')
@minValue(1)
@maxValue(10)
param instanceCount int = 1

@description('Autoscale (S1, P0v3+): fewest instances, on CPU.')
@minValue(1)
@maxValue(10)
param autoscaleMinInstances int = 1

@description('Autoscale: most instances.')
@minValue(1)
@maxValue(10)
param autoscaleMaxInstances int = 3

@description('Autoscale: instances when the CPU metric cannot be read.')
@minValue(1)
@maxValue(10)
param autoscaleDefaultInstances int = 1

@description('Resource id of an existing action group the alerts notify (empty: the alerts fire in the portal only).')
param alertActionGroupId string = ''

@description('Alert when the API answers more 5xx than this in 5 minutes.')
@minValue(1)
param alert5xxPerFiveMinutes int = 5

@description('Alert when the p95 latency of the API requests exceeds this over 15 minutes (milliseconds).')
@minValue(50)
param alertP95LatencyMs int = 1000

@description('Days the workspace keeps logs and telemetry.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('Daily ingestion cap of the workspace in GB (a cost guard; -1: none).')
param logDailyCapGb int = 1

@description('Create a PostgreSQL Flexible Server for the audit log (else SQLite on local disk).')
param deployPostgres bool = false

@description('PostgreSQL administrator login (only used when deployPostgres is true).')
param postgresAdminLogin string = 'scoringadmin'

@description('PostgreSQL administrator password (only used when deployPostgres is true).')
@secure()
param postgresAdminPassword string = ''

// The exact startup commands, verified locally by tests/delivery (same strings as the workflows).
var apiStartupCommand = 'gunicorn -c python:api.server -w 2 --bind 0.0.0.0:8000 api.main:app'
var dashboardStartupCommand = 'python -m streamlit run dashboard/app.py --server.port 8000 --server.address 0.0.0.0 --server.headless true'

var suffix = uniqueString(resourceGroup().id)
var planName = '${namePrefix}-plan-${suffix}'
var apiAppName = '${namePrefix}-api-${suffix}'
var dashboardAppName = '${namePrefix}-dash-${suffix}'
var vaultName = take('${namePrefix}kv${suffix}', 24)
var postgresName = '${namePrefix}-pg-${suffix}'
var workspaceName = '${namePrefix}-logs-${suffix}'
var appInsightsName = '${namePrefix}-appi-${suffix}'
// Basic plans have no deployment slots and no autoscale.
var slotsAndAutoscale = !startsWith(planSku, 'B')
var stagingSlot = 'staging'
// Built-in role "Key Vault Secrets User".
var keyVaultSecretsUserRole = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')

// The app settings of each app, shared by production and its staging slot (whose siteConfig is
// the same too, tests/delivery/test_iac.py checks): a swap exchanges the code, never settings.
var apiAppSettings = [
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
    // A swap waits until the slot answers 200 here, so production never gets a cold instance.
    name: 'WEBSITE_SWAP_WARMUP_PING_PATH'
    value: '/health'
  }
  {
    name: 'WEBSITE_SWAP_WARMUP_PING_STATUSES'
    value: '200'
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
    // Bearer token of GET /metrics (Prometheus). Until the secret exists the reference does not
    // resolve and the API keeps /metrics off (it refuses an unresolved reference as a token).
    name: 'METRICS_TOKEN'
    value: '@Microsoft.KeyVault(VaultName=${vault.name};SecretName=metrics-token)'
  }
  {
    // The secret holds a postgresql+psycopg:// URL when deployPostgres is true; without
    // it the reference does not resolve and the app uses its SQLite default.
    name: 'DATABASE_URL'
    value: deployPostgres ? '@Microsoft.KeyVault(VaultName=${vault.name};SecretName=database-url)' : ''
  }
  {
    // Turns on api/telemetry.py. It lets a holder send telemetry, not read any: an app
    // setting, not a Key Vault secret (Microsoft's guidance for connection strings).
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: appInsights.properties.ConnectionString
  }
]

var dashboardAppSettings = [
  {
    name: 'SCM_DO_BUILD_DURING_DEPLOYMENT'
    value: 'true'
  }
  {
    name: 'WEBSITE_SWAP_WARMUP_PING_PATH'
    value: '/_stcore/health'
  }
  {
    name: 'WEBSITE_SWAP_WARMUP_PING_STATUSES'
    value: '200'
  }
  {
    // Production's API, from both slots: a swap then changes nothing the dashboard talks to.
    name: 'API_URL'
    value: 'https://${api.properties.defaultHostName}'
  }
  {
    name: 'API_KEY'
    value: '@Microsoft.KeyVault(VaultName=${vault.name};SecretName=dashboard-api-key)'
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  kind: 'linux'
  sku: {
    name: planSku
    // With autoscale, its default; a redeploy resets the count until autoscale next evaluates.
    capacity: slotsAndAutoscale ? autoscaleDefaultInstances : instanceCount
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
      appSettings: apiAppSettings
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
      appSettings: dashboardAppSettings
    }
  }
}

// The workflows deploy here, smoke-test, then swap with production (docs/deploy.md). Each slot
// has an identity of its own, which the vault's role assignments below cover too.
resource apiStaging 'Microsoft.Web/sites/slots@2024-04-01' = if (slotsAndAutoscale) {
  // checkov reads nothing inside a conditional resource; tests/delivery/test_iac.py asserts these:
  // checkov:skip=CKV_AZURE_153: httpsOnly is true (checkov cannot see it under the condition)
  // checkov:skip=CKV_AZURE_213: healthCheckPath is set (checkov cannot see it under the condition)
  // checkov:skip=CKV_AZURE_67: http20Enabled is true (checkov cannot see it under the condition)
  parent: api
  name: stagingSlot
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
      appSettings: apiAppSettings
    }
  }
}

resource dashboardStaging 'Microsoft.Web/sites/slots@2024-04-01' = if (slotsAndAutoscale) {
  // checkov reads nothing inside a conditional resource; tests/delivery/test_iac.py asserts these:
  // checkov:skip=CKV_AZURE_153: httpsOnly is true (checkov cannot see it under the condition)
  // checkov:skip=CKV_AZURE_213: healthCheckPath is set (checkov cannot see it under the condition)
  // checkov:skip=CKV_AZURE_67: http20Enabled is true (checkov cannot see it under the condition)
  parent: dashboard
  name: stagingSlot
  location: location
  kind: 'app,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
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
      appSettings: dashboardAppSettings
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

resource apiStagingFtp 'Microsoft.Web/sites/slots/basicPublishingCredentialsPolicies@2024-04-01' = if (slotsAndAutoscale) {
  parent: apiStaging
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource apiStagingScm 'Microsoft.Web/sites/slots/basicPublishingCredentialsPolicies@2024-04-01' = if (slotsAndAutoscale) {
  parent: apiStaging
  name: 'scm'
  properties: {
    allow: false
  }
}

resource dashboardStagingFtp 'Microsoft.Web/sites/slots/basicPublishingCredentialsPolicies@2024-04-01' = if (slotsAndAutoscale) {
  parent: dashboardStaging
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource dashboardStagingScm 'Microsoft.Web/sites/slots/basicPublishingCredentialsPolicies@2024-04-01' = if (slotsAndAutoscale) {
  parent: dashboardStaging
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

resource apiStagingReadsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (slotsAndAutoscale) {
  scope: vault
  name: guid(vault.id, api.id, stagingSlot, keyVaultSecretsUserRole)
  properties: {
    roleDefinitionId: keyVaultSecretsUserRole
    principalId: apiStaging!.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource dashboardStagingReadsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (slotsAndAutoscale) {
  scope: vault
  name: guid(vault.id, dashboard.id, stagingSlot, keyVaultSecretsUserRole)
  properties: {
    roleDefinitionId: keyVaultSecretsUserRole
    principalId: dashboardStaging!.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// Telemetry: one workspace for Application Insights (requests, dependencies, exceptions of the
// API) and the App Service logs of both apps: console (the API's JSON lines, route templates
// only) and platform. Not the HTTP access log: its paths hold client ids, and callers' addresses.
resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
    workspaceCapping: {
      dailyQuotaGb: logDailyCapGb
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
  }
}

resource apiLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: api
  name: 'to-log-analytics'
  properties: {
    workspaceId: workspace.id
    logs: [
      {
        category: 'AppServiceConsoleLogs'
        enabled: true
      }
      {
        category: 'AppServicePlatformLogs'
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

resource dashboardLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: dashboard
  name: 'to-log-analytics'
  properties: {
    workspaceId: workspace.id
    logs: [
      {
        category: 'AppServiceConsoleLogs'
        enabled: true
      }
      {
        category: 'AppServicePlatformLogs'
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

// Alerts. 5xx: the platform metric of the production site, counted by App Service's front ends,
// so it also sees the 502/503 of an app that is down and sends no telemetry. p95 latency: a log
// query on Application Insights, since metric alerts aggregate by average, min or max only.
var alertActions = empty(alertActionGroupId) ? [] : [alertActionGroupId]

resource api5xxAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${apiAppName}-5xx'
  location: 'global'
  properties: {
    description: 'The API answered more than ${alert5xxPerFiveMinutes} server errors (5xx) in 5 minutes.'
    severity: 1
    enabled: true
    scopes: [
      api.id
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'http5xx'
          metricNamespace: 'Microsoft.Web/sites'
          metricName: 'Http5xx'
          timeAggregation: 'Total'
          operator: 'GreaterThan'
          threshold: alert5xxPerFiveMinutes
        }
      ]
    }
    autoMitigate: true
    actions: [for id in alertActions: {
      actionGroupId: id
    }]
  }
}

resource apiLatencyAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${apiAppName}-p95-latency'
  location: location
  properties: {
    description: 'The p95 latency of the API requests exceeded ${alertP95LatencyMs} ms over 15 minutes.'
    displayName: '${apiAppName} p95 latency'
    severity: 2
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          // At least 20 requests: a quiet quarter of an hour (or a smoke test) is no signal.
          query: 'requests | where cloud_RoleName == "scoring-api" | summarize p95 = percentile(duration, 95), n = count() | where n >= 20'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'p95'
          operator: 'GreaterThan'
          threshold: alertP95LatencyMs
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: alertActions
    }
  }
}

// Scale the plan (both apps) out on CPU; Basic plans have no autoscale.
resource autoscale 'Microsoft.Insights/autoscalesettings@2022-10-01' = if (slotsAndAutoscale) {
  name: '${planName}-cpu'
  location: location
  properties: {
    name: '${planName}-cpu'
    enabled: true
    targetResourceUri: plan.id
    profiles: [
      {
        name: 'cpu'
        capacity: {
          minimum: string(autoscaleMinInstances)
          maximum: string(autoscaleMaxInstances)
          default: string(autoscaleDefaultInstances)
        }
        rules: [
          {
            metricTrigger: {
              metricName: 'CpuPercentage'
              metricResourceUri: plan.id
              timeGrain: 'PT1M'
              statistic: 'Average'
              timeWindow: 'PT10M'
              timeAggregation: 'Average'
              operator: 'GreaterThan'
              threshold: 70
            }
            scaleAction: {
              direction: 'Increase'
              type: 'ChangeCount'
              value: '1'
              cooldown: 'PT5M'
            }
          }
          {
            metricTrigger: {
              metricName: 'CpuPercentage'
              metricResourceUri: plan.id
              timeGrain: 'PT1M'
              statistic: 'Average'
              timeWindow: 'PT10M'
              timeAggregation: 'Average'
              operator: 'LessThan'
              threshold: 30
            }
            scaleAction: {
              direction: 'Decrease'
              type: 'ChangeCount'
              value: '1'
              cooldown: 'PT10M'
            }
          }
        ]
      }
    ]
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
output apiStagingUrl string = slotsAndAutoscale ? 'https://${apiStaging!.properties.defaultHostName}' : ''
output dashboardStagingUrl string = slotsAndAutoscale ? 'https://${dashboardStaging!.properties.defaultHostName}' : ''
output appInsightsName string = appInsights.name
output logAnalyticsWorkspaceName string = workspace.name
output postgresHost string = deployPostgres ? postgres!.properties.fullyQualifiedDomainName : ''
