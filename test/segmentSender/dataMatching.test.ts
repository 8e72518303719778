import { describe, expect, it } from 'vitest';
import { isValidEmail, matchRecord, matchingPlan } from '../../shared/segmentSender/dataMatching.js';

const attributes = ['CustomerId', 'FirstName', 'LastName', 'Email', 'PostalCode'];
const plan = matchingPlan({ email: 'Email', firstName: 'FirstName', lastName: 'LastName', postalCode: 'PostalCode' }, attributes);

describe('data matching', () => {
  it.each([
    {
      row: ['1', ' Åse ', 'Berg', '  Ase.Berg@Example.NO ', '0150'],
      expected: { email: 'ase.berg@example.no', fields: { firstName: 'Åse', lastName: 'Berg', postalCode: '0150' } },
    },
    { row: ['2', '', 'van der Berg', 'jan@example.nl', ''], expected: { email: 'jan@example.nl', fields: { lastName: 'van der Berg' } } },
  ])('maps, trims and lower-cases $row.3', ({ row, expected }) => {
    expect(matchRecord(plan, row)).toEqual({ ok: true, member: expected });
  });

  it.each(['', 'no-at-sign.example.com', 'two@@example.com', 'a b@example.com', 'user@localhost', 'user@.com'])(
    'drops %j as invalidEmail',
    (email) => {
      const result = matchRecord(plan, ['3', 'A', 'B', email, '']);
      expect(result.ok).toBe(false);
      expect(result).toMatchObject({ code: 'invalidEmail' });
    },
  );

  it('accepts ordinary addresses', () => {
    expect(isValidEmail('søren.kierkegaard+news@eksempel.dk')).toBe(true);
    expect(isValidEmail(`${'a'.repeat(250)}@x.dk`)).toBe(false);
  });

  it('refuses a mapping onto an attribute the segment lacks', () => {
    expect(() => matchingPlan({ email: 'EmailAddress' }, attributes)).toThrow(/EmailAddress/);
  });
});
