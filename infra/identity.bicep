// The app's one identity: a user-assigned managed identity. The function app runs as it, the host
// reaches storage with it (AzureWebJobsStorage__clientId), the code reaches Key Vault and storage
// with it (AZURE_CLIENT_ID), and every role assignment in roleAssignments.bicep names it.

@description('Name of the user-assigned managed identity.')
param name string

@description('Azure region.')
param location string

@description('Tags for the identity.')
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
