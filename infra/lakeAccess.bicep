// Read access to the lake, which always lives in its own storage account: the one lakeStorage.bicep
// creates, or the upstream platform's existing one (main.bicep's lakeStorageAccountName), in
// whose resource group this is deployed. The app only reads the lake, so the identity gets
// Storage Blob Data Reader there and nothing else: it cannot write or delete the lake.

@description('The lake storage account (existing, owned by the upstream platform).')
param storageAccountName string

@description('Principal (object) id of the user-assigned managed identity.')
param principalId string

// Built-in role definition id (the same in every subscription and tenant).
var roles = {
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
}

resource lake 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource lakeBlobDataReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(lake.id, principalId, roles.storageBlobDataReader)
  scope: lake
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
