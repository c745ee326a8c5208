// Which node should own a game: rendezvous (highest-random-weight) hashing over the live,
// ready members that can read the game's schema. Pure, so every node computes the same
// answer from the same membership, and a node leaving moves only its own games.

export interface Candidate {
  id: string;
  state: string;
  schemas: readonly number[];
}

/** FNV-1a, 32 bits: small, fast and well spread for short keys. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // A final avalanche so that keys differing in the last character still spread well.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

export function eligible(candidates: readonly Candidate[], schema: number): Candidate[] {
  return candidates.filter((c) => c.state === 'ready' && c.schemas.includes(schema));
}

/** The members in order of preference for `key`: the first is the owner, the rest are fallbacks. */
export function rankFor(key: string, candidates: readonly Candidate[], schema: number): string[] {
  return eligible(candidates, schema)
    .map((c) => ({ id: c.id, w: fnv1a(`${key}|${c.id}`) }))
    .sort((a, b) => b.w - a.w || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((c) => c.id);
}

export function placeGame(key: string, candidates: readonly Candidate[], schema: number): string | null {
  return rankFor(key, candidates, schema)[0] ?? null;
}
