// Which node should own a game: rendezvous (highest-random-weight) hashing over the live,
// ready members that can read the game's schema. Pure, so every node computes the same
// answer from the same membership, and a node leaving moves only its own games.

export interface Candidate {
  id: string;
  state: string;
  schemas: readonly number[];
  /** Release version; during a rolling update games go to the newest release. */
  version?: string;
}

/** Compares dotted numeric versions ("0.10.2" > "0.9.7"); missing parts count as 0. */
export function compareReleases(a: string, b: string): number {
  const pa = a.split(/[.+-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.+-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
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

/**
 * Ready members that can read the schema; of those, only the newest release, so that during a
 * rolling update a game moves once, to a node that stays, not to an old one about to go.
 */
export function eligible(candidates: readonly Candidate[], schema: number): Candidate[] {
  const ok = candidates.filter((c) => c.state === 'ready' && c.schemas.includes(schema));
  const newest = ok.reduce<string | null>(
    (best, c) =>
      c.version === undefined
        ? best
        : best === null || compareReleases(c.version, best) > 0
          ? c.version
          : best,
    null,
  );
  return newest === null
    ? ok
    : ok.filter((c) => c.version === undefined || compareReleases(c.version, newest) === 0);
}

/** The members in order of preference for `key`: the first is the owner, the rest are fallbacks. */
export function rankFor(key: string, candidates: readonly Candidate[], schema: number): string[] {
  return eligible(candidates, schema)
    .map((c) => ({ id: c.id, w: fnv1a(`${key}|${c.id}`) }))
    .sort((a, b) => b.w - a.w || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((c) => c.id);
}

export function placeGame(
  key: string,
  candidates: readonly Candidate[],
  schema: number,
): string | null {
  return rankFor(key, candidates, schema)[0] ?? null;
}
