// Key Vault for connection secrets (vendor API keys, tokens). The app writes and reads them as the
// managed identity (Key Vault Secrets Officer, see roleAssignments.bicep); access is RBAC only,
// deleted secrets are kept 90 days and the vault cannot be purged early. Every data-plane request
// is audited into Log Analytics (AuditEvent); with vnetEnabled the vault has no public network
// access (private endpoint in network.bicep).

@description('Key Vault name (3-24 letters, digits and hyphens, globally unique).')
param name string

@description('Azure region.')
param location string

@description('Tags for the vault.')
param tags object

@description('Log Analytics workspace that receives the audit logs.')
param logAnalyticsWorkspaceId string

@description('No public network access; reached through a private endpoint (network.bicep).')
param vnetEnabled bool = false

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: vnetEnabled ? 'Deny' : 'Allow'
    }
  }
}

// Who read, wrote or deleted which secret, when: the AuditEvent log category of Key Vault.
resource auditLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
