// A fault row's deliveries per member, as the vendor simulator counted them (each import call's
// members, repeats included): the most one member had, and how many members had each count.
// Counted in a loop: spreading a whole list into Math.max (200,000 arguments in the full profile)
// overflows the call stack, which once failed every full-profile row after its run had ended and
// before its figures were written.

export interface DeliveryFigures {
  /** Deliveries of the member delivered most often (0 for an empty list). */
  mostDeliveries: number;
  /** Members by how many times each was delivered, e.g. { 1: 199000, 2: 1000 }. */
  histogram: Record<string, number>;
}

export function deliveryFigures(perMember: ReadonlyMap<string, number>): DeliveryFigures {
  let mostDeliveries = 0;
  const histogram: Record<string, number> = {};
  for (const count of perMember.values()) {
    if (count > mostDeliveries) mostDeliveries = count;
    histogram[count] = (histogram[count] ?? 0) + 1;
  }
  return { mostDeliveries, histogram };
}
