// Only with vnetEnabled (main.bicep): a virtual network the function app joins (outbound VNet
// integration) and private endpoints for the storage accounts and Key Vault, whose public network
// access is then off. As the official Flex Consumption templates do
// (Azure-Samples/functions-quickstart-typescript-azd, infra/app/vnet.bicep and
// storage-PrivateEndpoint.bicep): the app subnet is delegated to Microsoft.App/environments (what
// Flex Consumption VNet integration needs), private endpoints get their own subnet, and each
// endpoint registers in the privatelink DNS zone linked to the network.

@description('Virtual network name.')
param name string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('The app storage account (blob, queue and table endpoints).')
param storageAccountName string

@description('The lake storage account when it is created here (blob endpoint); empty when the lake is external.')
param lakeStorageAccountName string = ''

@description('The Key Vault.')
param keyVaultName string

var appSubnetName = 'app'
var privateEndpointSubnetName = 'private-endpoints'

// privatelink zones of the public cloud (https://learn.microsoft.com/azure/private-link/private-endpoint-dns).
var storageZones = [
  'blob'
  'queue'
  'table'
]
var keyVaultZone = 'privatelink.vaultcore.azure.net'

resource vnet 'Microsoft.Network/virtualNetworks@2023-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        '10.0.0.0/16'
      ]
    }
    subnets: [
      {
        name: privateEndpointSubnetName
        properties: {
          addressPrefixes: [
            '10.0.1.0/24'
          ]
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
      {
        name: appSubnetName
        properties: {
          addressPrefixes: [
            '10.0.2.0/24'
          ]
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
    ]
  }

  resource appSubnet 'subnets' existing = {
    name: appSubnetName
  }

  resource privateEndpointSubnet 'subnets' existing = {
    name: privateEndpointSubnetName
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource lake 'Microsoft.Storage/storageAccounts@2023-05-01' existing = if (!empty(lakeStorageAccountName)) {
  name: empty(lakeStorageAccountName) ? storageAccountName : lakeStorageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource storageDnsZones 'Microsoft.Network/privateDnsZones@2020-06-01' = [for service in storageZones: {
  name: 'privatelink.${service}.${environment().suffixes.storage}'
  location: 'global'
  tags: tags
}]

resource storageDnsLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [for (service, i) in storageZones: {
  parent: storageDnsZones[i]
  name: '${name}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}]

resource keyVaultDnsZone 'Microsoft.Network/privateDnsZones@2020-06-01' = {
  name: keyVaultZone
  location: 'global'
  tags: tags
}

resource keyVaultDnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = {
  parent: keyVaultDnsZone
  name: '${name}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

// One endpoint per storage service the app uses (the host needs all three).
resource storageEndpoints 'Microsoft.Network/privateEndpoints@2023-11-01' = [for (service, i) in storageZones: {
  name: 'pe-${storageAccountName}-${service}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: vnet::privateEndpointSubnet.id
    }
    privateLinkServiceConnections: [
      {
        name: '${storageAccountName}-${service}'
        properties: {
          privateLinkServiceId: storage.id
          groupIds: [
            service
          ]
        }
      }
    ]
  }
}]

resource storageEndpointDns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-11-01' = [for (service, i) in storageZones: {
  parent: storageEndpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: service
        properties: {
          privateDnsZoneId: storageDnsZones[i].id
        }
      }
    ]
  }
}]

resource lakeEndpoint 'Microsoft.Network/privateEndpoints@2023-11-01' = if (!empty(lakeStorageAccountName)) {
  name: 'pe-${lakeStorageAccountName}-blob'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: vnet::privateEndpointSubnet.id
    }
    privateLinkServiceConnections: [
      {
        name: '${lakeStorageAccountName}-blob'
        properties: {
          privateLinkServiceId: lake.id
          groupIds: [
            'blob'
          ]
        }
      }
    ]
  }
}

resource lakeEndpointDns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-11-01' = if (!empty(lakeStorageAccountName)) {
  parent: lakeEndpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'blob'
        properties: {
          privateDnsZoneId: storageDnsZones[0].id
        }
      }
    ]
  }
}

resource keyVaultEndpoint 'Microsoft.Network/privateEndpoints@2023-11-01' = {
  name: 'pe-${keyVaultName}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: vnet::privateEndpointSubnet.id
    }
    privateLinkServiceConnections: [
      {
        name: keyVaultName
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

resource keyVaultEndpointDns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-11-01' = {
  parent: keyVaultEndpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'vault'
        properties: {
          privateDnsZoneId: keyVaultDnsZone.id
        }
      }
    ]
  }
}

output appSubnetId string = vnet::appSubnet.id
