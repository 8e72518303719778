// Which attribute of a segment's rows is the profile's key. Customer Insights names an entity's
// primary key CustomerId (unified profiles), ContactId or AccountId (B2B), and writes it first;
// model.json itself has no key annotation, so a known name wins and the first attribute is next.
// (Customer Insights' unified profile: https://learn.microsoft.com/dynamics365/customer-insights/data/data-unification-map)
const KEY_NAMES = ['CustomerId', 'ContactId', 'AccountId'];

/** The key attribute's position in `attributes` (0 when no attribute has a known key name). */
export function profileKeyColumn(attributes: readonly string[]): number {
  for (const name of KEY_NAMES) {
    const index = attributes.findIndex((attribute) => attribute.toLowerCase() === name.toLowerCase());
    if (index >= 0) return index;
  }
  return 0;
}
