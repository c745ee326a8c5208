import { describe, expect, it } from 'vitest';
import {
  CHAT_KEEP,
  CHAT_MAX_CHARS,
  cleanMessage,
  markRematch,
  offerRematch,
  react,
  say,
} from '../../../src/game/social.js';
import { joinGame, leaveGame, resolveRound } from '../../../src/game/rules.js';
import { chatLine } from '../../../src/live/view-model.js';
import { checkGameState } from '../../../src/game/schema.js';
import type { GameState } from '../../../src/game/types.js';
import { arena, h, lobby, ok } from './fixtures.js';

const finished = (): GameState => {
  const s = arena(
    [
      { id: 'a', pos: h(1, 0), hp: 1 },
      { id: 'b', pos: h(-5, 5) },
    ],
    { minotaur: h(0, 0), walls: [] },
  );
  const end = resolveRound(s, 5000);
  expect(end.status).toBe('finished');
  return end;
};

describe('cleanMessage', () => {
  it('keeps ordinary text, trims it and folds whitespace', () => {
    expect(cleanMessage('  well   played\tminos  ')).toBe('well played minos');
    expect(cleanMessage('καλή μάχη 🐂')).toBe('καλή μάχη 🐂');
  });

  it('removes control and direction-changing characters, which could hide or reorder text', () => {
    expect(cleanMessage('a\u0000b\u202Ec\u200Bd\ne')).toBe('a b c d e');
    expect(cleanMessage('\u202E\u0007 \n')).toBeNull();
  });

  it('cuts long messages at the limit, counting characters, not UTF-16 units', () => {
    const long = '🐂'.repeat(CHAT_MAX_CHARS + 10);
    // eslint-disable-next-line @typescript-eslint/no-misused-spread -- code points, as the limit
    expect([...cleanMessage(long)!]).toHaveLength(CHAT_MAX_CHARS);
  });

  it('leaves markup as text (the page escapes it)', () => {
    expect(cleanMessage('<script>alert(1)</script>')).toBe('<script>alert(1)</script>');
  });
});

describe('say and react', () => {
  it('append numbered lines by players, in any phase', () => {
    let s = lobby(['a', 'b']);
    s = ok(say(s, 'a', 'ready?'));
    s = ok(react(s, 'b', 'gg'));
    expect(s.chat).toEqual([
      { n: 1, by: 'a', name: 'a', kind: 'say', text: 'ready?' },
      { n: 2, by: 'b', name: 'B', kind: 'react', emote: 'gg' },
    ]);
    expect(checkGameState(s)).toBeUndefined();
    s = ok(say(finished(), 'b', 'again!'));
    expect(s.chat.at(-1)).toMatchObject({ by: 'b', text: 'again!' });
  });

  it("keep their author's name, shown after the author left a game that had not started", () => {
    let s = lobby(['a', 'b', 'c']);
    s = ok(say(s, 'b', 'brb'));
    s = ok(react(s, 'c', 'gg'));
    s = ok(leaveGame(s, 'b'));
    expect(checkGameState(s)).toBeUndefined();
    const lines = s.chat.map((l) => chatLine(s, l, 'a'));
    expect(lines.map((l) => [l.name, l.colorIndex])).toEqual([
      ['B (left)', -1],
      ['C', s.players.find((p) => p.id === 'c')!.color],
    ]);
    // A line of an earlier release, without a name, whose author left.
    const old = { ...s, chat: [{ n: 9, by: 'gone', kind: 'say' as const, text: 'hi' }] };
    expect(checkGameState(old)).toBeUndefined();
    expect(chatLine(old, old.chat[0]!, 'a').name).toBe('someone (left)');
  });

  it('keep only the latest lines, numbering on', () => {
    let s = lobby(['a', 'b']);
    for (let i = 0; i < CHAT_KEEP + 5; i++) s = ok(say(s, 'a', `line ${i}`));
    expect(s.chat).toHaveLength(CHAT_KEEP);
    expect(s.chat[0]).toMatchObject({ n: 6, text: 'line 5' });
    expect(s.chat.at(-1)!.n).toBe(CHAT_KEEP + 5);
  });

  it('refuse outsiders, empty messages and unknown reactions, each with a sentence', () => {
    const s = lobby(['a', 'b']);
    for (const r of [
      say(s, 'zed', 'hi'),
      say(s, 'a', ' \u200B '),
      react(s, 'a', 'rocket'),
      react(s, 'zed', 'gg'),
    ]) {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message).toMatch(/^[A-Z].+\.$/);
    }
  });
});

describe('rematches', () => {
  it('a finished game points at the first rematch opened; a second offer is refused with its code', () => {
    const s = ok(offerRematch(finished(), 'b', 'NEXT'));
    expect(s.rematch).toEqual({ code: 'NEXT', by: 'b' });
    expect(offerRematch(s, 'b', 'NEXT')).toMatchObject({ ok: true, duplicate: true });
    const again = offerRematch(s, 'a', 'OTHR');
    expect(again).toMatchObject({ ok: false, code: 'rematch-exists' });
    if (!again.ok) expect(again.message).toContain('NEXT');
  });

  it('only after the game, only by its players', () => {
    expect(offerRematch(lobby(['a', 'b']), 'a', 'NEXT')).toMatchObject({
      ok: false,
      code: 'not-finished',
    });
    expect(offerRematch(finished(), 'zed', 'NEXT')).toMatchObject({
      ok: false,
      code: 'not-in-game',
    });
  });

  it('a rematch starts by itself once everyone from the game before is back', () => {
    let s = lobby(['a']);
    s = ok(markRematch(s, 'a', { code: 'PREV', players: ['a', 'b', 'c'] }));
    expect(markRematch(s, 'b', { code: 'PREV', players: ['a'] })).toMatchObject({
      ok: false,
      code: 'not-creator',
    });
    s = ok(joinGame(s, { id: 'b', name: 'B' }, 10_000));
    expect(s.status).toBe('open');
    s = ok(joinGame(s, { id: 'c', name: 'C' }, 20_000));
    expect(s).toMatchObject({ status: 'playing', round: 1, deadline: 20_000 + s.roundMs });
    expect(checkGameState(s)).toBeUndefined();
  });

  it('a rematch its group had already joined starts as it is marked', () => {
    let s = lobby(['a', 'b']);
    // b came in (losing a race to open the rematch) before a's mark arrived.
    s = ok(markRematch(s, 'a', { code: 'PREV', players: ['a', 'b'] }, 30_000));
    expect(s).toMatchObject({ status: 'playing', round: 1, deadline: 30_000 + s.roundMs });
    expect(checkGameState(s)).toBeUndefined();
    // Without the time (an older caller), it waits as before.
    expect(
      ok(markRematch(lobby(['a', 'b']), 'a', { code: 'PREV', players: ['a', 'b'] })).status,
    ).toBe('open');
  });

  it('a rematch everybody left is replaced by the call that names it, and by no other', () => {
    const s = ok(offerRematch(finished(), 'a', 'GONE'));
    const replaced = ok(offerRematch(s, 'b', 'NEXT', 'GONE'));
    expect(replaced.rematch).toEqual({ code: 'NEXT', by: 'b' });
    // A second call that saw GONE gone too finds NEXT in its place: that one stands.
    const late = offerRematch(replaced, 'a', 'THRD', 'GONE');
    expect(late).toMatchObject({ ok: false, code: 'rematch-exists' });
    if (!late.ok) expect(late.message).toContain('NEXT');
    expect(offerRematch(replaced, 'a', 'NEXT', 'GONE')).toMatchObject({
      ok: true,
      duplicate: true,
    });
  });

  it('each hero of the group keeps their colour of the game before, whoever opened it and in whatever order they come back', () => {
    const previous = { code: 'PREV', players: ['a', 'b', 'c'], colors: [0, 1, 2] };
    const colors = (g: GameState) => Object.fromEntries(g.players.map((p) => [p.id, p.color]));
    // c (third colour) opened it, sitting in the first colour until the mark arrived.
    let s = lobby(['c']);
    expect(colors(s)).toEqual({ c: 0 });
    s = ok(markRematch(s, 'c', previous));
    expect(colors(s)).toEqual({ c: 2 });
    // Someone new takes a colour nobody of the group had, not b's, while b is not back yet.
    s = ok(joinGame(s, { id: 'z', name: 'Z' }));
    expect(colors(s)).toEqual({ c: 2, z: 3 });
    s = ok(joinGame(s, { id: 'b', name: 'B' }));
    s = ok(joinGame(s, { id: 'a', name: 'A' }, 10_000));
    expect(colors(s)).toEqual({ a: 0, b: 1, c: 2, z: 3 });
    expect(s.status).toBe('playing');
    expect(checkGameState(s)).toBeUndefined();

    // Someone who came in before the mark, in a colour of the group's, moves to a free one.
    let t = ok(joinGame(lobby(['c']), { id: 'z', name: 'Z' }));
    expect(colors(t)).toEqual({ c: 0, z: 1 });
    t = ok(markRematch(t, 'c', previous));
    expect(colors(t)).toEqual({ c: 2, z: 3 });
    // With no colour free but the group's, a newcomer takes one of theirs (a full table).
    const full = { code: 'PREV', players: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] };
    let u = ok(markRematch(lobby(['a']), 'a', { ...full, colors: [7, 6, 5, 4, 3, 2, 1, 0] }));
    expect(colors(u)).toEqual({ a: 7 });
    u = ok(joinGame(u, { id: 'z', name: 'Z' }));
    expect(colors(u)).toEqual({ a: 7, z: 0 });

    // A mark from an earlier release (no colours), or with colours that do not fit its heroes,
    // leaves the first-free colours as they were.
    for (const of of [
      { code: 'PREV', players: ['a', 'b', 'c'] },
      { code: 'PREV', players: ['a', 'b', 'c'], colors: [0, 1] },
      { code: 'PREV', players: ['a', 'b', 'c'], colors: [2, 2, 1] },
    ]) {
      let v = ok(markRematch(lobby(['c']), 'c', of));
      v = ok(joinGame(v, { id: 'b', name: 'B' }));
      expect(colors(v), JSON.stringify(of)).toEqual({ c: 0, b: 1 });
      expect(checkGameState(v)).toBeUndefined();
    }
  });

  it('an ordinary game waits for its creator to start it', () => {
    let s = lobby(['a']);
    s = ok(joinGame(s, { id: 'b', name: 'B' }, 10_000));
    expect(s.status).toBe('open');
  });
});
