// A scripted player over plain HTTP and WebSocket, as a browser would talk to a node:
// cookie session, CSRF tokens from forms, the game's live socket with acks.

import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { runInNewContext } from 'node:vm';
import { Agent, fetch as undiciFetch } from 'undici';
import WebSocket from 'ws';
import { WireFrames, type WireFrame } from './wire-frames.js';
import { PATCH_RENDER } from '../../src/live/live-socket.js';
import { LivePage, shownBy, type LivePageApi, type TemplateTable } from './live-page.js';
import { waitFor } from './node-process.js';

/** How a player reaches the site when it is not plain HTTP from the default address. */
export interface Network {
  /** PEM certificate(s) to trust for https/wss (e.g. the test's self-signed one). */
  ca?: string;
  /** Source address of this player's connections (players behind a proxy differ by address). */
  localAddress?: string;
}

const agents = new Map<string, Agent>();

/** One connection pool per network setting, shared by the players that use it. */
function agentFor(net: Network): Agent {
  const key = `${net.localAddress ?? ''}|${net.ca ?? ''}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = new Agent({
      ...(net.localAddress ? { localAddress: net.localAddress } : {}),
      connect: net.ca ? { ca: net.ca } : {},
    });
    agents.set(key, agent);
  }
  return agent;
}

/** fetch through `net` (undici with its own agent), or the global fetch for plain defaults. */
export function fetchVia(
  net: Network | undefined,
  url: string,
  init: RequestInit = {},
): Promise<Response> {
  // A request never waits for ever (a server behind a cut link answers nothing).
  init = { ...init, signal: init.signal ?? AbortSignal.timeout(30_000) };
  if (!net || (!net.ca && !net.localAddress)) return fetch(url, init);
  return undiciFetch(url, {
    ...(init as object),
    dispatcher: agentFor(net),
  }) as unknown as Promise<Response>;
}

/** Whether a fetch failed because the server side closed the connection before answering. */
function closedUnderUs(err: unknown): boolean {
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string }) : null;
  return (
    err instanceof TypeError &&
    cause != null &&
    (cause.code === 'UND_ERR_SOCKET' || cause.code === 'ECONNRESET' || cause.code === 'EPIPE')
  );
}

/** WebSocket client options for `net` (ws takes the TLS and socket options directly). */
export function wsOptionsFor(net: Network | undefined): { ca?: string; localAddress?: string } {
  return {
    ...(net?.ca ? { ca: net.ca } : {}),
    ...(net?.localAddress ? { localAddress: net.localAddress } : {}),
  };
}

export interface LiveMessage {
  /**
   * The message as the page hands it to htmx: a render message (trees) becomes the
   * <hx-partial> elements of the partials it changed; any other message as it came.
   */
  raw: string;
  json: Record<string, unknown> | null;
  /** The message as it came over the socket (a render message's JSON for trees). */
  wire: string;
  /** Its frame as it crossed the wire (size, compressed or not). */
  frame: WireFrame | null;
}

/**
 * What a live socket of these tests reads: trees, as a page of this release asks for them
 * (?render=patch2) and reads them (with the page's own script), or whole partials, as a page of
 * the release before is sent them.
 */
export type LiveWireFormat = 'trees' | 'partials';

/** How a test's page opens its live socket. */
export interface PageSocketOptions {
  origin?: string | null;
  wire?: LiveWireFormat;
  /** The release's template table, which the page then holds (Player.templates). */
  table?: TemplateTable;
  /** What the socket offers of permessage-deflate (ws's default: the extension, as Chromium). */
  perMessageDeflate?: WebSocket.PerMessageDeflateOptions | boolean;
}

export class Player {
  /** GETs sent again after the connection they went out on was closed (see request). */
  static resentGets = 0;
  /** Cookies the site set (session, and the form-token cookie of anonymous visitors). */
  private readonly jar = new Map<string, string>();
  userId: string | null = null;

  constructor(
    public base: string,
    readonly username: string,
    readonly password = 'correct horse battery',
    readonly net?: Network,
  ) {}

  /**
   * Posts the sign-up form with most of its body held back, so the request stays in progress
   * at the server until `finish()` sends the rest; `answer` is the response's status.
   */
  async signupHeldBack(): Promise<{ answer: Promise<number>; finish: () => void }> {
    const { csrf } = await this.page('/signup');
    const { username, password } = this;
    const body = new URLSearchParams({ _csrf: csrf, username, password }).toString();
    const url = new URL('/signup', this.base);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let finish = (): void => undefined;
    const answer = new Promise<number>((resolve, reject) => {
      const req = send(
        url,
        {
          method: 'POST',
          ...(this.net?.ca ? { ca: this.net.ca } : {}),
          ...(this.net?.localAddress ? { localAddress: this.net.localAddress } : {}),
          headers: {
            cookie: this.cookie,
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': String(body.length),
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 10));
      finish = () => void req.end(body.slice(10));
    });
    return { answer, finish: () => finish() };
  }

  /** The Cookie header this player sends; assigning replaces every cookie. */
  get cookie(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  set cookie(header: string) {
    this.jar.clear();
    for (const part of header.split(';')) {
      const i = part.indexOf('=');
      if (i > 0) this.jar.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
    }
  }

  /** The cookies as name/value pairs (e.g. for a browser context). */
  get cookies(): { name: string; value: string }[] {
    return [...this.jar].map(([name, value]) => ({ name, value }));
  }

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.jar.size) headers.set('cookie', this.cookie);
    const send = () =>
      fetchVia(this.net, this.base + path, { ...init, headers, redirect: 'manual' });
    let res: Response;
    try {
      res = await send();
    } catch (err) {
      // A kept-alive connection the other side closed as this request went out: a browser sends
      // a GET again on a new connection, and so does a player here (once; never a form).
      const method = (init.method ?? 'GET').toUpperCase();
      if ((method !== 'GET' && method !== 'HEAD') || !closedUnderUs(err)) throw err;
      Player.resentGets++;
      res = await send();
    }
    for (const c of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = c.split(';');
      const i = pair.indexOf('=');
      if (i <= 0) continue;
      const name = pair.slice(0, i).trim();
      const expired = attrs.some(
        (a) =>
          /^\s*max-age=0\s*$/i.test(a) ||
          (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1] ?? '') < Date.now()),
      );
      if (expired) this.jar.delete(name);
      else this.jar.set(name, pair.slice(i + 1).trim());
    }
    return res;
  }

  /** The session cookie alone ("minotaur.sid=…"), or '' when there is none. */
  get sessionCookie(): string {
    const sid = this.jar.get('minotaur.sid');
    return sid === undefined ? '' : `minotaur.sid=${sid}`;
  }

  /** GETs a page and returns its HTML and the first CSRF token in it. */
  async page(path: string): Promise<{ status: number; html: string; csrf: string }> {
    const res = await this.request(path);
    const html = await res.text();
    const m = html.match(/name="_csrf" value="([^"]+)"/);
    return { status: res.status, html, csrf: m?.[1] ?? '' };
  }

  async post(path: string, form: Record<string, string>, csrfFrom = path): Promise<Response> {
    const { csrf } = await this.page(csrfFrom);
    const body = new URLSearchParams({ _csrf: csrf, ...form });
    return this.request(path, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
  }

  async signup(): Promise<void> {
    const res = await this.post(
      '/signup',
      { username: this.username, password: this.password },
      '/signup',
    );
    if (res.status !== 303)
      throw new Error(`signup of ${this.username} failed: ${res.status} ${await res.text()}`);
  }

  async login(): Promise<Response> {
    return this.post('/login', { username: this.username, password: this.password }, '/login');
  }

  async createGame(): Promise<string> {
    const res = await this.post('/lobby/games', {}, '/lobby');
    const loc = res.headers.get('location') ?? '';
    const m = loc.match(/^\/games\/([A-Z]{4})$/);
    if (!m) throw new Error(`create failed: ${res.status} ${loc}`);
    return m[1] as string;
  }

  async join(code: string): Promise<Response> {
    return this.post(`/games/${code}/join`, {}, `/games/${code}`);
  }

  async start(code: string): Promise<Response> {
    return this.post(`/games/${code}/start`, {}, `/games/${code}`);
  }

  /** The game page's live socket, read as the page reads it (trees, unless `wire` says). */
  connect(code: string, opts: PageSocketOptions = {}): LiveConnection {
    return this.connectPage(`/games/${code}/live`, opts);
  }

  /**
   * The lobby page's live socket (/lobby/live): pushes the cluster-wide open-games list, read
   * as the page reads it (trees, unless `wire` says).
   */
  connectLobby(opts: PageSocketOptions = {}): LiveConnection {
    return this.connectPage('/lobby/live', opts);
  }

  /**
   * A page's socket at `path`: asks for trees and reads them (holding the release's template
   * table if `table` is given, and saying so as a page does), or asks for whole partials.
   */
  private connectPage(path: string, opts: PageSocketOptions): LiveConnection {
    if (opts.wire === 'partials') return this.connectPath(path, opts);
    const { table } = opts;
    const query = `?render=${PATCH_RENDER}${table ? `&templates=${table.v}` : ''}`;
    return this.connectPath(`${path}${query}`, opts, new LivePage(table ?? null));
  }

  /**
   * The release's template table as a page gets it: the script its pages name, run as a browser
   * runs it (src/live/template-script.ts).
   */
  async templates(): Promise<TemplateTable> {
    const page = await this.page('/');
    const src = /<script src="(\/static\/live\/templates-[0-9a-f]+\.js)"/.exec(page.html)?.[1];
    if (src === undefined) throw new Error('the page names no template script');
    const res = await this.request(src);
    if (res.status !== 200) throw new Error(`${src}: ${res.status}`);
    const window: { MinotaurTemplates?: TemplateTable } = {};
    runInNewContext(await res.text(), { window });
    if (!window.MinotaurTemplates) throw new Error(`${src} defines no MinotaurTemplates`);
    return window.MinotaurTemplates;
  }

  /**
   * A live socket on any path of this player's node, with its cookie and origin. Messages are
   * kept as they come, unless a `reader` is given (render messages then read as the page reads
   * them).
   */
  connectPath(
    path: string,
    opts: Pick<PageSocketOptions, 'origin' | 'perMessageDeflate'> = {},
    reader?: LivePageApi,
  ): LiveConnection {
    const url = this.base.replace(/^http/, 'ws') + path;
    const origin = opts.origin === undefined ? this.base : opts.origin;
    const headers: Record<string, string> = { cookie: this.cookie };
    if (origin) headers.origin = origin;
    const deflate =
      opts.perMessageDeflate === undefined ? {} : { perMessageDeflate: opts.perMessageDeflate };
    return new LiveConnection(
      new WebSocket(url, { headers, ...deflate, ...wsOptionsFor(this.net) }),
      reader,
    );
  }
}

export class LiveConnection {
  readonly messages: LiveMessage[] = [];
  closeCode: number | null = null;
  closeReason = '';
  readonly opened: Promise<void>;
  readonly closed: Promise<void>;
  unexpectedResponse: number | null = null;

  constructor(
    readonly ws: WebSocket,
    private readonly reader?: LivePageApi,
  ) {
    const frames = WireFrames.of(ws);
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => {
        this.unexpectedResponse = res.statusCode ?? null;
        reject(new Error(`upgrade refused: ${res.statusCode}`));
      });
      ws.once('error', reject);
    });
    this.opened.catch(() => undefined);
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        resolve();
      }),
    );
    ws.on('message', (data: Buffer) => {
      const wire = data.toString();
      const raw = this.reader ? shownBy(this.reader, wire) : wire;
      let json: Record<string, unknown> | null = null;
      if (raw.startsWith('{')) {
        try {
          json = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          json = null;
        }
      }
      this.messages.push({ raw, json, wire, frame: frames.next() });
    });
  }

  send(data: string | object): void {
    this.ws.send(typeof data === 'string' ? data : JSON.stringify(data));
  }

  /** Sends an action and resolves with the server's ack or error for it. */
  async act(
    round: number,
    kind: 'move' | 'attack' | 'defend',
    dir?: string,
    actionId = randomUUID(),
    timeoutMs = 10_000,
  ): Promise<Record<string, unknown>> {
    const since = this.messages.length;
    this.send({ type: 'act', actionId, round, kind, ...(dir ? { dir } : {}) });
    return this.reply(actionId, timeoutMs, since);
  }

  /** The first reply to `actionId` among the messages received from index `since` on. */
  reply(actionId: string, timeoutMs = 10_000, since = 0): Promise<Record<string, unknown>> {
    return waitFor(
      () =>
        this.messages.slice(since).find((m) => m.json && m.json.actionId === actionId)?.json ??
        null,
      timeoutMs,
      `reply to ${actionId}`,
    );
  }

  /** Resolves with the next data-only JSON message (from index `since` on) that matches `pred`. */
  nextJson(
    pred: (m: Record<string, unknown>) => boolean,
    since = 0,
    timeoutMs = 10_000,
    what = 'a matching message',
  ): Promise<Record<string, unknown>> {
    return waitFor(
      () => this.messages.slice(since).find((m) => m.json && pred(m.json))?.json ?? null,
      timeoutMs,
      what,
    );
  }

  /** The latest HTML received for a partial id (e.g. "game-status"). */
  latestPartial(id: string): string | null {
    for (let i = this.messages.length - 1; i >= 0; i--) {
      const raw = this.messages[i]!.raw;
      const re = new RegExp(`<hx-partial hx-target="#${id}"[^>]*>([\\s\\S]*?)</hx-partial>`);
      const m = raw.match(re);
      if (m) return m[1] ?? '';
    }
    return null;
  }

  /** Every HTML received for a partial id, oldest first. */
  allPartials(id: string): string[] {
    const re = new RegExp(`<hx-partial hx-target="#${id}"[^>]*>([\\s\\S]*?)</hx-partial>`);
    const out: string[] = [];
    for (const m of this.messages) {
      const hit = m.raw.match(re);
      if (hit) out.push(hit[1] ?? '');
    }
    return out;
  }

  close(): void {
    this.ws.close();
  }
}

/** Round number currently shown in a status partial, or 0. */
export function roundIn(statusHtml: string | null): number {
  const m = statusHtml?.match(/data-round="(\d+)"/);
  return m ? Number(m[1]) : 0;
}

/** Signs every player up, lets the first create a game, the others join, and the first start it. */
export async function openStartedGame(players: Player[]): Promise<string> {
  for (const p of players) await p.signup();
  const code = await players[0]!.createGame();
  for (const p of players.slice(1)) {
    const res = await p.join(code);
    if (res.status !== 303) throw new Error(`join ${code}: ${res.status}`);
  }
  const started = await players[0]!.start(code);
  if (started.status !== 303) throw new Error(`start ${code}: ${started.status}`);
  return code;
}
