// Session ids on Workers: the id a client sees is the app's own id followed
// by the id of the key's Durable Object that holds the session,
// "s_<24 hex>-<64 hex>", so every later request of the session reaches that
// object (routing.ts), and a client's object can ask it about the session.

const OUTER_ID = /^(s_[0-9a-f]{24})-([0-9a-f]{64})$/;

/** The client-visible id of session `inner` held by object `objectId`. @example outerId('s_0…', 'ab…') === 's_0…-ab…' */
export const outerId = (inner: string, objectId: string) => `${inner}-${objectId}`;

/** Splits a client-visible session id; null if it is not one. */
export function splitId(outer: string): { inner: string; object: string } | null {
  const m = OUTER_ID.exec(outer);
  return m ? { inner: m[1], object: m[2] } : null;
}
