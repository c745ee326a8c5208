// The numbers and switches that decide how a game plays out, in one place so the balance
// simulation (scripts/balance.ts) can compare rule sets. RULES is the set every game plays by;
// the others are kept for the comparison in docs/balance.md.

export interface Rules {
  /** Health every hero starts with. */
  startHp: number;
  /**
   * Heroes start on the rim's start tiles this many tiles apart, counted in start tiles (1 is
   * neighbouring start tiles); null spreads them as far apart as the rim allows.
   */
  startGap: number | null;
  /** Damage of a hero's blow on an undefended hero. */
  attackDamage: number;
  /** Damage of the Minotaur's strike on an undefended hero, and on one who defends. */
  minotaurDamage: number;
  minotaurDamageDefended: number;
  /** A hero who defends and is struck by another hero hits back for this much (0: no riposte). */
  riposteDamage: number;
  /**
   * A shield raised two rounds running is tired: it still stops heroes' blows, but not the
   * Minotaur.
   */
  tiredShield: boolean;
  /**
   * Whether the Minotaur strikes in the round it steps (true), or either strikes a hero already
   * beside it or steps closer (false), so a hero who steps away in time is never struck.
   */
  strikeAfterStep: boolean;
  /** The Minotaur takes a step only in every `minotaurPace`-th round (1: every round). */
  minotaurPace: number;
}

/** The rules of schema 2 and before: the Minotaur decided almost every game on its own. */
export const CLASSIC_RULES: Readonly<Rules> = Object.freeze({
  startHp: 5,
  startGap: null,
  attackDamage: 1,
  minotaurDamage: 2,
  minotaurDamageDefended: 1,
  riposteDamage: 0,
  tiredShield: false,
  strikeAfterStep: true,
  minotaurPace: 1,
});

/** The rules every game plays by (chosen from the numbers in docs/balance.md). */
export const RULES: Readonly<Rules> = Object.freeze({
  startHp: 5,
  startGap: 1,
  attackDamage: 1,
  minotaurDamage: 2,
  minotaurDamageDefended: 0,
  riposteDamage: 1,
  tiredShield: true,
  strikeAfterStep: false,
  minotaurPace: 2,
});
