// The fault matrix's per-member delivery figures at the full profile's size: the spread into
// Math.max they replace threw RangeError at 200,000 members, so no full-profile row was recorded.
import { describe, expect, it } from 'vitest';
import { deliveryFigures } from './support/deliveryFigures.js';

describe("a fault row's deliveries per member", () => {
  it('are counted for a list of 200,000 members and more (the full profile)', () => {
    const perMember = new Map<string, number>();
    for (let index = 0; index < 250_000; index++) perMember.set(`member-${index}@example.com`, index % 1_000 === 0 ? 2 : 1);
    perMember.set('held-twice@example.com', 3);
    expect(deliveryFigures(perMember)).toEqual({ mostDeliveries: 3, histogram: { 1: 249_750, 2: 250, 3: 1 } });
  });

  it('are none for a list nothing reached', () => {
    expect(deliveryFigures(new Map())).toEqual({ mostDeliveries: 0, histogram: {} });
  });
});
