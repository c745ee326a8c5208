// The JSON text of an immutable value, made once: a game's state is written to the database,
// measured for replication and sent to the peers at every write, and all three need the same
// text.

const texts = new WeakMap<object, string>();

/**
 * JSON.stringify of `value`, kept for as long as the value lives. Only for values that are never
 * changed in place (game states are replaced, never mutated).
 */
export function jsonText(value: object): string {
  let text = texts.get(value);
  if (text === undefined) {
    text = JSON.stringify(value);
    texts.set(value, text);
  }
  return text;
}

/**
 * JSON.stringify(value), the same text, with every object whose JSON text is kept (jsonText)
 * written from that text instead of serialised again: a mesh frame carries the game state its
 * node has just saved. Plain objects and arrays are walked `depth` levels down (an envelope, its
 * body, a list of records, a record); below that, and for any other value, JSON.stringify runs.
 */
export function stringifyReusing(value: unknown, depth = 5): string | undefined {
  if (typeof value !== 'object' || value === null || depth <= 0) return JSON.stringify(value);
  const kept = texts.get(value);
  if (kept !== undefined) return kept;
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const text = stringifyReusing(value[i], depth - 1);
      out += `${i ? ',' : ''}${text ?? 'null'}`;
    }
    return `${out}]`;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if ((proto !== Object.prototype && proto !== null) || 'toJSON' in value)
    return JSON.stringify(value);
  let out = '';
  for (const key of Object.keys(value)) {
    const text = stringifyReusing((value as Record<string, unknown>)[key], depth - 1);
    if (text === undefined) continue;
    out += `${out ? ',' : ''}${JSON.stringify(key)}:${text}`;
  }
  return `{${out}}`;
}
