// Looking up a user-supplied name in a plain object. `record["constructor"]` is a function on every
// object literal, so `failover constructor` once reached code that expected a resource's settings
// and answered "Internal error". Names typed in chat are looked up only through these helpers (or
// in Maps).

/** The record's own entry under `key`, never one inherited from Object.prototype. */
export function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** The record's own keys, for "configured: r0, r1" answers. */
export function ownKeys(record: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(record);
}
