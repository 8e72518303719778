// The platform's standard entities — unified customer profiles (b2c), accounts and contacts
// (b2b) — with their attributes: what a lake of the platform holds, what the azure-blob adapter
// offers as columns, and what the demo lake (local/demoData) generates rows for.
import type { CdmDataType } from './cdmModel.js';

export interface EntityDefinition {
  name: string;
  description: string;
  attributes: { name: string; dataType: CdmDataType }[];
}

export const PROFILE_ENTITY: EntityDefinition = {
  name: 'UnifiedCustomerProfile',
  description: 'Unified customer profiles (individual consumers).',
  attributes: [
    { name: 'CustomerId', dataType: 'guid' },
    { name: 'FirstName', dataType: 'string' },
    { name: 'LastName', dataType: 'string' },
    { name: 'FullName', dataType: 'string' },
    { name: 'Email', dataType: 'string' },
    { name: 'Gender', dataType: 'string' },
    { name: 'BirthDate', dataType: 'dateTime' },
    { name: 'AddressLine1', dataType: 'string' },
    { name: 'PostalCode', dataType: 'string' },
    { name: 'City', dataType: 'string' },
    { name: 'Country', dataType: 'string' },
    { name: 'Phone', dataType: 'string' },
    { name: 'PreferredLanguage', dataType: 'string' },
    { name: 'LoyaltyTier', dataType: 'string' },
    { name: 'NewsletterOptIn', dataType: 'boolean' },
    { name: 'TotalSpend', dataType: 'decimal' },
    { name: 'LastPurchaseDate', dataType: 'dateTime' },
    { name: 'CreatedOn', dataType: 'dateTimeOffset' },
  ],
};

export const ACCOUNT_ENTITY: EntityDefinition = {
  name: 'Account',
  description: 'Business accounts (companies).',
  attributes: [
    { name: 'AccountId', dataType: 'guid' },
    { name: 'Name', dataType: 'string' },
    { name: 'Domain', dataType: 'string' },
    { name: 'Industry', dataType: 'string' },
    { name: 'Employees', dataType: 'int64' },
    { name: 'AnnualRevenue', dataType: 'decimal' },
    { name: 'AddressLine1', dataType: 'string' },
    { name: 'PostalCode', dataType: 'string' },
    { name: 'City', dataType: 'string' },
    { name: 'Country', dataType: 'string' },
    { name: 'Phone', dataType: 'string' },
    { name: 'Website', dataType: 'string' },
    { name: 'CreatedOn', dataType: 'dateTimeOffset' },
  ],
};

export const CONTACT_ENTITY: EntityDefinition = {
  name: 'Contact',
  description: 'Contacts (people) at business accounts.',
  attributes: [
    { name: 'ContactId', dataType: 'guid' },
    { name: 'AccountId', dataType: 'guid' },
    { name: 'FirstName', dataType: 'string' },
    { name: 'LastName', dataType: 'string' },
    { name: 'FullName', dataType: 'string' },
    { name: 'Email', dataType: 'string' },
    { name: 'JobTitle', dataType: 'string' },
    { name: 'Department', dataType: 'string' },
    { name: 'Gender', dataType: 'string' },
    { name: 'Phone', dataType: 'string' },
    { name: 'PostalCode', dataType: 'string' },
    { name: 'City', dataType: 'string' },
    { name: 'Country', dataType: 'string' },
    { name: 'PreferredLanguage', dataType: 'string' },
    { name: 'NewsletterOptIn', dataType: 'boolean' },
    { name: 'CreatedOn', dataType: 'dateTimeOffset' },
  ],
};
