// Notices of ended sessions between nodes: who is told, what a peer does with a notice, and
// what it does with one it cannot read, and what the node kept of ended sessions.

import { describe, expect, it } from 'vitest';
import type { Member, MeshChannel, MessageHandler } from '../../../src/cluster/types.js';
import { LiveHub, type Closable } from '../../../src/live/hub.js';
import { EndedSessions, SESSION_NOTICES_CAPABILITY } from '../../../src/web/ended-sessions.js';
import { waitFor } from '../../support/node-process.js';

class FakeSocket implements Closable {
  closed: number | null = null;
  constructor(readonly account: string) {}
  get isClosed(): boolean {
    return this.closed !== null;
  }
  close(code: number): void {
    this.closed = code;
  }
}

function member(id: string, caps: string[]): Member {
  return {
    id,
    address: `${id}:4000`,
    state: 'ready',
    version: '1',
    protocol: 1,
    schemas: [1],
    caps,
    lastSeen: 0,
  };
}

function channel(peers: Member[]) {
  const sent: { to: string; body: unknown }[] = [];
  const handlers: MessageHandler[] = [];
  const ch: MeshChannel = {
    selfId: 'self',
    peers: () => peers,
    send: (to, body) => {
      sent.push({ to, body });
      return true;
    },
    broadcast: () => [],
    onMessage: (h) => void handlers.push(h),
    onPeerUp: () => undefined,
    onPeerDown: () => undefined,
    onPeerState: () => undefined,
    onPeerRelink: () => undefined,
  };
  return {
    ch,
    sent,
    receive: (from: string, body: unknown) => handlers.forEach((h) => h(from, body)),
  };
}

function logger() {
  const lines: { level: string; msg: string | undefined; obj: object }[] = [];
  const at =
    (level: string) =>
    (obj: object, msg?: string): void =>
      void lines.push({ level, msg, obj });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A hub with pages of two accounts, each page opened with its own session. */
function pages() {
  const hub = new LiveHub();
  const ann1 = new FakeSocket('ann');
  const ann2 = new FakeSocket('ann');
  const bob = new FakeSocket('bob');
  hub.admit(ann1, 10, 'sid-ann-laptop');
  hub.admit(ann2, 10, 'sid-ann-phone');
  hub.admit(bob, 10, 'sid-bob');
  const asked: string[][] = [];
  // Every session has ended but the laptop's.
  const live = (sids: readonly string[]): Promise<ReadonlySet<string>> => {
    asked.push([...sids]);
    return Promise.resolve(new Set(sids.filter((s) => s === 'sid-ann-laptop')));
  };
  // What the node kept of sessions, pages or not, by account ('*': the periodic check).
  const forgot: string[] = [];
  const sessions = {
    liveOf: live,
    forgetEnded: (account?: string) => {
      forgot.push(account ?? '*');
      return Promise.resolve(account === 'bob' ? 0 : 2);
    },
  };
  return { hub, ann1, ann2, bob, asked, live, sessions, forgot };
}

describe('ended sessions', () => {
  it("closes only that account's pages of ended sessions, and tells the peers that act on it", async () => {
    const { hub, ann1, ann2, bob, asked, sessions, forgot } = pages();
    const { ch, sent } = channel([
      member('new', [SESSION_NOTICES_CAPABILITY]),
      member('old', []),
      member('newer', ['replication-delta', SESSION_NOTICES_CAPABILITY]),
    ]);
    const ended = new EndedSessions(hub, sessions, ch, logger());

    expect(await ended.ended('ann')).toBe(1);
    expect(forgot).toEqual(['ann']);
    expect([ann1.closed, ann2.closed, bob.closed]).toEqual([null, 1012, null]);
    // Only ann's sessions were asked about.
    expect(asked).toEqual([['sid-ann-laptop', 'sid-ann-phone']]);
    // The peer of an older release is not sent what it would drop as unknown.
    expect(sent).toEqual([
      { to: 'new', body: { type: 'sessions-ended', account: 'ann' } },
      { to: 'newer', body: { type: 'sessions-ended', account: 'ann' } },
    ]);
  });

  it("acts on a peer's notice, and drops one it cannot read with a warning", async () => {
    const { hub, ann2, bob, sessions, forgot } = pages();
    const { ch, receive } = channel([]);
    const log = logger();
    new EndedSessions(hub, sessions, ch, log);

    for (const bad of [
      null,
      'sessions-ended',
      { type: 'sessions-ended' },
      { type: 'sessions-ended', account: '' },
      { type: 'sessions-ended', account: 'x'.repeat(65) },
      { type: 'sessions-ended', account: 'bob', extra: 1 },
      { type: 'logout', account: 'bob' },
    ])
      receive('peer', bad);
    await new Promise((r) => setImmediate(r));
    expect(bob.closed).toBeNull();
    expect(forgot).toEqual([]);
    expect(
      log.lines.filter((l) => l.msg === 'dropped an invalid notice of ended sessions'),
    ).toHaveLength(7);

    receive('peer', { type: 'sessions-ended', account: 'ann' });
    await waitFor(() => ann2.closed !== null, 2000, "ann's ended page to close", 5);
    expect(ann2.closed).toBe(1012);
    expect(bob.closed).toBeNull();
    const toldBy = (msg: string) =>
      log.lines.some(
        (l) =>
          l.level === 'info' &&
          l.msg?.includes(msg) &&
          (l.obj as { toldBy?: string }).toldBy === 'peer',
      );
    expect(toldBy('live pages of ended sessions sent to reconnect')).toBe(true);
    // The node's kept copies of the account's sessions went too.
    expect(forgot).toEqual(['ann']);
    expect(toldBy("dropped this node's copies of 2 ended sessions")).toBe(true);
  });

  it('the periodic check closes every ended session, and a database away closes nothing', async () => {
    const { hub, ann1, ann2, bob, sessions, forgot } = pages();
    const { ch } = channel([]);
    let down = true;
    const away = () => Promise.reject(new Error('database away'));
    const ended = new EndedSessions(
      hub,
      {
        liveOf: (sids) => (down ? away() : sessions.liveOf(sids)),
        forgetEnded: (account) => (down ? away() : sessions.forgetEnded(account)),
      },
      ch,
      logger(),
    );
    expect(await ended.check()).toBe(0);
    expect(await ended.ended('ann')).toBe(0);
    expect([ann1.closed, ann2.closed, bob.closed]).toEqual([null, null, null]);
    // A logout names its own session: its pages reconnect though the database cannot answer.
    expect(await ended.ended('ann', ['sid-ann-laptop'])).toBe(1);
    expect([ann1.closed, ann2.closed, bob.closed]).toEqual([1012, null, null]);
    down = false;
    expect(await ended.check()).toBe(2);
    expect([ann1.closed, ann2.closed, bob.closed]).toEqual([1012, 1012, 1012]);
    // The check asks about every session the node kept, of every account.
    expect(forgot).toEqual(['*']);
  });
});
