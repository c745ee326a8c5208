// The floor of the players-per-node benchmark: a bare `ws` server (its own process) that plays
// the same game protocol as a node with no game behind it. Games of the same players, rounds of
// the same length that end when every player acted or on the deadline; each action gets the
// same acknowledgement, and every player gets a message of the size the node sent for the same
// kind of change (own action, other's action, round resolved, first render), measured earlier
// in the same run. What the node spends beyond this is the cost of the game, the database and
// the rendering.

import { WebSocketServer, type WebSocket } from 'ws';

interface Seat {
  cookie: string;
  code: string;
  name: string;
  /** A spectator's page: sent what the game's other players are sent, never acts. */
  watch?: boolean;
}

export interface RawInit {
  type: 'init';
  host: string;
  port: number;
  seats: Seat[];
  roundMs: number;
  /** Payload bytes per message kind, as the node sent them. */
  sizes: { first: number; own: number; other: number; round: number };
}

interface Game {
  code: string;
  players: Player[];
  /** Spectators' pages. */
  watchers: Player[];
  round: number;
  deadline: number | null;
  submitted: Set<Player>;
  timer: NodeJS.Timeout | null;
}

interface Player {
  name: string;
  game: Game;
  ws: WebSocket | null;
  watch: boolean;
}

function status(g: Game, size: number): string {
  const waiting = g.players.filter((p) => !g.submitted.has(p)).map((p) => p.name);
  const line =
    g.round === 0
      ? ''
      : waiting.length
        ? `Waiting for ${waiting.join(', ')}`
        : 'Everyone has chosen';
  const body =
    g.round === 0
      ? '<span class="phase waiting">Waiting for heroes</span>'
      : `<span class="countdown" data-deadline="${g.deadline}" data-round="${g.round}"></span><p class="waiting-for">${line}</p>`;
  const html = `<hx-partial hx-target="#game-status" hx-swap="innerMorph">${body}</hx-partial>`;
  const pad =
    size -
    Buffer.byteLength(html) -
    '<hx-partial hx-target="#pad" hx-swap="innerMorph"></hx-partial>'.length;
  return pad > 0
    ? `${html}<hx-partial hx-target="#pad" hx-swap="innerMorph">${'x'.repeat(pad)}</hx-partial>`
    : html;
}

function send(p: Player, text: string): void {
  if (p.ws && p.ws.readyState === 1) p.ws.send(text);
}

let o: RawInit;
const bySeat = new Map<string, Player>();
const games = new Map<string, Game>();

function resolve(g: Game): void {
  g.round++;
  g.deadline = Date.now() + o.roundMs;
  g.submitted.clear();
  const msg = status(g, o.sizes.round);
  for (const p of g.players) send(p, msg);
  for (const p of g.watchers) send(p, msg);
  arm(g);
}

function arm(g: Game): void {
  if (g.timer) clearTimeout(g.timer);
  g.timer = setTimeout(() => resolve(g), Math.max(0, (g.deadline ?? Date.now()) - Date.now()));
}

function onMessage(p: Player, data: Buffer): void {
  let m: { type?: string; actionId?: string; round?: number };
  try {
    m = JSON.parse(data.toString()) as typeof m;
  } catch {
    return;
  }
  if (m.type !== 'act' || typeof m.actionId !== 'string') return;
  const g = p.game;
  if (m.round !== g.round) {
    send(
      p,
      JSON.stringify({
        type: 'error',
        actionId: m.actionId,
        code: 'stale-round',
        message: `That action was for round ${m.round}, which is over; the game is in round ${g.round}.`,
        quiet: true,
      }),
    );
    return;
  }
  if (g.submitted.has(p)) {
    send(
      p,
      JSON.stringify({
        type: 'error',
        actionId: m.actionId,
        code: 'already-submitted',
        message: 'You have already chosen.',
      }),
    );
    return;
  }
  g.submitted.add(p);
  send(p, JSON.stringify({ type: 'ack', actionId: m.actionId, duplicate: false }));
  if (g.submitted.size === g.players.length) return resolve(g);
  send(p, status(g, o.sizes.own));
  const other = status(g, o.sizes.other);
  for (const q of g.players) if (q !== p) send(q, other);
  for (const q of g.watchers) send(q, other);
}

function listen(init: RawInit): void {
  o = init;
  for (const s of o.seats) {
    let g = games.get(s.code);
    if (!g)
      games.set(
        s.code,
        (g = {
          code: s.code,
          players: [],
          watchers: [],
          round: 0,
          deadline: null,
          submitted: new Set(),
          timer: null,
        }),
      );
    const p: Player = { name: s.name, game: g, ws: null, watch: s.watch === true };
    (p.watch ? g.watchers : g.players).push(p);
    bySeat.set(s.cookie, p);
  }
  const wss = new WebSocketServer({
    host: o.host,
    port: o.port,
    perMessageDeflate: false,
    maxPayload: 4096,
  });
  wss.on('connection', (ws, req) => {
    const p = bySeat.get(req.headers.cookie ?? '');
    if (!p) return ws.close(4401, 'unknown player');
    p.ws = ws;
    if (!p.watch) ws.on('message', (data: Buffer) => onMessage(p, data));
    ws.on('error', () => undefined);
    send(p, JSON.stringify({ type: 'time', now: Date.now() }));
    const clock = JSON.stringify({ type: 'time', now: Date.now() }).length;
    send(p, status(p.game, o.sizes.first - clock));
  });
  wss.on('listening', () => process.send?.({ type: 'listening' }));
}

process.on('message', (m: { type: string; spreadMs?: number } & Partial<Omit<RawInit, 'type'>>) => {
  if (m.type === 'init') listen(m as RawInit);
  else if (m.type === 'start') {
    // Starts spread over one round, as the node's games are started.
    const list = [...games.values()];
    list.forEach((g, i) => setTimeout(() => resolve(g), ((m.spreadMs ?? 0) * i) / list.length));
  }
});
process.on('disconnect', () => process.exit(0));
