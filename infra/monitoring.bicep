// Log Analytics + workspace-based Application Insights, and the alert rules on what the app
// emits. Local (key) auth is off on both: the host and the app send telemetry with the managed
// identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING, Monitoring Metrics Publisher in
// roleAssignments.bicep). The workspace also receives the Key Vault audit log and the storage
// diagnostic logs.
//
// Alert rules (log search alerts on the Application Insights component; test/infra checks the
// names they query against the code):
//   failed runs          — a run ended with status 'failed': the outflow.run.duration metric
//                          (shared/observability/metrics.ts), recorded once per finished run
//                          with its status
//   poison message       — a message reached export-runs-poison or export-chunks-poison: the
//                          failPoisonedPlan / failPoisonedChunk functions run once per poison
//                          message (they drain the queue and fail the run, so "non-empty" shows
//                          as their invocations)
//   chunk backlog growing — outflow.queue.backlog for export-chunks (reportQueueBacklog, each
//                          minute) rose in every 5-minute bin of the last 30 minutes and is
//                          above chunkBacklogThreshold: senders are not keeping up

@description('Log Analytics workspace name.')
param logAnalyticsName string

@description('Application Insights component name.')
param appInsightsName string

@description('Azure region.')
param location string

@description('Tags for both resources.')
param tags object

@description('Email address for alert notifications; empty = the rules fire in the portal only.')
param alertEmail string = ''

@description('The chunk backlog alert fires only above this many waiting chunk messages.')
@minValue(1)
param chunkBacklogThreshold int = 100

@description('Days Log Analytics keeps data.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      disableLocalAuth: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
  }
}

resource alertActions 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: 'ag-${appInsightsName}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'outflow'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var alertActionGroups = empty(alertEmail) ? [] : [
  alertActions.id
]

resource failedRunsAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'alert-${appInsightsName}-failed-runs'
  location: location
  tags: tags
  properties: {
    displayName: 'Outflow: export runs failed'
    description: 'At least one export run ended with status failed in the last 15 minutes. GET /api/exports/{id}/runs/{runId} gives the reason.'
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
          query: '''
customMetrics
| where name == 'outflow.run.duration' and tostring(customDimensions.status) == 'failed'
| summarize failedRuns = sum(valueCount) by destination = tostring(customDimensions.destination)
'''
          timeAggregation: 'Total'
          metricMeasureColumn: 'failedRuns'
          dimensions: [
            {
              name: 'destination'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: alertActionGroups
    }
  }
}

resource poisonMessageAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'alert-${appInsightsName}-poison-messages'
  location: location
  tags: tags
  properties: {
    displayName: 'Outflow: messages reached a poison queue'
    description: 'A plan or chunk message failed maxDequeueCount times (host.json) and reached export-runs-poison or export-chunks-poison; its run was failed with the reason.'
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
          query: '''
requests
| where name in ('failPoisonedPlan', 'failPoisonedChunk')
| summarize poisonMessages = count()
'''
          timeAggregation: 'Total'
          metricMeasureColumn: 'poisonMessages'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: alertActionGroups
    }
  }
}

resource chunkBacklogAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'alert-${appInsightsName}-chunk-backlog'
  location: location
  tags: tags
  properties: {
    displayName: 'Outflow: chunk backlog growing'
    description: 'The export-chunks queue grew in every 5-minute interval of the last 30 minutes and holds more than ${chunkBacklogThreshold} messages: senders are not keeping up (vendor rate limits, errors, or too few instances).'
    severity: 3
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT30M'
    criteria: {
      allOf: [
        {
          query: '''
customMetrics
| where name == 'outflow.queue.backlog' and tostring(customDimensions.queue) == 'export-chunks'
| summarize backlog = max(value) by bin(timestamp, 5m)
| order by timestamp asc
| extend growth = backlog - prev(backlog)
| summarize intervals = count(), rising = countif(growth > 0), latest = max(backlog)
| where intervals >= 5 and rising >= intervals - 1
| project latest
'''
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'latest'
          operator: 'GreaterThan'
          threshold: chunkBacklogThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: alertActionGroups
    }
  }
}

output appInsightsName string = appInsights.name
output workspaceId string = workspace.id
output connectionString string = appInsights.properties.ConnectionString
