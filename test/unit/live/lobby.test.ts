// The lobby's lists: open games by pages, and the newest games being played, to watch; and the
// feed that keeps them once per node.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveRound } from '../../../src/game/round.js';
import {
  createGame,
  joinGame,
  leaveGame,
  startGame,
  submitAction,
} from '../../../src/game/rules.js';
import { DIRECTIONS, type ActionKind, type GameState } from '../../../src/game/types.js';
import {
  LOBBY_PLAYING_SHOWN,
  LobbyFeed,
  lobbyLists,
  lobbyPage,
  type LobbyPage,
} from '../../../src/live/lobby-socket.js';
import { openGamesHtml } from '../../../src/live/lobby-templates.js';
import { lobby, ok, started } from '../game/fixtures.js';

/** A game of these players, opened at `createdAt`, with code `code`. */
function game(code: string, createdAt: number, state: GameState): GameState {
  return { ...state, code, createdAt };
}

describe('the lobby', () => {
  it('lists open games to join and the newest games being played to watch, never a finished one', () => {
    const open = game('OPEN', 5, lobby(['ann', 'bob']));
    const playing = Array.from({ length: LOBBY_PLAYING_SHOWN + 3 }, (_, i) =>
      game(`P${String.fromCharCode(65 + i)}AA`, 100 + i, started(['cy', 'dee', 'eve'])),
    );
    const fallen = game('FELL', 1000, started(['cy', 'dee', 'eve']));
    fallen.players = fallen.players.map((p) => (p.id === 'dee' ? { ...p, alive: false } : p));
    const over: GameState = { ...game('OVER', 2000, started(['ann', 'bob'])), status: 'finished' };

    const page = lobbyPage(lobbyLists([open, ...playing, fallen, over]), 'ann', 1);
    expect(page.rows.map((r) => r.code)).toEqual(['OPEN']);
    expect(page.total).toBe(1);
    expect(page.playing.total).toBe(LOBBY_PLAYING_SHOWN + 4);
    expect(page.playing.rows).toHaveLength(LOBBY_PLAYING_SHOWN);
    expect(page.playing).toMatchObject({ page: 1, pages: 2 });
    // Newest first; the oldest on the next page.
    expect(page.playing.rows[0]).toEqual({
      code: 'FELL',
      heroes: ['cy', 'DEE', 'EVE'],
      standing: 2,
      joined: false,
    });
    expect(page.playing.rows[1]?.code).toBe(
      `P${String.fromCharCode(65 + LOBBY_PLAYING_SHOWN + 2)}AA`,
    );
    expect(page.playing.rows.map((r) => r.code)).not.toContain('PAAA');
    expect(page.playing.rows.every((r) => r.standing === 3 || r.code === 'FELL')).toBe(true);
    // The second page holds the rest, oldest last; a page past the end shows the last one.
    const second = lobbyPage(lobbyLists([open, ...playing, fallen, over]), 'ann', 1, 2).playing;
    expect(second.page).toBe(2);
    expect(second.rows.map((r) => r.code)).toEqual(['PDAA', 'PCAA', 'PBAA', 'PAAA']);
    expect(lobbyPage(lobbyLists([open, ...playing, fallen]), 'ann', 1, 99).playing).toEqual(second);
    // Each list pages on its own: the open games' page stays as asked.
    expect(lobbyPage(lobbyLists([open, ...playing, fallen]), 'ann', 1, 2).page).toBe(1);

    // A hero of a game being played is offered to open it.
    expect(lobbyPage(lobbyLists([fallen]), 'dee', 1).playing.rows[0]?.joined).toBe(true);
    expect(lobbyPage(lobbyLists([fallen]), null, 1).playing.rows[0]?.joined).toBe(false);
    expect(lobbyPage(lobbyLists([open, over]), 'ann', 1).playing).toEqual({
      rows: [],
      total: 0,
      page: 1,
      pages: 1,
    });
  });

  it('lists the newest games being played first, ties by code, at most the shown number, and counts them all', () => {
    const base = started(['cy', 'dee']);
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 20 }), playing: fc.boolean() }), {
          maxLength: 40,
        }),
        (specs) => {
          const games = specs.map((x, i): GameState => ({
            ...game(`G${String(i).padStart(3, '0')}`, x.at, base),
            status: x.playing ? 'playing' : 'open',
          }));
          const sorted = games
            .filter((g) => g.status === 'playing')
            .sort((a, b) => b.createdAt - a.createdAt || (a.code < b.code ? -1 : 1));
          const { rows, total } = lobbyPage(lobbyLists(games), null, 1).playing;
          expect(total).toBe(sorted.length);
          expect(rows.map((r) => r.code)).toEqual(
            sorted.slice(0, LOBBY_PLAYING_SHOWN).map((g) => g.code),
          );
        },
      ),
    );
  });
});

/** Games kept as a node's replica would, telling the feed of each change as GameReads does. */
function games() {
  const all = new Map<string, GameState>();
  let listener: (code: string) => void = () => undefined;
  return {
    all,
    source: {
      game: (code: string) => all.get(code),
      lobbyGames: () => [...all.values()].filter((g) => g.status !== 'finished'),
      subscribe: (l: (code: string) => void) => ((listener = l), () => undefined),
    },
    put(state: GameState | undefined, code = state?.code ?? '') {
      if (state) all.set(code, state);
      else all.delete(code);
      listener(code);
    },
  };
}

const VIEWERS = [null, 'p0', 'p1', 'p5'];

/** Every viewer's first two lobby pages of these lists. */
function pages(lists: ReturnType<typeof lobbyLists>) {
  return VIEWERS.flatMap((v) => [lobbyPage(lists, v, 1), lobbyPage(lists, v, 2)]);
}

describe('the lobby feed (one per node)', () => {
  it('tells its pages when a game opens, fills, starts, loses a hero or ends; not of actions or quiet rounds', () => {
    const g = games();
    const feed = new LobbyFeed(g.source);
    const heard: string[] = [];
    feed.subscribe((code) => heard.push(code));

    let state = createGame({
      id: 'g1',
      code: 'KEPS',
      seed: 3,
      creator: { id: 'p0', name: 'ann' },
      now: 1000,
      roundMs: 2000,
    });
    g.put(state);
    state = ok(joinGame(state, { id: 'p1', name: 'bob' }));
    g.put(state);
    state = ok(joinGame(state, { id: 'p2', name: 'cy' }));
    g.put(state);
    state = ok(startGame(state, 'p0', 2000));
    g.put(state);
    expect(heard).toEqual(['KEPS', 'KEPS', 'KEPS', 'KEPS']);
    const lists = feed.lists();
    expect(feed.lists()).toBe(lists);

    // An action: nothing the lobby shows.
    state = ok(submitAction(state, 'p0', { id: 'a1', round: state.round, kind: 'defend' }));
    g.put(state);
    expect(heard).toHaveLength(4);
    expect(feed.lists()).toBe(lists);

    // Rounds go by unheard until a hero falls.
    let rounds = 0;
    while (state.players.every((p) => p.alive)) {
      state = resolveRound(state, state.deadline ?? 0);
      g.put(state);
      rounds++;
    }
    expect(rounds).toBeGreaterThan(1);
    expect(state.status).toBe('playing');
    expect(heard).toHaveLength(5);
    expect(lobbyPage(feed.lists(), null, 1).playing.rows[0]?.standing).toBe(2);

    // A finished game leaves the lists; the record's later removal changes nothing there.
    g.put({ ...state, status: 'finished' });
    expect(heard).toHaveLength(6);
    expect(feed.lists()).toEqual({ open: [], playing: [] });
    g.put(undefined, 'KEPS');
    expect(heard).toHaveLength(6);
  });

  it('always gives the lists the games give, and tells its pages of every change to them', () => {
    const step = fc.record({
      // Weighted towards games that fill, start and go on.
      kind: fc.constantFrom(
        ...(['open', 'join', 'join', 'join', 'leave', 'start', 'start'] as const),
        ...(['act', 'act', 'act', 'round', 'round', 'fall', 'end', 'drop'] as const),
      ),
      game: fc.nat(30),
      who: fc.nat(7),
      dir: fc.constantFrom(...DIRECTIONS),
      move: fc.constantFrom<ActionKind>('move', 'attack', 'defend'),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 20, maxLength: 300 }), (steps) => {
        const g = games();
        const feed = new LobbyFeed(g.source);
        let heard = 0;
        feed.subscribe(() => heard++);
        let shown = pages(lobbyLists(g.source.lobbyGames()));
        let opened = 0;
        steps.forEach((s, i) => {
          const codes = [...g.all.keys()];
          const code = codes[s.game % Math.max(1, codes.length)];
          const state = code === undefined ? undefined : g.all.get(code);
          const who = `p${s.who}`;
          let next: GameState | undefined | null;
          const kind = state ? s.kind : 'open';
          if (kind === 'open' || !state) {
            const n = opened++;
            next = createGame({
              id: `g${n}`,
              code: `C${String(n).padStart(3, '0')}`,
              seed: n,
              creator: { id: who, name: `hero${s.who}` },
              now: 1000 + (n % 7),
              roundMs: 2000,
            });
          } else if (s.kind === 'join') {
            const r = joinGame(state, { id: who, name: `hero${s.who}` });
            next = r.ok ? r.state : null;
          } else if (s.kind === 'leave') {
            const r = leaveGame(state, who);
            next = r.ok ? r.state : null;
          } else if (s.kind === 'start') {
            const r = startGame(state, state.createdBy, 2000);
            next = r.ok ? r.state : null;
          } else if (s.kind === 'act') {
            const action = { id: `a${i}`, round: state.round, kind: s.move, dir: s.dir };
            if (s.move === 'defend') delete (action as { dir?: string }).dir;
            const r = submitAction(state, who, action);
            next = r.ok ? r.state : null;
          } else if (s.kind === 'round') {
            next = resolveRound(state, state.deadline ?? 0);
          } else if (s.kind === 'fall') {
            // A hero falls (rounds alone take long to get there).
            const hero = state.players[s.who % state.players.length]!;
            next = {
              ...state,
              players: state.players.map((p) => (p === hero ? { ...p, hp: 0, alive: false } : p)),
            };
          } else if (s.kind === 'end') {
            next = { ...state, status: 'finished' };
          } else next = undefined;
          if (next === null) return;
          const before = heard;
          g.put(next, next?.code ?? code);
          const now = pages(lobbyLists(g.source.lobbyGames()));
          expect(pages(feed.lists())).toEqual(now);
          if (JSON.stringify(now) !== JSON.stringify(shown)) expect(heard).toBeGreaterThan(before);
          if (kind === 'act') expect(heard).toBe(before);
          shown = now;
        });
      }),
      { numRuns: 60 },
    );
  });
});

/** Text as HTML (as EJS writes it): written here again, to check the templates' own. */
const ESCAPED = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' };
const escape = (t: string) => t.replace(/[&<>"']/g, (c) => ESCAPED[c as keyof typeof ESCAPED]);

describe('the lobby template', () => {
  it('escapes every name and form token it shows, for any lists', () => {
    // Names and tokens with every character HTML escapes, each between two letters the page's
    // own markup never has.
    const text = fc.stringMatching(/^[a-z&<>"' ]{1,12}$/).map((s) => `Ω${s}Ω`);
    const code = fc.stringMatching(/^[A-Z]{4}$/);
    const open = fc.record({
      code,
      host: text,
      players: fc.integer({ min: 1, max: 8 }),
      max: fc.constant(8),
      joined: fc.boolean(),
      canJoin: fc.boolean(),
    });
    const playing = fc.record({
      code,
      heroes: fc.array(text, { minLength: 1, maxLength: 4 }),
      standing: fc.integer({ min: 0, max: 4 }),
      joined: fc.boolean(),
    });
    const page: fc.Arbitrary<LobbyPage> = fc
      .record({
        rows: fc.array(open, { maxLength: 6 }),
        playing: fc.array(playing, { maxLength: 8 }),
      })
      .map(({ rows, playing: playingRows }) => ({
        rows,
        page: 1,
        pages: 1,
        total: rows.length,
        playing: { rows: playingRows, total: playingRows.length, page: 1, pages: 1 },
      }));
    fc.assert(
      fc.property(page, text, (lobbyPage, token) => {
        const out = openGamesHtml(lobbyPage, token);
        for (const r of lobbyPage.rows) expect(out).toContain(`hosted by ${escape(r.host)}`);
        // With every escaped name and token taken out, none is left: none went in raw.
        const texts = [
          ...lobbyPage.rows.map((r) => r.host),
          ...lobbyPage.playing.rows.flatMap((r) => r.heroes),
          token,
        ];
        let rest = out;
        for (const t of texts) rest = rest.replaceAll(escape(t), '');
        expect(rest).not.toContain('Ω');
      }),
      { numRuns: 300 },
    );
  });
});
