import { RateLimiterMemory } from 'rate-limiter-flexible';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { CHAT_KEEP, createGame, say, type GameState } from '../../../src/game/index.js';
import type { Command } from '../../../src/sessions/commands.js';
import { GameLiveSocket } from '../../../src/live/game-socket.js';
import { LiveHub } from '../../../src/live/hub.js';
import { FLOOD_FACTOR, FRAMES_PER_SECOND, InboundBudget } from '../../../src/live/inbound.js';
import { LobbyFeed, LobbyLiveSocket, lobbyPage } from '../../../src/live/lobby-socket.js';
import { openGamesHtml } from '../../../src/live/lobby-templates.js';
import { MAX_UNSENT_BYTES, PING_MS } from '../../../src/live/live-socket.js';
import { TABLE_SIZE } from '../../../src/live/html.js';
import { seenToken } from '../../../src/sessions/seen.js';
import { GameFrames } from '../../../src/live/game-frame.js';
import { playedGame } from './corpus.js';
import type { GameSource, LiveWire } from '../../../src/live/source.js';
import { createMetrics } from '../../../src/metrics.js';
import { LivePage, RELEASE_TABLE } from '../../support/live-page.js';

class FakeWire implements LiveWire {
  readyState = 1;
  sent: string[] = [];
  closed: [number | undefined, string | undefined] | null = null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private handlers = new Map<string, ((...a: any[]) => void)[]>();
  send(data: string) {
    this.sent.push(data);
  }
  close(code?: number, reason?: string) {
    this.closed = [code, reason];
    this.readyState = 3;
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: string, listener: (...a: any[]) => void) {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), listener]);
    return this;
  }
  emit(event: string, ...args: unknown[]) {
    for (const h of this.handlers.get(event) ?? []) h(...args);
  }
}

function source(
  state: GameState | undefined,
  unreadable = false,
): GameSource & { fire(): void; set(s: GameState | undefined): void; commands: Command[] } {
  let listener: (code: string) => void = () => undefined;
  const commands: Command[] = [];
  return {
    game: () => state,
    shownRecord: () => (state ? { epoch: 7 } : undefined),
    caughtUp: async () => true,
    unreadable: () => unreadable,
    lobbyGames: () => [],
    gamesOf: () => [],
    subscribe: (l) => ((listener = l), () => undefined),
    watch: (_code, l) => ((listener = () => l()), () => undefined),
    awaitGame: async () => state,
    pending: async () => null,
    ownerBeyondCut: async () => false,
    runsHere: () => true,
    onBeyondCut: () => () => undefined,
    execute: async (_code, command) => (commands.push(command), { ok: true, duplicate: false }),
    fire: () => listener('KEPS'),
    set: (s) => (state = s),
    commands,
  };
}

const deps = (src: GameSource) => ({
  source: src,
  logger: pino({ level: 'silent' }),
  metrics: createMetrics('t'),
  budget: new InboundBudget(),
  chatLimiter: new RateLimiterMemory({ points: 3, duration: 10 }),
  now: () => 1000,
  csrfToken: 'tok',
  frames: new GameFrames(),
});

const game = createGame({
  id: 'g',
  code: 'KEPS',
  seed: 1,
  creator: { id: '1', name: 'ariadne' },
  now: 0,
  roundMs: 10_000,
});

/**
 * Two pages of one viewer: one sent whole partials, one that asks for trees; `show` gives both
 * a new state and lets them render.
 */
function twinPages(state: GameState, viewer: { id: string; username: string }) {
  const [htmlWire, treeWire] = [new FakeWire(), new FakeWire()];
  const [htmlSrc, treeSrc] = [source(state), source(state)];
  new GameLiveSocket(htmlWire, 'KEPS', viewer, deps(htmlSrc)).start();
  new GameLiveSocket(treeWire, 'KEPS', viewer, {
    ...deps(treeSrc),
    format: 'patch',
    shownGame: state.id,
  }).start();
  const show = async (next: GameState) => {
    for (const src of [htmlSrc, treeSrc]) {
      src.set(next);
      src.fire();
    }
    await new Promise((r) => setImmediate(r));
  };
  return { htmlWire, treeWire, show };
}

describe('GameLiveSocket', () => {
  it('sends the clock and every partial on connect, then only what changed', async () => {
    const wire = new FakeWire();
    const src = source(game);
    new GameLiveSocket(wire, 'KEPS', { id: '1', username: 'ariadne' }, deps(src)).start();
    expect(JSON.parse(wire.sent[0]!)).toEqual({ type: 'time', now: 1000 });
    expect(wire.sent[1]).toContain('hx-target="#game-board"');
    expect(wire.sent[1]).toContain('hx-target="#game-players"');
    src.fire();
    await new Promise((r) => setImmediate(r));
    expect(wire.sent).toHaveLength(2); // nothing changed, nothing sent
  });

  it('sends the ack and the change it acknowledges in one socket write, the ack first', async () => {
    const wire = new FakeWire();
    const writes: string[][] = [];
    let corked: string[] | null = null;
    // As a player's wire (web/live-wire.ts): what is sent while it is corked leaves in one write.
    Object.assign(wire, {
      cork: () => (corked = []),
      uncork: () => (writes.push(corked!), (corked = null)),
    });
    const send = wire.send.bind(wire);
    wire.send = (data: string) => (send(data), corked ? corked.push(data) : writes.push([data]));
    const src = source(game);
    // Like the replica: the command changes the game and notifies before the caller hears back.
    src.execute = async () => {
      src.set({
        ...game,
        players: [...game.players, { ...game.players[0]!, id: '2', name: 'theseus', color: 1 }],
      });
      src.fire();
      return { ok: true, duplicate: false };
    };
    new GameLiveSocket(wire, 'KEPS', { id: '1', username: 'ariadne' }, deps(src)).start();
    const before = writes.length;
    wire.emit(
      'message',
      JSON.stringify({ type: 'act', actionId: 'abcdefgh-1', round: 1, kind: 'defend' }),
      false,
    );
    await vi.waitFor(() => expect(writes.length).toBeGreaterThan(before), { timeout: 2000 });
    const [write] = writes.slice(before);
    expect(write).toHaveLength(2);
    expect(JSON.parse(write![0]!)).toEqual({
      type: 'ack',
      actionId: 'abcdefgh-1',
      duplicate: false,
    });
    expect(write![1]).toContain('hx-partial');
    // The render it queued finds nothing left to send.
    await new Promise((r) => setImmediate(r));
    expect(writes.length).toBe(before + 1);
  });

  it('sends a page that asks for trees only what changed in them; it rebuilds the same partials', async () => {
    const { htmlWire, treeWire, show } = twinPages(game, { id: '1', username: 'ariadne' });
    const page = new LivePage();
    const shown = new Map(page.apply(treeWire.sent[1]!));
    // The page already has the game's fixed board; everything else is the same HTML as sent in
    // full.
    expect(shown.has('game-board-tiles')).toBe(false);
    for (const [target, html] of shown)
      expect(htmlWire.sent[1]).toContain(
        `<hx-partial hx-target="#${target}" hx-swap="innerMorph">${html}</hx-partial>`,
      );
    const joined = {
      ...game,
      players: [...game.players, { ...game.players[0]!, id: '2', name: 'theseus', color: 1 }],
    };
    await show(joined);
    expect(LivePage.isRender(treeWire.sent[2]!)).toBe(true);
    expect(treeWire.sent[2]!.length).toBeLessThan(htmlWire.sent[2]!.length / 2);
    for (const [target, html] of page.apply(treeWire.sent[2]!))
      expect(htmlWire.sent[2]).toContain(
        `<hx-partial hx-target="#${target}" hx-swap="innerMorph">${html}</hx-partial>`,
      );
  });

  it('sends a line said at a full table as that line and one reference to the lines that moved up', async () => {
    let state: GameState = {
      ...game,
      players: [...game.players, { ...game.players[0]!, id: '2', name: 'theseus', color: 1 }],
    };
    const talk = (n: number) => {
      const said = say(state, n % 2 ? '1' : '2', `line ${n}: watch out for the Minotaur`);
      if (!said.ok) throw new Error(said.message);
      state = said.state;
    };
    for (let n = 0; n < CHAT_KEEP; n++) talk(n);
    const { htmlWire, treeWire, show } = twinPages(state, { id: '2', username: 'theseus' });
    const page = new LivePage();
    page.apply(treeWire.sent[1]!);
    for (const extra of [CHAT_KEEP, CHAT_KEEP + 1]) {
      talk(extra);
      await show(state);
      const update = treeWire.sent.at(-1)!;
      expect(update).toContain(`{"<":1,"l":${CHAT_KEEP - 1}}`);
      // The new line and the reference: about 200 B, where the moved lines cost ~2.5 KB.
      expect(update.length).toBeLessThan(400);
      const chat = page.apply(update).find(([target]) => target === 'game-chat')!;
      expect(htmlWire.sent.at(-1)).toContain(
        `<hx-partial hx-target="#game-chat" hx-swap="innerMorph">${chat[1]}</hx-partial>`,
      );
      expect(chat[1]).toContain(`line ${extra}:`);
      expect(chat[1]).not.toContain(`line ${extra - CHAT_KEEP}:`);
    }
  });

  it('pages of one game follow one stream of its shared partials, each rebuilding exactly its viewer’s page, with or without the template table', async () => {
    const shown = playedGame(13, 5, { maxRounds: 12 });
    // Every page watches the game; a sleepy one is told of one change in three (its renders
    // were coalesced, or it stalled): it falls behind the stream and must be caught up.
    const watchers: { sleepy: boolean; l: () => void }[] = [];
    const src = source(shown[0]!.state);
    src.watch = (_code, l) => {
      watchers.push({ sleepy: watchers.length === 4, l });
      return () => undefined;
    };
    const d = { ...deps(src), format: 'patch' as const };
    const pages: {
      viewer: string;
      wire: FakeWire;
      page: InstanceType<typeof LivePage>;
      table: boolean;
    }[] = [];
    // Pages that hold the release's template table, and pages that do not (another release's,
    // or whose script did not load), side by side on the one stream.
    const withTable = new Set(['1', 'spectator', '4']);
    const open = (viewer: string) => {
      const wire = new FakeWire();
      const table = withTable.has(viewer);
      new GameLiveSocket(wire, 'KEPS', { id: viewer, username: viewer }, { ...d, table }).start();
      pages.push({ viewer, wire, page: new LivePage(table ? RELEASE_TABLE : null), table });
    };
    const fixedText = { with: 0, without: 0 };
    for (const viewer of ['1', '2', 'spectator']) open(viewer);
    const read = new Map<FakeWire, number>();
    let bytes = 0;
    let messages = 0;
    for (const [i, { label, state }] of shown.entries()) {
      src.set(state);
      if (i === 20) open('3'); // joins mid-game: catches up from the stream's whole state
      if (i === 25) open('4'); // the sleepy one
      for (const { sleepy, l } of watchers) if (!sleepy || i % 3 === 0) l();
      await new Promise((r) => setImmediate(r));
      const want = d.frames.frame(state, 1000);
      for (const [k, p] of pages.entries()) {
        for (let at = read.get(p.wire) ?? 0; at < p.wire.sent.length; at++) {
          const text = p.wire.sent[at]!;
          read.set(p.wire, at + 1);
          if (!text.startsWith('{"type":"render"')) continue;
          bytes += text.length;
          messages++;
          p.page.apply(text);
          const m = JSON.parse(text) as { t?: object; g?: { t?: object } };
          const ids = [...Object.keys(m.t ?? {}), ...Object.keys(m.g?.t ?? {})].map(Number);
          // A page that holds the table is never sent a table template's fixed text.
          if (p.table) expect(ids.filter((id) => id < TABLE_SIZE)).toEqual([]);
          fixedText[p.table ? 'with' : 'without'] += ids.length;
        }
        if (k === 4 && i % 3 !== 0) continue; // the sleepy page shows an older state
        for (const [target, html] of want.html(p.viewer, 'tok'))
          expect(p.page.partial(target), `${label}: ${p.viewer} ${target}`).toBe(html);
      }
    }
    expect(messages).toBeGreaterThan(shown.length);
    expect(bytes / messages).toBeLessThan(2000);
    expect(fixedText.with).toBe(0);
    expect(fixedText.without).toBeGreaterThan(20);
  });

  it("renders the players' pages of a changed game before its spectators' pages", async () => {
    const shown = playedGame(13, 5, { maxRounds: 4 });
    const listeners: (() => void)[] = [];
    const src = source(shown[0]!.state);
    src.watch = (_code, l) => (listeners.push(l), () => undefined);
    const d = { ...deps(src), format: 'patch' as const };
    const order: string[] = [];
    // Spectators' pages open first, so they hear of the change first.
    for (const viewer of ['watcher-a', 'watcher-b', '1', '2']) {
      const wire = new FakeWire();
      wire.send = (data: string) => void order.push(`${viewer} ${data.slice(0, 16)}`);
      new GameLiveSocket(wire, 'KEPS', { id: viewer, username: viewer }, d).start();
    }
    const state = shown.find((s) => s.state.status === 'playing')!.state;
    src.set(state);
    order.length = 0;
    for (const l of listeners) l();
    await vi.waitFor(() => expect(order).toHaveLength(4), { timeout: 2000, interval: 5 });
    expect(order.map((o) => o.split(' ')[0])).toEqual(['1', '2', 'watcher-a', 'watcher-b']);
  });

  it('tells a patch page how far it has seen the game, once per round, for its reconnects', async () => {
    const shown = playedGame(17, 4, { maxRounds: 8 });
    const src = source(shown[0]!.state);
    const wire = new FakeWire();
    const d = { ...deps(src), format: 'patch' as const };
    new GameLiveSocket(wire, 'KEPS', { id: '1', username: '1' }, d).start();
    const page = new LivePage();
    const tokens = new Set<string>();
    let read = 0;
    let told = 0;
    for (const { label, state } of shown) {
      src.set(state);
      src.fire();
      await new Promise((r) => setImmediate(r));
      for (; read < wire.sent.length; read++) {
        const text = wire.sent[read]!;
        if (!text.startsWith('{"type":"render"')) continue;
        if ((JSON.parse(text) as { v?: string }).v !== undefined) told++;
        page.apply(text);
      }
      tokens.add(seenToken(7, state));
      expect(page.seen, label).toBe(seenToken(7, state));
    }
    // Sent when it moves (a round, the end), not with every update.
    expect(told).toBe(tokens.size);
    expect(tokens.size).toBeLessThan(shown.length);
  });

  it('answers bad messages with a clear error and keeps the socket open', async () => {
    const wire = new FakeWire();
    new GameLiveSocket(wire, 'KEPS', { id: '1', username: 'ariadne' }, deps(source(game))).start();
    wire.emit('message', '{nope', false);
    await new Promise((r) => setImmediate(r));
    expect(JSON.parse(wire.sent.at(-1)!)).toMatchObject({ type: 'error', code: 'malformed' });
    expect(wire.closed).toBeNull();
  });

  it('sends the page back to the lobby when the game is gone', () => {
    const wire = new FakeWire();
    new GameLiveSocket(
      wire,
      'KEPS',
      { id: '1', username: 'ariadne' },
      deps(source(undefined)),
    ).start();
    expect(JSON.parse(wire.sent.at(-1)!)).toEqual({ type: 'redirect', to: '/lobby' });
  });

  it('sends the page of a waiting room that closed to the lobby, which says so', async () => {
    const emptied: GameState = {
      ...game,
      players: [],
      status: 'finished',
      winner: null,
      finishedAt: 5,
    };
    // Dropped (nobody started it in time), or left by everybody (then dropped at once).
    for (const next of [undefined, emptied]) {
      const src = source(game);
      const wire = new FakeWire();
      new GameLiveSocket(wire, 'KEPS', { id: '9', username: 'watcher' }, deps(src)).start();
      await expect.poll(() => wire.sent.some((m) => m.includes('game-players'))).toBe(true);
      src.set(next);
      src.fire();
      await expect
        .poll(() => wire.sent.at(-1))
        .toBe(JSON.stringify({ type: 'redirect', to: '/lobby?closed=KEPS' }));
    }
  });

  it("sends a page to its own game's page once the code holds another game, open or reconnecting", async () => {
    const over: GameState = { ...game, status: 'finished', winner: null, finishedAt: 5 };
    const next: GameState = { ...game, id: 'another-game' };
    const to = JSON.stringify({ type: 'redirect', to: `/games/KEPS?game=${game.id}` });
    // Open all along: the game ended, was let go, and a new game took its code.
    const src = source(game);
    const wire = new FakeWire();
    new GameLiveSocket(wire, 'KEPS', { id: '1', username: 'ariadne' }, deps(src)).start();
    await expect.poll(() => wire.sent.some((m) => m.includes('game-players'))).toBe(true);
    src.set(over);
    src.fire();
    src.set(undefined);
    src.fire();
    const before = wire.sent.length;
    src.set(next);
    src.fire();
    await expect.poll(() => wire.sent.at(-1)).toBe(to);
    // Nothing of the new game is sent, then or later.
    expect(wire.sent.slice(before)).toEqual([to]);
    src.fire();
    expect(wire.sent.slice(before)).toEqual([to]);
    // A page that reconnects once the new game has the code: one of the first game, and one of
    // the game there is now (served as ever).
    const reconnect = (shown: string) => {
      const page = new FakeWire();
      new GameLiveSocket(
        page,
        'KEPS',
        { id: '1', username: 'ariadne' },
        { ...deps(source(next)), format: 'patch', shownGame: shown },
      ).start();
      return page.sent.filter((m) => !m.startsWith('{"type":"time"'));
    };
    expect(reconnect(game.id)).toEqual([to]);
    expect(reconnect(next.id).some((m) => m.includes('redirect'))).toBe(false);
  });

  it('closes with 1012 (reconnect elsewhere) when a newer release runs the game', () => {
    const wire = new FakeWire();
    new GameLiveSocket(
      wire,
      'KEPS',
      { id: '1', username: 'ariadne' },
      deps(source(undefined, true)),
    ).start();
    expect(wire.closed?.[0]).toBe(1012);
    expect(wire.sent.some((m) => m.includes('redirect'))).toBe(false);
  });

  it('cuts off a client that keeps sending invalid messages (1008)', async () => {
    const wire = new FakeWire();
    let t = 1000;
    // A budget large enough that only the invalid-message rule is at work here.
    new GameLiveSocket(
      wire,
      'KEPS',
      { id: '1', username: 'ariadne' },
      { ...deps(source(game)), budget: new InboundBudget(1000), now: () => t },
    ).start();
    for (let i = 0; i < 50; i++) wire.emit('message', 'x', false);
    await new Promise((r) => setImmediate(r));
    expect(wire.closed).toBeNull();
    t += 11_000; // a new window: the count starts again
    for (let i = 0; i < 50; i++) wire.emit('message', 'x', false);
    await new Promise((r) => setImmediate(r));
    expect(wire.closed).toBeNull();
    wire.emit('message', 'x', false);
    await new Promise((r) => setImmediate(r));
    expect(wire.closed?.[0]).toBe(1008);
  });

  it('pings the page every 10 s and terminates a socket whose page stopped answering', () => {
    vi.useFakeTimers();
    try {
      const wire = Object.assign(new FakeWire(), {
        pings: 0,
        terminated: false,
        ping() {
          this.pings++;
        },
        terminate() {
          this.terminated = true;
        },
      });
      new GameLiveSocket(
        wire,
        'KEPS',
        { id: '1', username: 'ariadne' },
        deps(source(game)),
      ).start();
      vi.advanceTimersByTime(PING_MS);
      expect(wire.pings).toBe(1);
      wire.emit('pong');
      vi.advanceTimersByTime(PING_MS);
      expect(wire.pings).toBe(2);
      expect(wire.terminated).toBe(false);
      vi.advanceTimersByTime(PING_MS); // no pong since the last ping
      expect(wire.terminated).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('cuts a page that stopped reading once its unsent messages pass MAX_UNSENT_BYTES, and keeps one that reads', async () => {
    const wire = Object.assign(new FakeWire(), {
      bufferedAmount: 0,
      terminated: false,
      terminate: () => undefined,
    });
    wire.terminate = () => {
      wire.terminated = true;
      wire.readyState = 3;
    };
    const src = source(game);
    const d = deps(src);
    new GameLiveSocket(wire, 'KEPS', { id: '1', username: 'ariadne' }, d).start();
    const joined = (n: number): GameState => ({
      ...game,
      players: [
        ...game.players,
        { ...game.players[0]!, id: String(n), name: `hero${n}`, color: n % 8 },
      ],
    });
    // As much unsent as it may hold: still served.
    wire.bufferedAmount = MAX_UNSENT_BYTES;
    let before = wire.sent.length;
    src.set(joined(2));
    src.fire();
    await vi.waitFor(() => expect(wire.sent.length).toBeGreaterThan(before), { timeout: 2000 });
    expect(wire.terminated).toBe(false);
    // One byte more: the next message is not queued behind it; the connection is ended.
    wire.bufferedAmount = MAX_UNSENT_BYTES + 1;
    before = wire.sent.length;
    src.set(joined(3));
    src.fire();
    await vi.waitFor(() => expect(wire.terminated).toBe(true), { timeout: 2000 });
    expect(wire.sent.length).toBe(before);
    const cut = await d.metrics.wsRejected.get();
    expect(cut.values.find((v) => v.labels.reason === 'slow-reader')?.value).toBe(1);
    // Nothing more is rendered for it.
    src.set(joined(4));
    src.fire();
    await new Promise((r) => setImmediate(r));
    expect(wire.sent.length).toBe(before);
  });

  it('counts every frame against the account: pings and actions past the budget are refused, a flood is closed with 1008', async () => {
    const wire = new FakeWire();
    new GameLiveSocket(wire, 'KEPS', { id: '1', username: 'ariadne' }, deps(source(game))).start();
    const before = wire.sent.length;
    for (let i = 0; i < FRAMES_PER_SECOND; i++) wire.emit('message', '{"type":"ping"}', false);
    await new Promise((r) => setImmediate(r));
    const replies = wire.sent.slice(before).map((m) => JSON.parse(m) as Record<string, unknown>);
    expect(replies.every((m) => m.type === 'time')).toBe(true);
    expect(replies).toHaveLength(FRAMES_PER_SECOND);
    // Over the budget: an action is refused (to be sent again), a ping too.
    wire.emit(
      'message',
      JSON.stringify({ type: 'act', actionId: 'abcdefgh-1', round: 1, kind: 'defend' }),
      false,
    );
    wire.emit('message', '{"type":"ping"}', false);
    await new Promise((r) => setImmediate(r));
    expect(wire.sent.slice(-2).map((m) => JSON.parse(m))).toEqual([
      {
        type: 'error',
        code: 'rate-limited',
        actionId: 'abcdefgh-1',
        retry: true,
        message: 'Slow down: too many messages at once.',
      },
      {
        type: 'error',
        code: 'rate-limited',
        retry: true,
        message: 'Slow down: too many messages at once.',
      },
    ]);
    expect(wire.closed).toBeNull();
    // WebSocket-level pings count too; a flood closes the socket.
    for (let i = 0; i < FRAMES_PER_SECOND * FLOOD_FACTOR; i++) wire.emit('ping');
    await new Promise((r) => setImmediate(r));
    expect(wire.closed).toEqual([1008, 'too many messages']);
  });

  it('shares one budget between the sockets of an account, the lobby included', async () => {
    const budget = new InboundBudget();
    const game1 = new FakeWire();
    const lobby = new FakeWire();
    const other = new FakeWire();
    new GameLiveSocket(
      game1,
      'KEPS',
      { id: '1', username: 'ariadne' },
      { ...deps(source(game)), budget },
    ).start();
    new LobbyLiveSocket(
      lobby,
      { id: '1', username: 'ariadne' },
      new LobbyFeed(source(game)),
      pino({ level: 'silent' }),
      budget,
      '',
    ).start();
    new GameLiveSocket(
      other,
      'KEPS',
      { id: '2', username: 'theseus' },
      { ...deps(source(game)), budget },
    ).start();
    // The lobby sends nothing a page would; what it gets still counts against the account.
    for (let i = 0; i < FRAMES_PER_SECOND; i++) lobby.emit('message', 'x'.repeat(100), false);
    await new Promise((r) => setImmediate(r));
    game1.emit('message', '{"type":"ping"}', false);
    other.emit('message', '{"type":"ping"}', false);
    await new Promise((r) => setImmediate(r));
    expect(JSON.parse(game1.sent.at(-1)!)).toMatchObject({ type: 'error', code: 'rate-limited' });
    expect(JSON.parse(other.sent.at(-1)!)).toMatchObject({ type: 'time' });
    // A flood closes the socket it arrives on.
    for (let i = 0; i < FRAMES_PER_SECOND * FLOOD_FACTOR; i++)
      lobby.emit('message', 'x'.repeat(100), false);
    await new Promise((r) => setImmediate(r));
    expect(lobby.closed).toEqual([1008, 'too many messages']);
    expect(other.closed).toBeNull();
  });
});

/** A feed over games the test puts, counting the partial's trees it builds. */
function lobbyRig() {
  const all = new Map<string, GameState>();
  let heard: (code: string) => void = () => undefined;
  const feed = new LobbyFeed({
    game: (code) => all.get(code),
    lobbyGames: () => [...all.values()],
    subscribe: (l) => ((heard = l), () => undefined),
  });
  const counted = { built: 0 };
  const shared = feed.shared.bind(feed);
  feed.shared = (key, build) => shared(key, () => (counted.built++, build()));
  const put = (g: GameState): void => {
    all.set(g.code, g);
    heard(g.code);
  };
  const open = (code: string, creator: string) =>
    createGame({
      id: code,
      code,
      seed: 1,
      creator: { id: creator, name: creator },
      now: 1000,
      roundMs: 10_000,
    });
  const page = (id: string, token: string, format: 'html' | 'patch' = 'html', watch = 1) => {
    const wire = new FakeWire();
    new LobbyLiveSocket(
      wire,
      { id, username: id },
      feed,
      pino({ level: 'silent' }),
      new InboundBudget(),
      token,
      1,
      format,
      watch,
    ).start();
    return wire;
  };
  return { feed, counted, put, open, page, all };
}

describe('LobbyLiveSocket', () => {
  it('builds the lists once for pages that show the same rows, each page with its own token', async () => {
    const { counted, put, open, page } = lobbyRig();
    put(open('KEPS', 'ann'));
    const tokens = ['token0', 'token1', 'token2', 'to"k<'];
    const pages = ['bob', 'cy', 'ann', 'eve'].map((id, i) => page(id, tokens[i]!));
    const html = (w: FakeWire) => w.sent.at(-1)!;
    // bob, cy and eve may join KEPS and share one tree; ann, its host, has her own.
    expect(counted.built).toBe(2);
    expect(html(pages[0]!)).toContain('value="token0"');
    expect(html(pages[1]!)).toContain('value="token1"');
    expect(html(pages[1]!)).not.toContain('token0');
    expect(html(pages[2]!)).not.toContain('_csrf');
    expect(html(pages[2]!)).toContain('Open game KEPS');
    // A token is escaped as the template would escape it.
    expect(html(pages[3]!)).toContain('value="to&#34;k&lt;"');

    // A new game reaches every page, built once more for each kind of viewer.
    put(open('ZYXW', 'dee'));
    await vi.waitFor(() => expect(pages.every((w) => w.sent.at(-1)!.includes('ZYXW'))).toBe(true));
    expect(counted.built).toBe(4);
    expect(html(pages[0]!)).toContain('value="token0"');
    expect(html(pages[2]!)).toContain('value="token2"');
  });

  it('sends a page that asks for trees only what changed, the same text to every page alike', async () => {
    const { put, open, page, all } = lobbyRig();
    put(open('KEPS', 'ann'));
    const viewers = [
      { id: 'bob', token: 'tok"0' },
      { id: 'cy', token: 'token1' },
      { id: 'ann', token: 'token2' },
    ];
    const trees = viewers.map((v) => page(v.id, v.token, 'patch'));
    const sent = viewers.map((v) => page(v.id, v.token));
    const shown = trees.map(() => new LivePage());
    const check = () =>
      viewers.forEach((v, i) => {
        const [target, html] = shown[i]!.apply(trees[i]!.sent.at(-1)!)[0]!;
        expect(target).toBe('open-games');
        expect(sent[i]!.sent.at(-1)).toBe(
          `<hx-partial hx-target="#open-games" hx-swap="innerMorph">${html}</hx-partial>`,
        );
      });
    check();
    // A hero joins KEPS: its row's count is what changes, for pages of both kinds of viewer.
    const before = trees.map((w) => w.sent.length);
    const keps = all.get('KEPS')!;
    put({ ...keps, players: [...keps.players, { ...keps.players[0]!, id: 'dee', name: 'dee' }] });
    await vi.waitFor(() => expect(trees.every((w, i) => w.sent.length > before[i]!)).toBe(true));
    await vi.waitFor(() => expect(sent.every((w) => w.sent.at(-1)!.includes('2/8'))).toBe(true));
    check();
    const update = trees.map((w) => w.sent.at(-1)!);
    // bob and cy hold one stream: the same message, nothing of either's token.
    expect(update[0]).toBe(update[1]);
    expect(update[0]).not.toContain('tok');
    // The changed count: a fraction of the partial in full, even with one game listed.
    for (const [i, text] of update.entries())
      expect(text.length).toBeLessThan(sent[i]!.sent.at(-1)!.length / 4);
  });
});

describe('LobbyLiveSocket, rows that move', () => {
  it('sends the rows a new game pushed down as one reference to the rows the page holds', async () => {
    const { put, open, page } = lobbyRig();
    for (let i = 0; i < 6; i++) put({ ...open(`G00${i}`, `host${i}`), createdAt: 1000 + i });
    const trees = page('bob', 'token', 'patch');
    const sent = page('bob', 'token');
    const shown = new LivePage();
    shown.apply(trees.sent.at(-1)!);
    // A game opened after the others goes on top; the six below it are the rows the page holds.
    put({ ...open('NEWG', 'zed'), createdAt: 2000 });
    await vi.waitFor(() => expect(sent.sent.at(-1)).toContain('NEWG'));
    await vi.waitFor(() => expect(trees.sent.at(-1)).toContain('NEWG'));
    const update = trees.sent.at(-1)!;
    expect(update).toContain('{"<":0,"l":6}');
    const [, html] = shown.apply(update)[0]!;
    expect(sent.sent.at(-1)).toBe(
      `<hx-partial hx-target="#open-games" hx-swap="innerMorph">${html}</hx-partial>`,
    );
    // The new row and the count, where each moved row's code, host and count went before.
    expect(update.length).toBeLessThan(500);
  });
});

describe('LobbyLiveSocket, pages of the games being played', () => {
  it('shows each page its own rows, though both pages hold as many rows alike', () => {
    const { put, open, page } = lobbyRig();
    for (let i = 0; i < 16; i++)
      put({ ...open(`G${String(i).padStart(3, '0')}`, `host${i}`), status: 'playing' });
    const [first, second] = [page('bob', 't', 'html', 1), page('cy', 't', 'html', 2)];
    expect(first.sent.at(-1)).toContain('Page 1 of 2');
    expect(second.sent.at(-1)).toContain('Page 2 of 2');
    expect(second.sent.at(-1)).not.toContain('aria-label="Game G000"');
    expect(first.sent.at(-1)).toContain('aria-label="Game G000"');
  });
});

describe('LobbyLiveSocket, at random moments', () => {
  it('keeps every page that asks for trees showing its viewer’s lobby, however changes and renders fall', async () => {
    const step = fc.record({
      kind: fc.constantFrom('open', 'join', 'join', 'start', 'fall', 'end'),
      game: fc.nat(14),
      who: fc.nat(5),
      // How long the node runs before the next change: pages render 100 ms after one.
      waitMs: fc.constantFrom(0, 0, 30, 120, 400),
    });
    vi.useFakeTimers();
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 80 }), async (steps) => {
          const { feed, put, page, all } = lobbyRig();
          // Two of them on the second page of the games being played.
          const pages = ['p0', 'p1', 'p2', 'p3'].map((id, i) => ({
            id,
            watch: 1 + (i % 2),
            wire: page(id, `token<${id}>`, 'patch', 1 + (i % 2)),
            page: new LivePage(),
            read: 0,
          }));
          const catchUp = () => {
            for (const p of pages)
              for (; p.read < p.wire.sent.length; p.read++) p.page.apply(p.wire.sent[p.read]!);
          };
          let opened = 0;
          for (const s of steps) {
            const codes = [...all.keys()];
            const state = all.get(codes[s.game % Math.max(1, codes.length)] ?? '');
            const who = { id: `p${s.who}`, name: `hero <${s.who}>` };
            if (s.kind === 'open' || !state) {
              const n = opened++;
              put(
                createGame({
                  id: `g${n}`,
                  code: `C${String(n).padStart(3, '0')}`,
                  seed: n,
                  creator: who,
                  now: 1000 + n,
                  roundMs: 2000,
                }),
              );
            } else if (s.kind === 'join' && state.status === 'open') {
              if (!state.players.some((p) => p.id === who.id))
                put({ ...state, players: [...state.players, { ...state.players[0]!, ...who }] });
            } else if (s.kind === 'start' && state.status === 'open') {
              put({ ...state, status: 'playing' });
            } else if (s.kind === 'fall' && state.status === 'playing') {
              const [first, ...rest] = state.players;
              put({ ...state, players: [{ ...first!, alive: false }, ...rest] });
            } else if (s.kind === 'end') {
              put({ ...state, status: 'finished' });
            }
            await vi.advanceTimersByTimeAsync(s.waitMs);
            catchUp();
          }
          await vi.advanceTimersByTimeAsync(500);
          catchUp();
          for (const p of pages)
            expect(p.page.partial('open-games')).toBe(
              openGamesHtml(lobbyPage(feed.lists(), p.id, 1, p.watch), `token<${p.id}>`),
            );
        }),
        { numRuns: 60 },
      );
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('LiveHub', () => {
  it('keeps at most `cap` sockets per account, closing the oldest with 4429', () => {
    const hub = new LiveHub();
    const made = Array.from({ length: 4 }, (_, i) => ({
      account: i < 3 ? 'a' : 'b',
      isClosed: false,
      closedWith: null as number | null,
      close(code: number) {
        this.closedWith = code;
        this.isClosed = true;
      },
    }));
    expect(hub.admit(made[0]!, 2)).toBe(0);
    expect(hub.admit(made[1]!, 2)).toBe(0);
    expect(hub.admit(made[3]!, 2)).toBe(0);
    expect(hub.admit(made[2]!, 2)).toBe(1);
    expect(made.map((m) => m.closedWith)).toEqual([4429, null, null, null]);
    expect(hub.size).toBe(3);
  });

  it('counts only the open sockets of an account, however they were closed', async () => {
    const hub = new LiveHub();
    const page = (account: string) => ({
      account,
      code: 'KEPS',
      isClosed: false,
      closedWith: null as number | null,
      close(code: number) {
        this.closedWith = code;
        this.isClosed = true;
      },
    });
    const [a1, a2, a3, a4] = [page('a'), page('a'), page('a'), page('a')];
    hub.admit(a1, 2);
    hub.admit(a2, 2);
    // One closed by the browser (not yet removed), one by the hub for its game, one removed.
    a1.isClosed = true;
    expect(hub.closeGames(new Set(['KEPS']), 'moved')).toBe(1);
    expect(a2.closedWith).toBe(1012);
    expect(hub.admit(a3, 2)).toBe(0);
    expect(hub.admit(a4, 2)).toBe(0);
    hub.remove(a3);
    expect(hub.admit(page('a'), 2)).toBe(0);
    expect(hub.admit(page('a'), 2)).toBe(1);
    expect(a4.closedWith).toBe(4429);
    expect(hub.size).toBe(2);
    expect(await hub.closeAll()).toBe(2);
    expect(hub.size).toBe(0);
  });
});

/** How long a test waits for the socket to get through a message or a change (a deadline). */
const SETTLE = { timeout: 5000, interval: 5 };

/** The JSON frames a wire was sent, parsed (its partials are HTML). */
const jsonFrames = (sent: string[]) =>
  sent.filter((m) => m.startsWith('{')).map((m) => JSON.parse(m) as Record<string, unknown>);

describe('GameLiveSocket, finished games and table talk', () => {
  it('keeps showing a finished game after it is dropped from the replica (no trip to the lobby)', async () => {
    const wire = new FakeWire();
    const src = source({ ...game, status: 'finished', finishedAt: 900 });
    // Counts the page's reads of the game: its render after the change reads it.
    let reads = 0;
    const read = src.game.bind(src);
    src.game = (code) => (reads++, read(code));
    new GameLiveSocket(wire, 'KEPS', { id: '1', username: 'ariadne' }, deps(src)).start();
    const before = wire.sent.length;
    src.set(undefined);
    src.fire();
    const queued = reads;
    await expect.poll(() => reads, SETTLE).toBeGreaterThan(queued);
    expect(wire.sent.slice(before).some((m) => m.includes('redirect'))).toBe(false);
    expect(wire.closed).toBeNull();
  });

  it('passes table talk on as a social command, and limits how much a player says', async () => {
    const wire = new FakeWire();
    const src = source(game);
    new GameLiveSocket(wire, 'KEPS', { id: '1', username: 'ariadne' }, deps(src)).start();
    wire.emit('message', JSON.stringify({ type: 'say', text: 'hello <b>there</b>' }), false);
    wire.emit('message', JSON.stringify({ type: 'react', emote: 'gg' }), false);
    const errorsSince = (from: number) =>
      jsonFrames(wire.sent.slice(from)).filter((f) => f.type === 'error');
    // Each line is answered: passed on to the game, or refused with an error frame.
    await expect.poll(() => src.commands.length + errorsSince(0).length, SETTLE).toBe(2);
    expect(errorsSince(0)).toEqual([]);
    expect(src.commands).toEqual([
      { kind: 'social', playerId: '1', op: { type: 'say', text: 'hello <b>there</b>' } },
      { kind: 'social', playerId: '1', op: { type: 'react', emote: 'gg' } },
    ]);
    // The limiter allows three lines per ten seconds here: the fourth is refused with a sentence.
    const before = wire.sent.length;
    wire.emit('message', JSON.stringify({ type: 'say', text: 'three' }), false);
    wire.emit('message', JSON.stringify({ type: 'say', text: 'four' }), false);
    await expect
      .poll(() => src.commands.length + errorsSince(before).length, SETTLE)
      .toBeGreaterThanOrEqual(4);
    expect(src.commands.slice(2)).toEqual([
      { kind: 'social', playerId: '1', op: { type: 'say', text: 'three' } },
    ]);
    expect(errorsSince(before)).toEqual([
      expect.objectContaining({ type: 'error', code: 'rate-limited', unsaid: 'four' }),
    ]);
  });

  it('refuses an unknown reaction before anything else sees it', async () => {
    const wire = new FakeWire();
    const src = source(game);
    new GameLiveSocket(wire, 'KEPS', { id: '1', username: 'ariadne' }, deps(src)).start();
    const before = wire.sent.length;
    wire.emit(
      'message',
      JSON.stringify({ type: 'react', emote: '<img src=x onerror=alert(1)>' }),
      false,
    );
    // The refusal is the socket's last word on the message: nothing reached the game before it.
    const answered = () => jsonFrames(wire.sent.slice(before));
    await expect.poll(() => answered().length, SETTLE).toBeGreaterThan(0);
    expect(answered()).toEqual([expect.objectContaining({ type: 'error', code: 'invalid' })]);
    expect(src.commands).toEqual([]);
  });
});
