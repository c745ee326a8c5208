// Records keyed by player id (who has chosen this round, the actions applied last round).
//
// Player ids are account ids, which are digits, and V8 keeps digit keys as array indices: on a
// plain `{}` it stores them in an array as long as the largest id, so while accounts number in
// the thousands each copy of a record of five heroes allocated and copied an array of that size
// (~17 KB and ~6 µs per copy with ids up to 2,000, against ~0.7 KB and ~1 µs kept as a
// dictionary: docs/benchmarks.md). These records are plain objects like any other (same keys,
// same order, same JSON), whose indexed keys V8 keeps in a dictionary from the start.

/** An index far above any account id: storing it makes V8 keep indexed keys in a dictionary. */
const FAR_INDEX = 2 ** 30;

/** An empty record whose digit keys are kept in a dictionary. */
export function idRecord<T>(): Record<string, T> {
  const o: Record<number, T | undefined> = {};
  o[FAR_INDEX] = undefined;
  Reflect.deleteProperty(o, FAR_INDEX);
  return o as Record<string, T>;
}

/** Sets `key` as an own property whatever it is (an assignment to "__proto__" would not). */
function put<T>(o: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__')
    Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}

/** A record of the given entries. */
export function idRecordOf<T>(entries: Iterable<readonly [string, T]>): Record<string, T> {
  const out = idRecord<T>();
  for (const [key, value] of entries) put(out, key, value);
  return out;
}

/** A copy of `record` with `key` set to `value` (in its place if it was there, else last). */
export function withEntry<T>(
  record: Readonly<Record<string, T>>,
  key: string,
  value: T,
): Record<string, T> {
  const out = idRecord<T>();
  for (const k of Object.keys(record)) put(out, k, k === key ? value : (record[k] as T));
  if (!Object.hasOwn(record, key)) put(out, key, value);
  return out;
}
