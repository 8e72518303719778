// JSON text built directly, for request bodies an adapter writes member by member instead of
// building an object per member and then JSON.stringify-ing the batch (the objects of a
// 1,000-member batch cost more than the text itself). Each piece is exactly what JSON.stringify
// writes for the same value, so a body built of them is byte for byte the one it would give.
// Pieces joined with `+=` cost least: V8 keeps them as a rope and copies it once, when fetch
// encodes the body (an array of pieces and join() measured slower than JSON.stringify).

/**
 * Characters JSON.stringify writes other than as themselves: the quote, the backslash, controls
 * U+0000–U+001F, and surrogates (a lone one is escaped; a pair is left to JSON.stringify to tell).
 */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string as a JSON string literal, exactly as JSON.stringify(value) writes it. */
export function jsonString(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}
