// The JSON text of an immutable value, made once: a game's state is written to the database
// and measured for replication at every write, and both need the same text.

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
