// The live differ (src/live/patch.ts) against the page's reader (public/js/live-render.js): a
// page that applies every message holds exactly the HTML of the trees last rendered, through
// whole games and through random trees.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  actionsPartial,
  boardOf,
  chatLine,
  chatPartial,
  intentOf,
  logPartial,
  overlayPartial,
  playerRow,
  playersPartial,
  statusPartial,
} from '../../../src/live/game-templates.js';
import { html, Mark, Rendered, toHtml, type Dyn, type Seat } from '../../../src/live/html.js';
import {
  newPatchState,
  owedFor,
  patch,
  renderMessage,
  Stream,
  STREAM_RECENT,
  STREAM_WORDS,
  type PatchMessage,
  type PatchState,
} from '../../../src/live/patch.js';
import { gameView } from '../../../src/live/view-model.js';
import { playedGame } from './corpus.js';
import { LivePage, RELEASE_TABLE, type LivePageApi } from '../../support/live-page.js';

/** A page that reads a stream: it holds the release's template table, or (st) it does not. */
interface Reader {
  page: LivePageApi;
  held: number;
  st: PatchState | null;
}

function reader(table: boolean): Reader {
  return table
    ? { page: new LivePage(RELEASE_TABLE), held: -1, st: null }
    : { page: new LivePage(), held: -1, st: newPatchState() };
}

/**
 * The messages of the stream's parts as a node sends them to the page (live-socket.ts): a page
 * without the table gets the fixed text each part uses with it; `own` goes with the last.
 */
function messages(r: Reader, parts: readonly PatchMessage[], own: string | null): string[] {
  return parts.map((part, j) => {
    const owed = r.st ? (patch(r.st, [], owedFor(r.st, part))?.body ?? null) : null;
    const mine = j === parts.length - 1 ? own : null;
    return renderMessage(
      owed === null ? mine : mine === null ? owed : `${owed},${mine}`,
      part.body,
    );
  });
}

/**
 * Sends `steps` (each a set of target → tree) through the differ to a page; checks the page after
 * each.
 */
function roundTrip(steps: Map<string, Dyn>[], seat = -1): number[] {
  const st = newPatchState();
  const page = new LivePage();
  const sizes: number[] = [];
  let told = false;
  for (const trees of steps) {
    const body = patch(st, trees)?.body;
    const msg: string | null =
      body === undefined ? null : renderMessage(told ? body : `${body},"me":${seat}`);
    told ||= msg !== null;
    if (msg !== null) {
      expect(LivePage.isRender(msg)).toBe(true);
      sizes.push(Buffer.byteLength(msg));
      page.apply(msg);
    }
    for (const [target, tree] of trees)
      expect(page.html(page.trees[target]), target).toBe(toHtml(tree, { seat }));
  }
  return sizes;
}

function partials(state: Parameters<typeof gameView>[0], viewer: string | null): Map<string, Dyn> {
  const g = gameView(state, viewer);
  return new Map<string, Dyn>([
    ['game-status', statusPartial(g, null, intentOf(g))],
    ['game-log', logPartial(g)],
    ['game-board', boardOf(g)],
    [
      'game-players',
      playersPartial(
        g.players.map((p) => playerRow(p, { status: g.status, winnerId: g.winner?.id ?? null })),
      ),
    ],
    ['game-actions', actionsPartial(g, 'tok')],
    ['game-overlay', overlayPartial(g, 'tok')],
    ['game-chat', chatPartial(g.chat.map(chatLine), { player: !!g.me, archived: false })],
  ]);
}

describe('patch', () => {
  it('keeps a page in step with every state of whole games, for players and a spectator', () => {
    for (const [seed, n] of [
      [11, 5],
      [13, 8],
      [7, 2],
    ] as const) {
      const states = playedGame(seed, n, { maxRounds: 15 }).map((s) => s.state);
      for (const viewer of ['1', '2', 'spectator'])
        roundTrip(states.map((s) => partials(s, viewer)));
    }
  });

  it('sends nothing when nothing changed, and a template’s fixed text only once', () => {
    const st = newPatchState();
    const tree = (x: string) => html`<p class="a">${x}</p>`;
    const first = renderMessage(patch(st, [['t', tree('one')]])!.body);
    expect(JSON.parse(first).t).not.toEqual({});
    expect(patch(st, [['t', st.trees.get('t')!]])).toBeNull();
    const second = JSON.parse(renderMessage(patch(st, [['t', tree('two')]])!.body));
    expect(second.t).toEqual({});
    expect(second.p).toEqual({ t: { d: { 0: 'two' } } });
  });

  it('sends a panel that comes back as the values that differ from when it was last shown', () => {
    const buttons = (round: number) =>
      html`<div>${['nw', 'ne', 'e', 'w', 'se', 'sw'].map((d) => html`<button type="button" class="dir dir-${d}" hx-ws:send hx-vals='{"kind":"move","dir":"${d}","round":${round}}' data-action="move" data-dir="${d}"><svg class="arrow" viewBox="0 0 24 24" aria-hidden="true"><path d="M12 3 20 12h-5v9H9v-9H4z"/></svg></button>`)}</div>`;
    const done = (round: number) => html`<p>Submitted for round ${round}</p>`;
    const panel = (inner: Rendered) => html`<section>${inner}</section>`;
    const steps = [
      panel(buttons(1)),
      panel(done(1)),
      panel(buttons(2)),
      panel(done(2)),
      panel(buttons(3)),
    ].map((p) => new Map<string, Dyn>([['actions', p]]));
    const sizes = roundTrip(steps);
    const whole = toHtml(steps[2]!.get('actions')!).length;
    expect(sizes[2]).toBeLessThan(whole / 4);
    expect(sizes[4]).toBeLessThan(whole / 4);
  });

  it('sends one stream to many pages; one that joins late gets the texts in use, not all ever sent', () => {
    const stream = new Stream();
    const line = (i: number) => `event number ${i} happened in the labyrinth`;
    const step = (i: number) =>
      new Map<string, Dyn>([
        ['log', html`<ul>${[0, 1, 2].map((k) => html`<li>${line(i * 3 + k)}</li>`)}</ul>`],
        ['mark', html`<p>${new Mark(1, 'yours', line(i))}</p>`],
      ]);
    const pages: (Reader & { seat: number })[] = [];
    let joinedLate = 0;
    for (let i = 0; i < 200; i++) {
      const trees = step(i);
      stream.advance(trees);
      if (i === 0 || i === 150) pages.push({ ...reader(i === 0), seat: pages.length });
      for (const p of pages) {
        const parts = stream.read(p.held);
        const first = p.held === -1;
        p.held = stream.version;
        if (parts === null) continue;
        expect(parts).toHaveLength(1);
        const [msg] = messages(p, parts, first ? `"me":${p.seat}` : null) as [string];
        if (first && i === 150) joinedLate = msg.length;
        p.page.apply(msg);
        for (const [target, tree] of trees)
          expect(p.page.partial(target)).toBe(toHtml(tree, { seat: p.seat }));
      }
    }
    // 800 long texts went by: the stream started over past STREAM_WORDS, so a page that joins
    // is sent a few hundred at most.
    expect(joinedLate).toBeLessThan(STREAM_WORDS * 60);
    expect(joinedLate).toBeGreaterThan(0);
  });

  it('keeps a change only while a reading page still needs it', () => {
    const stream = new Stream();
    const step = (i: number) =>
      new Map<string, Dyn>([['status', html`<p>round ${String(i)} of the labyrinth</p>`]]);
    const whole = (parts: readonly { body: string }[] | null) =>
      parts?.[0]?.body.startsWith('"r":1');
    stream.advance(step(1));
    let a = -1;
    let b = -1;
    expect(whole(stream.read(a))).toBe(true);
    a = stream.version;
    stream.read(b);
    b = stream.version;
    // B falls three changes behind while A keeps up: B is sent the three, one by one.
    for (let i = 2; i <= 4; i++) {
      stream.advance(step(i));
      expect(stream.read(a)).toHaveLength(1);
      a = stream.version;
    }
    const missed = stream.read(b)!;
    expect(missed).toHaveLength(3);
    expect(missed.some((p) => p.body.startsWith('"r":1'))).toBe(false);
    b = stream.version;
    // Both in step: the next change is kept for B only until B reads it...
    stream.advance(step(5));
    expect(stream.read(a)).toHaveLength(1);
    a = stream.version;
    expect(whole(stream.read(b))).toBe(false);
    // ... and once B has left, a change A has read is kept for nobody: a page that comes back
    // from B's version (not reading any more, so not counted) is sent the whole state.
    const left = stream.version;
    stream.leave(left);
    stream.advance(step(6));
    expect(whole(stream.read(a))).toBe(false);
    expect(whole(stream.read(left))).toBe(true);
  });

  it('keeps pages that skip versions in step: the changes they missed, or the whole state', () => {
    // One stream; pages render at random moments, as spectators' pages do when they render a
    // few turns after the players' (render-turns.ts). Over a played game's shared partials, and
    // over texts enough to make the stream start over (STREAM_WORDS) several times.
    const game = playedGame(7, 5, { maxRounds: 30 }).map((s) => partials(s.state, null));
    const line = (i: number) => `event number ${i} happened in the labyrinth`;
    const texts = Array.from(
      { length: 200 },
      (_, i) =>
        new Map<string, Dyn>([
          ['log', html`<ul>${[0, 1, 2].map((k) => html`<li>${line(i * 3 + k)}</li>`)}</ul>`],
        ]),
    );
    for (const trees of [game, texts])
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              table: fc.boolean(),
              at: fc.array(fc.nat(3), { minLength: trees.length, maxLength: trees.length }),
            }),
            { minLength: 1, maxLength: 4 },
          ),
          (schedules) => {
            const stream = new Stream();
            const pages = schedules.map((s) => reader(s.table));
            for (const [i, t] of trees.entries()) {
              stream.advance(t);
              for (const [k, p] of pages.entries()) {
                // Each page renders at about one state in four (every page renders the last).
                if (schedules[k]!.at[i] !== 0 && i < trees.length - 1) continue;
                const behind = stream.version - p.held;
                const parts = stream.read(p.held);
                const wasNew = p.held === -1;
                p.held = stream.version;
                if (parts === null) continue;
                expect(parts).toHaveLength(!wasNew && behind <= STREAM_RECENT ? behind : 1);
                for (const msg of messages(p, parts, wasNew ? '"me":-1' : null)) p.page.apply(msg);
                for (const [target, tree] of t)
                  expect(p.page.partial(target), target).toBe(toHtml(tree, { seat: -1 }));
              }
            }
          },
        ),
        { numRuns: 40 },
      );
  });

  it('sends items that moved (a chat line scrolled up, a row pushed down) as references', () => {
    // Lines kept in a cache, as the game keeps them: the same trees when they move.
    const names = ['ariadne', 'theseus', 'minos', 'icarus', 'daedalus'];
    const cache = new Map<number, Rendered>();
    const line = (n: number) => {
      let t = cache.get(n);
      if (!t) {
        t = chatLine({
          n,
          me: n % 5,
          colorIndex: n % 5,
          name: names[n % 5]!,
          text: `line ${n}: watch out for the Minotaur`,
          call: false,
        });
        cache.set(n, t);
      }
      return t;
    };
    const chat = (from: number, to: number) =>
      new Map<string, Dyn>([
        [
          'chat',
          chatPartial(
            Array.from({ length: to - from }, (_, i) => line(from + i)),
            { player: 'seated', archived: false },
          ),
        ],
      ]);
    // A full chat (30 lines) where each new line drops the oldest; then a line at the top.
    const steps = [chat(0, 30), chat(1, 31), chat(2, 32), chat(4, 34), chat(3, 34)];
    const sizes = roundTrip(steps, 1);
    const st = newPatchState();
    patch(st, chat(0, 30));
    expect(patch(st, chat(1, 31))!.body).toContain('{"<":1,"l":29}');
    // Each message is about the one new line, where the 29 moved lines cost ~2.5 KB before.
    for (const size of sizes.slice(1)) expect(size).toBeLessThan(400);
  });

  it('leaves a placeholder that takes another template’s place to the page’s kept trees', () => {
    // Reachable tiles (kept in a cache) and the placeholder of a tile out of reach: a tile that
    // comes back where the placeholder stood is sent as "the tree you kept here", which a
    // reference to the placeholder elsewhere would have lost.
    const tile = (x: number) =>
      html`<path d="M${x} 0 L${x + 10} 0 L${x + 5} 8 Z" class="reach" data-dir="${x}"></path>`;
    const [t1, t2, t3] = [tile(1), tile(2), tile(3)];
    const none = html`<g></g>`;
    const steps = [
      [t1, t2, t3],
      [none, t2, t3],
      [t1, none, t3],
      [t1, t2, t3],
    ].map((list) => new Map<string, Dyn>([['reach', list]]));
    roundTrip(steps);
    const st = newPatchState();
    const bodies = steps.map((trees) => patch(st, trees)!.body);
    expect(bodies[3]).toContain('"p":1');
    expect(bodies[3]).not.toMatch(/"t":\d/);
  });

  it('keeps a page in step through lists of trees that move about', () => {
    // Trees made once and drawn again (as caches give them back), some alike, nested in lists
    // that shrink, grow, empty and come back.
    const T = [
      (a: string, b: string) => html`<li>${a}:${b}</li>`,
      (a: string, b: string) => html`<li class="${a}">${b}</li>`,
    ];
    const pool = Array.from({ length: 12 }, (_, i) =>
      T[i % 2]!(`item ${i}`, i % 3 === 0 ? 'same' : `text of item number ${i}`),
    );
    const item = fc.oneof(
      { weight: 4, arbitrary: fc.nat(pool.length - 1).map((i) => pool[i]!) },
      fc.tuple(fc.nat(1), fc.string({ maxLength: 4 })).map(([t, a]) => T[t]!(a, 'fresh')),
    );
    const list = fc.array(item, { maxLength: 14 });
    const wrap = [
      (l: Rendered[]) => html`<ul>${l}</ul>`,
      (l: Rendered[]) => html`<ol>${l}</ol>${l.slice(0, 3)}`,
    ];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(1), list, list), { minLength: 1, maxLength: 16 }),
        (seq) => {
          roundTrip(
            seq.map(
              ([w, a, b]) =>
                new Map<string, Dyn>([
                  ['x', wrap[w]!(a)],
                  ['y', b],
                ]),
            ),
          );
        },
      ),
      { numRuns: 400 },
    );
  });

  it('keeps a page in step through random trees', () => {
    // Short texts, and long ones that come back (sent once, then by reference).
    const long = [
      '-53.26,120.75 -53.26,149.25 -77.94,163.5',
      'ariadne, theseus, minos, icarus',
      'x'.repeat(40),
    ];
    const leaf = fc.oneof(
      fc.constantFrom('', 'a', '<b>', '"q"'),
      fc.string({ maxLength: 6 }),
      fc.constantFrom(...long),
    );
    const T = [
      (a: string, b: Dyn) => html`<i>${a}</i>${b}`,
      (a: string, b: Dyn) => html`<u a="${a}">${b}</u>`,
      (a: string, b: Dyn) => html`${a}|${b}`,
    ];
    // Marks for seat 0, seat 1 or any seated hero, seen by a page of seat 1 or a spectator's.
    const tree: fc.Arbitrary<Dyn> = fc.letrec<{ t: Dyn }>((tie) => ({
      t: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc
          .tuple(fc.constantFrom<Seat>(0, 1, 'seated'), leaf, tie('t'))
          .map(([who, yes, no]) => new Mark(who, yes, no)),
        fc.tuple(fc.nat(2), leaf, tie('t')).map(([i, a, b]) => T[i]!(a, b)),
        fc.array(
          fc.tuple(fc.nat(2), leaf, leaf).map(([i, a, b]) => T[i]!(a, b)),
          { maxLength: 4 },
        ),
      ),
    })).t;
    const wrap = (d: Dyn) => html`<root>${d instanceof Rendered ? [d] : d}</root>`;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(tree, tree), { minLength: 1, maxLength: 12 }),
        fc.constantFrom(-1, 1),
        (seq, seat) => {
          roundTrip(
            seq.map(
              ([a, b]) =>
                new Map<string, Dyn>([
                  ['x', wrap(a)],
                  ['y', b],
                ]),
            ),
            seat,
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
