// The person fields several destinations match on, under the labels the catalog shows. Each adapter
// says in its own words what a field becomes at its vendor, so only names and labels live here.
import type { DataMatchingField } from './destination.js';

const PERSON_FIELD_LABELS = {
  email: 'Email address',
  firstName: 'First name',
  lastName: 'Last name',
  fullName: 'Full name',
  gender: 'Gender',
  postalCode: 'Postal code',
  city: 'City',
  country: 'Country',
  phone: 'Phone',
} as const;

export type PersonFieldName = keyof typeof PERSON_FIELD_LABELS;

/**
 * Data-matching fields in the order the descriptions are given. Email is required: it is the key
 * every person destination matches on.
 */
export function personFields(descriptions: { email: string } & Partial<Record<PersonFieldName, string>>): DataMatchingField[] {
  return Object.entries(descriptions).map(([name, description]) => ({
    name,
    label: PERSON_FIELD_LABELS[name as PersonFieldName],
    required: name === 'email',
    description,
  }));
}
